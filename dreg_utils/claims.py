"""The claims registry of the DREG paper's Section 6.3: each claim the book tests, the comparisons
behind it, its sidedness and its verdict rule, in one place and in one vocabulary.
The verdict words, the interval rule and the rules on effect sizes and costs are in
:mod:`dreg_utils.verdicts`; the published numbers the rules compare against are in
:mod:`dreg_utils.published`; the thresholds marked "ours" are the book's own.

The five Section-6.3 claims are judged from a table of paired tests, one row per test with
the columns of :mod:`dreg_utils.significance` plus ``claim``, ``role`` and ``p_floor`` (the smallest
p-value the test can give on its sample). Each claim declares its sidedness: its comparisons are
tested one-sided in the direction the paper states (:func:`alternative`), in every chapter.
Each comparison declares the one test that decides it (:class:`Comparison`, ``role`` "deciding");
only those that can reach alpha form the Holm family, the other tests are "supporting" evidence
(raw p only). Each part of a claim gets a status (:data:`PART_STATUSES`, :func:`support`) and the
claim its verdict from them (:func:`combine`), by the rule :data:`TEST_RULE`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from .published import PAPER_ACCURACY_COST, PAPER_HEADLINE_TESTS, PAPER_WELCH_P, TABLE3
from .significance import sign_test
from .validation import check_choice, check_unit_interval
from .verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTLY, is_tie

SIDEDNESS = ("one-sided", "two-sided")
ALPHA = 0.05

# ----------------------------------------------------------------------------- Section 6.3: comparisons

# Comparison labels (the ``comparison`` column of the tests table); a pair is "a vs b", d = a - b.
P99, RATIO, ACC = "DREG vs BASE: p99", "DREG vs BASE: p99/mean", "DREG vs BASE: accuracy"
RELATIVE = "DREG vs BASE: rel. p99 reduction - rel. mean reduction"
POLY_P99, POLY_MAX, POLY_RATIO = ("POLY_BASE vs RELU_BASE: p99", "POLY_BASE vs RELU_BASE: max",
                                  "POLY_BASE vs RELU_BASE: p99/mean")
SN_ACC, SN_P99 = "DREG vs SN: accuracy", "DREG vs SN: p99"
TREND = "BASE: p99/mean vs capacity"
WELCH = "DREG vs BASE: p99/mean per capacity"  # one Welch test per capacity, each labelled "... at H"
SIGN, RELATIVE_SIGN = "sign_test", "relative_reduction_sign"
SIGN_TESTS = (SIGN, RELATIVE_SIGN)
FLOOR_COLUMNS = {"p_value": "p_floor", "p_holm": "p_holm_floor"}  # a p column and its attainable floor
HOLM_AGAINST = "p_holm_against"  # Holm over the family's p-values against the paper's direction (against_p)


class Comparison(NamedTuple):
    """A comparison behind a claim: +1 when the paper says a > b (Spearman: rho > 0), -1 when
    a < b, 0 when it states no direction (tested two-sided); and the one test that decides it
    (None: no test decides, its tests are supporting evidence only)."""
    claim: int
    direction: int
    deciding: str | None


# Paired comparisons are decided by the exact sign test the paper quotes (Wilcoxon, t: supporting).
# Claim 3 is decided on p99 alone, declared before looking (the paper's headline metric; max and
# p99/mean are supporting): one chance at alpha, not two. Claim 1's accuracy: the size of its cost.
COMPARISONS = {P99: Comparison(1, -1, SIGN), RATIO: Comparison(1, -1, SIGN), ACC: Comparison(1, 0, None),
               RELATIVE: Comparison(2, +1, RELATIVE_SIGN), POLY_P99: Comparison(3, +1, SIGN),
               POLY_MAX: Comparison(3, +1, None), POLY_RATIO: Comparison(3, +1, None),
               SN_ACC: Comparison(4, +1, SIGN), SN_P99: Comparison(4, +1, SIGN),
               TREND: Comparison(5, +1, "spearman"), WELCH: Comparison(5, -1, "welch_t")}
MODEST_ACCURACY_COST = 1.0  # ours: the largest mean accuracy cost (points) we call "modest"

# The status of one part of a claim (see :func:`support`).
PART_STATUSES = ("supported", "refuted", "undecided", "unreachable", "missing")
SUPPORTED, REFUTED, UNDECIDED, UNREACHABLE, MISSING = PART_STATUSES
TEST_RULE = ("holds: every part's deciding test gives p < α in the paper's direction; partly: some part "
             "does, not all; does not hold: a part's deciding test, run the other way, gives p < α, and no part "
             "is supported; inconclusive: otherwise (an interval that includes the null, or a test that cannot "
             "reach α at this sample size). Both ways are read with the same multiplicity control: the verdict "
             "after Holm (the scorecard's) adjusts the p-values against the paper's direction over the same family "
             "of deciding tests as those for it; the raw verdict (the paper's rule) reads both unadjusted, and also "
             "counts a part refuted when its 95% interval lies on the wrong side of the null (sign tests: the "
             "Clopper-Pearson interval of the share of pairs with a > b against 1/2; t and Welch: the mean "
             "difference against 0; Spearman: ρ against 0). Claim 1's accuracy cost is modest when its "
             f"95% interval lies below {MODEST_ACCURACY_COST:g} point and refuted when it lies above")


# ----------------------------------------------------------------------------- rules on a tests table

def _direction(test: str, effect: float) -> int:
    """+1 when a test's effect says a > b, -1 when a < b (sign tests: share of a > b vs 1/2)."""
    return int(np.sign(effect - (0.5 if test in SIGN_TESTS else 0.0)))


def _check_tests(tests: pd.DataFrame, p_col: str, *extra: str) -> None:
    if not isinstance(tests, pd.DataFrame):
        raise TypeError(f"tests must be a pandas DataFrame of paired tests, got {type(tests).__name__}")
    check_choice("p_col", p_col, FLOOR_COLUMNS)
    against = [HOLM_AGAINST] if p_col == "p_holm" else []
    needed = ["comparison", "test", "role", "effect", p_col, FLOOR_COLUMNS[p_col], *against, *extra]
    missing = [c for c in needed if c not in tests.columns]
    if missing:
        raise ValueError(f"the tests table lacks the columns {missing}; it has {list(tests.columns)}")


def null_value(test: str) -> float:
    """The value of a test's effect under its null: 1/2 for a sign test's share of pairs, else 0."""
    return 0.5 if test in SIGN_TESTS else 0.0


def _wrong_side(low: float, high: float, null: float, direction: int) -> bool:
    """Whether the interval (low, high) lies wholly on the side of ``null`` opposite ``direction``
    (a bound within :data:`~dreg_utils.verdicts.TIE_TOLERANCE` of the null does not count; NaN
    bounds never do)."""
    bound = high if direction > 0 else low
    if math.isnan(bound) or is_tie(bound, null):
        return False
    return bound < null if direction > 0 else bound > null


def opposite_p(test: pd.Series) -> float:
    """The p-value of a one-sided deciding test run the other way (a row of a tests table): the
    exact sign test of the opposite alternative, 1 - p for a t, Welch or Spearman test; NaN for a
    two-sided test (its own p covers both ways)."""
    if test["alternative"] not in ("less", "greater"):
        return math.nan
    if test["test"] in SIGN_TESTS:
        flipped = "greater" if test["alternative"] == "less" else "less"
        return sign_test(int(test["statistic"]), int(test["n"]), flipped)
    return 1.0 - float(test["p_value"])


def against_p(test: pd.Series) -> float:
    """A deciding test's p-value against the paper's direction (a row of a tests table): the
    one-sided test run the other way (:func:`opposite_p`), or a two-sided test's own p (it covers
    both ways; it counts against a claim only when its effect points the other way). Holm over
    these within the deciding family gives :data:`HOLM_AGAINST`."""
    return float(test["p_value"]) if test["alternative"] not in ("less", "greater") else opposite_p(test)


def support(tests: pd.DataFrame, comparison: str, direction: int, alpha: float = ALPHA,
            p_col: str = "p_value") -> str:
    """The status of one comparison for a claimed direction (+1: a > b; -1: a < b; Spearman: rho
    sign), read from its deciding test alone (the row with ``role`` "deciding"), with the same
    multiplicity control both ways:

    'supported': p < alpha (``p_col``), pointing the claimed way; 'refuted': the evidence against
    the claimed way reaches alpha: for raw p-values the test is significant the other way, the
    same test run the other way gives p < alpha (:func:`opposite_p`), or the test's interval
    (``ci_low``, ``ci_high``) lies on the wrong side of its null (:func:`null_value`); for Holm
    p-values its Holm-adjusted p against the claimed way (:data:`HOLM_AGAINST`, over the same
    family) is below alpha with its effect pointing the other way (the unadjusted interval is not
    read); 'unreachable': none of these, and no outcome at this sample size could reach alpha
    (``p_floor``, or for Holm p-values ``p_holm_floor``, >= alpha; a test left out of the Holm
    family for that reason has no Holm p); 'undecided': none of these, though the test could have
    been significant; 'missing': no deciding test ran."""
    alpha = check_unit_interval("alpha", alpha)
    check_choice("direction", direction, (-1, 1))
    _check_tests(tests, p_col, "ci_low", "ci_high", "statistic", "n", "alternative")
    block = tests[(tests["comparison"] == comparison) & (tests["role"] == "deciding")]
    if block.empty or block["p_value"].isna().any() or block["effect"].isna().any():
        return MISSING
    test = block.iloc[0]
    p, significant = test[p_col], test[p_col] < alpha  # NaN (no Holm p) is not significant
    pointing = _direction(test["test"], test["effect"])
    if significant and pointing == direction:
        return SUPPORTED
    if p_col == "p_holm":
        refuted = test[HOLM_AGAINST] < alpha and pointing == -direction
    else:
        refuted = (significant or opposite_p(test) < alpha
                   or _wrong_side(test["ci_low"], test["ci_high"], null_value(test["test"]), direction))
    if refuted:
        return REFUTED
    if test["p_floor"] >= alpha or test[FLOOR_COLUMNS[p_col]] >= alpha:
        return UNREACHABLE
    return MISSING if math.isnan(p) else UNDECIDED


def combine(parts: Sequence[str]) -> str:
    """A claim's verdict from the statuses of its parts (:data:`PART_STATUSES`): holds when every
    part is supported; partly when some part is supported, not all; does not hold when a part is
    refuted and none is supported; inconclusive otherwise (every part undecided, unreachable or
    missing: merely not significant is not evidence against)."""
    unknown = sorted(set(parts) - set(PART_STATUSES))
    if unknown:
        raise ValueError(f"parts holds unknown statuses {unknown}; valid: {list(PART_STATUSES)}")
    if parts and all(p == SUPPORTED for p in parts):
        return HOLDS
    if SUPPORTED in parts:
        return PARTLY
    return FAILS if REFUTED in parts else INCONCLUSIVE


def accuracy_cost(tests: pd.DataFrame) -> tuple[float, float, float]:
    """Mean accuracy cost of DREG, BASE - DREG in points, with the paired-t CI (low, high)."""
    _check_tests(tests, "p_value", "ci_low", "ci_high")
    rows = tests[(tests["comparison"] == ACC) & (tests["test"] == "paired_t")]
    if rows.empty:
        return math.nan, math.nan, math.nan
    t = rows.iloc[0]
    return -t["effect"], -t["ci_high"], -t["ci_low"]


class Part(NamedTuple):
    """One part of a claim: the comparison that decides it and its status (:data:`PART_STATUSES`)."""
    comparison: str
    status: str


def _part(tests: pd.DataFrame, comparison: str, alpha: float, p_col: str, key: str | None = None) -> Part:
    return Part(comparison, support(tests, comparison, COMPARISONS[key or comparison].direction, alpha, p_col))


def cost_status(tests: pd.DataFrame) -> str:
    """Claim 1's "modest accuracy cost" from the cost's paired-t interval (:func:`accuracy_cost`):
    supported when it lies at or below MODEST_ACCURACY_COST points, refuted when it lies above,
    undecided when it straddles it, missing when no accuracy test ran."""
    _, low, high = accuracy_cost(tests)
    if math.isnan(low) or math.isnan(high):
        return MISSING
    if high <= MODEST_ACCURACY_COST:
        return SUPPORTED
    return REFUTED if low > MODEST_ACCURACY_COST else UNDECIDED


def _claim1(tests: pd.DataFrame, alpha: float, p_col: str) -> list[Part]:
    """p99 lower and p99/mean lower; once a tail reduction is supported, the accuracy cost
    (:func:`cost_status`) is a part too: it qualifies the reduction."""
    tails = [_part(tests, P99, alpha, p_col), _part(tests, RATIO, alpha, p_col)]
    if all(t.status != SUPPORTED for t in tails):
        return tails
    return tails + [Part(ACC, cost_status(tests))]


def _claim2(tests: pd.DataFrame, alpha: float, p_col: str) -> list[Part]:
    """The relative p99 reduction exceeds the relative mean reduction."""
    return [_part(tests, RELATIVE, alpha, p_col)]


def _claim3(tests: pd.DataFrame, alpha: float, p_col: str) -> list[Part]:
    """POLY_BASE above RELU_BASE on p99, the one metric declared for the claim (max: supporting)."""
    return [_part(tests, POLY_P99, alpha, p_col)]


def _claim4(tests: pd.DataFrame, alpha: float, p_col: str) -> list[Part]:
    """DREG more accurate than SN, and SN's p99 below DREG's."""
    return [_part(tests, SN_ACC, alpha, p_col), _part(tests, SN_P99, alpha, p_col)]


def _claim5(tests: pd.DataFrame, alpha: float, p_col: str) -> list[Part]:
    """BASE p99/mean rises with capacity (Spearman), and DREG's is lower at every capacity (Welch)."""
    welch = tests.loc[(tests["claim"] == 5) & (tests["comparison"] != TREND), "comparison"].unique()
    return [_part(tests, TREND, alpha, p_col)] + [_part(tests, c, alpha, p_col, WELCH) for c in welch]


class Headline(NamedTuple):
    """The paired test the paper quotes for a claim: its comparison, pairs and p-value bound."""
    comparison: str
    pairs: int
    p_below: float


@dataclass(frozen=True)
class Claim:
    """One numbered claim of Section 6.3: our wording, the paper's statistic (in full, and as the
    short value a scorecard shows), the sidedness of its tests, the paper's quoted test, and the
    rule giving the status of each of its parts."""
    wording: str
    paper_statistic: str
    paper_value: str
    sidedness: str
    rule: Callable[[pd.DataFrame, float, str], list[Part]]
    headline: Headline | None = None

    def __post_init__(self) -> None:
        check_choice("sidedness", self.sidedness, SIDEDNESS)


_H1, _H2 = Headline(P99, *PAPER_HEADLINE_TESTS[1]), Headline(RELATIVE, *PAPER_HEADLINE_TESTS[2])
_H3, _H4 = Headline(POLY_P99, *PAPER_HEADLINE_TESTS[3]), Headline(SN_ACC, *PAPER_HEADLINE_TESTS[4])
_RELU_RISE = (TABLE3[(32, 16)]["RELU_BASE"][5], TABLE3[(512, 256)]["RELU_BASE"][5])
MNIST_CLAIMS = {
    1: Claim("Against BASE, DREG lowers the p99 of the input-gradient norms and the p99/mean ratio "
             "in matched runs, at a modest cost in accuracy.",
             f"p99 lower in {_H1.pairs}/{_H1.pairs} pairs, p < {_H1.p_below:g}; p99/mean lower; "
             f"accuracy cost ≈ {PAPER_ACCURACY_COST:g} points",
             f"p99 lower in {_H1.pairs}/{_H1.pairs}; cost ≈ {PAPER_ACCURACY_COST:g} pt",
             sidedness="one-sided", rule=_claim1, headline=_H1),
    2: Claim("DREG shrinks the tail more than the bulk: per matched run, p99 falls by a larger "
             "fraction than the mean does.",
             f"relative p99 reduction > relative mean reduction in {_H2.pairs}/{_H2.pairs} pairs, "
             f"p < {_H2.p_below:g}", f"{_H2.pairs}/{_H2.pairs} pairs", sidedness="one-sided", rule=_claim2, headline=_H2),
    3: Claim("A smooth activation alone does not tame the tail: without a penalty, polynomial "
             "networks have a larger p99 than ReLU networks (p99 decides; max is supporting evidence).",
             f"POLY_BASE often has larger p99/max than RELU_BASE ({_H3.pairs} pairs), sign test "
             f"p < {_H3.p_below:g}", f"p < {_H3.p_below:g} ({_H3.pairs} pairs)", sidedness="one-sided",
             rule=_claim3, headline=_H3),
    4: Claim("DREG is more accurate than SN in matched runs, while SN suppresses the tail more.",
             f"DREG more accurate than SN, paired p < {_H4.p_below:g}; SN suppresses tails more strongly",
             f"p < {_H4.p_below:g} ({_H4.pairs} pairs)", sidedness="one-sided", rule=_claim4, headline=_H4),
    5: Claim("BASE grows more heavy-tailed (p99/mean) with capacity, and DREG lowers p99/mean at "
             "every capacity.",
             f"BASE p99/mean {_RELU_RISE[0]:.2f} → {_RELU_RISE[1]:.2f} (ReLU); Welch p < "
             f"{PAPER_WELCH_P[0]:g} at the smallest capacity, p < {PAPER_WELCH_P[1]:g} at the larger ones",
             f"{_RELU_RISE[0]:.1f} → {_RELU_RISE[1]:.1f}; lower at {len(TABLE3)}/{len(TABLE3)} sizes", sidedness="one-sided", rule=_claim5),
}


def alternative(comparison: str) -> str:
    """scipy's ``alternative`` for the tests of ``comparison`` (d = a - b): "less" or "greater"
    in the paper's direction when its claim is one-sided, else "two-sided"."""
    check_choice("comparison", comparison, COMPARISONS)
    claim, direction, _ = COMPARISONS[comparison]
    if MNIST_CLAIMS[claim].sidedness == "two-sided" or direction == 0:
        return "two-sided"
    return "greater" if direction > 0 else "less"


def claim_parts(tests: pd.DataFrame, alpha: float = ALPHA, p_col: str = "p_value") -> dict[int, list[Part]]:
    """Every part of claims 1-5, each with its deciding comparison and status (:func:`support`),
    by each claim's rule."""
    alpha = check_unit_interval("alpha", alpha)
    _check_tests(tests, p_col, "claim", "ci_low", "ci_high")
    return {number: claim.rule(tests, alpha, p_col) for number, claim in MNIST_CLAIMS.items()}


def mnist_verdicts(tests: pd.DataFrame, alpha: float = ALPHA, p_col: str = "p_value") -> dict[int, str]:
    """The verdict on each Section-6.3 claim: :func:`combine` of its parts' statuses. The one place
    the MNIST chapter's findings and the statistics chapter's verdict table take verdicts from."""
    return {number: combine([part.status for part in parts])
            for number, parts in claim_parts(tests, alpha, p_col).items()}

