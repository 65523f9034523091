"""Two-sided confidence intervals of a statistic from its sample: the t-interval of a mean
(:func:`t_interval`, what most verdicts of the book are read from), the Fisher-z interval of
Spearman's rho with the variance of Bonett and Wright (:func:`spearman_interval`), and the
distribution-free order-statistic interval of a median (:func:`median_interval`), and the t-interval
of a mean log ratio of paired values (:func:`log_ratio_interval`) read as a reduction or a change in
percent (:func:`as_reduction`, :func:`as_change`). The tests that report an interval beside their
p-value are in :mod:`dreg_utils.significance`.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from .validation import check_float, check_int, check_unit_interval

_NAN = float("nan")


def t_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided t-interval of the mean of the finite ``values``: mean +/- t_{n-1, (1+c)/2}
    sd / sqrt(n) (NaN with fewer than two values)."""
    confidence = check_unit_interval("confidence", confidence)
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return _NAN, _NAN
    half = float(sps.t.ppf((1 + confidence) / 2, values.size - 1)) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean() - half), float(values.mean() + half)


def spearman_interval(rho: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided interval of Spearman's rho from ``n`` observations: Fisher's z = atanh(rho)
    +/- z_{(1+c)/2} sqrt((1 + rho^2 / 2) / (n - 3)), mapped back by tanh (the variance of
    Bonett & Wright, 2000; approximate, and rough when the data have many ties). NaN when rho is
    NaN (undefined: a constant variable) or n <= 3; (rho, rho) when |rho| = 1."""
    if isinstance(rho, (float, np.floating)) and math.isnan(rho):
        return _NAN, _NAN
    rho = check_float("rho", rho, minimum=-1.0, maximum=1.0)
    n = check_int("n", n, minimum=1)
    confidence = check_unit_interval("confidence", confidence)
    if n <= 3:
        return _NAN, _NAN
    if abs(rho) == 1.0:
        return rho, rho
    half = float(sps.norm.ppf((1 + confidence) / 2)) * math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    z = math.atanh(rho)
    return math.tanh(z - half), math.tanh(z + half)


def order_statistic_rank(n: int, confidence: float = 0.95) -> int:
    """The largest k >= 1 with 2 P(Binomial(n, 1/2) <= k - 1) <= 1 - confidence: the sorted
    values x_(k) and x_(n+1-k) bound the median of n values with at least ``confidence`` (the
    interval of the sign test); 0 when no k does."""
    n = check_int("n", n, minimum=0)
    confidence = check_unit_interval("confidence", confidence)
    k = 0
    while k < n and 2 * sps.binom.cdf(k, n, 0.5) <= 1 - confidence:
        k += 1
    return k


def smallest_decidable_n(confidence: float = 0.95) -> int:
    """The fewest values whose median has an order-statistic interval at ``confidence`` (6 at 95%)."""
    n = 1
    while order_statistic_rank(n, confidence) == 0:
        n += 1
    return n


def median_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """The median of ``values`` and its distribution-free ``confidence`` interval: the order
    statistics x_(k) and x_(n+1-k) of the n sorted values, k from :func:`order_statistic_rank`
    (coverage at least ``confidence`` for any continuous distribution). NaN values are left out
    (nothing measured); the bounds are NaN when fewer than :func:`smallest_decidable_n` values
    remain (nothing short of more values can decide), all three NaN when none does. Infinite
    values are refused."""
    confidence = check_unit_interval("confidence", confidence)
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"values must be a sequence of real numbers (NaN: not measured), got {values!r}") from None
    if np.isinf(array).any():
        raise ValueError(f"values must be finite numbers (NaN: not measured), got {values!r}")
    array = np.sort(array[~np.isnan(array)])
    if array.size == 0:
        return _NAN, _NAN, _NAN
    k = order_statistic_rank(array.size, confidence)
    median = float(np.median(array))
    if k == 0:
        return median, _NAN, _NAN
    return median, float(array[k - 1]), float(array[array.size - k])


def log_ratio_interval(after: np.ndarray, before: np.ndarray) -> tuple[float, float, float]:
    """The mean over pairs of log(after / before) and its two-sided 95% t interval (low, high);
    the interval NaN with one pair; all three NaN (nothing measured) with no pair, or when a value
    is exactly 0 (an exactly constant model: its ratio has no log). Values must be finite and >= 0."""
    after, before = np.asarray(after, dtype=float), np.asarray(before, dtype=float)
    if after.shape != before.shape or after.ndim != 1:
        raise ValueError(f"after and before must pair values one to one; got shapes {after.shape} and {before.shape}")
    if not (np.isfinite(after).all() and np.isfinite(before).all() and (after >= 0).all() and (before >= 0).all()):
        raise ValueError(f"a log ratio needs finite values >= 0; got {after.tolist()} over {before.tolist()}")
    if after.size == 0 or not (after.all() and before.all()):
        return np.nan, np.nan, np.nan
    log_q = np.log(after / before)
    low, high = t_interval(log_q)
    return float(log_q.mean()), low, high


def as_reduction(mean: float, low: float, high: float) -> tuple[float, float, float]:
    """A mean log ratio log(after / before) and its interval as a reduction in percent (+ = fell):
    100 (1 - exp(.)), the bounds swapped so that low <= high."""
    return tuple(100.0 * -np.expm1(v) for v in (mean, high, low))


def as_change(mean: float, low: float, high: float) -> tuple[float, float, float]:
    """A mean log ratio log(after / before) and its interval as a change in percent (+ = rose):
    100 (exp(.) - 1)."""
    return tuple(100.0 * np.expm1(v) for v in (mean, low, high))
