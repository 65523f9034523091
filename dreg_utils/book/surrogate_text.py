"""The surrogate chapter's words (notebook 05): its verdict lines with their intervals, the rules
that decide them, the verdict note and the values the findings page pastes, built from
the numbers of :mod:`dreg_utils.studies.surrogate` and :mod:`dreg_utils.studies.surrogate_verdicts`."""
from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..intervals import smallest_decidable_n
from ..studies.surrogate import OPTIMIZERS
from ..studies.surrogate_verdicts import (CONFIDENCE, PREDICTORS, PREDICTS_RHO, REGRET_OUTCOMES,
                                          WORTH_MAX_MSE_CHANGE_PCT, best_sn_variant)
from ..vocabulary import METRICS, PAPER_LABELS, SN_METHODS
from .tables import fixed, formatted

RELATIONS = {"predicts": "predicts", "weak": "weak", "opposite": "opposite", "none": "no clear relation",
             "undefined": "undefined"}
WORTH = {"worth_it": "worth it", "not_worth_it": "not worth it", "mixed": "mixed", "inconclusive": "inconclusive"}
OPTIMIZER_NAMES = {"gd": "GD", "lbfgs": "L-BFGS"}
LEVEL = f"{CONFIDENCE:.0%}"
PREDICTS_RULE = (f"a predictor \"predicts\" an optimiser's regret on an objective when the {LEVEL} interval of "
                 f"Spearman's rho lies above 0 and rho is at least {PREDICTS_RHO:g}; \"weak\" when the interval "
                 "lies above 0 but rho is smaller; \"opposite\" when it lies below 0; \"no clear relation\" when "
                 "it includes 0")
WORTH_RULE = (f"a regulariser is \"worth it\" when, over its pairs with BASE (same objective, activation and "
              f"seed), the {LEVEL} interval of the median regret difference lies below 0 for both optimisers "
              f"(differences within floating-point tolerance are ties, 0) and that of the median test-MSE "
              f"change lies below +{WORTH_MAX_MSE_CHANGE_PCT:g}%; \"not worth it\" when neither regret is "
              f"shown lower and one is shown higher or the test-MSE change shown above "
              f"+{WORTH_MAX_MSE_CHANGE_PCT:g}%; \"mixed\" when one regret is shown lower and another higher, or "
              f"the test-MSE change above the budget; \"inconclusive\" otherwise (an interval includes its "
              f"boundary, or fewer than {smallest_decidable_n()} pairs give no interval)")
SN_RULE = ("the verdict on SN is that of its variant with the lowest median validation MSE (an independent "
           "uniform draw, so the choice does not look at the regret or the test MSE it is judged on)")
# key: line prefix of the verdict lines the findings page pastes
GLUED = {"p99_gd": "p99/mean vs GD", "p99_lbfgs": "p99/mean vs L-BFGS", "dreg": "DREG vs BASE", "sn": "SN, "}


def interval_text(low: float, high: float, fmt: str = "+.3g", unit: str = "", n: int | None = None) -> str:
    """"95% CI low to high", or why there is none ("no 95% interval from n pairs")."""
    if math.isnan(low) or math.isnan(high):
        return f"no {LEVEL} interval" + (f" from {n} pairs, {smallest_decidable_n()} needed" if n is not None else "")
    return f"{LEVEL} CI {formatted(low, fmt)}{unit} to {formatted(high, fmt)}{unit}"


def predictor_line(predictors: pd.DataFrame, predictor: str, outcome: str) -> str:
    """One line of :func:`dreg_utils.studies.surrogate_verdicts.regret_predictors`: in how many objectives
    ``predictor`` predicts ``outcome``, then each objective's rho, its interval and relation."""
    block = predictors[(predictors["predictor"] == predictor) & (predictors["outcome"] == outcome)]
    parts = [f"{r.objective} rho={r.rho:+.2f} ({interval_text(r.low, r.high, '+.2f')}; {RELATIONS[r.relation]})"
             for r in block.itertuples()]
    hits = int((block["relation"] == "predicts").sum())
    return (f"{METRICS[predictor].label} vs {METRICS[outcome].label}: predicts in {hits}/{len(block)} "
            "objectives - " + "; ".join(parts))


def worth_line(row: tuple) -> str:
    """One row (a named tuple) of :func:`dreg_utils.studies.surrogate_verdicts.method_worth` in words: the
    verdict, then each optimiser's median regret difference with its interval and counts, and the
    median test-MSE change with its interval against the budget."""
    regrets = [f"{OPTIMIZER_NAMES[o]} regret change {formatted(getattr(row, f'{o}_regret_diff'), '+.3g')} "
               f"({interval_text(getattr(row, f'{o}_low'), getattr(row, f'{o}_high'), n=row.n)}; lower in "
               f"{getattr(row, f'{o}_lower')}, higher in {getattr(row, f'{o}_higher')}, tied in "
               f"{getattr(row, f'{o}_tied')}: {getattr(row, f'{o}_verdict')})" for o in OPTIMIZERS]
    return (f"{PAPER_LABELS[row.method]} vs BASE: {WORTH[row.worth]} - over {row.n} pairs (+ = worse), median "
            + ", ".join(regrets) + f"; median test-MSE change {fixed(row.median_test_mse_change_pct, 0, True)}% "
            f"({interval_text(row.mse_low, row.mse_high, '+.0f', '%', row.n)}; against the "
            f"+{WORTH_MAX_MSE_CHANGE_PCT:g}% budget: {row.cost}); median p99/mean change "
            f"{fixed(row.median_p99_over_mean_change_pct, 0, True)}%")


def sn_line(worth: pd.DataFrame) -> str | None:
    """The verdict on SN: that of its variant with the lowest median validation MSE
    (:func:`dreg_utils.studies.surrogate_verdicts.best_sn_variant`), with each variant's validation MSE and
    verdict; None when no SN variant ran."""
    best = best_sn_variant(worth)
    if best is None:
        return None
    rows = worth[worth["method"].isin(SN_METHODS)].set_index("method")
    others = "; ".join(f"{PAPER_LABELS[m]} {WORTH[r.worth]} (median validation MSE {r.median_val_mse:.3g})"
                       for m, r in rows.iterrows())
    return (f"SN, its best variant on validation MSE ({PAPER_LABELS[best]}): {WORTH[rows.loc[best, 'worth']]} "
            f"- each variant: {others}")


def verdict_lines(predictors: pd.DataFrame, worth: pd.DataFrame) -> list[str]:
    """The chapter's findings: for p99/mean and test MSE, whether each predicts each optimiser's
    regret (:func:`predictor_line`), then whether each regulariser is worth it (:func:`worth_line`),
    then the verdict on SN (:func:`sn_line`) when an SN variant ran."""
    sn = sn_line(worth)
    return ([predictor_line(predictors, p, o) for p in PREDICTORS for o in REGRET_OUTCOMES]
            + [worth_line(row) for row in worth.itertuples(index=False)] + ([sn] if sn else []))


def answer(lines: list[str]) -> str:
    """The page's answer: the verdicts on DREG against BASE and on SN (each line up to its " - ",
    where the evidence begins), or the first verdict line's when this run has neither, and where
    the evidence is."""
    chosen = [line for line in lines if line.startswith((GLUED["dreg"], GLUED["sn"]))] or lines[:1]
    return " ".join(line.split(" - ", 1)[0].rstrip(".") + "." for line in chosen) + (
        " The intervals and counts behind each verdict are in the Verdict section.")


def rules() -> str:
    """The rules that decide the chapter's verdict lines, in one sentence each."""
    return f"{PREDICTS_RULE[0].upper()}{PREDICTS_RULE[1:]}; {WORTH_RULE}; {SN_RULE}."


def verdict_note(lines: list[str], true_regret: pd.Series, settings: Mapping, n_surrogates: int) -> str:
    """Markdown: the profile and sizes, one bullet per verdict line, the rules that decide them
    (:func:`rules`), and the median regret of each optimiser driven by the true gradient
    (:func:`dreg_utils.studies.surrogate_verdicts.true_regret`)."""
    return (f"Under the `{settings['profile']}` profile ({n_surrogates} surrogates, "
            f"{settings['n_starts']} starts each):\n\n" + "\n".join(f"- {line}" for line in lines)
            + f"\n\nRules: {rules()}"
            + "\n\nMedian regret with the true gradient: "
            + ", ".join(f"{o} {opt} {v:.3g}" for (o, opt), v in true_regret.items()) + ".")


def glue_verdict(lines: list[str], profile: str) -> None:
    """Glue the profile, the verdict lines the findings page pastes (:data:`GLUED`; "not run"
    where this run has no such line) and the rules that decide them (``rules``)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    glue("profile", profile, display=False)
    glue("rules", rules(), display=False)
    for key, prefix in GLUED.items():
        glue(key, next((line for line in lines if line.startswith(prefix)), "not run"), display=False)
