"""The surrogate chapter's words (notebook 05): its verdict lines, the verdict note and the values
the findings page pastes, built from :mod:`dreg_utils.studies.surrogate`'s numbers."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..studies.surrogate import PREDICTORS, PREDICTS_RHO, REGRET_OUTCOMES, WORTH_MAX_MSE_CHANGE_PCT
from ..vocabulary import METRICS, PAPER_LABELS

RELATIONS = {"predicts": "predicts", "opposite": "opposite", "none": "no clear relation", "undefined": "undefined"}
WORTH = {"worth_it": "worth it", "not_worth_it": "not worth it", "mixed": "mixed"}
GLUED = {"p99_gd": "p99/mean vs GD", "p99_lbfgs": "p99/mean vs L-BFGS", "dreg": "DREG vs BASE"}  # key: line prefix


def predictor_line(predictors: pd.DataFrame, predictor: str, outcome: str) -> str:
    """One line of :func:`dreg_utils.studies.surrogate.regret_predictors`: in how many objectives
    ``predictor`` predicts ``outcome``, then each objective's rho and relation."""
    block = predictors[(predictors["predictor"] == predictor) & (predictors["outcome"] == outcome)]
    parts = [f"{r.objective} rho={r.rho:+.2f} ({RELATIONS[r.relation]})" for r in block.itertuples()]
    hits = int((block["relation"] == "predicts").sum())
    return (f"{METRICS[predictor].label} vs {METRICS[outcome].label}: predicts in {hits}/{len(block)} "
            "objectives - " + "; ".join(parts))


def worth_line(row: tuple) -> str:
    """One row (a named tuple) of :func:`dreg_utils.studies.surrogate.method_worth` in words."""
    return (f"{PAPER_LABELS[row.method]} vs BASE: lower regret under both optimisers in {row.lower_both}/{row.cells} "
            f"cells, higher under both in {row.higher_both}/{row.cells}; median test-MSE change "
            f"{row.median_test_mse_change_pct:+.0f}%, median p99/mean change "
            f"{row.median_p99_over_mean_change_pct:+.0f}%: {WORTH[row.worth]}")


def verdict_lines(predictors: pd.DataFrame, worth: pd.DataFrame) -> list[str]:
    """The chapter's findings: for p99/mean and test MSE, whether each predicts each optimiser's
    regret (:func:`predictor_line`), then whether each regulariser is worth it (:func:`worth_line`)."""
    return ([predictor_line(predictors, p, o) for p in PREDICTORS for o in REGRET_OUTCOMES]
            + [worth_line(row) for row in worth.itertuples(index=False)])


def verdict_note(lines: list[str], true_regret: pd.Series, settings: Mapping, n_surrogates: int) -> str:
    """Markdown: the profile and sizes, one bullet per verdict line, and the median regret of each
    optimiser driven by the true gradient (:func:`dreg_utils.studies.surrogate.true_regret`)."""
    return (f"Under the `{settings['profile']}` profile ({n_surrogates} surrogates, "
            f"{settings['n_starts']} starts each):\n\n" + "\n".join(f"- {line}" for line in lines)
            + "\n\nMedian regret with the true gradient: "
            + ", ".join(f"{o} {opt} {v:.3g}" for (o, opt), v in true_regret.items()) + ".")


def glue_verdict(lines: list[str], profile: str) -> None:
    """Glue the profile, the verdict lines the findings page pastes (:data:`GLUED`; "not run"
    where this run has no such line) and the two thresholds of the rules the page states."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    glue("profile", profile, display=False)
    glue("predicts_rho", f"{PREDICTS_RHO:g}", display=False)
    glue("worth_max_mse_change", f"{WORTH_MAX_MSE_CHANGE_PCT:g}%", display=False)
    for key, prefix in GLUED.items():
        glue(key, next((line for line in lines if line.startswith(prefix)), "not run"), display=False)
