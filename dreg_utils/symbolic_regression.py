"""Teacher -> symbolic student distillation ("Teaching the Teacher", arXiv 2507.22767): the
students, their scores and one distillation run.

Pipeline for one (dataset, penalty, lambda, seed):

1. Teacher: a ReLU MLP trained on MSE + lambda * E||J_x f||_F^2 (``method="jacobian"``), or
   with the layer-wise CR-penalty of DREG (``method="dreg"``) as the bridge between the two
   papers (:mod:`dreg_utils.teachers`; the teachers of one seed train together as one
   vectorised group).
2. Distillation set D' = {(x_i, f(x_i))} on the training inputs.
3. Students on D': a gplearn ``SymbolicRegressor`` (its formula read by
   :mod:`dreg_utils.formulas`) and a decision tree.
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

import numpy as np
import sympy
from gplearn.genetic import SymbolicRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor

from . import fast_gplearn
from .data.regression import RegressionData, in_raw_units
from .formulas import formulas_equal, program_to_sympy, raw_symbols, standardized_symbols, to_raw_units
from .metrics import nonfinite_metric
from .models import check_input
from .teachers import TeacherInputs, _mean_jacobian_sq, _predict, train_teachers
from .train import FitResult
from .validation import check_choice, check_float, check_int

GP_FUNCTIONS = ("add", "sub", "mul", "div", "neg", "inv", "abs", "sqrt", "log", "max", "min",
                "sin", "cos", "tan")
GP_METRICS = ("mean absolute error", "mse", "rmse")
# gplearn's own defaults except the function set, which is the paper's {+, -, *, /}.
GP_DEFAULTS = {"population_size": 1000, "generations": 20, "tournament_size": 20,
               "parsimony_coefficient": 0.001, "function_set": ["add", "sub", "mul", "div"],
               "init_depth": [2, 6], "const_range": [-1.0, 1.0], "metric": "mean absolute error",
               "n_jobs": 1}


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


# ---------------------------------------------------------------- students

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


# ---------------------------------------------------------------- one distillation run

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

