"""The synthetic families' statistics (notebook 03): lambda = lam vs lambda = 0 over matched
(family, seed) runs, per family and pooled, on the log ratio log q = log(value(lam) / value(0))
tested against 0 (a ratio of 2 and one of 1/2 cancel): one-sided in the paper's direction (lower
with DREG) for the gradient metrics, two-sided for the test MSE (no claimed direction)
(:data:`ALTERNATIVES`). The exact sign test decides each reading, and Holm runs over those
deciding tests that can reach alpha (a family's few seeds may not: one-sided, 5 pairs can; two-sided
they cannot, and those rows say how many pairs would). Seed stability compares the across-seed variance of the
test MSE with and without DREG, family by family; its verdict comes from the t interval of the
mean log variance ratio over families (:func:`seed_stability`), since a sign test over a handful
of families cannot reach alpha.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..claims import ALPHA, SIGN
from ..significance import min_pairs_for_sign_test, min_sign_test_p, paired_tests
from ..validation import check_unit_interval
from ..verdicts import interval_verdict
from .statistics import check_columns, holm_over_deciding, mark_roles, matched_values, no_test, tag

SYNTHETIC_KEYS = ("family", "seed")
SYNTHETIC_METRICS = ("test_mse", "grad_p90", "grad_p99")
# Each metric's alternative for log q = log(value(lam) / value(0)): the paper says DREG lowers the gradient
# norms' tail ("less"); it states no direction for the test MSE.
ALTERNATIVES = {"test_mse": "two-sided", "grad_p90": "less", "grad_p99": "less"}
ALL_FAMILIES = "all families"
SYNTHETIC_COLUMNS = ("family", "lam", "seed", "diverged", *SYNTHETIC_METRICS)
SEED_VARIANCE = "test_mse_seed_variance"  # the comparison of the per-family seed variances of test MSE
DECIDING_TEST = SIGN  # the exact sign test decides each reading, as it decides each paired MNIST comparison
SEED_VARIANCE_TEST = "paired_t"  # decides seed stability: one ratio per family, too few for a sign test
LOG_RATIO_EFFECTS = {"paired_t": "mean of log q", "bootstrap_mean_diff": "mean of log q",
                     "wilcoxon": "median of log q", "sign_test": "share of pairs with q > 1",
                     "cohen_dz": "mean(log q) / sd(log q)", "median_ratio": "median of q"}


def _table_lambda(runs: pd.DataFrame, lam: float) -> float:
    """The value in the table's ``lam`` column equal to ``lam`` (up to float rounding)."""
    values = np.asarray(sorted(runs["lam"].unique()), dtype=float)
    close = values[np.isclose(values, lam, rtol=1e-9, atol=0.0)]
    if close.size == 0:
        raise ValueError(f"lambda={lam:g} is not in the synthetic results table; it has {values.tolist()}")
    if not np.isclose(values, 0.0, atol=0.0).any():
        raise ValueError(f"the synthetic results table has no lambda = 0 runs; it has {values.tolist()}")
    return float(close[0])


def ratio_tests(numerator: np.ndarray, denominator: np.ndarray, label: str, *, alternative: str = "two-sided",
                confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Paired tests of log q = log(numerator / denominator) against 0 (``alternative`` as in scipy:
    "less" = q below 1): the t effect is the mean of log q (exp of it: the geometric-mean ratio),
    ``median_ratio`` the median of q; both are scale-free across families, and a halving weighs as
    much as a doubling. Every interval is two-sided."""
    if np.any(denominator <= 0) or np.any(numerator <= 0):
        raise ValueError(f"{label}: a log ratio needs values > 0; got {numerator.tolist()} over "
                         f"{denominator.tolist()}")
    if numerator.size < 2:
        return no_test(label, numerator.size, f"{numerator.size} matched pairs; a paired test needs 2")
    q = numerator / denominator
    log_q = np.log(q)
    out = paired_tests(log_q, np.zeros_like(log_q), alternative, confidence=confidence, n_boot=n_boot, seed=seed,
                       label=label)
    out.loc[out["test"] == "median_ratio", ["effect", "note"]] = [float(np.median(q)), ""]
    out["effect_name"] = out["test"].map(LOG_RATIO_EFFECTS)
    return out


def synthetic_tests(runs: pd.DataFrame, lam: float, metrics: Sequence[str] = SYNTHETIC_METRICS, *,
                    confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """lambda = ``lam`` vs lambda = 0 over matched (family, seed) runs, per family and pooled over
    families (``family`` = "all families"): :func:`ratio_tests` of q = value(lam) / value(0) with the
    metric's :data:`ALTERNATIVES`, the ``comparison`` named by the metric's key, ``lam`` the table's
    lambda."""
    check_columns(runs, (*SYNTHETIC_COLUMNS, *metrics), "synthetic")
    lam = _table_lambda(runs, lam)
    parts = []
    for family in [*pd.unique(runs["family"]), ALL_FAMILIES]:
        part = runs if family == ALL_FAMILIES else runs[runs["family"] == family]
        for metric in metrics:
            reg, base, unmatched = matched_values(part, lam, 0.0, metric, SYNTHETIC_KEYS, "lam")
            out = ratio_tests(reg, base, metric, alternative=ALTERNATIVES.get(metric, "two-sided"),
                              confidence=confidence, n_boot=n_boot, seed=seed)
            out = tag(out, family=family, metric=metric, lam=lam, unmatched=unmatched)
            parts.append(mark_roles(out, DECIDING_TEST))
    tests = pd.concat(parts, ignore_index=True)
    first = ["family", "comparison", "metric", "test", "n", "statistic", "p_value"]
    return tests[first + [c for c in tests.columns if c not in first]]


def seed_variance(runs: pd.DataFrame, lam: float, metric: str = "test_mse") -> pd.DataFrame:
    """Per family: the across-seed variance (ddof=1) of ``metric`` at lambda = 0 (``var_base``) and
    at ``lam`` (``var_dreg``) over the seeds finished at both, and ``variance_ratio`` = var_dreg /
    var_base (< 1: retraining with DREG is more repeatable). NaN with fewer than 2 such seeds."""
    lam = _table_lambda(runs, lam)
    rows = []
    for family in pd.unique(runs["family"]):
        reg, base, _ = matched_values(runs[runs["family"] == family], lam, 0.0, metric, SYNTHETIC_KEYS, "lam")
        var_base, var_dreg = ((np.var(base, ddof=1), np.var(reg, ddof=1)) if reg.size >= 2
                              else (math.nan, math.nan))
        rows.append({"family": family, "lam": lam, "seeds": reg.size, "var_base": var_base,
                     "var_dreg": var_dreg,
                     "sd_base": math.sqrt(var_base), "sd_dreg": math.sqrt(var_dreg),
                     "variance_ratio": var_dreg / var_base if var_base > 0 else math.nan})
    return pd.DataFrame(rows)


def synthetic_analysis(runs: pd.DataFrame, lam: float, *, alpha: float = ALPHA, confidence: float = 0.95,
                       n_boot: int = 10_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tests, variances): :func:`synthetic_tests` plus the paired tests over families of the
    log variance ratio against 0 (comparison :data:`SEED_VARIANCE`, family "all families", metric
    "test_mse seed variance", decided by :data:`SEED_VARIANCE_TEST`), with Holm over the deciding
    tests that can reach ``alpha`` (:func:`statistics.holm_over_deciding`); and the per-family
    :func:`seed_variance` table."""
    tests = synthetic_tests(runs, lam, confidence=confidence, n_boot=n_boot, seed=seed)
    variances = seed_variance(runs, lam)
    ok = variances.dropna(subset=["variance_ratio"])
    var_tests = ratio_tests(ok["var_dreg"].to_numpy(), ok["var_base"].to_numpy(), SEED_VARIANCE,
                            confidence=confidence, n_boot=n_boot, seed=seed)
    var_tests = tag(var_tests, family=ALL_FAMILIES, metric="test_mse seed variance",
                    lam=_table_lambda(runs, lam), unmatched=len(variances) - len(ok))
    tests = pd.concat([tests, mark_roles(var_tests, SEED_VARIANCE_TEST)], ignore_index=True)
    return holm_over_deciding(tests, alpha), variances


@dataclass(frozen=True)
class SeedStability:
    """The paper's "derivative control makes retraining more repeatable" on our families:
    ``families`` with a variance ratio var(lam) / var(0) of the test MSE across seeds, their
    ``median_ratio``, the geometric-mean ``ratio`` exp(mean log ratio) with its t interval
    (``low``, ``high``) and two-sided t ``p_value``, the ``verdict`` from that interval, and the
    sign test over families: its two-sided floor ``sign_floor`` and the families it would need
    to reach alpha (``sign_families_needed``)."""
    families: int
    median_ratio: float
    ratio: float
    low: float
    high: float
    p_value: float
    verdict: str
    sign_floor: float
    sign_families_needed: int


def seed_stability(tests: pd.DataFrame, alpha: float = ALPHA) -> SeedStability:
    """Seed stability from :func:`synthetic_analysis`'s tests: the :data:`SEED_VARIANCE` rows'
    t interval of the mean log variance ratio, turned into a verdict by
    :func:`verdicts.interval_verdict` with the paper's direction (a ratio below 1) as positive:
    holds when the interval of the ratio lies below 1, does not hold when it lies above,
    inconclusive when it includes 1 or fewer than 2 families have a ratio."""
    alpha = check_unit_interval("alpha", alpha)
    rows = tests[tests["comparison"] == SEED_VARIANCE].set_index("test")
    if rows.empty:
        raise ValueError(f"tests has no {SEED_VARIANCE!r} rows; pass the tests of synthetic_analysis")
    n = int(rows["n"].max())
    if SEED_VARIANCE_TEST in rows.index:
        t = rows.loc[SEED_VARIANCE_TEST]
        mean, low, high, p = float(t["effect"]), float(t["ci_low"]), float(t["ci_high"]), float(t["p_value"])
        median = float(rows.loc["median_ratio", "effect"])
    else:
        mean = low = high = p = median = math.nan
    verdict = interval_verdict(-mean, -high, -low)  # + = lower variance with DREG, the paper's direction
    return SeedStability(n, median, math.exp(mean), math.exp(low), math.exp(high), p, verdict,
                         min_sign_test_p(n) if n else 1.0, min_pairs_for_sign_test(alpha))
