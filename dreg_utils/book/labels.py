"""Display labels, one table per chapter. Computed tables carry snake_case columns (data that code
may read); a page shows a table with :func:`show` (in a notebook, the page's ``ch.show``), which
puts its chapter's labels on its columns. A table whose label depends on a value (e.g. the lambda
of a column) names it in ``table.attrs["labels"]``. :data:`TABLE1_LABELS` and
:data:`TABLE3_LABELS` hold the DREG paper's names of the metrics of its Tables 1 and 3.

A column has one label across the book: two chapters that show one column label it alike
(``tests/test_labels.py``), so a table shown without its chapter (``chapter=None``) reads the
same. A quantity measured another way gets another column name, e.g. chapter 01's
``p90_reduction_pct`` (the reduction of the seed means) and chapter 07's
``per_seed_p90_reduction_pct`` (the mean of the per-seed reductions).

A signed column's label says which way is good, in the vocabulary's convention: a reduction is
positive when the quantity fell, any other difference is positive when it rose and says
"(+ = better)" or "(+ = worse)" (:func:`dreg_utils.vocabulary.change_label`)."""
from __future__ import annotations

import pandas as pd

from ..validation import check_choice
from ..vocabulary import change_label, reduction_label

# Changes of the seed means (chapters 01 and 05): the mean over seeds of each arm, then the change.
_SEED_MEANS_MSE = change_label("test_mse", "ours", "change of the seed means %")
_CI = {"ci_low": "CI low", "ci_high": "CI high"}

LABELS: dict[str, dict[str, str]] = {
    "01_synthetic_families": {
        "lambda_0": "lambda=0", "ratio_ours": "ratio (ours)", "paper_lambda_0": "paper lambda=0",
        "ratio_paper": "ratio (paper)", "test_mse_change_pct": _SEED_MEANS_MSE,
        "paper_test_mse_change_pct": change_label("test_mse", "paper"),
        "p90_reduction_pct": "p90 reduction of the seed means % (ours)",
        "paper_p90_reduction_pct": reduction_label("grad_p90", "paper"),
        "proxy_reduction_pct": reduction_label("derivative_proxy", "ours"),
        "plateau_lambda": "plateau up to lambda", "plateau_p90_reduction_pct": "p90 reduction at plateau end %",
        "plateau_test_mse_change_pct": change_label("test_mse", what="change at plateau end %"),
    },
    "02_mnist_sweep": {
        "accuracy_change": change_label("test_acc", "points", "change"),
        "p99_reduction_pct": reduction_label("ig_p99"), "settings_tried": "settings tried",
    },
    "03_statistical_tests": {
        "pairs_ours": "pairs (ours)", "pairs_paper": "pairs (paper)", "unmatched_keys": "unmatched keys",
        "min_sign_p_ours": "smallest sign-test p (ours)", "min_sign_p_paper": "smallest sign-test p (paper)",
        "sample_size": "sample size", "paper_table3": "paper's Table 3 (seed means)",
        "claim_text": "claim (our words)", "verdict_holm": "verdict after Holm", "lower_with_dreg": "lower with DREG",
        "median_ratio": "median ratio", "p_t": "p t", "p_wilcoxon": "p Wilcoxon", "p_sign": "p sign",
        "mean_log_ratio": "mean log ratio", "holm_deciding": "Holm (deciding)", "deciding_test": "deciding test",
        **_CI, "bootstrap_low": "bootstrap low", "bootstrap_high": "bootstrap high", "p_main": "p t/Welch/rho",
    },
    "04_sr_distillation": {
        "snr_proxy": "SNR proxy", "teacher_r2_base": "teacher R2 (lambda=0)",
        "teacher_r2_validation": "teacher R2 (validation lambda)",
        "teacher_r2_drop": change_label("teacher_test_r2", "validation lambda", "drop"),
        "student_r2_base": "student R2 (lambda=0)",
        "improvement_pct": change_label("gp_test_r2", what="improvement %"),
        "gain_r2": change_label("gp_test_r2", "points", "gain"),
        "fidelity_r2_base": "fidelity R2 (lambda=0)", "fidelity_r2_validation": "fidelity R2 (validation lambda)",
        "length_validation": "length (validation lambda)", "tree_r2_base": "tree R2 (lambda=0)",
        "tree_lambda_validation": "tree: lambda (validation)", "tree_r2_validation": "tree R2 (validation lambda)",
        "tree_on_y_r2": "tree on y R2", "gp_on_y_clean_r2": "GP on y clean R2",
        "null_students": "re-seeded lambda=0 students",
        "null_improvement_pct_oracle": "null: " + change_label("gp_test_r2", "oracle lambda", "improvement %"),
        "null_improvement_pct_validation": "null: " + change_label("gp_test_r2", "validation lambda", "improvement %"),
        "seeds": "seeds", **_CI,
        "tree_improvement_pct": change_label("tree_test_r2", what="improvement %"),
        "gp_on_y_r2": "GP on y R2", "boosting_r2": "boosting R2",
        "lambda_validation": "lambda (validation)", "lambda_oracle": "lambda (oracle)",
        "student_r2_validation": "student R2 (validation lambda)", "student_r2_oracle": "student R2 (oracle lambda)",
        "improvement_pct_validation": change_label("gp_test_r2", "validation lambda", "improvement %"),
        "improvement_pct_oracle": change_label("gp_test_r2", "oracle lambda", "improvement %"),
        "gap_to_oracle": "gap to oracle",
        "teacher_clean_r2_base": "teacher clean R2 (lambda=0)", "student_clean_r2_base": "student clean R2 (lambda=0)",
        "student_clean_r2_validation": "student clean R2 (validation lambda)",
        "clean_r2_gain": change_label("gp_clean_r2", "points", "gain"),
        "recovered_base": "recovered (lambda=0)", "recovered_validation": "recovered (validation lambda)",
        "raw_units": "raw units", "test_r2": "test R2",
        **{f"{m}_{k}": f"{m}: {v}" for m in ("jacobian", "dreg") for k, v in (
            ("lambda_validation", "lambda (validation)"), ("teacher_r2", "teacher R2"), ("student_r2", "student R2"),
            ("jacobian_sq", "E||J||^2"))},
        "ratio_to_base": "ratio to unregularised",
    },
    "05_surrogate_optimization": {
        "val_mse": "validation MSE", "test_mse_change_pct": _SEED_MEANS_MSE,
        "p99_over_mean_change_pct": change_label("grad_p99_over_mean"),
        "median_test_mse_change_pct": "median " + change_label("test_mse"),
        "median_p99_over_mean_change_pct": "median " + change_label("grad_p99_over_mean"),
        "cos_p10_diff": change_label("cos_p10", what="diff"),
        "gd_regret_diff": change_label("gd_regret_median", what="diff"),
        "lbfgs_regret_diff": change_label("lbfgs_regret_median", what="diff"),
        "gd_exits_diff": change_label("gd_left_domain", what="diff"),
        "lbfgs_exits_diff": change_label("lbfgs_left_domain", what="diff"),
    },
    "06_performance": {
        "fits_per_arm": "fits per arm", "gplearn_s_per_fit": "gplearn (s per fit)",
        "fast_s_per_fit": "fast_gplearn (s per fit)", "fast_over_gplearn": "ratio",
        "group9_step_ms": "group of 9: ms/step", "group3_step_ms": "IGPEN group of 3: ms/step",
        "single_step_ms": "one run: ms/step", "sequential_min": "one at a time (min)",
        "vectorised_min": "vectorised (min)", "floor_min": "floor (min)", "wall_over_floor": "wall / floor",
        "products_over_floor": "products / floor", "adamw_over_floor": "AdamW / floor",
        "rest_over_floor": "rest / floor", "ratio_to_reference": "ratio to the naive loop",
        "mean_test_acc": "mean test accuracy (%)",
    },
    "07_synthetic_ablation": {
        "per_seed_p90_reduction_pct": "mean p90 reduction over seeds %",
        "per_seed_test_mse_change_pct": "mean " + change_label("test_mse", what="change over seeds %"),
        "paper_p90_reduction_pct": reduction_label("grad_p90", "paper"), **_CI,
        "mse_ci_low": "MSE CI low", "mse_ci_high": "MSE CI high",
        "p90_with_interval": "mean p90 reduction over seeds % (95% CI)",
        "mse_with_interval": "mean " + change_label("test_mse", "95% CI", "change over seeds %"),
        "p90_above_zero": "families: p90 interval above 0", "p90_holds": "families: p90 holds",
        "mse_negligible": "families: MSE change negligible",
    },
    "08_distillation_ablation": {
        "paper_improvement_pct": change_label("gp_test_r2", "paper", "improvement %"),
        "student_r2_base": "student R2 (lambda=0)", "student_r2_validation": "student R2 (validation lambda)",
        "improvement_pct": change_label("gp_test_r2", what="improvement %"), **_CI,
        "improvement_with_interval": change_label("gp_test_r2", "95% CI", "improvement %"),
        "lambda_validation": "lambda (validation)",
        "validation": "validation", "gain": change_label("gp_test_r2", "validation lambda", "gain %"),
    },
    "09_own_model": {
        "test_mse_vs_none": "MSE vs none", "grad_p99_std": "p99 sd",
        "grad_p99_vs_none": "p99 vs none", "train_s": "train s",
    },
}

# Columns that several chapters' tables carry (lambda, run metrics, their spread, timings): labelled
# once, for every chapter that does not label them itself.
COMMON_LABELS: dict[str, str] = {
    "lam": "lambda", "test_mse": "test MSE", "test_mse_std": "MSE sd", "grad_p99": "p99 |grad|",
    "grad_max": "max |grad|", "grad_mean": "mean |grad|", "grad_p90": "p90 |grad|", "grad_p95": "p95 |grad|",
    "grad_p99_over_mean": "p99/mean |grad|", "derivative_proxy": "derivative proxy",
    "local_linearity_error": "local linearity error", "n_seeds": "seeds", "n_diverged": "diverged",
    "test_acc": "test accuracy (%)", "ig_mean": "IG mean", "ig_p95": "IG p95", "ig_p99": "IG p99", "ig_max": "IG max",
    "ig_p99_over_mean": "IG p99/mean", "abs_difference": "|ours - paper| (+ = worse)", "verdict_holm": "verdict after Holm",
    "d_z": "effect size d_z", "sd_base": "sd (BASE)", "sd_dreg": "sd (DREG)", "var_base": "variance (BASE)",
    "var_dreg": "variance (DREG)", "variance_ratio": "variance ratio (DREG / BASE)",
    "teacher_seconds": "teacher (s)", "gp_seconds": "GP student (s)", "tree_seconds": "tree student (s)",
    "boost_seconds": "boosting (s)", "cos_mean": "mean cos", "cos_p5": "p5 cos", "cos_p10": "p10 cos",
    "gd_regret_median": "GD: median regret", "lbfgs_regret_median": "L-BFGS: median regret",
    "gd_left_domain": "GD: left the box", "lbfgs_left_domain": "L-BFGS: left the box",
    "gd_diverged": "GD: diverged", "lbfgs_diverged": "L-BFGS: diverged",
    "adamw_train_s": "AdamW alone (s)", "floor_train_s": "floor (s)", "replay_train_s": "products replayed (s)",
    "sequential_train_s": "one at a time (s)", "vectorised_train_s": "vectorised (s)",
}

# The DREG paper's Table 1 rows (dreg_utils.studies.synthetic.TABLE1_METRICS).
TABLE1_LABELS = {"grad_mean": "mean ||grad f||", "grad_p90": "p90 ||grad f||", "grad_p99": "p99 ||grad f||",
                 "grad_max": "max ||grad f||", "grad_p99_over_mean": "p99/mean", "test_mse": "test MSE"}
# The DREG paper's Table 3 headings of the MNIST metrics (dreg_utils.studies.mnist.METRICS).
TABLE3_LABELS = {"test_acc": "Test Acc (%)", "ig_mean": "IG Mean", "ig_p95": "IG p95",
                 "ig_p99": "IG p99", "ig_max": "IG Max", "ig_p99_over_mean": "p99/Mean"}


def book_labels() -> dict[str, str]:
    """Every chapter's labels in one mapping (a column has one label across the book)."""
    merged: dict[str, str] = {}
    for chapter, labels in (("the common labels", COMMON_LABELS), *LABELS.items()):
        for column, text in labels.items():
            if merged.setdefault(column, text) != text:
                raise ValueError(f"column {column!r} is labelled {merged[column]!r} by one chapter and "
                                 f"{text!r} by {chapter}; give one of them another column name")
    return merged


def label(column: str, table: pd.DataFrame | None = None, chapter: str | None = None) -> str:
    """The label a page shows for ``column``: from ``table.attrs["labels"]``, else from
    ``chapter``'s labels (None: any chapter's), else :data:`COMMON_LABELS`, else the column itself."""
    extra = {} if table is None else table.attrs.get("labels", {})
    if column in extra:
        return extra[column]
    if chapter is None:
        return book_labels().get(column, column)
    check_choice("chapter", chapter, LABELS)
    return LABELS[chapter].get(column, COMMON_LABELS.get(column, column))


def show(table: pd.DataFrame, chapter: str | None = None) -> pd.DataFrame:
    """``table`` with the display labels of ``chapter`` (None: of any chapter), ready for ``.style``."""
    if chapter is not None:
        check_choice("chapter", chapter, LABELS)
    return table.rename(columns=lambda column: label(column, table, chapter))
