"""The claims registry: each claim the book tests, the comparisons behind it and its verdict rule,
in one place and in one vocabulary. The published numbers the rules compare against are in
:mod:`dreg_utils.published`; the thresholds marked "ours" are the book's own.

Every verdict is one of :data:`VERDICTS`:

* ``holds``: the evidence supports the claim as stated;
* ``partly``: part of it does: a claim with one part supported and another refuted, or an
  effect in the paper's direction smaller than half the paper's;
* ``does not hold``: the evidence goes against the claim and supports no part of it;
* ``inconclusive``: our sample cannot decide (a test that cannot reach alpha with so few
  pairs, or a comparison that could not be run).

The five Section-6.3 claims are judged from a table of paired tests, one row per test with
the columns of :mod:`dreg_utils.significance` plus ``claim``, ``role`` and ``p_floor`` (the smallest
p-value the test can give on its sample). Each claim declares its sidedness: its comparisons are
tested one-sided in the direction the paper states (:func:`alternative`), in every chapter.
Each comparison declares the one test that decides it (:class:`Comparison`, ``role`` "deciding");
only those form the Holm family, the other tests are "supporting" evidence (raw p only).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from .published import PAPER_ACCURACY_COST, PAPER_HEADLINE_TESTS, PAPER_WELCH_P, TABLE3, TEACHING_THE_TEACHER
from .validation import check_choice, check_float, check_unit_interval

VERDICTS = ("holds", "partly", "does not hold", "inconclusive")
HOLDS, PARTLY, FAILS, INCONCLUSIVE = VERDICTS
SIDEDNESS = ("one-sided", "two-sided")
ALPHA = 0.05
TABLE2_MSE_TOLERANCE = 5.0  # ours: the most a test MSE may worsen (%) for "negligible"
TEACHER_R2_SLACK = 0.05  # ours: how far outside the paper's teacher-R2 range still counts as inside
DREG_COST_LIMIT = 1.2  # ours: "comparable to first-order training" = at most 1.2x a BASE step

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


# ----------------------------------------------------------------------------- rules on a tests table

def _direction(test: str, effect: float) -> int:
    """+1 when a test's effect says a > b, -1 when a < b (sign tests: share of a > b vs 1/2)."""
    return int(np.sign(effect - (0.5 if test in SIGN_TESTS else 0.0)))


def _check_tests(tests: pd.DataFrame, p_col: str, *extra: str) -> None:
    if not isinstance(tests, pd.DataFrame):
        raise TypeError(f"tests must be a pandas DataFrame of paired tests, got {type(tests).__name__}")
    check_choice("p_col", p_col, FLOOR_COLUMNS)
    needed = ["comparison", "test", "role", "effect", p_col, FLOOR_COLUMNS[p_col], *extra]
    missing = [c for c in needed if c not in tests.columns]
    if missing:
        raise ValueError(f"the tests table lacks the columns {missing}; it has {list(tests.columns)}")


def support(tests: pd.DataFrame, comparison: str, direction: int, alpha: float = ALPHA,
            p_col: str = "p_value") -> str:
    """How one comparison bears on a claimed direction (+1: a > b; -1: a < b; Spearman: rho sign),
    read from its deciding test alone (the row with ``role`` "deciding").

    'yes': p < alpha, pointing the claimed way; 'opposite': p < alpha the other way (only a
    two-sided test can); 'unreachable': not significant, and the test's floor for ``p_col``
    (``p_floor``, or ``p_holm_floor`` after Holm) is >= alpha, so no data could have made it
    significant; 'no': not significant though it could have been; 'missing': no deciding test ran.
    """
    alpha = check_unit_interval("alpha", alpha)
    check_choice("direction", direction, (-1, 1))
    _check_tests(tests, p_col)
    block = tests[(tests["comparison"] == comparison) & (tests["role"] == "deciding")]
    if block.empty or block[p_col].isna().any() or block["effect"].isna().any():
        return "missing"
    test = block.iloc[0]
    if test[p_col] < alpha:
        return "yes" if _direction(test["test"], test["effect"]) == direction else "opposite"
    return "unreachable" if test[FLOOR_COLUMNS[p_col]] >= alpha else "no"


def combine(parts: Sequence[str]) -> str:
    """A claim's verdict from the statuses of its parts: holds when every part is 'yes'; partly
    when some part is 'yes' and another 'no' or 'opposite'; does not hold when a part is 'no' or
    'opposite' and none is 'yes'; else inconclusive (a part cannot reach alpha, or is missing)."""
    if parts and all(p == "yes" for p in parts):
        return HOLDS
    if any(p in ("no", "opposite") for p in parts):
        return PARTLY if "yes" in parts else FAILS
    return INCONCLUSIVE


def accuracy_cost(tests: pd.DataFrame) -> tuple[float, float, float]:
    """Mean accuracy cost of DREG, BASE - DREG in points, with the paired-t CI (low, high)."""
    _check_tests(tests, "p_value", "ci_low", "ci_high")
    rows = tests[(tests["comparison"] == ACC) & (tests["test"] == "paired_t")]
    if rows.empty:
        return math.nan, math.nan, math.nan
    t = rows.iloc[0]
    return -t["effect"], -t["ci_high"], -t["ci_low"]


def _status(tests: pd.DataFrame, comparison: str, alpha: float, p_col: str, key: str | None = None) -> str:
    return support(tests, comparison, COMPARISONS[key or comparison].direction, alpha, p_col)


def _claim1(tests: pd.DataFrame, alpha: float, p_col: str) -> list[str]:
    """p99 lower and p99/mean lower; once a tail reduction is supported, the mean accuracy cost
    (at most MODEST_ACCURACY_COST points) is a part too: it qualifies the reduction."""
    tails = [_status(tests, P99, alpha, p_col), _status(tests, RATIO, alpha, p_col)]
    if "yes" not in tails:
        return tails
    cost = accuracy_cost(tests)[0]
    return tails + ["missing" if math.isnan(cost) else ("yes" if cost <= MODEST_ACCURACY_COST else "no")]


def _claim2(tests: pd.DataFrame, alpha: float, p_col: str) -> list[str]:
    """The relative p99 reduction exceeds the relative mean reduction."""
    return [_status(tests, RELATIVE, alpha, p_col)]


def _claim3(tests: pd.DataFrame, alpha: float, p_col: str) -> list[str]:
    """POLY_BASE above RELU_BASE on p99, the one metric declared for the claim (max: supporting)."""
    return [_status(tests, POLY_P99, alpha, p_col)]


def _claim4(tests: pd.DataFrame, alpha: float, p_col: str) -> list[str]:
    """DREG more accurate than SN, and SN's p99 below DREG's."""
    return [_status(tests, SN_ACC, alpha, p_col), _status(tests, SN_P99, alpha, p_col)]


def _claim5(tests: pd.DataFrame, alpha: float, p_col: str) -> list[str]:
    """BASE p99/mean rises with capacity (Spearman), and DREG's is lower at every capacity (Welch)."""
    welch = tests.loc[(tests["claim"] == 5) & (tests["comparison"] != TREND), "comparison"].unique()
    return [_status(tests, TREND, alpha, p_col)] + [_status(tests, c, alpha, p_col, WELCH) for c in welch]


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
    rule: Callable[[pd.DataFrame, float, str], list[str]]
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


def claim_parts(tests: pd.DataFrame, alpha: float = ALPHA, p_col: str = "p_value") -> dict[int, list[str]]:
    """The status of every part of claims 1-5 (see :func:`support`), by each claim's rule."""
    alpha = check_unit_interval("alpha", alpha)
    _check_tests(tests, p_col, "claim", "ci_low", "ci_high")
    return {number: claim.rule(tests, alpha, p_col) for number, claim in MNIST_CLAIMS.items()}


def mnist_verdicts(tests: pd.DataFrame, alpha: float = ALPHA, p_col: str = "p_value") -> dict[int, str]:
    """The verdict on each Section-6.3 claim: :func:`combine` of its parts. The one place the
    MNIST chapter's findings and the statistics chapter's verdict table take verdicts from."""
    return {number: combine(parts) for number, parts in claim_parts(tests, alpha, p_col).items()}


# ----------------------------------------------------------------------------- the interval rule

TIE_TOLERANCE = 1e-12  # ours: |a - b| <= TIE_TOLERANCE * max(1, |a|, |b|) is a tie, not a difference
INTERVAL_RULE = ("holds: the 95% interval excludes zero in the paper's direction and the estimate reaches "
                 "half the paper's effect; partly: it excludes zero but falls short; does not hold: it lies "
                 "on the wrong side of zero; inconclusive: it includes zero (or nothing was measured)")
DIRECTION_RULE = ("holds: the interval excludes zero in the paper's direction; does not hold: it lies on "
                  "the wrong side; inconclusive: it includes zero (or nothing was measured)")


def is_tie(a: float, b: float, tolerance: float = TIE_TOLERANCE) -> bool:
    """Whether ``a`` and ``b`` are equal within floating-point tolerance (relative, floor 1)."""
    a, b = check_float("a", a), check_float("b", b)
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def interval_verdict(estimate: float, low: float, high: float, paper_effect: float | None = None) -> str:
    """The verdict on a claimed effect from its estimate and confidence interval (low, high),
    all signed so that positive is the paper's direction (e.g. a reduction in percent).

    holds: low > 0 and (no paper effect given, or estimate >= paper_effect / 2);
    partly: low > 0 but the estimate falls short of half the paper's effect;
    does not hold: high < 0 (the interval lies on the wrong side of zero);
    inconclusive: the interval includes zero, or any of the three is NaN (nothing measured).
    Bounds within :data:`TIE_TOLERANCE` of zero count as zero."""
    estimate, low, high = _real("estimate", estimate), _real("low", low), _real("high", high)
    if paper_effect is not None:
        paper_effect = check_float("paper_effect", paper_effect, strictly_positive=True)
    if math.isnan(estimate) or math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > high:
        raise ValueError(f"low={low} is above high={high}; give the interval as (low, high)")
    if not low <= estimate <= high:
        raise ValueError(f"estimate={estimate} lies outside its interval ({low}, {high})")
    if low > 0 and not is_tie(low, 0.0):
        return HOLDS if paper_effect is None or estimate >= 0.5 * paper_effect else PARTLY
    if high < 0 and not is_tie(high, 0.0):
        return FAILS
    return INCONCLUSIVE


# ----------------------------------------------------------------------------- rules on effect sizes

def _real(name: str, value: float) -> float:
    """A real number; NaN allowed (it means: nothing measured)."""
    if isinstance(value, (int, float, np.floating, np.integer)) and math.isnan(float(value)):
        return math.nan
    return check_float(name, value)


def half_effect_verdict(ours: float, paper: float) -> str:
    """The "at least half the paper's effect" rule, effects signed so that positive is the
    paper's direction: holds when ours >= paper / 2; partly when 0 < ours < paper / 2; does not
    hold when ours <= 0; inconclusive when ours is NaN (nothing measured)."""
    ours, paper = _real("ours", ours), check_float("paper", paper, strictly_positive=True)
    if math.isnan(ours):
        return INCONCLUSIVE
    if ours >= 0.5 * paper:
        return HOLDS
    return PARTLY if ours > 0 else FAILS


def table2_verdict(p90_reduction: float, paper_p90_reduction: float, mse_change: float,
                   mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """Table 2's claim for one family, "p90 falls with a negligible MSE change" (in %; p90
    reductions + = lower, the test-MSE change + = higher): does not hold when the MSE worsens by
    more than ``mse_tolerance``; else :func:`half_effect_verdict` of the p90 reductions."""
    mse_tolerance = check_float("mse_tolerance", mse_tolerance, minimum=0.0)
    if _real("mse_change", mse_change) > mse_tolerance:
        return FAILS
    return half_effect_verdict(p90_reduction, paper_p90_reduction)


def tree_students_verdict(tree_gain: float, symbolic_gain: float) -> str:
    """Teaching the Teacher: tree students gain much less than symbolic ones (mean % gains).
    Inconclusive without a symbolic gain; holds when the tree gain is below half of it."""
    tree_gain, symbolic_gain = _real("tree_gain", tree_gain), _real("symbolic_gain", symbolic_gain)
    if not symbolic_gain > 0:
        return INCONCLUSIVE
    return HOLDS if tree_gain < 0.5 * symbolic_gain else FAILS


def teacher_r2_verdict(low: float, high: float) -> str:
    """Teaching the Teacher's teacher test R^2 range: holds when ours (low to high over datasets)
    lies inside the paper's range widened by TEACHER_R2_SLACK on each side, else does not hold;
    inconclusive when either end is NaN (no teacher finished)."""
    low, high = _real("low", low), _real("high", high)
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > high:
        raise ValueError(f"low={low} is above high={high}; give our range over datasets as (min, max)")
    paper_low, paper_high = TEACHING_THE_TEACHER["teacher_r2"]
    inside = low >= paper_low - TEACHER_R2_SLACK and high <= paper_high + TEACHER_R2_SLACK
    return HOLDS if inside else FAILS


def _ratios(name: str, values: Sequence[float]) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        array = np.array([])
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of finite step-time ratios, "
                         f"got {values!r}")
    return array


DREG_COST_RULE = f"Holds when DREG is cheaper at every capacity and at most {DREG_COST_LIMIT:g}x BASE"


def dreg_cost_verdict(dreg_ratios: Sequence[float], igp_ratios: Sequence[float]) -> str:
    """DREG paper, Sec. 2 (cost comparable to first-order training, below double backprop), over
    capacities: holds when DREG is cheaper than IGP at every capacity and never above
    DREG_COST_LIMIT x BASE; partly when it is cheaper at some; else does not hold."""
    dreg, igp = _ratios("dreg_ratios", dreg_ratios), _ratios("igp_ratios", igp_ratios)
    if dreg.size != igp.size:
        raise ValueError(f"dreg_ratios and igp_ratios must pair capacities: {dreg.size} vs {igp.size} values")
    cheaper = int((dreg < igp).sum())
    if cheaper == dreg.size and dreg.max() <= DREG_COST_LIMIT:
        return HOLDS
    return PARTLY if cheaper else FAILS


JACOBIAN_COST_RULE = "Holds when every ratio is at least half the paper's factor"


def jacobian_cost_verdict(jac_ratios: Sequence[float]) -> str:
    """Teaching the Teacher's tenfold cost of the exact Jacobian penalty: holds when every measured
    ratio to BASE is at least half the paper's factor, else does not hold."""
    jac = _ratios("jac_ratios", jac_ratios)
    return HOLDS if jac.min() >= 0.5 * TEACHING_THE_TEACHER["teacher_overhead"] else FAILS
