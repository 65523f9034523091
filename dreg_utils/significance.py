"""Paired and two-sample tests over matched runs, returned as tidy DataFrames (DREG paper, Sec. 6.3).

The paper compares methods over matched runs (same seed, size and activation) with
paired two-sided t-tests, Wilcoxon signed-rank tests and exact sign tests, uses exact
binomial sign tests for "relative p99 reduction exceeds relative mean reduction", and
Welch tests for p99/mean per capacity. Every test function here returns a DataFrame with
one row per test and the columns

``comparison, test, n, statistic, p_value, effect, effect_name, ci_low, ci_high,
alternative, note``

(``welch_test`` and ``relative_reduction_sign_test`` add a few descriptive columns), so
results of many comparisons can be concatenated and Holm-adjusted with ``add_holm``.

Differences are always ``d = a - b``; ``alternative="less"`` means "a tends to be smaller
than b", as in scipy.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as sps

from .validation import check_choice, check_float, check_int, check_nonempty_list, check_unit_interval

ALTERNATIVES = ("two-sided", "less", "greater")
COLUMNS = ["comparison", "test", "n", "statistic", "p_value", "effect", "effect_name",
           "ci_low", "ci_high", "alternative", "note"]
_NAN = float("nan")


# ----------------------------------------------------------------------------- input checks

def _as_finite_1d(name: str, values: Any) -> np.ndarray:
    """A non-empty 1-D float64 array without NaN or inf."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must contain real numbers, got {values!r}") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got the scalar {values!r}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} contains non-finite values (NaN or inf) at positions "
                         f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''}")
    return arr


def _as_pairs(**named: Any) -> tuple[np.ndarray, ...]:
    """Check that all named arrays are finite, 1-D, of equal length and hold >= 2 pairs."""
    arrays = {name: _as_finite_1d(name, values) for name, values in named.items()}
    lengths = {name: arr.size for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{name} has {k}" for name, k in lengths.items())
        raise ValueError(f"paired inputs must have the same length (one value per matched run): {desc}")
    n = next(iter(lengths.values()))
    if n < 2:
        raise ValueError(f"paired tests need at least 2 pairs, got {n}")
    return tuple(arrays.values())


def _row(test: str, n: int, statistic: float = _NAN, p_value: float = _NAN, effect: float = _NAN,
         effect_name: str = "", ci: tuple[float, float] = (_NAN, _NAN), alternative: str = "",
         note: str = "", comparison: str = "") -> dict[str, Any]:
    return {"comparison": comparison, "test": test, "n": int(n), "statistic": float(statistic),
            "p_value": float(p_value), "effect": float(effect), "effect_name": effect_name,
            "ci_low": float(ci[0]), "ci_high": float(ci[1]), "alternative": alternative,
            "note": note}


# ----------------------------------------------------------------------------- sign test

def sign_test(successes: int, n: int, alternative: str = "two-sided") -> float:
    """Exact binomial sign-test p-value for ``successes`` out of ``n`` under H0: P(success) = 1/2.

    Two-sided: ``min(1, 2 * P(X >= max(k, n - k)))`` with ``X ~ Binomial(n, 1/2)``;
    "greater": ``P(X >= k)``; "less": ``P(X <= k)`` (scipy.stats.binomtest).
    """
    n = check_int("n", n, minimum=1)
    successes = check_int("successes", successes, minimum=0)
    if successes > n:
        raise ValueError(f"successes={successes} is not valid; it must be <= n={n}")
    check_choice("alternative", alternative, ALTERNATIVES)
    return float(sps.binomtest(successes, n, 0.5, alternative=alternative).pvalue)


def min_sign_test_p(n: int, alternative: str = "two-sided") -> float:
    """Smallest p-value an exact sign test on ``n`` non-tied pairs can reach.

    ``2 * 0.5**n`` two-sided (e.g. 24/24 -> 1.19e-7), ``0.5**n`` one-sided. An exact
    Wilcoxon signed-rank test without ties has the same floor (all signs agree).
    """
    n = check_int("n", n, minimum=1)
    check_choice("alternative", alternative, ALTERNATIVES)
    factor = 2.0 if alternative == "two-sided" else 1.0
    return min(1.0, factor * 0.5 ** n)


def min_pairs_for_sign_test(p_target: float, alternative: str = "two-sided") -> int:
    """Smallest number of pairs ``n`` for which an exact sign test can give ``p < p_target``.

    The smallest ``n`` with ``min_sign_test_p(n, alternative) < p_target``; e.g. a two-sided
    ``p < 0.05`` needs n >= 6 and ``p < 1e-3`` needs n >= 11.
    """
    p_target = check_float("p_target", p_target, strictly_positive=True, maximum=1.0)
    check_choice("alternative", alternative, ALTERNATIVES)
    n = 1
    while min_sign_test_p(n, alternative) >= p_target:
        n += 1
    return n


def _sign_row(n_greater: int, n_less: int, alternative: str, confidence: float,
              test: str, what: str) -> dict[str, Any]:
    n = n_greater + n_less
    if n == 0:
        return _row(test, 0, statistic=0.0, p_value=1.0, effect_name=what, alternative=alternative,
                    note="all pairs tied; no evidence either way, p set to 1.0")
    p = sign_test(n_greater, n, alternative)
    ci = sps.binomtest(n_greater, n, 0.5).proportion_ci(confidence, method="exact")
    return _row(test, n, statistic=n_greater, p_value=p, effect=n_greater / n, effect_name=what,
                ci=(ci.low, ci.high), alternative=alternative,
                note=f"{n_greater} of {n} non-tied pairs; Clopper-Pearson {confidence:.0%} CI")


# ----------------------------------------------------------------------------- paired tests

def _wilcoxon_row(d: np.ndarray, alternative: str) -> dict[str, Any]:
    n_zero = int(np.count_nonzero(d == 0))
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return _row("wilcoxon", 0, statistic=0.0, p_value=1.0, effect=0.0,
                    effect_name="median difference (a - b)", alternative=alternative,
                    note="all differences are zero; Wilcoxon undefined, p set to 1.0")
    has_ties = np.unique(np.abs(nonzero)).size < nonzero.size
    # The same choice scipy's method="auto" makes, made here so the note can name it.
    if d.size > 50:
        method, how = "asymptotic", "normal approximation (n > 50)"
    elif not has_ties and n_zero == 0:
        method, how = "exact", "exact null distribution"
    elif d.size <= 13:
        method, how = sps.PermutationMethod(), "exact over all 2^n sign flips (ties or zeros present)"
    else:
        method, how = "asymptotic", "normal approximation (ties or zeros present)"
    res = sps.wilcoxon(d, zero_method="wilcox", alternative=alternative, method=method)
    note = how + (f"; {n_zero} zero differences dropped" if n_zero else "")
    return _row("wilcoxon", nonzero.size, statistic=res.statistic, p_value=res.pvalue,
                effect=float(np.median(d)), effect_name="median difference (a - b)",
                alternative=alternative, note=note)


def bootstrap_mean_ci(d: ArrayLike, confidence: float = 0.95, n_boot: int = 10_000,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(d)``: resample ``d`` with replacement ``n_boot`` times
    (numpy ``default_rng(seed)``) and take the ``(1 -/+ confidence) / 2`` quantiles of the means."""
    d = _as_finite_1d("d", d)
    confidence = check_unit_interval("confidence", confidence)
    n_boot = check_int("n_boot", n_boot, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // d.size)  # bound memory for long inputs
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, d.size, size=(stop - start, d.size))
        means[start:stop] = d[idx].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _paired_t_row(a: np.ndarray, b: np.ndarray, alternative: str, confidence: float) -> dict:
    """The paired t-test of d = a - b and the two-sided t CI of mean(d)."""
    d = a - b
    n, mean, sd = d.size, float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0 and mean == 0.0:
        return _row("paired_t", n, p_value=1.0, effect=0.0, effect_name="mean difference (a - b)",
                    ci=(0.0, 0.0), alternative=alternative,
                    note="all differences are zero; t undefined, p set to 1.0")
    if sd == 0.0:
        return _row("paired_t", n, effect=mean, effect_name="mean difference (a - b)",
                    ci=(mean, mean), alternative=alternative,
                    note="all differences are equal and non-zero; sd is 0 so t is undefined")
    res = sps.ttest_rel(a, b, alternative=alternative)
    half = float(sps.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return _row("paired_t", n, statistic=res.statistic, p_value=res.pvalue, effect=mean,
                effect_name="mean difference (a - b)", ci=(mean - half, mean + half),
                alternative=alternative, note=f"df={n - 1}; two-sided {confidence:.0%} t CI")


def paired_tests(a: ArrayLike, b: ArrayLike, alternative: str = "two-sided", *,
                 confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0,
                 label: str = "") -> pd.DataFrame:
    """Paired comparison of matched runs ``a[i]`` vs ``b[i]`` on ``d = a - b``; one row per test.

    Rows (``test``):
      - ``paired_t``: t = mean(d) / (sd(d) / sqrt(n)), df = n - 1 (scipy ttest_rel); effect
        mean(d) with the two-sided t CI mean(d) +/- t_{n-1, (1+c)/2} sd(d) / sqrt(n).
      - ``wilcoxon``: signed-rank test on the non-zero d (scipy wilcoxon; exact null
        distribution when n <= 50 without ties/zeros); effect median(d).
      - ``sign_test``: exact binomial test of #(a > b) among non-tied pairs vs Binomial(n, 1/2);
        effect #(a > b) / n with a Clopper-Pearson CI.
      - ``cohen_dz``: paired Cohen's d, mean(d) / sd(d) (sd with ddof=1); no test.
      - ``median_ratio``: median over pairs of a[i] / b[i]; no test.
      - ``bootstrap_mean_diff``: mean(d) with a seeded percentile bootstrap CI (``n_boot``).

    ``alternative`` applies to the three tests; every CI is two-sided at ``confidence``.
    """
    a, b = _as_pairs(a=a, b=b)
    check_choice("alternative", alternative, ALTERNATIVES)
    confidence = check_unit_interval("confidence", confidence)
    n_boot = check_int("n_boot", n_boot, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    d = a - b
    n = d.size
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    rows = [_paired_t_row(a, b, alternative, confidence), _wilcoxon_row(d, alternative)]

    n_greater, n_less = int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0))
    sign = _sign_row(n_greater, n_less, alternative, confidence, "sign_test", "share of pairs with a > b")
    sign["note"] = f"a<b: {n_less}, a>b: {n_greater}, ties dropped: {n - n_greater - n_less}; " + sign["note"]
    rows.append(sign)

    if sd == 0.0:
        rows.append(_row("cohen_dz", n, effect_name="mean(d) / sd(d)",
                         note="sd of differences is 0; d_z undefined"))
    else:
        rows.append(_row("cohen_dz", n, effect=mean / sd, effect_name="mean(d) / sd(d)",
                         note="paired Cohen's d (d_z), sd with ddof=1"))

    if np.any(b == 0):
        rows.append(_row("median_ratio", n, effect_name="median of a / b",
                         note="some b values are 0; ratio undefined"))
    else:
        rows.append(_row("median_ratio", n, effect=float(np.median(a / b)), effect_name="median of a / b"))

    rows.append(_row("bootstrap_mean_diff", n, effect=mean, effect_name="mean difference (a - b)",
                     ci=bootstrap_mean_ci(d, confidence, n_boot, seed),
                     note=f"percentile bootstrap, n_boot={n_boot}, seed={seed}"))

    out = pd.DataFrame(rows, columns=COLUMNS)
    out["comparison"] = label
    return out


# ----------------------------------------------------------------------------- two-sample and claim-2 tests

def welch_test(a: ArrayLike, b: ArrayLike, alternative: str = "two-sided", *,
               confidence: float = 0.95, label: str = "") -> pd.DataFrame:
    """Welch's unequal-variance t-test of mean(a) vs mean(b) (scipy ttest_ind, equal_var=False).

    t = (mean_a - mean_b) / se with se = sqrt(var_a / n_a + var_b / n_b) (ddof=1) and
    Welch-Satterthwaite df = se^4 / ((var_a/n_a)^2/(n_a-1) + (var_b/n_b)^2/(n_b-1)).
    One row; effect mean_a - mean_b with the two-sided CI effect +/- t_{df,(1+c)/2} se.
    """
    a = _as_finite_1d("a", a)
    b = _as_finite_1d("b", b)
    for name, arr in (("a", a), ("b", b)):
        if arr.size < 2:
            raise ValueError(f"welch_test needs at least 2 values in each group; {name} has {arr.size}")
    check_choice("alternative", alternative, ALTERNATIVES)
    confidence = check_unit_interval("confidence", confidence)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    diff = mean_a - mean_b
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        if diff == 0.0:
            row = _row("welch_t", a.size + b.size, p_value=1.0, effect=0.0, ci=(0.0, 0.0),
                       note="both groups constant and equal; t undefined, p set to 1.0")
        else:
            row = _row("welch_t", a.size + b.size, effect=diff, ci=(diff, diff),
                       note="both groups constant with different values; t undefined")
        df = _NAN
    else:
        res = sps.ttest_ind(a, b, equal_var=False, alternative=alternative)
        df = float(res.df)
        half = float(sps.t.ppf((1 + confidence) / 2, df)) * se
        row = _row("welch_t", a.size + b.size, statistic=res.statistic, p_value=res.pvalue, effect=diff,
                   ci=(diff - half, diff + half), note=f"two-sided {confidence:.0%} Welch CI")
    row.update(comparison=label, effect_name="mean(a) - mean(b)", alternative=alternative)
    out = pd.DataFrame([row], columns=COLUMNS)
    out.insert(3, "n_a", a.size)
    out.insert(4, "n_b", b.size)
    out.insert(5, "mean_a", mean_a)
    out.insert(6, "mean_b", mean_b)
    out.insert(7, "df", df)
    return out


def relative_reduction_sign_test(base_mean: ArrayLike, base_p99: ArrayLike, treat_mean: ArrayLike,
                                 treat_p99: ArrayLike, alternative: str = "two-sided", *,
                                 confidence: float = 0.95, label: str = "") -> pd.DataFrame:
    """Sign test of "the relative reduction of p99 exceeds that of the mean" (DREG claim 2).

    Per matched pair i: r_p99 = 1 - treat_p99/base_p99 and r_mean = 1 - treat_mean/base_mean.
    A success is r_p99 > r_mean, which for positive bases is treat_p99/treat_mean <
    base_p99/base_mean (p99/mean went down); exact ties are dropped. The count of successes
    is tested against Binomial(n, 1/2) (``alternative="greater"``: successes are the rule).
    One row; effect is the share of successes with a Clopper-Pearson CI.
    """
    base_mean, base_p99, treat_mean, treat_p99 = _as_pairs(
        base_mean=base_mean, base_p99=base_p99, treat_mean=treat_mean, treat_p99=treat_p99)
    for name, arr in (("base_mean", base_mean), ("base_p99", base_p99)):
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise ValueError(f"{name} must be > 0 (relative reductions divide by it); "
                             f"positions {bad[:10].tolist()} are not")
    check_choice("alternative", alternative, ALTERNATIVES)
    confidence = check_unit_interval("confidence", confidence)
    r_p99 = 1.0 - treat_p99 / base_p99
    r_mean = 1.0 - treat_mean / base_mean
    # r_p99 > r_mean  <=>  treat_p99 * base_mean < treat_mean * base_p99 (bases > 0); no division rounding
    lhs, rhs = treat_p99 * base_mean, treat_mean * base_p99
    n_success, n_fail = int(np.count_nonzero(lhs < rhs)), int(np.count_nonzero(lhs > rhs))
    row = _sign_row(n_success, n_fail, alternative, confidence, "relative_reduction_sign",
                    "share of pairs with rel. p99 reduction > rel. mean reduction")
    row["note"] = (f"rel. p99 reduction > rel. mean reduction in {n_success} pairs, < in {n_fail}, "
                   f"ties dropped: {r_p99.size - n_success - n_fail}; " + row["note"])
    row["comparison"] = label
    out = pd.DataFrame([row], columns=COLUMNS)
    out["median_rel_reduction_p99"] = float(np.median(r_p99))
    out["median_rel_reduction_mean"] = float(np.median(r_mean))
    return out


# ----------------------------------------------------------------------------- multiple testing

def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order.

    With p sorted ascending p_(1) <= ... <= p_(m): adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j)),
    so the adjusted values are monotone in the raw ones and capped at 1.
    """
    p = _as_finite_1d("p_values", p_values)
    bad = np.flatnonzero((p < 0) | (p > 1))
    if bad.size:
        raise ValueError(f"p_values must lie in [0, 1]; positions {bad[:10].tolist()} do not")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def add_holm(df: pd.DataFrame, p_col: str = "p_value", out_col: str = "p_holm",
             by: Sequence[str] | None = None) -> pd.DataFrame:
    """Copy of ``df`` with ``out_col`` = Holm-adjusted ``p_col``.

    Each group of ``by`` (e.g. ``["test"]`` to adjust each kind of test across comparisons)
    is one family; ``by=None`` makes the whole table one family. Rows whose p-value is NaN
    (effect-size rows) are not part of any family and get NaN.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if p_col not in df.columns:
        raise ValueError(f"p_col={p_col!r} is not a column of df; columns are {list(df.columns)}")
    by = [] if by is None else check_nonempty_list("by", by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"by columns {missing} are not columns of df; columns are {list(df.columns)}")
    out = df.copy()
    p = pd.to_numeric(out[p_col], errors="raise").to_numpy(dtype=np.float64)
    adjusted = np.full(p.size, np.nan)
    has_p = ~np.isnan(p)
    positions = np.arange(len(out))
    if by:
        groups = out.groupby(by, sort=False, dropna=False).indices.values()
    else:
        groups = [positions]
    for idx in groups:
        idx = np.asarray(idx)[has_p[np.asarray(idx)]]
        if idx.size:
            adjusted[idx] = holm(p[idx])
    out[out_col] = adjusted
    return out
