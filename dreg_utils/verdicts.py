"""The verdict words and the rules that give them from intervals: the interval rule of every verdict
word (:func:`interval_verdict`, with ties within floating-point tolerance, :func:`is_tie`), and the
rules on effect sizes and costs (Table 2, *Teaching the Teacher*'s students, teacher accuracy and
Jacobian cost, DREG's step time and memory), each with the sentence that states it. The Section-6.3
claims, decided by tests, are in :mod:`dreg_utils.claims`; the thresholds marked "ours" are the
book's own.

Every verdict is one of :data:`VERDICTS` (:data:`INTERVAL_RULE` for an effect the paper sizes,
:data:`DIRECTION_RULE` for a direction alone):

* ``holds``: the evidence supports the claim: every part's interval (or deciding test) lies on
  the paper's side of the null and, where the paper gives an effect, at or above half of it;
* ``partly``: some part is supported and not all, or the interval lies above zero and includes
  half the paper's effect;
* ``does not hold``: the evidence goes against the claim: an interval lies on the wrong side of
  the null, or wholly below half the paper's effect (or a test in the opposite direction is
  significant), and no part is supported;
* ``inconclusive``: the data cannot decide: an interval that includes the null (and reaches half
  the paper's effect, where one is given), a test that is merely not significant, a test that
  cannot reach alpha at this sample size (the size that could is stated), or a comparison that
  could not be run.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .published import TEACHING_THE_TEACHER
from .validation import check_float

VERDICTS = ("holds", "partly", "does not hold", "inconclusive")
HOLDS, PARTLY, FAILS, INCONCLUSIVE = VERDICTS
TABLE2_MSE_TOLERANCE = 5.0  # ours: the most a test MSE may worsen (%) for "negligible"
DREG_COST_LIMIT = 1.2  # ours: "comparable to first-order training" = at most 1.2x a BASE step

# ----------------------------------------------------------------------------- the interval rule

TIE_TOLERANCE = 1e-12  # ours: |a - b| <= TIE_TOLERANCE * max(1, |a|, |b|) is a tie, not a difference
DIRECTION_RULE = ("holds: the interval excludes zero in the paper's direction; does not hold: it lies on "
                  "the wrong side; inconclusive: it includes zero (or nothing was measured)")
INTERVAL_RULE = ("holds: the 95% interval lies at or above half the paper's effect; partly: it lies above zero and "
                 "includes half the paper's effect; does not hold: it lies below half the paper's effect (wholly "
                 "short of it, or on the wrong side of zero); inconclusive: it includes both zero and half the "
                 "paper's effect (or nothing was measured)")


def _real(name: str, value: float) -> float:
    """A real number; NaN allowed (it means: nothing measured)."""
    if isinstance(value, (int, float, np.floating, np.integer)) and math.isnan(float(value)):
        return math.nan
    return check_float(name, value)


def is_tie(a: float, b: float, tolerance: float = TIE_TOLERANCE) -> bool:
    """Whether ``a`` and ``b`` are equal within floating-point tolerance (relative, floor 1)."""
    a, b = check_float("a", a), check_float("b", b)
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def interval_verdict(estimate: float, low: float, high: float, paper_effect: float | None = None) -> str:
    """The verdict on a claimed effect from its 95% confidence interval (low, high), the estimate
    only checked to lie in it, all signed so that positive is the paper's direction (e.g. a
    reduction in percent).

    With ``paper_effect`` (:data:`INTERVAL_RULE`), h = paper_effect / 2: holds when low >= h;
    partly when low > 0 and the interval straddles h (low < h <= high); does not hold when
    high < h (short of half the paper's effect, or on the wrong side of zero); inconclusive
    otherwise (the interval includes both 0 and h). Without (:data:`DIRECTION_RULE`): holds
    when low > 0, does not hold when high < 0, inconclusive otherwise. NaN anywhere: nothing
    measured, inconclusive. Bounds within :data:`TIE_TOLERANCE` of 0 or of h count as equal to it."""
    estimate, low, high = _real("estimate", estimate), _real("low", low), _real("high", high)
    if paper_effect is not None:
        paper_effect = check_float("paper_effect", paper_effect, strictly_positive=True)
    if math.isnan(estimate) or math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > high:
        raise ValueError(f"low={low} is above high={high}; give the interval as (low, high)")
    if not low <= estimate <= high:
        raise ValueError(f"estimate={estimate} lies outside its interval ({low}, {high})")
    above_zero = low > 0 and not is_tie(low, 0.0)
    if paper_effect is None:
        if above_zero:
            return HOLDS
        return FAILS if high < 0 and not is_tie(high, 0.0) else INCONCLUSIVE
    half = 0.5 * paper_effect
    if low >= half or is_tie(low, half):
        return HOLDS
    if high < half and not is_tie(high, half):
        return FAILS
    return PARTLY if above_zero else INCONCLUSIVE


# ----------------------------------------------------------------------------- rules on effect sizes and costs

TABLE2_RULE = (f"The p90 part: {INTERVAL_RULE}. The 95% interval is the t interval over seeds of the mean log "
               "ratio of each seed's p90 at lambda to its p90 at lambda = 0. The test MSE's \"negligible change\" "
               f"is supported when the interval of its change lies at or below +{TABLE2_MSE_TOLERANCE:g}%, refuted "
               f"when it lies wholly above +{TABLE2_MSE_TOLERANCE:g}%, undecided otherwise (or with no interval). "
               "The claim holds only when the p90 part holds and the MSE part is supported; when the MSE part is "
               "undecided or refuted it holds at most partly, and it does not hold when the MSE part is refuted "
               "and the p90 part supports nothing. A family whose unregularised model predicts no better than the "
               "training mean (on validation) in every seed is inconclusive: its p90 says nothing of the claim")


def table2_verdict(p90_reduction: float, p90_low: float, p90_high: float, paper_p90_reduction: float,
                   mse_change_low: float, mse_change_high: float,
                   mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """Table 2's claim for one family, "p90 falls with a negligible test-MSE change", from 95%
    intervals (in %; p90 reductions + = lower, the test-MSE change + = higher), by
    :data:`TABLE2_RULE`.

    The p90 part is :func:`interval_verdict` of the reduction (estimate, ``p90_low``,
    ``p90_high``) against the paper's. The MSE part is supported when ``mse_change_high`` <=
    ``mse_tolerance``, refuted when ``mse_change_low`` > ``mse_tolerance``, undecided otherwise
    (NaN bounds, no interval: undecided). "holds" needs the p90 part to hold and the MSE part
    supported; an undecided or refuted MSE part caps the p90 part's "holds" at "partly"; a
    refuted MSE part with a p90 part that supports nothing (inconclusive or does not hold) does
    not hold."""
    interval = [_real(name, value) for name, value in
                (("p90_reduction", p90_reduction), ("p90_low", p90_low), ("p90_high", p90_high))]
    paper_p90_reduction = check_float("paper_p90_reduction", paper_p90_reduction, strictly_positive=True)
    mse_low, mse_high = _real("mse_change_low", mse_change_low), _real("mse_change_high", mse_change_high)
    mse_tolerance = check_float("mse_tolerance", mse_tolerance, minimum=0.0)
    if mse_low > mse_high:
        raise ValueError(f"mse_change_low={mse_low} is above mse_change_high={mse_high}; give the interval as "
                         "(low, high)")
    verdict = interval_verdict(*interval, paper_p90_reduction)
    mse_refuted = mse_low > mse_tolerance and not is_tie(mse_low, mse_tolerance)
    mse_supported = not math.isnan(mse_high) and (mse_high <= mse_tolerance or is_tie(mse_high, mse_tolerance))
    if verdict == HOLDS:
        return HOLDS if mse_supported else PARTLY
    if mse_refuted and verdict != PARTLY:
        return FAILS
    return verdict


def tree_students_verdict(difference: float, low: float, high: float) -> str:
    """Teaching the Teacher: decision-tree students profit less from the penalised teacher than
    symbolic ones. ``difference`` is the symbolic student's relative gain minus the tree
    student's (percentage points, a mean over datasets) with its 95% interval (low, high):
    :func:`interval_verdict` by :data:`DIRECTION_RULE` (holds: the interval lies above zero; does
    not hold: below zero; inconclusive: it includes zero, or nothing was measured)."""
    return interval_verdict(difference, low, high)


TEACHER_R2_TOLERANCE = 0.02  # ours: the largest drop of a teacher's test R^2 that still keeps its accuracy
TEACHER_R2_RULE = (f"a unit keeps its accuracy when the 95% interval of the teacher's test-R² drop (lambda = 0 "
                   f"minus the validation-chosen lambda) lies below {TEACHER_R2_TOLERANCE:g}, and loses it when the "
                   f"interval lies above {TEACHER_R2_TOLERANCE:g}; holds: every unit keeps it; partly: some lose it "
                   "and some keep it; does not hold: some lose it and none keeps it; inconclusive: otherwise (or "
                   "nothing was measured)")


def teacher_r2_verdict(drops: Sequence[tuple[float, float, float]],
                       tolerance: float = TEACHER_R2_TOLERANCE) -> str:
    """Teaching the Teacher: the teacher keeps its accuracy under the penalty. ``drops`` holds one
    (estimate, low, high) per unit (e.g. per dataset with its interval over seeds, or one mean
    over datasets): the drop of the teacher's test R^2 from lambda = 0 to the chosen lambda
    (+ = lost) with its 95% interval. By :data:`TEACHER_R2_RULE`: a unit keeps its accuracy
    when its interval lies below ``tolerance`` and loses it when it lies above
    (:func:`interval_verdict` of tolerance - drop, ties included)."""
    tolerance = check_float("tolerance", tolerance, minimum=0.0)
    if isinstance(drops, (str, bytes)) or not isinstance(drops, Sequence):
        raise TypeError(f"drops must be a sequence of (estimate, low, high) triples, got {drops!r}")
    units = []
    for drop in drops:
        if not (isinstance(drop, Sequence) and len(drop) == 3):
            raise ValueError(f"drops must hold (estimate, low, high) triples, got {drop!r}")
        estimate, low, high = (_real(name, v) for name, v in zip(("estimate", "low", "high"), drop))
        measured = not any(math.isnan(v) for v in (estimate, low, high))
        if low > high or (measured and not low <= estimate <= high):
            raise ValueError(f"drops holds ({estimate}, {low}, {high}); give each as (estimate, low, high) "
                             "with low <= estimate <= high")
        units.append(interval_verdict(tolerance - estimate, tolerance - high, tolerance - low))
    if units and all(u == HOLDS for u in units):
        return HOLDS
    if FAILS in units:
        return PARTLY if HOLDS in units else FAILS
    return INCONCLUSIVE


def _ratio_intervals(ratios: Sequence[float], lows: Sequence[float],
                     highs: Sequence[float]) -> list[tuple[float, float, float]]:
    """(ratio, low, high) per setting: finite ratios with their 95% intervals (NaN bounds: too few
    repetitions for an interval), each low <= ratio <= high."""
    arrays = []
    for name, values in (("ratios", ratios), ("lows", lows), ("highs", highs)):
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            array = np.array([[]])
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence of step-time ratios, got {values!r}")
        arrays.append(array)
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f"ratios, lows and highs must pair settings: {[a.size for a in arrays]} values")
    if not np.isfinite(arrays[0]).all():
        raise ValueError(f"ratios must be finite step-time ratios, got {ratios!r}")
    for ratio, low, high in zip(*arrays):
        if not (math.isnan(low) or math.isnan(high)) and not low <= ratio <= high:
            raise ValueError(f"the interval ({low}, {high}) does not hold its ratio {ratio}; give each "
                             "setting's ratio with its interval, low <= ratio <= high")
    return [tuple(map(float, t)) for t in zip(*arrays)]


DREG_COST_RULE = (f"per capacity, the 95% interval of DREG's step-time ratio to BASE against {DREG_COST_LIMIT:g}x: "
                  f"wholly below it supports the claim, wholly above it refutes it; holds: every capacity supports "
                  "it; partly: some refute it and some support it; does not hold: some refute it and none supports "
                  f"it; inconclusive: otherwise (an interval that includes {DREG_COST_LIMIT:g}x, or too few "
                  "repetitions for an interval)")


def dreg_cost_verdict(ratios: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> str:
    """DREG paper, Sec. 2: the CR-penalty costs about as much as first-order training. One
    (ratio, low, high) per capacity: DREG's step-time ratio to BASE and its 95% interval. By
    :data:`DREG_COST_RULE`: :func:`interval_verdict` of DREG_COST_LIMIT - ratio per capacity, ties
    included; holds when every capacity holds, partly when some fail and some hold, does not hold
    when some fail and none holds, else inconclusive."""
    units = [interval_verdict(DREG_COST_LIMIT - ratio, DREG_COST_LIMIT - high, DREG_COST_LIMIT - low)
             for ratio, low, high in _ratio_intervals(ratios, lows, highs)]
    if all(u == HOLDS for u in units):
        return HOLDS
    if FAILS in units:
        return PARTLY if HOLDS in units else FAILS
    return INCONCLUSIVE


MEMORY_RULE = ("holds when DREG's peak memory is below IGPEN's at every capacity: the smallest relative saving "
               "over capacities, its range over the repeated measurements as the interval (the measurement is "
               f"deterministic, so the range is a point), judged by the direction rule: {DIRECTION_RULE}")


_JAC_EXTRA = TEACHING_THE_TEACHER["teacher_overhead"] - 1  # the paper's extra cost, in BASE steps
JACOBIAN_COST_RULE = (f"on the penalty's extra cost over a BASE step, ratio − 1 (the paper's about "
                      f"{TEACHING_THE_TEACHER['teacher_overhead']:g}x is {_JAC_EXTRA:g} extra steps), with its 95% "
                      f"interval: {INTERVAL_RULE}")


def jacobian_cost_verdict(ratio: float, low: float, high: float) -> str:
    """Teaching the Teacher: the exact Jacobian penalty makes training about tenfold slower. From
    one setting's step-time (or training-time) ratio to BASE and its 95% interval (NaN bounds: too
    few repetitions), by :data:`JACOBIAN_COST_RULE`: :func:`interval_verdict` of the extra cost
    ratio - 1 against the paper's (``teacher_overhead`` - 1)."""
    ((ratio, low, high),) = _ratio_intervals([ratio], [low], [high])
    return interval_verdict(ratio - 1, low - 1, high - 1, paper_effect=_JAC_EXTRA)
