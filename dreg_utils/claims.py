"""The claims registry: every published number the book compares against, and each claim's
verdict rule, in one place and in one vocabulary.

Sources: the DREG paper (``papers/001_823860adda749d39.txt``: Tables 1-3, Sections 2, 6.1,
6.3 and 7) and *Teaching the Teacher* (``papers/000_da2c75b3fa8940ee.txt``, arXiv 2507.22767:
abstract, results and its cost discussion).

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

from .validation import check_choice, check_float, check_unit_interval

VERDICTS = ("holds", "partly", "does not hold", "inconclusive")
HOLDS, PARTLY, FAILS, INCONCLUSIVE = VERDICTS
SIDEDNESS = ("one-sided", "two-sided")
ALPHA = 0.05

# ----------------------------------------------------------------------------- DREG, Sections 6.1 and 7

# Table 1: Piecewise family, lambda = 0 vs lambda = 1e-2 (values of the paper's own scale).
TABLE1_PIECEWISE = {"mean": (4.11e-5, 1.02e-5), "p90": (4.94e-5, 1.04e-5), "test_mse": (0.113, 0.113)}
TABLE1_MAX_RATIO = 2.62  # Section 6.1: the maximum input-gradient norm falls 2.62x
# Table 2: percent change from lambda = 0 to 1e-2 as the paper prints it, positive = improvement
# (a decrease) in both columns. The book's signs (dreg_utils.vocabulary) show p90 as a reduction
# (+ = lower, the printed sign) and test MSE as a change (+ = higher): see :func:`table2_paper`.
TABLE2_PERCENT = {
    "smooth": {"test_mse": -1.02, "p90": 65.1},
    "piecewise": {"test_mse": 0.00, "p90": 78.9},
    "sparse": {"test_mse": 4.12, "p90": 88.2},
    "oscillatory": {"test_mse": 0.45, "p90": 32.4},
    "entangled": {"test_mse": 2.11, "p90": 54.3},
}
# Section 6.1: "reductions in sensitivity proxy (up to 89%)" (its test-MSE decreases of 3.4%
# Sparse and 2.8% Entangled differ from Table 2's); Section 7: Sparse sensitivity fell 8.5x.
PROXY_REDUCTION_UP_TO, SPARSE_SENSITIVITY_DROP = 89.0, 8.5
TABLE2_MSE_TOLERANCE = 5.0  # ours: the most a test MSE may worsen (%) for "negligible"

# ----------------------------------------------------------------------------- DREG, Table 3 (Section 6.3)

# MNIST sensitivity across capacity, (mean, std) over 3 seeds; the last column, p99/Mean, is one
# number: (mean of p99) / (mean of IG mean) over the seeds, e.g. 3.006 / 0.169 = 17.79.
TABLE3_COLUMNS = ("test_acc", "ig_mean", "ig_p95", "ig_p99", "ig_max")  # then p99/Mean
TABLE3 = {
    (32, 16): {
        "POLY_BASE": ((95.94, 0.41), (0.224, 0.031), (1.440, 0.277), (4.412, 0.947), (26.946, 14.223), 19.70),
        "POLY_DREG": ((96.38, 0.52), (0.109, 0.008), (0.720, 0.086), (1.659, 0.028), (5.040, 2.711), 15.22),
        "POLY_IGPEN": ((95.94, 0.41), (0.224, 0.031), (1.441, 0.277), (4.410, 0.944), (26.945, 14.221), 19.69),
        "POLY_SN": ((95.90, 0.22), (0.217, 0.012), (1.330, 0.147), (4.068, 0.334), (18.091, 5.796), 18.75),
        "RELU_BASE": ((96.33, 0.09), (0.169, 0.003), (1.136, 0.055), (3.006, 0.029), (5.298, 0.480), 17.79),
        "RELU_DREG": ((96.05, 0.17), (0.122, 0.004), (0.776, 0.031), (1.685, 0.055), (2.759, 0.031), 13.81),
        "RELU_IGPEN": ((96.35, 0.06), (0.170, 0.004), (1.140, 0.053), (3.045, 0.049), (5.281, 0.463), 17.91),
        "RELU_SN": ((94.70, 0.10), (0.114, 0.001), (0.561, 0.011), (0.838, 0.022), (1.082, 0.024), 7.35),
    },
    (128, 64): {
        "POLY_BASE": ((97.60, 0.35), (0.135, 0.018), (0.462, 0.186), (3.930, 0.394), (12.457, 0.821), 29.11),
        "POLY_DREG": ((97.02, 0.23), (0.092, 0.009), (0.562, 0.082), (1.696, 0.043), (19.715, 19.037), 18.43),
        "POLY_IGPEN": ((97.36, 0.20), (0.141, 0.006), (0.562, 0.134), (3.883, 0.200), (10.948, 1.105), 27.54),
        "POLY_SN": ((97.40, 0.17), (0.132, 0.013), (0.551, 0.088), (3.370, 0.191), (17.432, 3.993), 25.53),
        "RELU_BASE": ((97.62, 0.07), (0.122, 0.002), (0.455, 0.017), (3.533, 0.013), (6.443, 0.289), 28.96),
        "RELU_DREG": ((97.46, 0.12), (0.078, 0.003), (0.469, 0.015), (1.444, 0.058), (2.557, 0.076), 18.51),
        "RELU_IGPEN": ((97.70, 0.06), (0.119, 0.003), (0.426, 0.029), (3.556, 0.100), (6.061, 0.200), 29.88),
        "RELU_SN": ((95.74, 0.14), (0.091, 0.002), (0.449, 0.011), (0.710, 0.021), (0.982, 0.024), 7.80),
    },
    (256, 128): {
        "POLY_BASE": ((97.70, 0.26), (0.124, 0.016), (0.285, 0.073), (3.877, 0.225), (26.987, 19.995), 31.27),
        "POLY_DREG": ((96.95, 0.51), (0.084, 0.009), (0.525, 0.132), (1.632, 0.113), (7.273, 6.823), 19.43),
        "POLY_IGPEN": ((97.38, 0.29), (0.137, 0.013), (0.390, 0.223), (4.213, 0.103), (9.411, 1.606), 30.75),
        "POLY_SN": ((97.58, 0.28), (0.116, 0.024), (0.395, 0.043), (3.284, 0.727), (14.786, 4.032), 28.31),
        "RELU_BASE": ((97.87, 0.15), (0.110, 0.005), (0.226, 0.033), (3.771, 0.112), (7.570, 0.660), 34.28),
        "RELU_DREG": ((97.20, 0.03), (0.083, 0.001), (0.517, 0.014), (1.545, 0.027), (2.643, 0.193), 18.61),
        "RELU_IGPEN": ((97.78, 0.14), (0.113, 0.009), (0.262, 0.044), (3.704, 0.219), (7.744, 0.843), 32.78),
        "RELU_SN": ((96.11, 0.13), (0.084, 0.001), (0.406, 0.012), (0.655, 0.038), (0.903, 0.055), 7.80),
    },
    (512, 256): {
        "POLY_BASE": ((97.43, 0.44), (0.159, 0.040), (0.299, 0.263), (5.280, 0.570), (13.369, 4.558), 33.21),
        "POLY_DREG": ((96.70, 0.14), (0.087, 0.004), (0.586, 0.012), (1.672, 0.039), (3.535, 0.414), 19.22),
        "POLY_IGPEN": ((97.11, 0.65), (0.166, 0.034), (0.471, 0.349), (5.070, 0.416), (11.843, 4.774), 30.54),
        "POLY_SN": ((97.80, 0.14), (0.100, 0.004), (0.363, 0.093), (2.746, 0.356), (14.680, 2.436), 27.46),
        "RELU_BASE": ((97.97, 0.25), (0.102, 0.008), (0.172, 0.053), (3.631, 0.182), (8.347, 0.836), 35.60),
        "RELU_DREG": ((97.24, 0.44), (0.082, 0.011), (0.496, 0.126), (1.679, 0.094), (2.965, 0.080), 20.48),
        "RELU_IGPEN": ((97.88, 0.11), (0.108, 0.004), (0.177, 0.033), (3.761, 0.145), (9.062, 0.171), 34.82),
        "RELU_SN": ((95.90, 0.19), (0.082, 0.003), (0.414, 0.013), (0.662, 0.020), (0.911, 0.039), 8.07),
    },
}

# ----------------------------------------------------------------------------- Teaching the Teacher; cost

TEACHING_THE_TEACHER = {"mean_improvement_pct": 120.0, "max_improvement_pct": 515.0,
                        "max_dataset": "Concrete", "teacher_r2": (0.84, 0.98), "teacher_overhead": 10.0}
TEACHER_R2_SLACK = 0.05  # ours: how far outside the paper's teacher-R2 range still counts as inside
DREG_COST_LIMIT = 1.2  # ours: "comparable to first-order training" = at most 1.2x a BASE step
# The papers' statements about cost, per method of the performance chapter.
COST_CLAIMS = {
    "DREG": "DREG paper, Sec. 2: a footprint comparable to first-order training",
    "IGP": "DREG paper, Sec. 2: double backpropagation, O(2x) memory",
    "JAC": f"Teaching-the-Teacher paper: about {TEACHING_THE_TEACHER['teacher_overhead']:g}x the cost "
           "of unregularised training",
    "JAC-RP": "Teaching-the-Teacher paper: random projections proposed as the cheaper estimate",
}

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


PAPER_ACCURACY_COST = 0.4  # claim 1: DREG's mean accuracy cost against BASE, points
PAPER_WELCH_P = (0.01, 0.001)  # claim 5: Welch p-value bounds, smallest capacity / larger ones
_H1, _H2 = Headline(P99, 24, 1e-6), Headline(RELATIVE, 24, 1e-7)
_H3, _H4 = Headline(POLY_P99, 12, 0.05), Headline(SN_ACC, 24, 0.05)
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


def table2_paper(family: str) -> dict[str, float]:
    """Table 2's numbers for ``family`` in the book's signs: ``p90_reduction_pct`` as printed
    (+ = lower) and ``test_mse_change_pct`` (+ = higher), the printed test-MSE improvement
    negated (its magnitude unchanged; 0.0 - x keeps a printed 0.00 from reading -0.00)."""
    check_choice("family", family, TABLE2_PERCENT)
    printed = TABLE2_PERCENT[family]
    return {"p90_reduction_pct": printed["p90"], "test_mse_change_pct": 0.0 - printed["test_mse"]}


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
