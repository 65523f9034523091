"""Teacher -> symbolic student distillation ("Teaching the Teacher", arXiv 2507.22767).

Pipeline for one (dataset, penalty, lambda, seed):

1. Teacher: a ReLU MLP trained on MSE + lambda * E||J_x f||_F^2 (``method="jacobian"``), or
   with the layer-wise CR-penalty of DREG (``method="dreg"``) as the bridge between the two
   papers. The teachers of one seed train together (:func:`train_teachers`, one vectorised
   group: :func:`dreg_utils.ensemble.fit_ensemble`), each as :func:`dreg_utils.train.fit`
   would train it alone, up to floating-point rounding.
2. Distillation set D' = {(x_i, f(x_i))} on the training inputs.
3. Students on D': a gplearn ``SymbolicRegressor`` and a decision tree.
4. Controls on y itself: the same symbolic regressor (no teacher) and a gradient-boosting
   baseline, scikit-learn's ``HistGradientBoostingRegressor``: the same histogram-GBDT
   algorithm as XGBoost's ``hist`` and LightGBM, shipped with scikit-learn (no extra
   dependency), deterministic with ``random_state`` on one CPU.

gplearn 0.4.3 already calls ``sklearn.utils.validation.validate_data`` and defines
``__sklearn_tags__``, so it runs unmodified with scikit-learn 1.6+ (checked with 1.9.1;
``tests/test_symbolic.py`` fits one): no compatibility shim is needed.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from gplearn.functions import _Function
from gplearn.genetic import SymbolicRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor

from . import fast_gplearn
from .data.regression import RegressionData, in_raw_units
from .ensemble import Member, fit_ensemble, train_group
from .jacobians import jacobian_sq_frobenius
from .models import CompactMLP, check_input
from .metrics import nonfinite_metric
from .train import FitResult, fit
from .validation import check_choice, check_float, check_hidden, check_int
from .vocabulary import methods_for

TEACHER_METHODS = methods_for("teachers")  # one vectorised group; train_teacher also runs jacobian_rp
GP_FUNCTIONS = ("add", "sub", "mul", "div", "neg", "inv", "abs", "sqrt", "log", "max", "min",
                "sin", "cos", "tan")
GP_METRICS = ("mean absolute error", "mse", "rmse")
# gplearn's own defaults except the function set, which is the paper's {+, -, *, /}.
GP_DEFAULTS = {"population_size": 1000, "generations": 20, "tournament_size": 20,
               "parsimony_coefficient": 0.001, "function_set": ["add", "sub", "mul", "div"],
               "init_depth": [2, 6], "const_range": [-1.0, 1.0], "metric": "mean absolute error",
               "n_jobs": 1}

def _near_zero(expr: sympy.Expr) -> bool:
    """Whether ``expr`` is a number with |expr| <= 0.001, where gplearn's protected division and
    inverse stop dividing (e.g. the denominator ``sub(x, x)``)."""
    return bool(expr.is_number and abs(complex(expr)) <= 0.001)


_SYMPY_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: sympy.Integer(1) if _near_zero(b) else a / b, "neg": lambda a: -a,
    "inv": lambda a: sympy.Integer(0) if _near_zero(a) else 1 / a,
    "abs": sympy.Abs, "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
    "log": lambda a: sympy.log(sympy.Abs(a)), "max": sympy.Max, "min": sympy.Min,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
}


# ---------------------------------------------------------------- metrics

def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2."""
    y_true, y_pred = np.asarray(y_true, np.float64).ravel(), np.asarray(y_pred, np.float64).ravel()
    if y_true.shape != y_pred.shape or y_true.size < 2:
        raise ValueError(f"r2_score needs two arrays of equal length >= 2, got {y_true.shape} "
                         f"and {y_pred.shape}")
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0:
        raise ValueError("r2_score is undefined for a constant y_true")
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total)


def snr_proxy(x: np.ndarray, y: np.ndarray) -> float:
    """The paper's SNR proxy Var(y) / Var(y - yhat), yhat the least-squares linear fit with
    intercept. It equals 1 / (1 - R^2_linear) on the same data."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64).ravel()
    if x.ndim not in (1, 2) or len(x) != len(y):
        raise ValueError(f"snr_proxy needs x of shape (n,) or (n, d) and y of length n, got x {x.shape} "
                         f"and y {y.shape}")
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.var(y) / np.var(y - design @ coef))


def relative_improvement(base: float, new: float) -> float:
    """100 (new - base) / |base|: the paper's relative R^2 improvement over lambda = 0, in %."""
    if base == 0:
        return math.nan
    return 100.0 * (new - base) / abs(base)


# ---------------------------------------------------------------- gplearn settings

def _pair(name: str, value, kind) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{name}={value!r} is not valid; it must be a pair [low, high]")
    low, high = (kind(f"{name}[{i}]", v) for i, v in enumerate(value))
    if low > high:
        raise ValueError(f"{name}={value!r} is not valid; low must be <= high")
    return low, high


def check_gp_settings(gp: dict) -> dict:
    """Validate gplearn settings (keys of ``GP_DEFAULTS``; missing keys take the defaults)."""
    if not isinstance(gp, dict):
        raise TypeError(f"gp settings must be a dict, got {gp!r}")
    unknown = set(gp) - set(GP_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown gplearn settings {sorted(unknown)}; valid: {sorted(GP_DEFAULTS)}")
    s = {**GP_DEFAULTS, **gp}
    functions = s["function_set"]
    if isinstance(functions, (str, bytes)) or not isinstance(functions, (list, tuple)) or not functions:
        raise ValueError(f"function_set={functions!r} is not valid; give a non-empty list from "
                         f"{list(GP_FUNCTIONS)}")
    bad = [f for f in functions if f not in GP_FUNCTIONS]
    if bad:
        raise ValueError(f"function_set contains {bad!r}, which gplearn does not know; "
                         f"choose from {list(GP_FUNCTIONS)}")
    s["function_set"] = list(functions)
    s["population_size"] = check_int("population_size", s["population_size"], minimum=2)
    s["generations"] = check_int("generations", s["generations"], minimum=1)
    s["tournament_size"] = check_int("tournament_size", s["tournament_size"], minimum=1)
    check_tournament(s["tournament_size"], s["population_size"])
    s["parsimony_coefficient"] = check_float("parsimony_coefficient", s["parsimony_coefficient"],
                                             minimum=0.0)
    s["init_depth"] = list(_pair("init_depth", s["init_depth"],
                                 lambda n, v: check_int(n, v, minimum=1)))
    s["const_range"] = list(_pair("const_range", s["const_range"], check_float))
    check_choice("metric", s["metric"], GP_METRICS)
    s["n_jobs"] = check_int("n_jobs", s["n_jobs"], minimum=-1)
    if s["n_jobs"] == 0:
        raise ValueError("n_jobs=0 is not valid; use a positive count or -1 for all cores")
    return s


def check_tournament(tournament_size: int, population_size: int) -> None:
    """A tournament draws its programs from the population: at most ``population_size`` of them."""
    if tournament_size > population_size:
        raise ValueError(f"tournament_size={tournament_size} is not valid; it must be <= "
                         f"population_size={population_size}")


def make_symbolic_regressor(gp: dict, seed: int) -> SymbolicRegressor:
    """A gplearn ``SymbolicRegressor`` with validated settings and ``random_state=seed``."""
    s = check_gp_settings(gp)
    return SymbolicRegressor(
        population_size=s["population_size"], generations=s["generations"],
        tournament_size=s["tournament_size"], parsimony_coefficient=s["parsimony_coefficient"],
        function_set=tuple(s["function_set"]), init_depth=tuple(s["init_depth"]),
        const_range=tuple(s["const_range"]), metric=s["metric"], n_jobs=s["n_jobs"],
        random_state=check_int("seed", seed, minimum=0))


# ---------------------------------------------------------------- formulas

def standardized_symbols(names: Sequence[str]) -> tuple[sympy.Symbol, ...]:
    """Symbols z_<name> for the standardised inputs a student sees."""
    return tuple(sympy.Symbol(f"z_{name}", real=True) for name in names)


def raw_symbols(data: RegressionData) -> tuple[sympy.Symbol, ...]:
    """Symbols of the raw inputs, one per feature name: the ground truth's own symbol where
    the truth uses that name (so its assumptions match), else a real symbol."""
    used = {} if data.truth is None else {s.name: s for s in data.truth.free_symbols}
    return tuple(used.get(name, sympy.Symbol(name, real=True)) for name in data.feature_names)


def program_to_sympy(program: list, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """A gplearn program (its prefix list of functions, feature indices and constants) as
    a sympy expression. gplearn's protected operators become their plain forms, except where
    a denominator is a constant of magnitude <= 0.001: there, as in gplearn, ``div`` gives 1 and
    ``inv`` gives 0 (a symbolic denominator that is small only at some inputs keeps the plain form)."""
    stack: list[sympy.Expr] = []
    for node in reversed(program):
        if isinstance(node, _Function):
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(_SYMPY_OPS[node.name](*args))
        elif isinstance(node, (int, np.integer)):
            stack.append(symbols[int(node)])
        else:
            stack.append(sympy.Float(float(node)))
    if len(stack) != 1:
        raise ValueError(f"malformed gplearn program {program!r}")
    return stack[0]


def to_raw_units(expr: sympy.Expr, data: RegressionData) -> sympy.Expr:
    """Undo the standardisation: y = mu_y + sd_y s(z) with z_j = (x_j - mu_j) / sd_j."""
    z = standardized_symbols(data.feature_names)
    x = raw_symbols(data)
    mapping = {zj: (xj - float(m)) / float(sd) for zj, xj, m, sd in zip(z, x, data.x_mean, data.x_std)}
    return data.y_mean + data.y_std * expr.xreplace(mapping)


def _rounded(value: float, digits: int) -> sympy.Number:
    rounded = float(f"{value:.{digits}g}")
    return sympy.Integer(int(rounded)) if rounded.is_integer() else sympy.Float(rounded, digits)


def round_floats(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """Every floating-point constant of ``expr`` rounded to ``digits`` significant digits
    (whole numbers become integers, so 1.0*x prints as x)."""
    check_int("digits", digits, minimum=1)
    return expr.xreplace({f: _rounded(float(f), digits) for f in expr.atoms(sympy.Float)})


def simplify_formula(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """A readable form of a student formula: constants rounded, then ``sympy.simplify``."""
    return round_floats(sympy.simplify(round_floats(expr, digits + 2)), digits)


def _latex_name(name: str) -> str:
    """Short names and Greek letters as sympy writes them; long names upright, underscores kept."""
    if len(name) <= 3 or name in ("epsilon",):
        return sympy.latex(sympy.Symbol(name))
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def formula_latex(expr: sympy.Expr) -> str:
    """LaTeX of a formula; a standardised input z_<name> is written with a tilde over its name."""
    names = {s: (r"\tilde{" + _latex_name(s.name[2:]) + "}" if s.name.startswith("z_")
                 else _latex_name(s.name)) for s in expr.free_symbols}
    return sympy.latex(expr, symbol_names=names)


def _scaled_terms(poly: sympy.Poly, points: np.ndarray) -> dict[tuple, float]:
    """Coefficient x RMS of the monomial over ``points``: each term's size on the data."""
    out = {}
    for monom, coef in poly.terms():
        rms = math.sqrt(float(np.mean(np.prod(points ** np.array(monom), axis=1) ** 2)))
        out[monom] = float(coef) * rms
    return out


def formulas_equal(candidate: sympy.Expr, truth: sympy.Expr, symbols: Sequence[sympy.Symbol],
                   points: np.ndarray, rtol: float = 0.01) -> bool:
    """Whether two rational functions agree structurally, up to ``rtol`` in every constant.

    Both are brought to the canonical form p/q (``sympy.cancel`` over the rationals after
    ``evalf``). Each term is measured by its coefficient times the RMS of its monomial over
    ``points`` (rows of raw inputs); terms below ``rtol`` x the largest term of p (or q) are
    dropped, and both are scaled so the largest term of q is 1. The formulas are equal when
    the remaining monomials coincide and every term differs by at most ``rtol`` (relative to
    the largest term of its polynomial).
    """
    check_float("rtol", rtol, strictly_positive=True)
    points = np.asarray(points, np.float64)
    if not truth.is_rational_function(*symbols):
        raise ValueError(f"formulas_equal needs a rational function of {symbols} as truth, got {truth}")
    if not candidate.is_rational_function(*symbols) or candidate.has(sympy.zoo, sympy.nan, sympy.oo):
        return False  # not a rational function (e.g. a division by zero): not the rational truth
    forms = []
    for expr in (candidate, truth):
        exact = sympy.nsimplify(expr.evalf(), rational=True)
        num, den = sympy.fraction(sympy.cancel(sympy.together(exact)))
        p, q = (_scaled_terms(sympy.Poly(part, *symbols), points) for part in (num, den))
        top = max(q.values(), key=abs)
        p, q = ({m: c / top for m, c in poly.items()} for poly in (p, q))
        forms.append(tuple({m: c for m, c in poly.items() if abs(c) > rtol * max(map(abs, poly.values()))}
                           for poly in (p, q)))
    for mine, theirs in zip(*forms):
        if set(mine) != set(theirs):
            return False
        scale = max(map(abs, theirs.values()))
        if any(abs(mine[m] - theirs[m]) > rtol * scale for m in mine):
            return False
    return True


# ---------------------------------------------------------------- teacher and students

def _column_tensor(a: np.ndarray) -> torch.Tensor:
    """float32 tensor with one row per sample (a vector becomes one column)."""
    return torch.as_tensor(a, dtype=torch.float32).reshape(len(a), -1)


@dataclass(frozen=True)
class TeacherInputs:
    """A dataset's splits as its teachers see them: float32 tensors with one row per sample, made
    once from the numpy splits (:meth:`of`) for the teachers' training and their predictions."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    x_test: torch.Tensor

    @classmethod
    def of(cls, data: RegressionData) -> TeacherInputs:
        """The tensors of ``data``'s training inputs and targets and of its validation and test inputs."""
        return cls(*(_column_tensor(getattr(data, name)) for name in ("x_train", "y_train", "x_val", "x_test")))


class TeacherDiverged(RuntimeError):
    """:func:`train_teacher`'s error for a teacher whose training diverged; ``result`` is its
    :class:`~dreg_utils.train.FitResult` (step, epoch and reason)."""

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


def train_teacher(data: RegressionData, method: str, lam: float, seed: int, hidden: Sequence[int],
                  epochs: int, batch_size: int, lr: float, weight_decay: float,
                  n_projections: int = 1) -> tuple[CompactMLP, float]:
    """Train a ReLU ``CompactMLP(d, hidden, 1)`` on the standardised training split.

    ``method``: "base" (MSE only), "jacobian" (MSE + lam E||J_x f||_F^2, exact),
    "jacobian_rp" (the random-projection estimate) or "dreg" (MSE + lam CR).
    Returns the model in eval mode and the training seconds; raises :class:`TeacherDiverged`
    when the training diverged.
    """
    check_choice("method", method, methods_for("teacher"))
    model = CompactMLP.seeded(seed, data.n_features, check_hidden("hidden", hidden), 1,
                              activation="relu")
    result = fit(model, _column_tensor(data.x_train), _column_tensor(data.y_train),
                 method=method, lam=lam, epochs=epochs, batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, seed=seed, device="cpu", n_projections=n_projections)
    if result.diverged:
        raise TeacherDiverged(f"teacher diverged on {data.name} ({method}, lambda={lam}): "
                              f"{result.diverged_reason}", result)
    return model.eval(), result.seconds


def predict(model: CompactMLP, x: np.ndarray) -> np.ndarray:
    """Teacher predictions as a float64 vector."""
    return _predict(model, check_input(model, torch.as_tensor(x, dtype=torch.float32)))


def _predict(model: CompactMLP, x: torch.Tensor) -> np.ndarray:
    """:func:`predict` of an input tensor checked already (:class:`TeacherInputs`)."""
    with torch.no_grad():
        return model(x).double().numpy().ravel()


def mean_jacobian_sq(model: CompactMLP, x: np.ndarray) -> float:
    """E_x ||J_x f(x)||_F^2 over the rows of ``x``: how smooth the teacher is."""
    return _mean_jacobian_sq(model, check_input(model, torch.as_tensor(x, dtype=torch.float32)))


def _mean_jacobian_sq(model: CompactMLP, x: torch.Tensor) -> float:
    """:func:`mean_jacobian_sq` of an input tensor checked already (:class:`TeacherInputs`)."""
    sq, _ = jacobian_sq_frobenius(model, x)
    return float(sq.mean())


def _timed_fit(estimator, x: np.ndarray, y: np.ndarray) -> tuple:
    """Fit a scikit-learn style estimator (gplearn's through :func:`fast_gplearn.fit`: the same
    programs, faster); return it and the wall seconds the fit took."""
    start = time.perf_counter()
    if isinstance(estimator, SymbolicRegressor):
        fast_gplearn.fit(estimator, x, y)
    else:
        estimator.fit(x, y)
    return estimator, time.perf_counter() - start


def _scores(prefix: str, data: RegressionData, val: np.ndarray, test: np.ndarray,
            teacher_test: np.ndarray | None = None) -> dict:
    row = {f"{prefix}_val_r2": r2_score(data.y_val, val), f"{prefix}_test_r2": r2_score(data.y_test, test)}
    if teacher_test is not None:
        row[f"{prefix}_fidelity_r2"] = r2_score(teacher_test, test)
    if data.y_clean_test is not None:
        row[f"{prefix}_clean_r2"] = r2_score(data.y_clean_test, test)
    return row


def symbolic_student(data: RegressionData, target: np.ndarray, gp: dict, seed: int,
                     teacher_test: np.ndarray | None = None, rtol: float = 0.01) -> dict:
    """Fit the symbolic regressor on (x_train, target) and describe the formula it found.

    Keys: gp_{val,test,fidelity,clean}_r2, gp_length (nodes), gp_seconds, gp_program,
    gp_formula (sympy srepr, standardised units) and, for data with a rational ground
    truth, gp_equals_truth (:func:`formulas_equal` in raw units).
    """
    regressor, seconds = _timed_fit(make_symbolic_regressor(gp, seed), data.x_train, target)
    program = regressor._program
    z = standardized_symbols(data.feature_names)
    formula = program_to_sympy(program.program, z)
    row = {**_scores("gp", data, regressor.predict(data.x_val), regressor.predict(data.x_test),
                     teacher_test),
           "gp_length": int(program.length_), "gp_seconds": seconds, "gp_program": str(program),
           "gp_formula": sympy.srepr(formula)}
    symbols = raw_symbols(data)
    if data.truth is not None and data.truth.is_rational_function(*symbols):
        raw_test = data.x_test * data.x_std + data.x_mean
        row["gp_equals_truth"] = formulas_equal(to_raw_units(formula, data), data.truth, symbols,
                                                raw_test, rtol)
    return row


def tree_student(data: RegressionData, target: np.ndarray, max_depth: int, seed: int,
                 teacher_test: np.ndarray | None = None) -> dict:
    """A depth-limited decision tree on (x_train, target): tree_{val,test,fidelity,clean}_r2."""
    tree, seconds = _timed_fit(DecisionTreeRegressor(max_depth=check_int("tree_max_depth", max_depth, 1),
                                                     random_state=seed), data.x_train, target)
    return {**_scores("tree", data, tree.predict(data.x_val), tree.predict(data.x_test), teacher_test),
            "tree_seconds": seconds}


def boosting_baseline(data: RegressionData, seed: int) -> dict:
    """HistGradientBoostingRegressor on y (scikit-learn defaults): boost_{val,test,clean}_r2."""
    model, seconds = _timed_fit(HistGradientBoostingRegressor(random_state=seed),
                                data.x_train, data.y_train)
    return {**_scores("boost", data, model.predict(data.x_val), model.predict(data.x_test)),
            "boost_seconds": seconds}


TEACHER_GROUP = {"activation": "relu", "task": "regression", "out_features": 1}  # a teacher group's shape


def train_teachers(data: RegressionData | TeacherInputs, teachers: Sequence[tuple[str, float]], seed: int,
                   hidden: Sequence[int], epochs: int, batch_size: int, lr: float,
                   weight_decay: float) -> list[FitResult]:
    """Train the teachers ``(method, lambda)`` of one seed as one group, each a ReLU
    ``CompactMLP(d, hidden, 1)`` on the standardised training split (``data``, or its tensors)
    with the initialisation and minibatch order of ``seed`` (as :func:`train_teacher` would
    train it alone). Every argument is checked (:func:`teach` trains from checked ones).

    Returns one :class:`~dreg_utils.train.FitResult` per teacher, in order; a diverged
    teacher is marked so and the others train on. ``seconds`` is the group's wall time over
    its size."""
    teachers = list(teachers)
    for method, lam in teachers:
        check_choice("method", method, TEACHER_METHODS)
    inputs = data if isinstance(data, TeacherInputs) else TeacherInputs.of(data)
    return fit_ensemble([Member(seed, method, lam) for method, lam in teachers], inputs.x_train,
                        inputs.y_train, check_hidden("hidden", hidden), epochs=epochs,
                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, device="cpu", **TEACHER_GROUP)


def teach(inputs: TeacherInputs, teachers: Sequence[tuple[str, float]], seed: int, hidden: Sequence[int],
          epochs: int, batch_size: int, lr: float, weight_decay: float) -> list[FitResult]:
    """:func:`train_teachers` from a study's checked settings and the dataset's tensors: the same
    group, trained without checking anything again (:func:`dreg_utils.ensemble.train_group`)."""
    return train_group([Member(seed, method, lam) for method, lam in teachers], inputs.x_train,
                       inputs.y_train, hidden, epochs=epochs, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, device=torch.device("cpu"), **TEACHER_GROUP)


def distill(data: RegressionData, method: str, lam: float, seed: int, teacher: dict, gp: dict,
            tree_max_depth: int, rtol: float = 0.01, raw_students: bool = False) -> dict:
    """One distillation run: teacher, D', symbolic and tree students; one flat result row.

    ``teacher`` holds ``hidden, epochs, batch_size, lr, weight_decay``
    (:func:`train_teachers` with one teacher); the rest as :func:`distill_teacher`.
    """
    inputs = TeacherInputs.of(data)
    trained, = train_teachers(inputs, [(method, lam)], seed, **teacher)
    return distill_teacher(data, trained, seed, gp, tree_max_depth, rtol, raw_students, inputs)


def distill_teacher(data: RegressionData, teacher: FitResult, seed: int, gp: dict,
                    tree_max_depth: int, rtol: float = 0.01, raw_students: bool = False,
                    inputs: TeacherInputs | None = None) -> dict:
    """The students of one trained teacher: D', symbolic and tree students; one flat result row.

    A teacher whose training or predictions are not finite gives a diverged row
    (``diverged``, ``diverged_step``, ``diverged_epoch``, ``diverged_reason``) without
    students. The teacher always trains on standardised data; with ``raw_students`` the
    students fit D' in raw units (inputs and the teacher's predictions unstandardised; R^2
    is unchanged by the scaling, but gplearn's constant range and parsimony are not).
    ``inputs``: ``data``'s tensors (:class:`TeacherInputs`) that trained ``teacher`` (None: made
    and checked against the teacher here).
    """
    seconds = teacher.seconds
    if teacher.diverged:
        return {**teacher.divergence(), "teacher_seconds": seconds}
    model = teacher.model.eval()
    if inputs is None:  # a caller's own teacher and data: checked to fit each other, here
        inputs = TeacherInputs.of(data)
        for split in ("x_train", "x_val", "x_test"):
            check_input(model, getattr(inputs, split), split)
    soft = {split: _predict(model, getattr(inputs, f"x_{split}")) for split in ("train", "val", "test")}
    reason = nonfinite_metric({f"teacher prediction ({split})": v for split, v in soft.items()})
    if reason:
        return {"diverged": True, "diverged_step": None, "diverged_epoch": None,
                "diverged_reason": reason, "teacher_seconds": seconds}
    row = {**_scores("teacher", data, soft["val"], soft["test"]), "teacher_seconds": seconds,
           "teacher_jacobian_sq": _mean_jacobian_sq(model, inputs.x_test),
           "teacher_train_r2": r2_score(data.y_train, soft["train"])}
    if raw_students:
        soft = {split: v * data.y_std + data.y_mean for split, v in soft.items()}
        data = in_raw_units(data)
    row.update(symbolic_student(data, soft["train"], gp, seed, soft["test"], rtol))
    row.update(tree_student(data, soft["train"], tree_max_depth, seed, soft["test"]))
    return row


def direct(data: RegressionData, seed: int, gp: dict, tree_max_depth: int, rtol: float = 0.01,
           raw_students: bool = False) -> dict:
    """The controls on y: symbolic regressor and tree without a teacher, boosting, linear SNR
    (in raw units with ``raw_students``, as :func:`distill`'s students)."""
    data = in_raw_units(data) if raw_students else data
    row = symbolic_student(data, data.y_train, gp, seed, rtol=rtol)
    row.update(tree_student(data, data.y_train, tree_max_depth, seed))
    row.update(boosting_baseline(data, seed))
    row["snr_proxy"] = snr_proxy(data.x_train, data.y_train)
    return row

