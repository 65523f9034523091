"""The DREG paper's statistical analysis (Section 6.3, claims 1-5) run on our sweep results.

MNIST (the Table-3 grid of notebook 02). Matched runs share capacity, activation and seed:
DREG vs BASE and DREG vs SN give up to 24 pairs (4 capacities x 2 activations x 3 seeds),
POLY_BASE vs RELU_BASE up to 12 (4 capacities x 3 seeds). Each paired comparison gets the
paired t-test, the Wilcoxon signed-rank test and the exact sign test on d = a - b, plus
Cohen's d_z, the median ratio and a bootstrap CI of mean(d) (:func:`stats.paired_tests`).
Claim 2 adds the exact sign test of r_p99 > r_mean with r = 1 - DREG/BASE; claim 5 a
Spearman test of BASE p99/mean against capacity and a Welch test of p99/mean per capacity.
Holm adjusts all p-values of one analysis as one family (column ``p_holm``).

Each comparison is tested with the sidedness its claim declares in :mod:`dreg_utils.claims`
(one-sided, in the paper's direction), and the verdicts come from there too
(:func:`claims.mnist_verdicts`, the paper's rule "significant when supported by nonparametric
tests at alpha"): holds, partly, does not hold or inconclusive. An exact one-sided sign or
signed-rank test on n pairs cannot go below 0.5**n (0.0625 for 4 pairs).

Synthetic families (notebook 01): lambda = lam vs lambda = 0 over matched (family, seed)
runs, per family and pooled, on the ratio q = value(lam) / value(0) tested against 1; seed
stability compares the across-seed variance of the test MSE with and without DREG.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import claims
from ..claims import (ACC, ALPHA, MNIST_CLAIMS, P99, POLY_MAX, POLY_P99, POLY_RATIO, RATIO, RELATIVE,
                      SIGN_TESTS, SN_ACC, SN_P99, TREND, VERDICTS, WELCH, accuracy_cost, alternative,
                      support)
from ..models import n_parameters
from ..runs import hidden_label
from ..stats import (COLUMNS, add_holm, min_pairs_for_sign_test, min_sign_test_p, pair_runs,
                    paired_tests, relative_reduction_sign_test, welch_test)
from ..settings import StudySettings
from ..validation import check_float, check_int, check_unit_interval

PAIR_KEYS = ("hidden", "activation", "seed")
SYNTHETIC_KEYS = ("family", "seed")
SYNTHETIC_METRICS = ("test_mse", "grad_p90", "grad_p99")
ALL_FAMILIES = "all families"
MNIST_COLUMNS = ("hidden", "activation", "method", "seed", "diverged", "test_acc", "ig_mean", "ig_p99",
                 "ig_max", "ig_p99_over_mean")
SYNTHETIC_COLUMNS = ("family", "lam", "seed", "diverged", *SYNTHETIC_METRICS)
MAIN_TESTS = ("paired_t", "welch_t", "spearman")  # the test whose effect and CI a summary shows

SEED_VARIANCE = "seed variance of test MSE, per family: lambda / lambda=0"



# ----------------------------------------------------------------------------- parameters and inputs

@dataclass(frozen=True)
class StatisticsSettings(StudySettings):
    """The statistical tests (notebook 03) of the MNIST and synthetic sweeps of one profile.

    ``mnist_runs`` / ``synthetic_runs``: a runs.csv to analyse; None = the default location
    under $DREG_RESULTS_DIR (or results/), running the cached sweep when that table is missing."""

    mnist_runs: str | None = None
    synthetic_runs: str | None = None
    synthetic_lam: float = 1e-2  # DREG strength compared with lambda = 0 on the synthetic families
    alpha: float = 0.05
    confidence: float = 0.95
    n_boot: int = 10_000
    bootstrap_seed: int = 0

    PRESETS: ClassVar[dict[str, dict]] = {"smoke": dict(n_boot=2000)}

    def normalise(self, s: dict) -> dict:
        for name in ("mnist_runs", "synthetic_runs"):
            value = s[name]
            if value is None:
                continue
            if not isinstance(value, (str, Path)):
                raise TypeError(f"{name} must be the path of a runs.csv table, or None for the default "
                                f"location, got {value!r}")
            if not Path(value).is_file():
                raise FileNotFoundError(f"{name}={str(value)!r} is not a file; give the runs.csv that a "
                                        f"sweep wrote, or None to use (or create) the default one")
        s["synthetic_lam"] = check_float("synthetic_lam", s["synthetic_lam"], strictly_positive=True)
        for name in ("alpha", "confidence"):
            s[name] = check_unit_interval(name, s[name])
        s["n_boot"] = check_int("n_boot", s["n_boot"], minimum=100)
        s["bootstrap_seed"] = check_int("bootstrap_seed", s["bootstrap_seed"], minimum=0)
        return s


def validate(settings: Mapping) -> StatisticsSettings:
    """The settings checked and completed (see :class:`StatisticsSettings`)."""
    return StatisticsSettings.coerce(settings)


def read_runs(path: str | Path) -> pd.DataFrame:
    """A sweep's runs.csv (``hidden`` kept as text such as "32-16")."""
    return pd.read_csv(path, dtype={"hidden": str})


def _check_columns(runs: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise ValueError(f"the {what} results table lacks the columns {missing}; "
                         f"it has {list(runs.columns)}")


def mnist_grid(settings: dict) -> tuple[dict[str, list], int]:
    """The values each column of the MNIST runs table takes under ``settings``, and its row count."""
    methods = settings["methods"]
    lams = ([0.0] if {"base", "sn"} & set(methods) else []) + (
        [settings["lam"]] if {"dreg", "igp"} & set(methods) else [])
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


def grid_mismatch(runs: pd.DataFrame, grid: dict[str, list], n_runs: int) -> list[str]:
    """How a runs table differs from the expected grid (empty when it matches): per column the
    values it has against those expected, and its row count against ``n_runs``."""
    problems = []
    for col, values in grid.items():
        if col not in runs.columns:
            problems.append(f"no column {col!r}")
            continue
        have, want = set(runs[col].tolist()), set(values)
        if have != want:
            problems.append(f"{col} is {sorted(have, key=str)}, expected {sorted(want, key=str)}")
    if len(runs) != n_runs:
        problems.append(f"{len(runs)} runs, expected {n_runs}")
    return problems


def load_or_run(path: str | Path | None, default_path: str | Path, grid: dict[str, list], n_runs: int,
                run: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, str]:
    """The runs to analyse and a sentence saying where they came from.

    A given ``path`` is read as it is (a grid other than the profile's is reported, not
    refused). Otherwise ``default_path`` is read if it holds exactly the profile's grid, and
    else ``run()`` (the study's cached sweep) produces the table.
    """
    if path is not None:
        runs = read_runs(path)
        problems = grid_mismatch(runs, grid, n_runs)
        extra = f" (not the profile's grid: {'; '.join(problems)})" if problems else ""
        return runs, f"read {path}{extra}"
    default_path = Path(default_path)
    if default_path.is_file():
        runs = read_runs(default_path)
        problems = grid_mismatch(runs, grid, n_runs)
        if not problems:
            return runs, f"read {default_path}"
        reason = f"{default_path} holds another grid ({'; '.join(problems)})"
    else:
        reason = f"{default_path} does not exist"
    return run(), f"ran the cached sweep because {reason}"


# ----------------------------------------------------------------------------- matching and tagging

def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not diverge."""
    return runs[~runs["diverged"].astype(bool)]


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


def _no_test(label: str, n: int, note: str) -> pd.DataFrame:
    row = dict.fromkeys(COLUMNS, math.nan)
    row.update(comparison=label, test="none", n=n, effect_name="", alternative="", note=note)
    return pd.DataFrame([row], columns=COLUMNS)


def _tag(df: pd.DataFrame, **columns) -> pd.DataFrame:
    out = df.assign(**columns)
    if "p_floor" not in out.columns:
        out["p_floor"] = [p_floor(t, int(n), alt or "two-sided")
                          for t, n, alt in zip(out["test"], out["n"], out["alternative"])]
    return out


def compare(runs: pd.DataFrame, a: Hashable, b: Hashable, metric: str, label: str, *,
            by: Sequence[str] = PAIR_KEYS, method_col: str = "method", alternative: str = "two-sided",
            confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Paired tests (``alternative`` as in scipy) of ``metric`` for ``a`` vs ``b`` over matched
    finished runs (d = a - b), one row per test, with the metric, the unmatched-key count and
    each test's p floor."""
    values_a, values_b, unmatched = matched_values(runs, a, b, metric, by, method_col)
    if values_a.size < 2:
        out = _no_test(label, values_a.size, f"{values_a.size} matched pairs; a paired test needs 2")
    else:
        out = paired_tests(values_a, values_b, alternative, confidence=confidence, n_boot=n_boot, seed=seed,
                           label=label)
    return _tag(out, metric=metric, unmatched=unmatched)



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
        out = _no_test(RELATIVE, dreg_mean.size, f"{dreg_mean.size} matched pairs; a paired test needs 2")
    else:
        sign = relative_reduction_sign_test(base_mean, base_p99, dreg_mean, dreg_p99, side,
                                            confidence=confidence, label=RELATIVE)
        rest = paired_tests(1 - dreg_p99 / base_p99, 1 - dreg_mean / base_mean, side, confidence=confidence,
                            n_boot=n_boot, seed=seed, label=RELATIVE)
        rest = rest[rest["test"] != "sign_test"]
        out = pd.concat([rest.iloc[:2], sign, rest.iloc[2:]], ignore_index=True)
    return _tag(out, metric="ig_p99, ig_mean", unmatched=unmatched)


def _capacities(runs: pd.DataFrame) -> list[str]:
    return sorted(runs["hidden"].unique(), key=lambda h: (n_parameters(h), h))


def _one_row(label: str, test: str, n: int, statistic: float, p_value: float, effect_name: str,
             note: str, floor: float, side: str) -> pd.DataFrame:
    row = dict.fromkeys(COLUMNS, math.nan)
    row.update(comparison=label, test=test, n=n, statistic=statistic, p_value=p_value, effect=statistic,
               effect_name=effect_name, alternative=side, note=note)
    return pd.DataFrame([row], columns=COLUMNS).assign(p_floor=floor)


def capacity_trend(runs: pd.DataFrame, metric: str = "ig_p99_over_mean") -> pd.DataFrame:
    """Claim 5, first part: Spearman's rho between capacity (parameter count) and ``metric`` over
    the finished BASE runs of all activations and seeds, with claim 5's sidedness; the note gives each
    activation's seed mean at the smallest and largest capacity. p floor: the p-value of the
    best ordering possible given the ties in capacity."""
    ok = finished(runs)
    ok = ok[ok["method"] == "base"]
    x = ok["hidden"].map(n_parameters).to_numpy(dtype=float)
    y = ok[metric].to_numpy(dtype=float)
    if np.unique(x).size < 2 or x.size < 3:
        return _tag(_no_test(TREND, x.size, "needs BASE runs at 2 or more capacities"), metric=metric,
                    unmatched=0)
    caps = _capacities(ok)
    means = ok.groupby(["activation", "hidden"])[metric].mean()
    note = "; ".join(f"{act.upper()}_BASE {means[act].get(caps[0], math.nan):.2f} at {caps[0]} -> "
                     f"{means[act].get(caps[-1], math.nan):.2f} at {caps[-1]}"
                     for act in sorted(ok["activation"].unique()))
    side = alternative(TREND)
    rho, p = sps.spearmanr(x, y, alternative=side)
    floor = float(sps.spearmanr(x, sps.rankdata(x, method="ordinal"), alternative=side).pvalue)
    return _one_row(TREND, "spearman", x.size, float(rho), float(p), "Spearman rho (parameters, p99/mean)",
                    note, floor, side).assign(metric=metric, unmatched=0)


def capacity_welch(runs: pd.DataFrame, metric: str = "ig_p99_over_mean", *,
                   confidence: float = 0.95) -> pd.DataFrame:
    """Claim 5, second part. Per capacity: Welch's t-test of ``metric``, DREG vs BASE, over the
    finished runs of both activations and all seeds (effect mean(DREG) - mean(BASE)), with claim
    5's sidedness."""
    ok = finished(runs)
    if ok.empty:
        return _tag(_no_test(WELCH, 0, "no finished runs"), metric=metric,
                    capacity="", unmatched=0)
    rows = []
    for hidden in _capacities(ok):
        label = f"DREG vs BASE: p99/mean at {hidden}"
        at = ok[ok["hidden"] == hidden]
        dreg = at.loc[at["method"] == "dreg", metric].to_numpy(dtype=float)
        base = at.loc[at["method"] == "base", metric].to_numpy(dtype=float)
        if min(dreg.size, base.size) < 2:
            row = _no_test(label, dreg.size + base.size, "Welch's test needs 2 runs per group")
        else:
            row = welch_test(dreg, base, alternative(WELCH), confidence=confidence, label=label)
        rows.append(_tag(row, metric=metric, capacity=hidden))
    return pd.concat(rows, ignore_index=True).assign(unmatched=0)


def mnist_tests(runs: pd.DataFrame, *, confidence: float = 0.95, n_boot: int = 10_000,
                seed: int = 0) -> pd.DataFrame:
    """Every test behind claims 1-5 on a MNIST runs table, one row per test (``claim`` column),
    each comparison with its claim's sidedness (:func:`claims.alternative`), with Holm-adjusted
    p-values (``p_holm``) over the whole family."""
    _check_columns(runs, MNIST_COLUMNS, "MNIST")
    kw = dict(confidence=confidence, n_boot=n_boot, seed=seed)
    base = runs[runs["method"] == "base"]
    by_poly = dict(by=("hidden", "seed"), method_col="activation")

    def paired(table: pd.DataFrame, a: str, b: str, metric: str, label: str, **by) -> pd.DataFrame:
        return compare(table, a, b, metric, label, alternative=alternative(label), **by, **kw)

    parts = [
        (1, paired(runs, "dreg", "base", "ig_p99", P99)),
        (1, paired(runs, "dreg", "base", "ig_p99_over_mean", RATIO)),
        (1, paired(runs, "dreg", "base", "test_acc", ACC)),
        (2, relative_reduction(runs, **kw)),
        (3, paired(base, "poly", "relu", "ig_p99", POLY_P99, **by_poly)),
        (3, paired(base, "poly", "relu", "ig_max", POLY_MAX, **by_poly)),
        (3, paired(base, "poly", "relu", "ig_p99_over_mean", POLY_RATIO, **by_poly)),
        (4, paired(runs, "dreg", "sn", "test_acc", SN_ACC)),
        (4, paired(runs, "dreg", "sn", "ig_p99", SN_P99)),
        (5, capacity_trend(runs)),
        (5, capacity_welch(runs, confidence=confidence)),
    ]
    tests = pd.concat([df.assign(claim=claim) for claim, df in parts], ignore_index=True)
    first = ["claim", "comparison", "metric", "test", "n", "statistic", "p_value"]
    tests = tests[first + [c for c in tests.columns if c not in first]]
    return add_holm(tests)


# ----------------------------------------------------------------------------- verdicts

def _get(tests: pd.DataFrame, comparison: str, test: str | Sequence[str]) -> pd.Series | None:
    names = [test] if isinstance(test, str) else list(test)
    rows = tests[(tests["comparison"] == comparison) & tests["test"].isin(names)]
    return None if rows.empty else rows.iloc[0]


def _p(p: float) -> str:
    return "n/a" if p is None or math.isnan(p) else f"{p:.2g}"


def _pairs_text(tests: pd.DataFrame, comparison: str, what: str, direction: int) -> str:
    """E.g. "p99 lower in 22/24 pairs (sign p = 2.1e-05, Wilcoxon p = 3.6e-06, t p = 1e-08)"."""
    t = _get(tests, comparison, ("paired_t", "none"))
    if t is None or t["test"] == "none":
        return f"{what}: {0 if t is None else int(t['n'])} matched pairs, no test"
    sign, wil = _get(tests, comparison, SIGN_TESTS), _get(tests, comparison, "wilcoxon")
    k = int(sign["statistic"]) if direction > 0 else int(sign["n"] - sign["statistic"])
    return (f"{what} in {k}/{int(t['n'])} pairs (sign p = {_p(sign['p_value'])}, "
            f"Wilcoxon p = {_p(wil['p_value'])}, t p = {_p(t['p_value'])})")


def _claim5_text(tests: pd.DataFrame) -> str:
    block = tests[tests["claim"] == 5]
    trend = _get(tests, TREND, ("spearman", "none"))
    if trend["test"] == "none":
        text = f"BASE p99/mean vs capacity: no test ({trend['note']})"
    else:
        text = (f"BASE p99/mean vs capacity: Spearman rho = {trend['statistic']:.2f}, "
                f"p = {_p(trend['p_value'])} over {int(trend['n'])} runs ({trend['note']})")
    welch = [f"{r.capacity}: {r.mean_a:.2f} vs {r.mean_b:.2f}, p = {_p(r.p_value)}"
             for r in block.itertuples() if r.test == "welch_t"]
    missing = [r.comparison for r in block.itertuples() if r.test == "none" and r.comparison != TREND]
    text += ". DREG vs BASE p99/mean (Welch): " + "; ".join(welch)
    return text + (f". No test for: {', '.join(missing)}" if missing else "")


def ours_text(tests: pd.DataFrame, claim: int, confidence: float = 0.95) -> str:
    """Our statistics for one claim, in a sentence (CIs: paired t at ``confidence``)."""
    level = f"{confidence:.0%} CI"
    if claim == 1:
        cost, low, high = accuracy_cost(tests)
        return (_pairs_text(tests, P99, "p99 lower", -1) + "; "
                + _pairs_text(tests, RATIO, "p99/mean lower", -1)
                + f"; accuracy cost {cost:.2f} points ({level} {low:.2f} to {high:.2f})")
    if claim == 2:
        sign = _get(tests, RELATIVE, "relative_reduction_sign")
        medians = ("" if sign is None else
                   f"; median reduction: p99 {sign['median_rel_reduction_p99']:.0%}, "
                   f"mean {sign['median_rel_reduction_mean']:.0%}")
        return _pairs_text(tests, RELATIVE, "relative p99 reduction > relative mean reduction", +1) + medians
    if claim == 3:
        return "; ".join(_pairs_text(tests, c, f"POLY_BASE {w} above RELU_BASE", +1)
                         for c, w in ((POLY_P99, "p99"), (POLY_MAX, "max"), (POLY_RATIO, "p99/mean")))
    if claim == 4:
        t = _get(tests, SN_ACC, "paired_t")
        gap = ("" if t is None else
               f", mean {t['effect']:+.2f} points ({level} {t['ci_low']:+.2f} to {t['ci_high']:+.2f})")
        return (_pairs_text(tests, SN_ACC, "DREG more accurate than SN", +1) + gap + "; "
                + _pairs_text(tests, SN_P99, "SN p99 below DREG's", +1))
    return _claim5_text(tests)


def sample_size_note(tests: pd.DataFrame, claim: int, alpha: float = ALPHA) -> str:
    """Whether our sample can reach alpha and the paper's reported p-value at all."""
    if claim == 5:
        trend = tests[(tests["claim"] == 5) & (tests["test"] == "spearman")]
        welch = tests[(tests["claim"] == 5) & (tests["test"] == "welch_t")]
        notes = [f"Spearman's test on {int(r.n)} BASE runs cannot go below p = {r.p_floor:.2g} ≥ α"
                 for r in trend.itertuples() if r.p_floor >= alpha]
        if len(welch):
            small, large = claims.PAPER_WELCH_P
            bounds = [small] + [large] * (len(welch) - 1)
            met = sum(p < b for p, b in zip(welch["p_value"], bounds))
            notes.append(f"Welch's t has no discreteness floor; {int(welch['n'].iloc[0])} runs per "
                         f"capacity (DREG + BASE); the paper's p < {small:g} / < {large:g} met at "
                         f"{met}/{len(welch)} capacities")
        return "; ".join(notes)
    comparison, paper_n, bound = MNIST_CLAIMS[claim].headline
    sign = _get(tests, comparison, SIGN_TESTS)
    if sign is None:
        return "no matched pairs"
    n, side = int(sign["n"]), alternative(comparison)
    floor = min_sign_test_p(n, side)
    what = (f"a {'two' if side == 'two-sided' else 'one'}-sided exact sign test on {n} pairs cannot go "
            f"below {'2·' if side == 'two-sided' else ''}0.5^{n} = {floor:.3g}")
    notes = [] if n == paper_n else [f"{n} non-tied pairs (paper: {paper_n})"]
    if floor >= alpha:
        notes.append(f"{what} ≥ α = {alpha:g}, so no outcome could be significant")
    elif floor >= bound:
        notes.append(f"{what}, above the paper's p < {bound:g} (that needs ≥ "
                     f"{min_pairs_for_sign_test(bound, side)} pairs)")
    return "; ".join(notes)


def paper_table3_checks() -> dict[int, str]:
    """What the paper's own Table 3 (seed means per cell) shows for each claim, as counts of cells."""
    capacities = list(claims.TABLE3)
    cells = [(cap, act) for cap in capacities for act in ("RELU", "POLY")]

    def value(cap: tuple, label: str, metric: str) -> float:
        row = claims.TABLE3[cap][label]
        return row[5] if metric == "ratio" else row[claims.TABLE3_COLUMNS.index(metric)][0]

    def cells_where(a: str, b: str, metric: str, acts: Sequence[str] = ("RELU", "POLY")) -> str:
        """How many cells have value(a) < value(b), e.g. "8/8"."""
        chosen = [(cap, act) for cap, act in cells if act in acts]
        k = sum(value(cap, f"{act}_{a}", metric) < value(cap, f"{act}_{b}", metric) for cap, act in chosen)
        return f"{k}/{len(chosen)}"

    def relative(cap: tuple, act: str, metric: str) -> float:
        return 1 - value(cap, f"{act}_DREG", metric) / value(cap, f"{act}_BASE", metric)

    cost = np.mean([value(c, f"{a}_BASE", "test_acc") - value(c, f"{a}_DREG", "test_acc") for c, a in cells])
    selective = sum(relative(c, a, "ig_p99") > relative(c, a, "ig_mean") for c, a in cells)
    poly = {m: sum(value(c, "RELU_BASE", m) < value(c, "POLY_BASE", m) for c in capacities)
            for m in ("ig_p99", "ig_max")}
    rises = ", ".join(f"{a} {value(capacities[0], f'{a}_BASE', 'ratio'):.2f} → "
                      f"{value(capacities[-1], f'{a}_BASE', 'ratio'):.2f}" for a in ("RELU", "POLY"))
    return {
        1: f"p99 lower in {cells_where('DREG', 'BASE', 'ig_p99')} cells, p99/mean lower in "
           f"{cells_where('DREG', 'BASE', 'ratio')}; mean accuracy cost {cost:.2f} points",
        2: f"relative p99 reduction > relative mean reduction in {selective}/{len(cells)} cells",
        3: f"POLY_BASE p99 above RELU_BASE at {poly['ig_p99']}/{len(capacities)} capacities, max above "
           f"at {poly['ig_max']}/{len(capacities)}",
        4: f"DREG more accurate than SN in {cells_where('SN', 'DREG', 'test_acc')} cells (ReLU "
           f"{cells_where('SN', 'DREG', 'test_acc', ['RELU'])}, "
           f"poly {cells_where('SN', 'DREG', 'test_acc', ['POLY'])}); "
           f"SN p99 below DREG in {cells_where('SN', 'DREG', 'ig_p99')}",
        5: f"BASE p99/mean {rises}; DREG p99/mean below BASE in {cells_where('DREG', 'BASE', 'ratio')} cells",
    }


def verdict_table(tests: pd.DataFrame, alpha: float = ALPHA, confidence: float = 0.95) -> pd.DataFrame:
    """One row per claim 1-5: the claim in our words, the paper's statistic, what the paper's own
    Table 3 shows, our statistic, the verdict (:func:`claims.mnist_verdicts`) on raw p-values (the
    paper's rule) and on Holm p-values, and what our sample size can and cannot show."""
    check_unit_interval("alpha", alpha)
    check_unit_interval("confidence", confidence)
    raw, holm = claims.mnist_verdicts(tests, alpha, "p_value"), claims.mnist_verdicts(tests, alpha, "p_holm")
    table3 = paper_table3_checks()
    return pd.DataFrame([{"claim": c, "claim (our words)": claim.wording, "paper": claim.paper_statistic,
                          "paper's Table 3 (seed means)": table3[c], "ours": ours_text(tests, c, confidence),
                          "verdict": raw[c], "verdict after Holm": holm[c],
                          "sample size": sample_size_note(tests, c, alpha)}
                         for c, claim in MNIST_CLAIMS.items()])


def designs(tests: pd.DataFrame) -> pd.DataFrame:
    """The paired designs: matched pairs ours against the paper's, unmatched keys, and the
    smallest sign-test p each number of pairs allows, with the claim's sidedness."""
    rows = []
    for name, claim in (("DREG vs BASE", 1), ("DREG vs SN", 4), ("POLY_BASE vs RELU_BASE", 3)):
        comparison, paper_n, _ = MNIST_CLAIMS[claim].headline
        side = alternative(comparison)
        block = tests[tests["comparison"] == comparison]
        n = int(block["n"].max()) if len(block) else 0
        rows.append({"design": name, "pairs (ours)": n, "pairs (paper)": paper_n,
                     "unmatched keys": int(block["unmatched"].max()) if len(block) else 0,
                     "smallest sign-test p (ours)": min_sign_test_p(n, side) if n else math.nan,
                     "smallest sign-test p (paper)": min_sign_test_p(paper_n, side)})
    return pd.DataFrame(rows)


def summary_view(tests: pd.DataFrame, keys: Sequence[str] = ("claim", "comparison")) -> pd.DataFrame:
    """One row per comparison: n, the main effect (mean difference, difference of means or rho)
    with its CI, the bootstrap CI, d_z, median ratio, and raw and Holm p of each test."""
    rows = []
    for key, block in tests.groupby(list(keys), sort=False):
        by_test = block.set_index("test")

        def get(test: str, col: str) -> float:
            return float(by_test.loc[test, col]) if test in by_test.index else math.nan

        main = next((t for t in MAIN_TESTS if t in by_test.index), None)
        sign = next((t for t in SIGN_TESTS if t in by_test.index), "sign_test")
        n = block["n"].max()
        row = dict(zip(keys, key))
        row.update({"n": n, "effect": get(main, "effect") if main else math.nan,
                    "CI low": get(main, "ci_low") if main else math.nan,
                    "CI high": get(main, "ci_high") if main else math.nan,
                    "bootstrap low": get("bootstrap_mean_diff", "ci_low"),
                    "bootstrap high": get("bootstrap_mean_diff", "ci_high"),
                    "d_z": get("cohen_dz", "effect"), "median ratio": get("median_ratio", "effect"),
                    "p t/Welch/rho": get(main, "p_value") if main else math.nan,
                    "p Wilcoxon": get("wilcoxon", "p_value"), "p sign": get(sign, "p_value"),
                    "Holm t/Welch/rho": get(main, "p_holm") if main else math.nan,
                    "Holm Wilcoxon": get("wilcoxon", "p_holm"), "Holm sign": get(sign, "p_holm")})
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- synthetic families

def _table_lambda(runs: pd.DataFrame, lam: float) -> float:
    """The value in the table's ``lam`` column equal to ``lam`` (up to float rounding)."""
    values = np.asarray(sorted(runs["lam"].unique()), dtype=float)
    close = values[np.isclose(values, lam, rtol=1e-9, atol=0.0)]
    if close.size == 0:
        raise ValueError(f"lambda={lam:g} is not in the synthetic results table; it has {values.tolist()}")
    if not np.isclose(values, 0.0, atol=0.0).any():
        raise ValueError(f"the synthetic results table has no lambda = 0 runs; it has {values.tolist()}")
    return float(close[0])


def ratio_tests(numerator: np.ndarray, denominator: np.ndarray, label: str, *, confidence: float = 0.95,
                n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Paired tests of q = numerator / denominator against 1, i.e. on d = q - 1: the t effect is the
    mean relative change and ``median_ratio`` the median of q (scale-free across families)."""
    if np.any(denominator <= 0):
        raise ValueError(f"{label}: the reference values must be > 0 for a ratio; got {denominator.tolist()}")
    if numerator.size < 2:
        return _no_test(label, numerator.size, f"{numerator.size} matched pairs; a paired test needs 2")
    q = numerator / denominator
    out = paired_tests(q, np.ones_like(q), confidence=confidence, n_boot=n_boot, seed=seed, label=label)
    names = {"paired_t": "mean of q - 1", "bootstrap_mean_diff": "mean of q - 1",
             "wilcoxon": "median of q - 1",
             "sign_test": "share of pairs with q > 1", "cohen_dz": "mean(q - 1) / sd(q - 1)",
             "median_ratio": "median of q"}
    out["effect_name"] = out["test"].map(names)
    return out


def synthetic_tests(runs: pd.DataFrame, lam: float, metrics: Sequence[str] = SYNTHETIC_METRICS, *,
                    confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """lambda = ``lam`` vs lambda = 0 over matched (family, seed) runs, per family and pooled over
    families (``family`` = "all families"): :func:`ratio_tests` of q = value(lam) / value(0)."""
    _check_columns(runs, (*SYNTHETIC_COLUMNS, *metrics), "synthetic")
    lam = _table_lambda(runs, lam)
    parts = []
    for family in [*pd.unique(runs["family"]), ALL_FAMILIES]:
        part = runs if family == ALL_FAMILIES else runs[runs["family"] == family]
        for metric in metrics:
            reg, base, unmatched = matched_values(part, lam, 0.0, metric, SYNTHETIC_KEYS, "lam")
            label = f"lambda={lam:g} / lambda=0: {metric}"
            out = ratio_tests(reg, base, label, confidence=confidence, n_boot=n_boot, seed=seed)
            parts.append(_tag(out, family=family, metric=metric, unmatched=unmatched))
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


def synthetic_analysis(runs: pd.DataFrame, lam: float, *, confidence: float = 0.95, n_boot: int = 10_000,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tests, variances): :func:`synthetic_tests` plus the paired tests over families of the
    variance ratio against 1 (family "all families", metric "test_mse seed variance"), with
    Holm over all their p-values; and the per-family :func:`seed_variance` table."""
    tests = synthetic_tests(runs, lam, confidence=confidence, n_boot=n_boot, seed=seed)
    variances = seed_variance(runs, lam)
    ok = variances.dropna(subset=["variance_ratio"])
    var_tests = ratio_tests(ok["var_dreg"].to_numpy(), ok["var_base"].to_numpy(), SEED_VARIANCE,
                            confidence=confidence, n_boot=n_boot, seed=seed)
    var_tests = _tag(var_tests, family=ALL_FAMILIES, metric="test_mse seed variance",
                     unmatched=len(variances) - len(ok))
    return add_holm(pd.concat([tests, var_tests], ignore_index=True)), variances


def synthetic_readings(tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """The pooled synthetic comparisons in words: pairs, how many went down with DREG, the median
    ratio, the mean relative change with its CI, raw p of each test, and a reading."""
    check_unit_interval("alpha", alpha)
    readings = {"yes": "lower with DREG", "opposite": "higher with DREG", "no": "no significant change",
                "unreachable": f"too few pairs to reach p < {alpha:g}", "missing": "no test"}
    rows = []
    pooled = tests[tests["family"] == ALL_FAMILIES]
    for comparison, block in pooled.groupby("comparison", sort=False):
        by_test = block.set_index("test")
        if "paired_t" not in by_test.index:
            rows.append({"comparison": comparison, "pairs": int(block["n"].max()), "reading": "no test"})
            continue
        t, sign = by_test.loc["paired_t"], by_test.loc["sign_test"]
        status = support(pooled, comparison, -1, alpha)
        rows.append({"comparison": comparison, "pairs": int(t["n"]),
                     "lower with DREG": f"{int(sign['n'] - sign['statistic'])}/{int(t['n'])}",
                     "median ratio": by_test.loc["median_ratio", "effect"],
                     "mean change %": 100 * t["effect"], "CI low %": 100 * t["ci_low"],
                     "CI high %": 100 * t["ci_high"], "p t": t["p_value"],
                     "p Wilcoxon": by_test.loc["wilcoxon", "p_value"], "p sign": sign["p_value"],
                     "Holm min": block["p_holm"].min(), "reading": readings[status]})
    return pd.DataFrame(rows)


def closing_note(verdicts: pd.DataFrame, readings: pd.DataFrame, designs: pd.DataFrame) -> str:
    """Markdown: one bullet per claim (verdict, ours, the paper's, sample-size note), the tally,
    a warning when our designs have fewer pairs than the paper's, and the synthetic readings."""
    lines = []
    for r in verdicts.to_dict("records"):
        note = f" *Sample size:* {r['sample size']}." if r["sample size"] else ""
        lines.append(f"- **Claim {r['claim']}**: {r['claim (our words)']} → **{r['verdict']}** "
                     f"(after Holm: {r['verdict after Holm']}). *Ours:* {r['ours']}. "
                     f"*Paper:* {r['paper']}.{note}")
    tally = verdicts["verdict"].value_counts()
    lines.append("\nTally: " + ", ".join(f"{v} {tally.get(v, 0)}" for v in VERDICTS) + ".")
    short = designs[designs["pairs (ours)"] < designs["pairs (paper)"]].to_dict("records")
    if short:
        lines.append("These designs are smaller than the paper's ("
                     + ", ".join(f"{d['design']}: {d['pairs (ours)']} pairs, paper {d['pairs (paper)']}"
                                 for d in short)
                     + "), so these verdicts say little about the claims themselves.")
    if len(readings):
        lines.append("\nSynthetic families, DREG against λ = 0, pooled over families and seeds:\n")
        for r in readings.to_dict("records"):
            detail = ("" if "median ratio" not in r or pd.isna(r.get("median ratio")) else
                      f" (median ratio {r['median ratio']:.3f}, lower in {r['lower with DREG']} pairs, "
                      f"sign p = {_p(r['p sign'])}, Wilcoxon p = {_p(r['p Wilcoxon'])}, "
                      f"t p = {_p(r['p t'])})")
            lines.append(f"- {r['comparison']}: **{r['reading']}**{detail}")
    return "\n".join(lines)
