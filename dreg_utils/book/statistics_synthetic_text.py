"""The statistics chapter's synthetic readings (notebook 03): the synthetic families' tests in
words, pooled over families and family by family (:func:`synthetic_readings`), and the verdict
on seed stability with its interval (:func:`seed_stability_texts`, :func:`glue_seed_stability`).
The tests are those of :mod:`dreg_utils.studies.statistics_synthetic`.
"""
from __future__ import annotations

import math

import pandas as pd

from ..claims import ALPHA, MISSING, REFUTED, SUPPORTED, UNDECIDED, UNREACHABLE, support
from ..studies.statistics_synthetic import ALL_FAMILIES, SEED_VARIANCE, SeedStability
from ..validation import check_unit_interval
from ..verdicts import DIRECTION_RULE
from . import scorecard
from .statistics_tables import deciding_name, format_p, summary_view
from .tables import fixed

def synthetic_comparison(comparison: str, lam: float) -> str:
    """A synthetic comparison in words: "lambda=0.01 / lambda=0: grad_p90" for a metric's key, or
    the seed-variance ratio's (:data:`~dreg_utils.studies.statistics_synthetic.SEED_VARIANCE`)."""
    if comparison == SEED_VARIANCE:
        return "seed variance of test MSE, per family: lambda / lambda=0"
    return f"lambda={lam:g} / lambda=0: {comparison}"


def synthetic_by_family(tests: pd.DataFrame) -> pd.DataFrame:
    """:func:`~dreg_utils.book.statistics_tables.summary_view` of the synthetic tests family by family
    (the pooled rows left out), each comparison in words (:func:`synthetic_comparison`)."""
    rows = tests[tests["family"] != ALL_FAMILIES]
    words = [synthetic_comparison(c, lam) for c, lam in zip(rows["comparison"], rows["lam"])]
    return summary_view(rows.assign(comparison=words), keys=("family", "comparison"))


def change_text(mean_log: float, low: float, high: float, confidence: float = 0.95) -> str:
    """A mean log ratio and its interval as a % change of the geometric mean, e.g.
    "-4.7% (95% CI -9.7% to +0.5%)"."""
    if math.isnan(mean_log):
        return "no estimate"

    def pct(value: float) -> str:
        return fixed(100 * math.expm1(value), 1, signed=True) + "%"

    if math.isnan(low) or math.isnan(high):
        return f"{pct(mean_log)} (no interval)"
    return f"{pct(mean_log)} ({confidence:.0%} CI {pct(low)} to {pct(high)})"


def _reading(status: str, n: int, needed: float) -> str:
    """A synthetic reading in words from its deciding test's status (the claimed way: lower)."""
    if status == UNREACHABLE:
        return f"cannot decide at n = {n}" + ("" if pd.isna(needed) else f" (sign test needs ≥ {int(needed)})")
    return {SUPPORTED: "lower with DREG", REFUTED: "higher with DREG", UNDECIDED: "no significant change",
            MISSING: "no test"}[status]


def synthetic_readings(tests: pd.DataFrame, alpha: float = ALPHA, confidence: float = 0.95) -> pd.DataFrame:
    """The synthetic comparisons in words (:func:`synthetic_comparison`), each pooled over families
    first (``scope`` says so) and then family by family: pairs, how many went down with DREG, the
    median ratio, the change of the geometric mean with its t interval (:func:`change_text`), raw
    p of each test, the Holm p of the deciding test, and the reading that test decides
    (:func:`claims.support`, lower being the paper's direction; a test that cannot reach
    ``alpha`` says how many pairs could)."""
    check_unit_interval("alpha", alpha)
    check_unit_interval("confidence", confidence)
    rows = []
    families = [f for f in pd.unique(tests["family"]) if f != ALL_FAMILIES]
    for comparison, block in tests.groupby("comparison", sort=False):
        words = synthetic_comparison(comparison, block["lam"].iloc[0])
        for family in [ALL_FAMILIES, *families]:
            part = block[block["family"] == family]
            if part.empty:
                continue
            by_test = part.set_index("test")
            n = int(part["n"].max())
            scope = family
            if family == ALL_FAMILIES:
                scope = f"pooled over {len(families)} families" + ("" if comparison == SEED_VARIANCE else " and seeds")
            if "paired_t" not in by_test.index:
                rows.append({"comparison": words, "scope": scope, "pairs": n, "reading": "no test"})
                continue
            t, sign = by_test.loc["paired_t"], by_test.loc["sign_test"]
            deciding = part[part["role"] == "deciding"].iloc[0]
            status = support(part, comparison, -1, alpha)
            rows.append({"comparison": words, "scope": scope, "pairs": n,
                         "lower_with_dreg": f"{int(sign['n'] - sign['statistic'])}/{int(sign['n'])}",
                         "median_ratio": by_test.loc["median_ratio", "effect"],
                         "change": change_text(t["effect"], t["ci_low"], t["ci_high"], confidence),
                         "p_t": t["p_value"], "p_wilcoxon": by_test.loc["wilcoxon", "p_value"],
                         "p_sign": sign["p_value"], "holm_deciding": deciding["p_holm"],
                         "deciding_test": deciding_name(part),
                         "reading": _reading(status, n, deciding.get("pairs_to_decide", math.nan))})
    return pd.DataFrame(rows)


SEED_STABILITY_PAPER = "more stable across retraining (no number given)"
SEED_STABILITY_RULE = (DIRECTION_RULE + "; the interval is the t interval of the mean log variance ratio "
                       "(DREG over lambda = 0) over families, read as a ratio: the paper's direction is below 1")


def seed_stability_texts(stability: SeedStability, confidence: float = 0.95) -> tuple[str, str]:
    """(ours, details) of the seed-stability verdict: the median variance ratio and the
    geometric-mean ratio with its interval; the details add the test and, when a sign test over
    the families could not decide, how many families it would need."""
    check_unit_interval("confidence", confidence)
    s = stability
    interval = "no interval" if math.isnan(s.low) else f"{confidence:.0%} CI {s.low:.2f} to {s.high:.2f}"
    ours = f"median ratio {s.median_ratio:.2f}; geometric mean {s.ratio:.2f} ({interval})"
    sign = ("" if s.sign_floor < ALPHA else
            f" A sign test over {s.families} families cannot decide (its floor {s.sign_floor:.3g} is at "
            f"least α); it would need ≥ {s.sign_families_needed} families.")
    details = (f"The variance of the test MSE across seeds with DREG over that without, per family, over "
               f"{s.families} families: {ours}, two-sided t p = {format_p(s.p_value)} on the log ratios; "
               f"below 1 means retraining with DREG gives more similar models.{sign}")
    return ours, details


def glue_seed_stability(stability: SeedStability, confidence: float = 0.95) -> None:
    """Glue the seed-stability verdict and ours for the chapter's prose (``seed_stability_verdict``,
    ``seed_stability_ours``) and its scorecard row ``seed_stability``."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    ours, details = seed_stability_texts(stability, confidence)
    glue("seed_stability_verdict", stability.verdict, display=False)
    glue("seed_stability_ours", ours, display=False)
    scorecard.glue_row("seed_stability", paper=SEED_STABILITY_PAPER, ours=ours, verdict=stability.verdict,
                       rule=SEED_STABILITY_RULE, details=details)
