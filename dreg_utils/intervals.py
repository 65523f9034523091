"""Two-sided confidence intervals of a statistic from its sample: the t-interval of a mean
(:func:`t_interval`, what most verdicts of the book are read from) and the Fisher-z interval of
Spearman's rho (:func:`spearman_interval`). The tests that report an interval beside their p-value
are in :mod:`dreg_utils.significance`.
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
    Bonett & Wright, 2000; approximate, and rough when the data have many ties). NaN with n <= 3;
    (rho, rho) when |rho| = 1."""
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
