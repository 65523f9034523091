"""The distillation study's tables (notebook 04), computed from its runs table.

:func:`summarize` takes the means over the finished seeds of every setting (the null runs
apart: :func:`null_summary`). Every lambda a table reports is chosen on the validation split
(the student's validation R^2, lambda = 0 included) and scored on test; the test-chosen "oracle"
appears only beside it, as an upper bound. From the summary: :func:`dataset_table` gives each
dataset's validation-chosen student against the lambda = 0 one, the tree student the same way
on its own validation R^2, the teacher at that lambda and the controls on y (with
:func:`snr_correlation`, the rank correlation of the SNR proxy and the gain);
:func:`lambda_selection` the validation choice against the oracle and the oracle's null (the
same test-split choice among as many re-seeded lambda = 0 students); :func:`noise_table` the
students of each noise level scored against the clean signal and :func:`bridge_table` the
Jacobian against the CR-penalty teachers. :func:`interval` is the mean and 95% t-interval of a
column over datasets. From the runs themselves: :func:`seed_table` (each seed at its dataset's
validation-chosen lambda), :func:`teacher_retention` (the teacher's test R^2 drop per dataset,
with its interval over seeds, :func:`over_seeds`), :func:`recovery_table` (how often a student equals the ground
truth), :func:`stage_times` and :func:`formulas` (the students' formulas, read back with
:func:`~dreg_utils.data.stored_formula.read_srepr`, never ``sympify``). The runs come from
:func:`dreg_utils.studies.distillation.run_runs`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .. import symbolic_regression as symbolic
from ..data.regression import load_dataset
from ..data.stored_formula import read_srepr
from ..formulas import simplify_formula, to_raw_units
from ..runs import seed_summary
from ..intervals import t_interval
from ..vocabulary import finished
from .distillation import NULL

METRICS = ("teacher_test_r2", "teacher_val_r2", "teacher_train_r2", "teacher_clean_r2",
           "teacher_jacobian_sq", "teacher_seconds",
           "gp_test_r2", "gp_val_r2", "gp_fidelity_r2", "gp_clean_r2", "gp_length", "gp_seconds",
           "gp_equals_truth", "tree_test_r2", "tree_val_r2", "tree_fidelity_r2",
           "boost_test_r2", "snr_proxy")
STABLE_BASE = 0.1  # |R^2| of the lambda = 0 student below which a relative change is not reported on


def _without_null(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["kind"] != NULL] if "kind" in runs else runs


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Means over the finished seeds of every metric per (dataset, noise, kind, method, lambda),
    with ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or "diverged (k/n)"); a
    setting whose teachers all diverged keeps its row without means. Null runs are left out
    (:func:`null_summary`)."""
    runs = _without_null(runs)
    frame = runs.assign(**{k: runs[k].fillna("-") for k in ("noise", "method", "lam")})
    metrics = [m for m in METRICS if m in frame]
    frame[metrics] = frame[metrics].astype(float)
    return seed_summary(frame, ["dataset", "noise", "kind", "method", "lam"], metrics)


NULL_METRICS = ("gp_val_r2", "gp_test_r2")


def null_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The null runs' students per (dataset, noise, replica): the means over finished seeds of
    their validation and test R^2 (empty, with these columns, when there are no null runs)."""
    columns = ["dataset", "noise", "replica", *NULL_METRICS]
    if "kind" not in runs or not (runs["kind"] == NULL).any():
        return pd.DataFrame(columns=columns)
    frame = runs[runs["kind"] == NULL]
    frame = frame.assign(noise=frame["noise"].fillna("-"), replica=frame["replica"].astype(int))
    frame[list(NULL_METRICS)] = frame[list(NULL_METRICS)].astype(float)
    return seed_summary(frame, ["dataset", "noise", "replica"], NULL_METRICS)


def _distill(summary: pd.DataFrame, dataset: str, methods: tuple[str, ...]) -> pd.DataFrame:
    block = summary[(summary["dataset"] == dataset) & (summary["kind"] == "distill")
                    & summary["method"].isin(methods)]
    return block.assign(lam=block["lam"].astype(float)).sort_values("lam", kind="stable")


def _lambda_sweeps(summary: pd.DataFrame, method: str):
    """(dataset, its lambda = 0 and ``method`` distillation runs sorted by lambda), per dataset."""
    for dataset in dict.fromkeys(summary["dataset"]):
        block = _distill(summary, dataset, ("base", method))
        if not block.empty:
            yield dataset, block


def _chosen(block: pd.DataFrame, score: str) -> pd.Series:
    """The row of ``block`` (sorted by lambda) with the largest ``score``; on a tie the smallest lambda."""
    return block.loc[block[score].idxmax()]


def _direct(summary: pd.DataFrame, dataset: str) -> pd.Series:
    """The controls on y of ``dataset`` (its direct runs' means)."""
    return summary[(summary["dataset"] == dataset) & (summary["kind"] == "direct")].iloc[0]


def dataset_table(summary: pd.DataFrame, method: str = "jacobian") -> pd.DataFrame:
    """Per dataset: the symbolic student at lambda = 0 and at the lambda chosen on its validation
    R^2 (``lambda_validation``, scored on test against y), their relative improvement (%) and
    gain (R^2 points), fidelity and length; the teacher at both and its drop
    (``teacher_r2_drop`` = lambda = 0 minus validation lambda, + = the teacher lost); the tree
    student chosen the same way on its own validation R^2; and the controls fitted to y (GP on
    y: the student without a teacher; the tree on y; gradient boosting)."""
    rows = []
    for dataset, block in _lambda_sweeps(summary, method):
        zero, chosen, tree = block.iloc[0], _chosen(block, "gp_val_r2"), _chosen(block, "tree_val_r2")
        ctrl = _direct(summary, dataset)
        rows.append({
            "dataset": dataset, "snr_proxy": ctrl["snr_proxy"], "lambda_validation": chosen["lam"],
            "student_r2_base": zero["gp_test_r2"], "student_r2_validation": chosen["gp_test_r2"],
            "improvement_pct_validation": symbolic.relative_improvement(zero["gp_test_r2"], chosen["gp_test_r2"]),
            "gain_r2": chosen["gp_test_r2"] - zero["gp_test_r2"],
            "fidelity_r2_base": zero["gp_fidelity_r2"], "fidelity_r2_validation": chosen["gp_fidelity_r2"],
            "length_validation": chosen["gp_length"],
            "teacher_r2_base": zero["teacher_test_r2"], "teacher_r2_validation": chosen["teacher_test_r2"],
            "teacher_r2_drop": zero["teacher_test_r2"] - chosen["teacher_test_r2"],
            "tree_lambda_validation": tree["lam"], "tree_r2_base": zero["tree_test_r2"],
            "tree_r2_validation": tree["tree_test_r2"],
            "tree_improvement_pct": symbolic.relative_improvement(zero["tree_test_r2"], tree["tree_test_r2"]),
            "gp_on_y_r2": ctrl["gp_test_r2"], "tree_on_y_r2": ctrl["tree_test_r2"],
            "boosting_r2": ctrl["boost_test_r2"]})
    return pd.DataFrame(rows)


def stable(table: pd.DataFrame) -> pd.Series:
    """Which rows' lambda = 0 student has |R^2| >= :data:`STABLE_BASE` (a relative change of an
    R^2 near zero is meaningless: -0.02 -> 0.14 is "+750%")."""
    return table["student_r2_base"].abs() >= STABLE_BASE


def interval(values: pd.Series | np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """The mean of the finite ``values`` (one per dataset), its two-sided t-interval (low, high;
    NaN with fewer than two values) and their number."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    low, high = t_interval(values, confidence)
    return (float(values.mean()) if values.size else np.nan), low, high, int(values.size)


def _null_choices(null: pd.DataFrame | None, dataset: str, zero: pd.Series, students: int) -> dict:
    """The null of one dataset: among its lambda = 0 student and the first ``students`` - 1 null
    replicas, the relative improvement of the test-chosen and of the validation-chosen one
    (NaN without replicas)."""
    replicas = (pd.DataFrame() if null is None or null.empty else
                null[(null["dataset"] == dataset) & (null["replica"] < students)].sort_values("replica"))
    if replicas.empty:
        return {"null_students": 0, "null_improvement_pct_oracle": np.nan, "null_improvement_pct_validation": np.nan}
    pool = pd.concat([zero[["gp_val_r2", "gp_test_r2"]].to_frame().T, replicas[["gp_val_r2", "gp_test_r2"]]],
                     ignore_index=True).astype(float)
    base = pool["gp_test_r2"].iloc[0]
    return {"null_students": len(pool),
            "null_improvement_pct_oracle": symbolic.relative_improvement(base, pool["gp_test_r2"].max()),
            "null_improvement_pct_validation": symbolic.relative_improvement(
                base, pool.loc[pool["gp_val_r2"].idxmax(), "gp_test_r2"])}


def lambda_selection(summary: pd.DataFrame, null: pd.DataFrame | None = None,
                     method: str = "jacobian") -> pd.DataFrame:
    """Per dataset: lambda chosen by the students' validation R^2 against the oracle (test)
    choice, and, with the null runs' :func:`null_summary`, the oracle's null: the same two
    choices among the lambda = 0 student and re-seeded copies of it, as many students as the
    grid has lambdas (``null_students``), where the penalty can do nothing."""
    rows = []
    for dataset, block in _lambda_sweeps(summary, method):
        zero = block.iloc[0]
        chosen, oracle = _chosen(block, "gp_val_r2"), _chosen(block, "gp_test_r2")
        rows.append({"dataset": dataset, "lambda_validation": chosen["lam"],
                     "lambda_oracle": oracle["lam"], "student_r2_base": zero["gp_test_r2"],
                     "student_r2_validation": chosen["gp_test_r2"],
                     "student_r2_oracle": oracle["gp_test_r2"],
                     "improvement_pct_validation": symbolic.relative_improvement(
                         zero["gp_test_r2"], chosen["gp_test_r2"]),
                     "improvement_pct_oracle": symbolic.relative_improvement(
                         zero["gp_test_r2"], oracle["gp_test_r2"]),
                     "gap_to_oracle": oracle["gp_test_r2"] - chosen["gp_test_r2"],
                     **_null_choices(null, dataset, zero, len(block)),
                     "gp_on_y_r2": _direct(summary, dataset)["gp_test_r2"]})
    return pd.DataFrame(rows)


def seed_table(runs: pd.DataFrame, table: pd.DataFrame, method: str = "jacobian") -> pd.DataFrame:
    """Per dataset of :func:`dataset_table` and finished seed: the symbolic student and the
    teacher at lambda = 0 and at the dataset's ``lambda_validation``, the student's relative
    improvement (%) and the teacher's drop (lambda = 0 minus validation lambda)."""
    runs = finished(_without_null(runs))
    runs = runs[(runs["kind"] == "distill") & runs["method"].isin(("base", method))]
    rows = []
    for entry in table.itertuples():
        block = runs[runs["dataset"] == entry.dataset]
        lam = block["lam"].astype(float)
        zero = block[lam == 0.0].set_index("seed")
        chosen = block[np.isclose(lam, entry.lambda_validation)].set_index("seed")
        for seed in zero.index.intersection(chosen.index):
            base, picked = zero.loc[seed], chosen.loc[seed]
            rows.append({"dataset": entry.dataset, "seed": seed, "lambda_validation": entry.lambda_validation,
                         "student_r2_base": base["gp_test_r2"], "student_r2_validation": picked["gp_test_r2"],
                         "improvement_pct_validation": symbolic.relative_improvement(
                             base["gp_test_r2"], picked["gp_test_r2"]),
                         "teacher_r2_base": base["teacher_test_r2"],
                         "teacher_r2_validation": picked["teacher_test_r2"],
                         "teacher_r2_drop": base["teacher_test_r2"] - picked["teacher_test_r2"]})
    columns = ["dataset", "seed", "lambda_validation", "student_r2_base", "student_r2_validation",
               "improvement_pct_validation", "teacher_r2_base", "teacher_r2_validation", "teacher_r2_drop"]
    return pd.DataFrame(rows, columns=columns)


def over_seeds(seeds: pd.DataFrame, column: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per dataset of :func:`seed_table`: the mean of ``column`` over its seeds, its t-interval
    (``ci_low``, ``ci_high``; NaN with one seed) and ``seeds``."""
    rows = []
    for dataset, block in seeds.groupby("dataset", sort=False):
        mean, low, high, n = interval(block[column], confidence)
        rows.append({"dataset": dataset, column: mean, "ci_low": low, "ci_high": high, "seeds": n})
    return pd.DataFrame(rows, columns=["dataset", column, "ci_low", "ci_high", "seeds"])


def teacher_retention(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per dataset of :func:`seed_table`: the teacher's test R^2 at lambda = 0 and at the
    validation-chosen lambda (means over seeds) and its drop (+ = the teacher lost accuracy under
    the penalty) with a t-interval over seeds (NaN with one seed)."""
    means = seeds.groupby("dataset", sort=False)[["lambda_validation", "teacher_r2_base",
                                                  "teacher_r2_validation"]].mean()
    return means.join(over_seeds(seeds, "teacher_r2_drop").set_index("dataset")).reset_index()


def noise_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per ground-truth dataset and noise level: the lambda = 0 student and the validation-chosen
    one, each scored against the noisy test y and against the clean signal, beside GP fitted to
    the noisy y (``gp_on_y_r2``, ``gp_on_y_clean_r2``)."""
    rows = []
    distilled = summary[(summary["kind"] == "distill") & summary["method"].isin(("base", "jacobian"))]
    for (dataset, noise), block in distilled.groupby(["dataset", "noise"], sort=False):
        if noise == "-":
            continue
        block = block.assign(lam=block["lam"].astype(float)).sort_values("lam", kind="stable")
        zero, chosen = block.iloc[0], _chosen(block, "gp_val_r2")
        ctrl = summary[(summary["dataset"] == dataset) & (summary["noise"] == noise) & (summary["kind"] == "direct")]
        ctrl = ctrl.iloc[0] if len(ctrl) else pd.Series(dtype=float)
        rows.append({"dataset": dataset, "noise": float(noise), "lambda_validation": chosen["lam"],
                     "teacher_clean_r2_base": zero.get("teacher_clean_r2", np.nan),
                     "student_r2_base": zero["gp_test_r2"],
                     "student_r2_validation": chosen["gp_test_r2"],
                     "student_clean_r2_base": zero["gp_clean_r2"],
                     "student_clean_r2_validation": chosen["gp_clean_r2"],
                     "clean_r2_gain": chosen["gp_clean_r2"] - zero["gp_clean_r2"],
                     "gp_on_y_r2": ctrl.get("gp_test_r2", np.nan), "gp_on_y_clean_r2": ctrl.get("gp_clean_r2", np.nan),
                     "recovered_base": zero.get("gp_equals_truth", np.nan),
                     "recovered_validation": chosen.get("gp_equals_truth", np.nan)})
    return pd.DataFrame(rows).sort_values(["dataset", "noise"]).reset_index(drop=True)


def bridge_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Jacobian against DREG teachers: per dataset, the student each penalty gives at the lambda
    chosen on its own grid (lambda = 0 included) by the student's validation R^2, scored on
    test, beside GP fitted to y."""
    rows = []
    for dataset in dict.fromkeys(summary["dataset"]):
        row = {"dataset": dataset}
        for method in ("jacobian", "dreg"):
            chosen = _chosen(_distill(summary, dataset, ("base", method)), "gp_val_r2")
            row[f"{method}_lambda_validation"] = chosen["lam"]
            row[f"{method}_teacher_r2"] = chosen["teacher_test_r2"]
            row[f"{method}_student_r2"] = chosen["gp_test_r2"]
            row[f"{method}_jacobian_sq"] = chosen["teacher_jacobian_sq"]
        row["gp_on_y_r2"] = _direct(summary, dataset)["gp_test_r2"]
        rows.append(row)
    return pd.DataFrame(rows)


def recovery_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Fraction of seeds whose symbolic student equals the ground truth, per dataset with a
    rational ground truth (rows; the Feynman formulas and such formula specs) and teacher
    (columns: ``on_y`` the student without a teacher, ``lambda_0`` the unregularised teacher's,
    ``<method>_<lambda>`` the others; null runs left out). Empty when no dataset has one."""
    runs = finished(_without_null(runs))
    if "gp_equals_truth" not in runs:
        return pd.DataFrame()
    block = runs[runs["gp_equals_truth"].notna()]
    keys = [("on_y" if r.kind == "direct" else "lambda_0" if r.method == "base"
             else f"{r.method}_{float(r.lam):g}") for r in block.itertuples()]
    table = block.assign(teacher=keys, recovered=block["gp_equals_truth"].astype(float))
    return table.pivot_table(index="dataset", columns="teacher", values="recovered", sort=False)


def snr_correlation(table: pd.DataFrame) -> tuple[float, float]:
    """Spearman's rank correlation of the SNR proxy and the student's gain at the validation-chosen
    lambda over the datasets of :func:`dataset_table`, and its p-value (both NaN with fewer than
    three datasets)."""
    if len(table) <= 2:
        return float("nan"), float("nan")
    rho, p = spearmanr(table["snr_proxy"], table["gain_r2"])
    return float(rho), float(p)


NO_TEACHER = "no_teacher"  # the method of a direct run (a student fit on y) in a summary


def stage_times(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean wall seconds of each stage per kind and teacher method (direct runs, the controls on
    y, have method :data:`NO_TEACHER`; null runs are their own kind)."""
    stages = ["teacher_seconds", "gp_seconds", "tree_seconds", "boost_seconds"]
    runs = finished(runs)
    frame = runs.assign(method=runs["method"].fillna(NO_TEACHER))
    return frame.groupby(["kind", "method"], sort=False)[stages].mean().reset_index()


def formulas(runs: pd.DataFrame, table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Per dataset, the lambda = 0 and validation-chosen student formulas of the first seed,
    simplified, in standardised units, with the raw-unit form for datasets with a ground truth;
    ``teacher`` says which ("lambda_0" or "lambda_validation") and ``lam`` is that teacher's
    lambda (``table``: :func:`dataset_table`)."""
    runs = finished(runs)
    seed = runs["seed"].min()
    rows = []
    for _, entry in table.iterrows():
        dataset = entry["dataset"]
        pick = runs[(runs["dataset"] == dataset) & (runs["kind"] == "distill") & (runs["seed"] == seed)
                    & runs["method"].isin(("base", "jacobian"))]
        noise = pick["noise"].iloc[0]
        data = load_dataset(dataset, noise=0.0 if pd.isna(noise) else float(noise))
        for teacher, lam in (("lambda_0", 0.0), ("lambda_validation", entry["lambda_validation"])):
            run = pick[np.isclose(pick["lam"].astype(float), lam)].iloc[0]
            expr = read_srepr(run["gp_formula"])  # stored with sympy.srepr; never sympify
            rows.append({"dataset": dataset, "teacher": teacher, "lam": lam,
                         "formula": simplify_formula(expr, digits),
                         "raw_units": (simplify_formula(to_raw_units(expr, data), digits)
                                       if data.truth is not None else None),
                         "truth": data.truth, "length": int(run["gp_length"]),
                         "test_r2": run["gp_test_r2"]})
    return pd.DataFrame(rows)
