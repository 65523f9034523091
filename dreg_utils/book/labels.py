"""Display labels. Computed tables carry snake_case columns (data that code may read); a page
shows a table with :func:`show`, which puts these labels on its columns. A table whose label
depends on a value (e.g. the lambda of a column) names it in ``table.attrs["labels"]``.
:data:`TABLE1_LABELS` and :data:`TABLE3_LABELS` hold the DREG paper's names of the metrics of its
Tables 1 and 3.

A signed column's label says which way is good, in the vocabulary's convention: a reduction is
positive when the quantity fell, any other difference is positive when it rose and says
"(+ = better)" or "(+ = worse)" (:func:`dreg_utils.vocabulary.change_label`)."""
from __future__ import annotations

import pandas as pd

from ..vocabulary import change_label, reduction_label

LABELS = {
    # synthetic families (notebook 01); test_mse_change_pct also in notebooks 05 and 07
    "lambda_0": "lambda=0", "ratio_ours": "ratio (ours)", "paper_lambda_0": "paper lambda=0",
    "ratio_paper": "ratio (paper)", "test_mse_change_pct": change_label("test_mse", "ours"),
    "paper_test_mse_change_pct": change_label("test_mse", "paper"),
    "p90_reduction_pct": reduction_label("grad_p90", "ours"),
    "paper_p90_reduction_pct": reduction_label("grad_p90", "paper"),
    "proxy_reduction_pct": reduction_label("derivative_proxy", "ours"),
    "plateau_lambda": "plateau up to lambda", "plateau_p90_reduction_pct": "p90 reduction at plateau end %",
    "plateau_test_mse_change_pct": change_label("test_mse", what="change at plateau end %"),
    # synthetic ablation (notebook 07)
    "mean_p90_reduction_pct": "mean " + reduction_label("grad_p90"),
    "mean_gap_to_paper": "mean gap to the paper (points)",
    "mean_test_mse_change_pct": "mean " + change_label("test_mse"),
    # distillation ablation (notebook 08)
    "paper_improvement_pct": change_label("gp_test_r2", "paper", "improvement %"),
    # symbolic distillation (notebook 04)
    "snr_proxy": "SNR proxy",
    "teacher_r2_base": "teacher R2 (lambda=0)",
    "best_lambda": "best lambda",
    "teacher_r2_best": "teacher R2 (best lambda)",
    "student_r2_base": "student R2 (lambda=0)",
    "student_r2_best": "student R2 (best lambda)",
    "improvement_pct": change_label("gp_test_r2", what="improvement %"),
    "gain_r2": change_label("gp_test_r2", "points", "gain"),
    "fidelity_r2_base": "fidelity R2 (lambda=0)",
    "fidelity_r2_best": "fidelity R2 (best lambda)",
    "length_best": "length (best lambda)",
    "tree_r2_base": "tree R2 (lambda=0)",
    "tree_r2_best": "tree R2 (best lambda)",
    "tree_improvement_pct": change_label("tree_test_r2", what="improvement %"),
    "gp_on_y_r2": "GP on y R2",
    "boosting_r2": "boosting R2",
    "lambda_validation": "lambda (validation)",
    "lambda_oracle": "lambda (oracle)",
    "student_r2_validation": "student R2 (validation lambda)",
    "student_r2_oracle": "student R2 (oracle lambda)",
    "improvement_pct_validation": change_label("gp_test_r2", "validation lambda", "improvement %"),
    "improvement_pct_oracle": change_label("gp_test_r2", "oracle lambda", "improvement %"),
    "gap_to_oracle": "gap to oracle",
    "teacher_clean_r2_base": "teacher clean R2 (lambda=0)",
    "student_clean_r2_base": "student clean R2 (lambda=0)",
    "student_clean_r2_validation": "student clean R2 (validation lambda)",
    "clean_r2_gain": change_label("gp_clean_r2", "points", "gain"),
    "recovered_base": "recovered (lambda=0)",
    "recovered_validation": "recovered (validation lambda)",
    "raw_units": "raw units",
    "test_r2": "test R2",
    **{f"{m}_{k}": f"{m}: {v}" for m in ("jacobian", "dreg") for k, v in (
        ("best_lambda", "best lambda"), ("teacher_r2", "teacher R2"), ("student_r2", "student R2"),
        ("jacobian_sq", "E||J||^2"))},
    "ratio_to_base": "ratio to unregularised",
    # gplearn benchmark (notebook 06)
    "fits_per_arm": "fits per arm", "gplearn_s_per_fit": "gplearn (s per fit)",
    "fast_s_per_fit": "fast_gplearn (s per fit)", "fast_over_gplearn": "ratio",
    # MNIST frontier (notebook 02)
    "accuracy_change": change_label("test_acc", "points", "change"), "p99_reduction_pct": reduction_label("ig_p99"),
    "settings_tried": "settings tried",
    # surrogates (notebook 05): changes against BASE
    "p99_over_mean_change_pct": change_label("grad_p99_over_mean"),
    "median_test_mse_change_pct": "median " + change_label("test_mse"),
    "median_p99_over_mean_change_pct": "median " + change_label("grad_p99_over_mean"),
    "cos_p10_diff": change_label("cos_p10", what="diff"),
    "gd_regret_diff": change_label("gd_regret_median", what="diff"),
    "lbfgs_regret_diff": change_label("lbfgs_regret_median", what="diff"),
    "gd_exits_diff": change_label("gd_left_domain", what="diff"),
    "lbfgs_exits_diff": change_label("lbfgs_left_domain", what="diff"),
    # performance (notebook 06)
    "group9_step_ms": "group of 9: ms/step", "group3_step_ms": "IGP group of 3: ms/step",
    "single_step_ms": "one run: ms/step", "sequential_min": "one at a time (min)",
    "vectorised_min": "vectorised (min)", "floor_min": "floor (min)", "wall_over_floor": "wall / floor",
    "products_over_floor": "products / floor", "adamw_over_floor": "AdamW / floor",
    "rest_over_floor": "rest / floor",
    "ratio_to_reference": "ratio to the naive loop", "mean_test_acc": "mean test accuracy (%)",
    # your own model (notebook 09)
    "lam": "lambda", "test_mse": "test MSE", "test_mse_std": "MSE sd", "test_mse_vs_none": "MSE vs none",
    "grad_p99": "p99 |grad|", "grad_p99_std": "p99 sd", "grad_p99_vs_none": "p99 vs none",
    "grad_max": "max |grad|", "train_s": "train s",
    # statistics (notebook 03)
    "pairs_ours": "pairs (ours)", "pairs_paper": "pairs (paper)", "unmatched_keys": "unmatched keys",
    "min_sign_p_ours": "smallest sign-test p (ours)", "min_sign_p_paper": "smallest sign-test p (paper)",
    "sample_size": "sample size", "paper_table3": "paper's Table 3 (seed means)",
    "claim_text": "claim (our words)",
    "verdict_holm": "verdict after Holm",
    "lower_with_dreg": "lower with DREG",
    "median_ratio": "median ratio",
    "p_t": "p t",
    "p_wilcoxon": "p Wilcoxon",
    "p_sign": "p sign",
    "mean_log_ratio": "mean log ratio",
    "holm_deciding": "Holm (deciding)",
    "deciding_test": "deciding test",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "bootstrap_low": "bootstrap low",
    "bootstrap_high": "bootstrap high",
    "p_main": "p t/Welch/rho",
}

# The DREG paper's Table 1 rows (dreg_utils.studies.synthetic.TABLE1_METRICS).
TABLE1_LABELS = {"grad_mean": "mean ||grad f||", "grad_p90": "p90 ||grad f||", "grad_p99": "p99 ||grad f||",
                 "grad_max": "max ||grad f||", "grad_p99_over_mean": "p99/mean", "test_mse": "test MSE"}
# The DREG paper's Table 3 headings of the MNIST metrics (dreg_utils.studies.mnist.METRICS).
TABLE3_LABELS = {"test_acc": "Test Acc (%)", "ig_mean": "IG Mean", "ig_p95": "IG p95",
                 "ig_p99": "IG p99", "ig_max": "IG Max", "ig_p99_over_mean": "p99/Mean"}


def label(column: str, table: pd.DataFrame | None = None) -> str:
    """The label a page shows for ``column`` (the column itself when it has none)."""
    extra = {} if table is None else table.attrs.get("labels", {})
    return {**LABELS, **extra}.get(column, column)


def show(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its display labels, ready for ``.style``."""
    return table.rename(columns=lambda column: label(column, table))
