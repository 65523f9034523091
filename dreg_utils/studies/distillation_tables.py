"""The distillation study's tables (notebook 04), computed from its runs table.

:func:`summarize` takes the means over the finished seeds of every setting; from that summary
:func:`dataset_table` gives each dataset's best-lambda student against the lambda = 0 one (with
:func:`snr_correlation`, the rank correlation of the SNR proxy and that gain),
:func:`lambda_selection` the lambda chosen on validation against the oracle choice,
:func:`noise_table` the students of each noise level scored against the clean signal and
:func:`bridge_table` the Jacobian against the CR-penalty teachers. From the runs themselves:
:func:`recovery_table` (how often a student equals the ground truth), :func:`stage_times` and
:func:`formulas` (the students' formulas, read back with
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
from ..vocabulary import finished

METRICS = ("teacher_test_r2", "teacher_val_r2", "teacher_train_r2", "teacher_clean_r2",
           "teacher_jacobian_sq", "teacher_seconds",
           "gp_test_r2", "gp_val_r2", "gp_fidelity_r2", "gp_clean_r2", "gp_length", "gp_seconds",
           "gp_equals_truth", "tree_test_r2", "tree_val_r2", "tree_fidelity_r2",
           "boost_test_r2", "snr_proxy")
STABLE_BASE = 0.1  # |R^2| of the lambda = 0 student below which a relative change is not reported on


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Means over the finished seeds of every metric per (dataset, noise, kind, method, lambda),
    with ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or "diverged (k/n)"); a
    setting whose teachers all diverged keeps its row without means."""
    frame = runs.assign(**{k: runs[k].fillna("-") for k in ("noise", "method", "lam")})
    metrics = [m for m in METRICS if m in frame]
    frame[metrics] = frame[metrics].astype(float)
    return seed_summary(frame, ["dataset", "noise", "kind", "method", "lam"], metrics)


def _distill(summary: pd.DataFrame, dataset: str, methods: tuple[str, ...]) -> pd.DataFrame:
    block = summary[(summary["dataset"] == dataset) & summary["method"].isin(methods)]
    return block.assign(lam=block["lam"].astype(float)).sort_values("lam")


def _lambda_sweeps(summary: pd.DataFrame, method: str):
    """(dataset, its lambda = 0 and ``method`` distillation runs sorted by lambda), per dataset."""
    for dataset in dict.fromkeys(summary["dataset"]):
        block = _distill(summary, dataset, ("base", method))
        if not block.empty:
            yield dataset, block


def dataset_table(summary: pd.DataFrame, method: str = "jacobian") -> pd.DataFrame:
    """Per dataset: teacher R^2, best-lambda and lambda = 0 symbolic students (test R^2 vs y),
    their relative improvement, the tree student the same way, and the controls on y.

    "Best lambda" is chosen on the test R^2 of the student as in the paper (an optimistic,
    oracle choice); :func:`lambda_selection` chooses on validation instead.
    """
    rows = []
    for dataset, block in _lambda_sweeps(summary, method):
        zero = block.iloc[0]
        best = block.loc[block["gp_test_r2"].idxmax()]
        best_tree = block.loc[block["tree_test_r2"].idxmax()]
        ctrl = summary[(summary["dataset"] == dataset) & (summary["kind"] == "direct")].iloc[0]
        rows.append({
            "dataset": dataset, "snr_proxy": ctrl["snr_proxy"],
            "teacher_r2_base": zero["teacher_test_r2"],
            "best_lambda": best["lam"], "teacher_r2_best": best["teacher_test_r2"],
            "student_r2_base": zero["gp_test_r2"], "student_r2_best": best["gp_test_r2"],
            "improvement_pct": symbolic.relative_improvement(zero["gp_test_r2"], best["gp_test_r2"]),
            "gain_r2": best["gp_test_r2"] - zero["gp_test_r2"],
            "fidelity_r2_base": zero["gp_fidelity_r2"],
            "fidelity_r2_best": best["gp_fidelity_r2"],
            "length_best": best["gp_length"],
            "tree_r2_base": zero["tree_test_r2"], "tree_r2_best": best_tree["tree_test_r2"],
            "tree_improvement_pct": symbolic.relative_improvement(zero["tree_test_r2"],
                                                                 best_tree["tree_test_r2"]),
            "gp_on_y_r2": ctrl["gp_test_r2"], "boosting_r2": ctrl["boost_test_r2"]})
    return pd.DataFrame(rows)


def lambda_selection(summary: pd.DataFrame, method: str = "jacobian") -> pd.DataFrame:
    """lambda chosen by the students' validation R^2 against the oracle (test) choice."""
    rows = []
    for dataset, block in _lambda_sweeps(summary, method):
        zero = block.iloc[0]
        chosen = block.loc[block["gp_val_r2"].idxmax()]
        oracle = block.loc[block["gp_test_r2"].idxmax()]
        rows.append({"dataset": dataset, "lambda_validation": chosen["lam"],
                     "lambda_oracle": oracle["lam"], "student_r2_base": zero["gp_test_r2"],
                     "student_r2_validation": chosen["gp_test_r2"],
                     "student_r2_oracle": oracle["gp_test_r2"],
                     "improvement_pct_validation": symbolic.relative_improvement(
                         zero["gp_test_r2"], chosen["gp_test_r2"]),
                     "improvement_pct_oracle": symbolic.relative_improvement(
                         zero["gp_test_r2"], oracle["gp_test_r2"]),
                     "gap_to_oracle": oracle["gp_test_r2"] - chosen["gp_test_r2"]})
    return pd.DataFrame(rows)


def noise_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per ground-truth dataset and noise level: the lambda = 0 student and the validation-chosen
    one, each scored against the noisy test y and against the clean signal."""
    rows = []
    distilled = summary[summary["kind"] == "distill"]
    for (dataset, noise), block in distilled.groupby(["dataset", "noise"], sort=False):
        if noise == "-":
            continue
        block = block.assign(lam=block["lam"].astype(float)).sort_values("lam")
        block = block[block["method"].isin(("base", "jacobian"))]
        zero = block.iloc[0]
        chosen = block.loc[block["gp_val_r2"].idxmax()]
        rows.append({"dataset": dataset, "noise": float(noise), "lambda_validation": chosen["lam"],
                     "teacher_clean_r2_base": zero.get("teacher_clean_r2", np.nan),
                     "student_r2_base": zero["gp_test_r2"],
                     "student_r2_validation": chosen["gp_test_r2"],
                     "student_clean_r2_base": zero["gp_clean_r2"],
                     "student_clean_r2_validation": chosen["gp_clean_r2"],
                     "clean_r2_gain": chosen["gp_clean_r2"] - zero["gp_clean_r2"],
                     "recovered_base": zero.get("gp_equals_truth", np.nan),
                     "recovered_validation": chosen.get("gp_equals_truth", np.nan)})
    return pd.DataFrame(rows).sort_values(["dataset", "noise"]).reset_index(drop=True)


def bridge_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Jacobian against DREG teachers: the best student each penalty reaches per dataset."""
    rows = []
    for dataset in dict.fromkeys(summary["dataset"]):
        row = {"dataset": dataset}
        for method in ("jacobian", "dreg"):
            block = _distill(summary, dataset, ("base", method))
            best = block.loc[block["gp_test_r2"].idxmax()]
            row[f"{method}_best_lambda"] = best["lam"]
            row[f"{method}_teacher_r2"] = best["teacher_test_r2"]
            row[f"{method}_student_r2"] = best["gp_test_r2"]
            row[f"{method}_jacobian_sq"] = best["teacher_jacobian_sq"]
        rows.append(row)
    return pd.DataFrame(rows)


def recovery_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Fraction of seeds whose symbolic student equals the ground truth, per dataset with a
    rational ground truth (rows; the Feynman formulas and such formula specs) and teacher
    (columns: ``on_y`` the student without a teacher, ``lambda_0`` the unregularised teacher's,
    ``<method>_<lambda>`` the others). Empty when no dataset has one."""
    runs = finished(runs)
    if "gp_equals_truth" not in runs:
        return pd.DataFrame()
    block = runs[runs["gp_equals_truth"].notna()]
    keys = [("on_y" if r.kind == "direct" else "lambda_0" if r.method == "base"
             else f"{r.method}_{float(r.lam):g}") for r in block.itertuples()]
    table = block.assign(teacher=keys, recovered=block["gp_equals_truth"].astype(float))
    return table.pivot_table(index="dataset", columns="teacher", values="recovered", sort=False)


def snr_correlation(table: pd.DataFrame) -> tuple[float, float]:
    """Spearman's rank correlation of the SNR proxy and the student's gain over the datasets of
    :func:`dataset_table`, and its p-value (both NaN with fewer than three datasets)."""
    if len(table) <= 2:
        return float("nan"), float("nan")
    rho, p = spearmanr(table["snr_proxy"], table["gain_r2"])
    return float(rho), float(p)


NO_TEACHER = "no_teacher"  # the method of a direct run (a student fit on y) in a summary


def stage_times(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean wall seconds of each stage per teacher method (direct runs, the controls on y, have
    method :data:`NO_TEACHER`)."""
    stages = ["teacher_seconds", "gp_seconds", "tree_seconds", "boost_seconds"]
    runs = finished(runs)
    frame = runs.assign(method=runs["method"].fillna(NO_TEACHER))
    return frame.groupby(["kind", "method"], sort=False)[stages].mean().reset_index()


def formulas(runs: pd.DataFrame, table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Per dataset, the lambda = 0 and best-lambda student formulas of the first seed, simplified,
    in standardised units, with the raw-unit form for datasets with a ground truth; ``teacher``
    says which ("lambda_0" or "best_lambda") and ``lam`` is that teacher's lambda."""
    runs = finished(runs)
    seed = runs["seed"].min()
    rows = []
    for _, entry in table.iterrows():
        dataset = entry["dataset"]
        pick = runs[(runs["dataset"] == dataset) & (runs["kind"] == "distill") & (runs["seed"] == seed)
                    & runs["method"].isin(("base", "jacobian"))]
        noise = pick["noise"].iloc[0]
        data = load_dataset(dataset, noise=0.0 if pd.isna(noise) else float(noise))
        best = entry["best_lambda"]
        for teacher, lam in (("lambda_0", 0.0), ("best_lambda", best)):
            run = pick[np.isclose(pick["lam"].astype(float), lam)].iloc[0]
            expr = read_srepr(run["gp_formula"])  # stored with sympy.srepr; never sympify
            rows.append({"dataset": dataset, "teacher": teacher, "lam": lam,
                         "formula": simplify_formula(expr, digits),
                         "raw_units": (simplify_formula(to_raw_units(expr, data), digits)
                                       if data.truth is not None else None),
                         "truth": data.truth, "length": int(run["gp_length"]),
                         "test_r2": run["gp_test_r2"]})
    return pd.DataFrame(rows)
