"""The DREG paper's statistical analysis (Section 6.3, claims 1-5) run on our sweep results.

MNIST (the Table-3 grid of notebook 02). Matched runs share capacity, activation and seed:
DREG vs BASE and DREG vs SN give up to 24 pairs (4 capacities x 2 activations x 3 seeds),
POLY_BASE vs RELU_BASE up to 12 (4 capacities x 3 seeds). Each paired comparison gets the
paired t-test, the Wilcoxon signed-rank test and the exact sign test on d = a - b, plus
Cohen's d_z, the median ratio and a bootstrap CI of mean(d)
(:func:`dreg_utils.significance.paired_tests`).
Claim 2 adds the exact sign test of r_p99 > r_mean with r = 1 - DREG/BASE; claim 5 a
Spearman test of BASE p99/mean against capacity and a Welch test of p99/mean per capacity.
Each comparison's one deciding test, declared in :mod:`dreg_utils.claims` (column ``role``),
joins the Holm family (``p_holm``, and ``p_holm_floor``: the smallest Holm p it could reach;
``p_holm_against``: Holm over the same tests run against the paper's direction) when it can
decide, i.e. its floor is below alpha (``decidable``; ``pairs_to_decide``: the pairs an exact test
would need); the other tests are supporting evidence with raw p-values only.

Each comparison is tested with the sidedness its claim declares in :mod:`dreg_utils.claims`
(one-sided, in the paper's direction), and the verdicts come from there too
(:func:`claims.mnist_verdicts`, by :data:`claims.TEST_RULE`): holds, partly, does not hold or
inconclusive. An exact one-sided sign or signed-rank test on n pairs cannot go below 0.5**n
(0.0625 for 4 pairs).

This module also holds the chapter's settings (:class:`StatisticsSettings`, for both sweeps),
the values each runs table should take (:func:`mnist_grid`, :func:`synthetic_grid`) and the
matching, tagging and Holm helpers that the synthetic families' tests share; those tests
(notebook 01's sweep, lambda = lam vs lambda = 0) are in
:mod:`dreg_utils.studies.statistics_synthetic`.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..claims import (ACC, ALPHA, COMPARISONS, HOLM_AGAINST, MNIST_CLAIMS, P99, POLY_MAX, POLY_P99, POLY_RATIO,
                      RATIO, RELATIVE, SIGN_TESTS, SN_ACC, SN_P99, TREND, WELCH, against_p, alternative)
from ..models import n_parameters
from ..runs import hidden_label, pair_runs
from ..intervals import spearman_interval
from ..significance import (COLUMNS, holm, min_pairs_for_sign_test, min_sign_test_p, paired_tests,
                            relative_reduction_sign_test, welch_test)
from ..constraints import LEVEL, MAX_COUNT, POSITIVE, SEED, Interval, Nullable, PathTo
from ..settings import StudySettings, knob
from ..validation import check_unit_interval
from ..vocabulary import LAMBDA_METHODS, finished

PAIR_KEYS = ("hidden", "activation", "seed")
MNIST_COLUMNS = ("hidden", "activation", "method", "seed", "diverged", "test_acc", "ig_mean", "ig_p99",
                 "ig_max", "ig_p99_over_mean")


# ----------------------------------------------------------------------------- parameters and inputs

RUNS_TABLE = Nullable(PathTo("file", exists=True, give="the runs.csv that a sweep wrote, or None to use (or "
                             "create) the default one"),
                      what="the path of a runs.csv table, or None for the default location")

@dataclass(frozen=True)
class StatisticsSettings(StudySettings):
    """The statistical tests (notebook 03) of the MNIST and synthetic sweeps of one profile.

    ``mnist_runs`` / ``synthetic_runs``: a runs.csv to analyse; None = the default location
    under $DREG_RESULTS_DIR (or results/), running the cached sweep when that table is missing."""

    mnist_runs: str | None = knob(None, RUNS_TABLE)
    synthetic_runs: str | None = knob(None, RUNS_TABLE)
    synthetic_lam: float = knob(1e-2, POSITIVE)  # DREG strength compared with lambda = 0 on the synthetic families
    alpha: float = knob(0.05, LEVEL)
    confidence: float = knob(0.95, LEVEL)
    n_boot: int = knob(10_000, Interval(int, 100, None, limit=MAX_COUNT))
    bootstrap_seed: int = knob(0, SEED)

    PRESETS: ClassVar[dict[str, dict]] = {"smoke": dict(n_boot=2000)}


def validate(settings: Mapping) -> StatisticsSettings:
    """The settings checked and completed (see :class:`StatisticsSettings`)."""
    return StatisticsSettings.coerce(settings)


def read_runs(path: str | Path) -> pd.DataFrame:
    """A sweep's runs.csv (``hidden`` kept as text such as "32-16")."""
    return pd.read_csv(path, dtype={"hidden": str})


def check_columns(runs: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise ValueError(f"the {what} results table lacks the columns {missing}; "
                         f"it has {list(runs.columns)}")


def mnist_grid(settings: dict) -> tuple[dict[str, list], int]:
    """The values each column of the MNIST runs table takes under ``settings``, and its row count."""
    methods = settings["methods"]
    lams = ([0.0] if set(methods) - set(LAMBDA_METHODS) else []) + (
        [settings["lam"]] if set(methods) & set(LAMBDA_METHODS) else [])
    grid = {"hidden": [hidden_label(c) for c in settings["capacities"]],
            "activation": settings["activations"], "method": methods, "seed": settings["seeds"],
            "lam": lams, "epochs": [settings["epochs"]]}
    n_runs = math.prod(len(grid[k]) for k in ("hidden", "activation", "method", "seed"))
    return grid, n_runs


def synthetic_grid(settings: dict) -> tuple[dict[str, list], int]:
    """The values each column of the synthetic runs table takes under ``settings``, and its row count."""
    grid = {"family": settings["families"], "lam": settings["lambdas"], "seed": settings["seeds"],
            "hidden": [hidden_label(settings["hidden"])], "activation": [settings["activation"]],
            "epochs": [settings["epochs"]]}
    return grid, len(settings["families"]) * len(settings["lambdas"]) * len(settings["seeds"])


# ----------------------------------------------------------------------------- matching and tagging

def matched_values(runs: pd.DataFrame, a: Hashable, b: Hashable, value: str,
                   by: Sequence[str] = PAIR_KEYS,
                   method_col: str = "method") -> tuple[np.ndarray, np.ndarray, int]:
    """``value`` of ``a`` and of ``b`` over the keys ``by`` at which both finished, aligned pair by
    pair (sorted by key), and the number of keys at which only one of them finished."""
    ok = finished(runs)
    by = list(by)
    keys = {m: set(ok.loc[ok[method_col] == m, by].itertuples(index=False, name=None)) for m in (a, b)}
    common = keys[a] & keys[b]
    unmatched = len(keys[a] ^ keys[b])
    if not common:
        return np.array([]), np.array([]), unmatched
    in_common = pd.Series([k in common for k in ok[by].itertuples(index=False, name=None)], index=ok.index)
    subset = ok[in_common & ok[method_col].isin([a, b])]
    values_a, values_b = pair_runs(subset, by, method_col, a, b, value)
    return values_a, values_b, unmatched


def p_floor(test: str, n: int, alternative: str = "two-sided") -> float:
    """The smallest p-value ``test`` can return on ``n`` (non-tied) pairs: 2 * 0.5**n two-sided
    and 0.5**n one-sided for the exact sign and signed-rank tests, 0 for t-type tests, NaN for
    rows that are not tests."""
    if test in (*SIGN_TESTS, "wilcoxon"):
        return min_sign_test_p(n, alternative) if n >= 1 else 1.0
    if test in ("paired_t", "welch_t"):
        return 0.0
    return math.nan


def no_test(label: str, n: int, note: str) -> pd.DataFrame:
    row = dict.fromkeys(COLUMNS, math.nan)
    row.update(comparison=label, test="none", n=n, effect_name="", alternative="", note=note)
    return pd.DataFrame([row], columns=COLUMNS)


def tag(df: pd.DataFrame, **columns) -> pd.DataFrame:
    out = df.assign(**columns)
    if "p_floor" not in out.columns:
        out["p_floor"] = [p_floor(t, int(n), alt or "two-sided")
                          for t, n, alt in zip(out["test"], out["n"], out["alternative"])]
    return out


def mark_roles(tests: pd.DataFrame, deciding: str | None) -> pd.DataFrame:
    """``tests`` with a ``role`` column: "deciding" for the test named ``deciding`` (the one that
    decides the hypothesis), "supporting" for any other test with a p-value, "effect size" for
    rows without one, "no test" when no test could run."""
    role = np.select([tests["test"] == "none", tests["test"] == deciding, tests["p_value"].notna()],
                     ["no test", "deciding", "supporting"], "effect size")
    return tests.assign(role=role)


def holm_floors(p_values: Sequence[float], floors: Sequence[float]) -> np.ndarray:
    """Per test, the smallest Holm-adjusted p it could get: Holm of the family with its own
    p-value set to its floor and the others as they are. A test ranked first gets m * floor
    (m tests), so a floor >= alpha / m can never pass Holm's first step."""
    p, floors = np.asarray(p_values, dtype=float), np.asarray(floors, dtype=float)
    if p.shape != floors.shape or p.ndim != 1:
        raise ValueError(f"p_values and floors must be 1-D of one length, got {p.shape} and {floors.shape}")
    return np.array([holm(np.where(np.arange(p.size) == i, floor, p))[i] for i, floor in enumerate(floors)])


def pairs_to_decide(test: str, alternative: str, alpha: float) -> float:
    """The fewest non-tied pairs with which ``test`` could give p < ``alpha``: for the exact sign
    and signed-rank tests :func:`significance.min_pairs_for_sign_test`; NaN for other tests."""
    if test in (*SIGN_TESTS, "wilcoxon"):
        return float(min_pairs_for_sign_test(alpha, alternative or "two-sided"))
    return math.nan


def holm_over_deciding(tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """``tests`` with ``decidable`` (a deciding test whose floor is below ``alpha``: some outcome
    on its sample could be significant), ``pairs_to_decide`` (:func:`pairs_to_decide`, on deciding
    rows), and over one family, the decidable deciding tests (one per hypothesis): ``p_holm`` and
    ``p_holm_floor`` (:func:`holm_floors`) for the paper's direction, and ``p_holm_against``, Holm
    over the same tests' p-values against it (:func:`claims.against_p`), so that a refutation
    is read under the same multiplicity control as a support. Every other row gets NaN:
    supporting tests are shown with their raw p-values only, and a test that cannot decide would
    only dilute the family."""
    alpha = check_unit_interval("alpha", alpha)
    deciding = (tests["role"] == "deciding") & tests["p_value"].notna()
    decidable = deciding & (tests["p_floor"] < alpha)
    family = decidable.to_numpy()
    needed = [pairs_to_decide(t, side, alpha) if d else math.nan
              for t, side, d in zip(tests["test"], tests["alternative"], deciding)]
    out = tests.assign(decidable=decidable, pairs_to_decide=needed, p_holm=math.nan, p_holm_floor=math.nan,
                       **{HOLM_AGAINST: math.nan})
    if family.any():
        p = tests.loc[family, "p_value"].to_numpy(dtype=float)
        out.loc[family, "p_holm"] = holm(p)
        out.loc[family, "p_holm_floor"] = holm_floors(p, tests.loc[family, "p_floor"].to_numpy(dtype=float))
        out.loc[family, HOLM_AGAINST] = holm([against_p(row) for _, row in tests[family].iterrows()])
    return out


def compare(runs: pd.DataFrame, a: Hashable, b: Hashable, metric: str, label: str, *,
            by: Sequence[str] = PAIR_KEYS, method_col: str = "method", alternative: str = "two-sided",
            confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Paired tests (``alternative`` as in scipy) of ``metric`` for ``a`` vs ``b`` over matched
    finished runs (d = a - b), one row per test, with the metric, the unmatched-key count and
    each test's p floor."""
    values_a, values_b, unmatched = matched_values(runs, a, b, metric, by, method_col)
    if values_a.size < 2:
        out = no_test(label, values_a.size, f"{values_a.size} matched pairs; a paired test needs 2")
    else:
        out = paired_tests(values_a, values_b, alternative, confidence=confidence, n_boot=n_boot, seed=seed,
                           label=label)
    return tag(out, metric=metric, unmatched=unmatched)


def pair_ratios(runs: pd.DataFrame, a: str = "dreg", b: str = "base",
                metrics: Sequence[str] = ("ig_mean", "ig_p99")) -> pd.DataFrame:
    """One row per matched pair (capacity, activation, seed) at which both methods finished:
    value(a) / value(b) of each metric."""
    ok = finished(runs)
    wide = ok[ok["method"].isin([a, b])].pivot(index=list(PAIR_KEYS), columns="method", values=list(metrics))
    wide = wide.dropna()
    return pd.DataFrame({m: wide[(m, a)] / wide[(m, b)] for m in metrics}).reset_index()

# ----------------------------------------------------------------------------- MNIST: the five claims

def relative_reduction(runs: pd.DataFrame, *, confidence: float = 0.95, n_boot: int = 10_000,
                       seed: int = 0) -> pd.DataFrame:
    """Claim 2. Per matched pair r_p99 = 1 - DREG p99 / BASE p99 and r_mean = 1 - DREG mean / BASE
    mean: the exact sign test of r_p99 > r_mean (:func:`stats.relative_reduction_sign_test`),
    and the paired t, Wilcoxon and effect sizes of r_p99 - r_mean, with claim 2's sidedness."""
    side = alternative(RELATIVE)
    dreg_mean, base_mean, unmatched = matched_values(runs, "dreg", "base", "ig_mean")
    dreg_p99, base_p99, _ = matched_values(runs, "dreg", "base", "ig_p99")
    if dreg_mean.size < 2:
        out = no_test(RELATIVE, dreg_mean.size, f"{dreg_mean.size} matched pairs; a paired test needs 2")
    else:
        sign = relative_reduction_sign_test(base_mean, base_p99, dreg_mean, dreg_p99, side,
                                            confidence=confidence, label=RELATIVE)
        rest = paired_tests(1 - dreg_p99 / base_p99, 1 - dreg_mean / base_mean, side, confidence=confidence,
                            n_boot=n_boot, seed=seed, label=RELATIVE)
        rest = rest[rest["test"] != "sign_test"]
        out = pd.concat([rest.iloc[:2], sign, rest.iloc[2:]], ignore_index=True)
    return tag(out, metric="ig_p99, ig_mean", unmatched=unmatched)


def _capacities(runs: pd.DataFrame) -> list[str]:
    return sorted(runs["hidden"].unique(), key=lambda h: (n_parameters(h), h))


def _one_row(label: str, test: str, n: int, statistic: float, p_value: float, effect_name: str,
             note: str, floor: float, side: str, ci: tuple[float, float]) -> pd.DataFrame:
    row = dict.fromkeys(COLUMNS, math.nan)
    row.update(comparison=label, test=test, n=n, statistic=statistic, p_value=p_value, effect=statistic,
               effect_name=effect_name, ci_low=ci[0], ci_high=ci[1], alternative=side, note=note)
    return pd.DataFrame([row], columns=COLUMNS).assign(p_floor=floor)


SEED_MEAN = "seed_mean"  # the test name of a trend's descriptive rows (see capacity_trend)


def capacity_trend(runs: pd.DataFrame, metric: str = "ig_p99_over_mean", *,
                   confidence: float = 0.95) -> pd.DataFrame:
    """Claim 5, first part: Spearman's rho between capacity (parameter count) and ``metric`` over
    the finished BASE runs of all activations and seeds, with claim 5's sidedness and rho's
    interval at ``confidence`` (:func:`intervals.spearman_interval`). p floor: the
    p-value of the best ordering possible given the ties in capacity. Below the test, one
    :data:`SEED_MEAN` row per activation (sorted) and end (smallest, then largest capacity):
    ``activation``, ``capacity``, ``n`` runs and their mean of ``metric`` (``statistic`` and
    ``effect``; NaN where the activation has no run at that capacity)."""
    ok = finished(runs)
    ok = ok[ok["method"] == "base"]
    x = ok["hidden"].map(n_parameters).to_numpy(dtype=float)
    y = ok[metric].to_numpy(dtype=float)
    if np.unique(x).size < 2 or x.size < 3:
        return tag(no_test(TREND, x.size, "needs BASE runs at 2 or more capacities"), metric=metric,
                    unmatched=0)
    caps = _capacities(ok)
    side = alternative(TREND)
    rho, p = sps.spearmanr(x, y, alternative=side)
    floor = float(sps.spearmanr(x, sps.rankdata(x, method="ordinal"), alternative=side).pvalue)
    ci = spearman_interval(float(rho), x.size, confidence)
    test = _one_row(TREND, "spearman", x.size, float(rho), float(p), "Spearman rho (parameters, p99/mean)",
                    "", floor, side, ci)
    return pd.concat([test, _seed_means(ok, metric, [caps[0], caps[-1]])],
                     ignore_index=True).assign(metric=metric, unmatched=0)


def _seed_means(runs: pd.DataFrame, metric: str, capacities: Sequence[str]) -> pd.DataFrame:
    """One :data:`SEED_MEAN` row of the trend per activation of ``runs`` (sorted) and capacity."""
    cells = runs.groupby(["activation", "hidden"])[metric].agg(["mean", "size"])
    rows = []
    for activation in sorted(runs["activation"].unique()):
        for hidden in capacities:
            mean, n = cells.loc[(activation, hidden)] if (activation, hidden) in cells.index else (math.nan, 0)
            row = dict.fromkeys(COLUMNS, math.nan)
            row.update(comparison=TREND, test=SEED_MEAN, n=int(n), statistic=mean, effect=mean,
                       effect_name=f"seed mean of {metric}", alternative="", note="", p_floor=math.nan,
                       activation=activation, capacity=hidden)
            rows.append(row)
    return pd.DataFrame(rows)


def capacity_welch(runs: pd.DataFrame, metric: str = "ig_p99_over_mean", *,
                   confidence: float = 0.95) -> pd.DataFrame:
    """Claim 5, second part. Per capacity: Welch's t-test of ``metric``, DREG vs BASE, over the
    finished runs of both activations and all seeds (effect mean(DREG) - mean(BASE)), with claim
    5's sidedness."""
    ok = finished(runs)
    if ok.empty:
        return tag(no_test(WELCH, 0, "no finished runs"), metric=metric,
                    capacity="", unmatched=0)
    rows = []
    for hidden in _capacities(ok):
        label = f"DREG vs BASE: p99/mean at {hidden}"
        at = ok[ok["hidden"] == hidden]
        dreg = at.loc[at["method"] == "dreg", metric].to_numpy(dtype=float)
        base = at.loc[at["method"] == "base", metric].to_numpy(dtype=float)
        if min(dreg.size, base.size) < 2:
            row = no_test(label, dreg.size + base.size, "Welch's test needs 2 runs per group")
        else:
            row = welch_test(dreg, base, alternative(WELCH), confidence=confidence, label=label)
        rows.append(tag(row, metric=metric, capacity=hidden))
    return pd.concat(rows, ignore_index=True).assign(unmatched=0)


def mnist_tests(runs: pd.DataFrame, *, alpha: float = ALPHA, confidence: float = 0.95, n_boot: int = 10_000,
                seed: int = 0) -> pd.DataFrame:
    """Every test behind claims 1-5 on a MNIST runs table, one row per test (``claim`` column),
    each comparison with its claim's sidedness (:func:`claims.alternative`) and each row's
    ``role`` (its comparison's declared deciding test, or supporting); Holm-adjusted p-values
    (``p_holm``) over the deciding tests that can reach ``alpha``, one per hypothesis
    (:func:`holm_over_deciding`)."""
    check_columns(runs, MNIST_COLUMNS, "MNIST")
    kw = dict(confidence=confidence, n_boot=n_boot, seed=seed)
    base = runs[runs["method"] == "base"]
    by_poly = dict(by=("hidden", "seed"), method_col="activation")

    def paired(table: pd.DataFrame, a: str, b: str, metric: str, label: str, **by) -> pd.DataFrame:
        return compare(table, a, b, metric, label, alternative=alternative(label), **by, **kw)

    parts = {
        P99: paired(runs, "dreg", "base", "ig_p99", P99),
        RATIO: paired(runs, "dreg", "base", "ig_p99_over_mean", RATIO),
        ACC: paired(runs, "dreg", "base", "test_acc", ACC),
        RELATIVE: relative_reduction(runs, **kw),
        POLY_P99: paired(base, "poly", "relu", "ig_p99", POLY_P99, **by_poly),
        POLY_MAX: paired(base, "poly", "relu", "ig_max", POLY_MAX, **by_poly),
        POLY_RATIO: paired(base, "poly", "relu", "ig_p99_over_mean", POLY_RATIO, **by_poly),
        SN_ACC: paired(runs, "dreg", "sn", "test_acc", SN_ACC),
        SN_P99: paired(runs, "dreg", "sn", "ig_p99", SN_P99),
        TREND: capacity_trend(runs, confidence=confidence),
        WELCH: capacity_welch(runs, confidence=confidence),
    }
    tests = pd.concat([mark_roles(df, COMPARISONS[key].deciding).assign(claim=COMPARISONS[key].claim)
                       for key, df in parts.items()], ignore_index=True)
    first = ["claim", "comparison", "metric", "test", "role", "n", "statistic", "p_value"]
    tests = tests[first + [c for c in tests.columns if c not in first]]
    return holm_over_deciding(tests, alpha)


def designs(tests: pd.DataFrame) -> pd.DataFrame:
    """The paired designs: matched pairs ours against the paper's, unmatched keys, and the
    smallest sign-test p each number of pairs allows, with the claim's sidedness."""
    rows = []
    for name, claim in (("DREG vs BASE", 1), ("DREG vs SN", 4), ("POLY_BASE vs RELU_BASE", 3)):
        comparison, paper_n, _ = MNIST_CLAIMS[claim].headline
        side = alternative(comparison)
        block = tests[tests["comparison"] == comparison]
        n = int(block["n"].max()) if len(block) else 0
        rows.append({"design": name, "pairs_ours": n, "pairs_paper": paper_n,
                     "unmatched_keys": int(block["unmatched"].max()) if len(block) else 0,
                     "min_sign_p_ours": min_sign_test_p(n, side) if n else math.nan,
                     "min_sign_p_paper": min_sign_test_p(paper_n, side)})
    return pd.DataFrame(rows)
