"""Tests of dreg_utils.significance against scipy and against p-values written out by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dreg_utils.runs import pair_runs
from dreg_utils.significance import (
    COLUMNS,
    add_holm,
    bootstrap_mean_ci,
    holm,
    min_pairs_for_sign_test,
    min_sign_test_p,
    paired_tests,
    relative_reduction_sign_test,
    sign_test,
    welch_test,
)


def binom_tail(k, n):
    """P(X >= k) for X ~ Binomial(n, 1/2), written out."""
    return sum(math.comb(n, j) for j in range(k, n + 1)) / 2 ** n


@pytest.fixture
def pairs():
    rng = np.random.default_rng(7)
    b = rng.uniform(1.0, 2.0, size=24)
    a = b - 0.2 + rng.normal(0.0, 0.3, size=24)
    return a, b


def row(df, test):
    return df.set_index("test").loc[test]


# ----------------------------------------------------------------------------- sign test

@pytest.mark.parametrize("k, n", [(24, 24), (0, 24), (10, 12), (2, 12), (9, 12), (11, 12), (7, 10)])
def test_sign_test_two_sided_by_hand(k, n):
    expected = min(1.0, 2 * binom_tail(max(k, n - k), n))
    assert sign_test(k, n) == pytest.approx(expected, rel=1e-12)


def test_sign_test_named_values():
    assert sign_test(24, 24) == pytest.approx(2 * 0.5 ** 24, rel=1e-12)
    assert sign_test(10, 12) == pytest.approx(2 * (66 + 12 + 1) / 4096, rel=1e-12)
    assert sign_test(6, 12) == 1.0


def test_sign_test_one_sided_by_hand():
    assert sign_test(10, 12, "greater") == pytest.approx(binom_tail(10, 12), rel=1e-12)
    assert sign_test(2, 12, "less") == pytest.approx(binom_tail(10, 12), rel=1e-12)
    assert sign_test(24, 24, "greater") == pytest.approx(0.5 ** 24, rel=1e-12)


def test_min_sign_test_p_and_pairs_needed():
    assert min_sign_test_p(24) == pytest.approx(2 * 0.5 ** 24, rel=1e-12)
    assert min_sign_test_p(24, "less") == pytest.approx(0.5 ** 24, rel=1e-12)
    assert min_sign_test_p(1) == 1.0
    assert min_sign_test_p(24) == pytest.approx(sign_test(24, 24), rel=1e-12)
    # the paper's thresholds: two-sided p < 1e-6 needs 21 pairs, p < 1e-7 needs 25 (> 24)
    assert min_pairs_for_sign_test(1e-6) == 21
    assert min_pairs_for_sign_test(1e-7) == 25
    assert min_pairs_for_sign_test(1e-7, "greater") == 24
    assert min_pairs_for_sign_test(0.05) == 6  # 2 * 0.5**5 = 0.0625, 2 * 0.5**6 = 0.03125


@pytest.mark.parametrize("args, message", [((13, 12), "must be <= n"), ((-1, 12), ">= 0"), ((0, 0), ">= 1")])
def test_sign_test_bad_counts(args, message):
    with pytest.raises(ValueError, match=message):
        sign_test(*args)


def test_sign_test_bad_alternative():
    with pytest.raises(ValueError, match="alternative"):
        sign_test(3, 5, "bigger")


# ----------------------------------------------------------------------------- paired tests

def test_paired_tests_shape_and_columns(pairs):
    df = paired_tests(*pairs, label="p99 DREG vs BASE")
    assert list(df.columns) == COLUMNS
    assert list(df["test"]) == ["paired_t", "wilcoxon", "sign_test", "cohen_dz", "median_ratio",
                                "bootstrap_mean_diff"]
    assert (df["comparison"] == "p99 DREG vs BASE").all()


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_paired_tests_match_scipy(pairs, alternative):
    a, b = pairs
    df = paired_tests(a, b, alternative, n_boot=200)
    t = sps.ttest_rel(a, b, alternative=alternative)
    assert row(df, "paired_t")["statistic"] == pytest.approx(t.statistic, rel=1e-12)
    assert row(df, "paired_t")["p_value"] == pytest.approx(t.pvalue, rel=1e-12)
    w = sps.wilcoxon(a, b, alternative=alternative)
    assert row(df, "wilcoxon")["statistic"] == pytest.approx(w.statistic)
    assert row(df, "wilcoxon")["p_value"] == pytest.approx(w.pvalue, rel=1e-12)
    k = int(np.sum(a > b))
    s = sps.binomtest(k, 24, 0.5, alternative=alternative)
    assert row(df, "sign_test")["statistic"] == k
    assert row(df, "sign_test")["p_value"] == pytest.approx(s.pvalue, rel=1e-12)
    assert (df["alternative"].iloc[:3] == alternative).all()


def test_mean_difference_t_ci_matches_scipy_and_hand(pairs):
    a, b = pairs
    r = row(paired_tests(a, b, confidence=0.9, n_boot=200), "paired_t")
    ci = sps.ttest_rel(a, b).confidence_interval(0.9)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    d = a - b
    half = sps.t.ppf(0.95, 23) * d.std(ddof=1) / math.sqrt(24)
    assert r["effect"] == pytest.approx(d.mean(), rel=1e-12)
    assert r["ci_low"] == pytest.approx(d.mean() - half, rel=1e-10)


def test_small_case_by_hand():
    a = np.array([3.0, 4.0, 6.0, 10.0])
    b = np.array([2.0, 2.0, 3.0, 4.0])  # d = 1, 2, 3, 6
    df = paired_tests(a, b, n_boot=500)
    sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 3)  # sqrt(14/3)
    assert row(df, "paired_t")["statistic"] == pytest.approx(3 / (sd / 2), rel=1e-12)
    assert row(df, "cohen_dz")["effect"] == pytest.approx(3 / sd, rel=1e-12)
    assert row(df, "median_ratio")["effect"] == pytest.approx(np.median([1.5, 2.0, 2.0, 2.5]))
    # exact Wilcoxon, all 4 differences positive and distinct: P = 2 / 2**4
    assert row(df, "wilcoxon")["p_value"] == pytest.approx(2 / 16, rel=1e-12)
    assert row(df, "wilcoxon")["statistic"] == 0.0
    assert row(df, "wilcoxon")["note"].startswith("exact")
    assert row(df, "sign_test")["p_value"] == pytest.approx(2 * 0.5 ** 4, rel=1e-12)
    assert row(df, "sign_test")["effect"] == 1.0


def test_24_of_24_pairs():
    b = np.linspace(2.0, 5.0, 24)
    a = b - np.linspace(0.1, 1.0, 24)  # a < b in every pair, distinct differences
    df = paired_tests(a, b, n_boot=200)
    assert row(df, "sign_test")["p_value"] == pytest.approx(2 * 0.5 ** 24, rel=1e-12)
    assert row(df, "wilcoxon")["p_value"] == pytest.approx(2 * 0.5 ** 24, rel=1e-12)
    assert "a<b: 24, a>b: 0, ties dropped: 0" in row(df, "sign_test")["note"]


def test_sign_test_drops_ties_and_wilcoxon_handles_zeros():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    b = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 8.0])  # d: 0, 1..5, -2, 0
    df = paired_tests(a, b, n_boot=200)
    s = row(df, "sign_test")
    assert s["n"] == 6 and s["statistic"] == 5
    assert s["p_value"] == pytest.approx(2 * binom_tail(5, 6), rel=1e-12)
    assert "ties dropped: 2" in s["note"]
    w = row(df, "wilcoxon")
    assert w["n"] == 6
    assert w["p_value"] == pytest.approx(sps.wilcoxon(a, b).pvalue, rel=1e-12)
    assert "2 zero differences dropped" in w["note"]


def test_wilcoxon_ties_large_n_matches_scipy_auto():
    rng = np.random.default_rng(3)
    d = np.round(rng.normal(0.3, 1.0, size=30), 1)  # rounding creates ties
    w = row(paired_tests(d, np.zeros(30), n_boot=100), "wilcoxon")
    assert w["p_value"] == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-12)
    assert "normal approximation" in w["note"]


@pytest.mark.filterwarnings("error")
def test_all_differences_zero_is_graceful():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    df = paired_tests(x, x.copy(), n_boot=200)
    for test in ("paired_t", "wilcoxon", "sign_test"):
        assert row(df, test)["p_value"] == 1.0
        assert "zero" in row(df, test)["note"] or "tied" in row(df, test)["note"]
    assert "undefined" in row(df, "wilcoxon")["note"]
    assert np.isnan(row(df, "cohen_dz")["effect"])


@pytest.mark.filterwarnings("error")
def test_constant_nonzero_differences_do_not_crash():
    a = np.array([2.0, 3.0, 4.0])
    df = paired_tests(a, a - 1.0, n_boot=200)
    assert np.isnan(row(df, "paired_t")["p_value"])
    assert "undefined" in row(df, "paired_t")["note"]
    assert row(df, "sign_test")["p_value"] == pytest.approx(2 * 0.5 ** 3)


def test_median_ratio_with_zero_denominator():
    r = row(paired_tests([1.0, 2.0], [0.0, 1.0], n_boot=50), "median_ratio")
    assert np.isnan(r["effect"]) and "0" in r["note"]


# ----------------------------------------------------------------------------- bootstrap

def test_bootstrap_ci_contains_mean_and_is_deterministic(pairs):
    a, b = pairs
    d = a - b
    r1 = row(paired_tests(a, b, n_boot=2000, seed=11), "bootstrap_mean_diff")
    r2 = row(paired_tests(a, b, n_boot=2000, seed=11), "bootstrap_mean_diff")
    r3 = row(paired_tests(a, b, n_boot=2000, seed=12), "bootstrap_mean_diff")
    assert r1["ci_low"] < d.mean() < r1["ci_high"]
    assert r1["effect"] == pytest.approx(d.mean())
    assert (r1["ci_low"], r1["ci_high"]) == (r2["ci_low"], r2["ci_high"])
    assert (r1["ci_low"], r1["ci_high"]) != (r3["ci_low"], r3["ci_high"])
    assert "n_boot=2000, seed=11" in r1["note"]


def test_bootstrap_ci_by_hand_resampling():
    d = np.array([0.5, -1.0, 2.0, 1.5, 0.0])
    rng = np.random.default_rng(5)
    means = d[rng.integers(0, 5, size=(300, 5))].mean(axis=1)
    expected = np.quantile(means, [0.025, 0.975])
    assert bootstrap_mean_ci(d, 0.95, 300, 5) == pytest.approx(tuple(expected))
    low, high = bootstrap_mean_ci(d, 0.5, 300, 5)
    assert expected[0] <= low <= high <= expected[1]


def test_bootstrap_constant_differences():
    assert bootstrap_mean_ci([2.0, 2.0, 2.0], n_boot=100) == (2.0, 2.0)


# ----------------------------------------------------------------------------- input errors

@pytest.mark.parametrize("a, b, message", [
    ([1.0, 2.0, 3.0], [1.0, 2.0], "same length.*a has 3, b has 2"),
    ([1.0], [2.0], "at least 2 pairs, got 1"),
    ([], [], "a is empty"),
    ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], r"a contains non-finite values \(NaN or inf\) at positions \[1\]"),
    ([1.0, 2.0, 3.0], [1.0, np.inf, 3.0], r"b contains non-finite.*\[1\]"),
    ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0], "a must be 1-D"),
    (1.0, [1.0, 2.0], "a must be a 1-D sequence"),
    (["x", "y"], [1.0, 2.0], "a must contain real numbers"),
])
def test_paired_tests_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_tests(a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"alternative": "one-sided"}, "alternative='one-sided' is not valid"),
    ({"confidence": 1.0}, "confidence"),
    ({"confidence": 0.0}, "confidence"),
    ({"n_boot": 0}, "n_boot"),
    ({"seed": -1}, "seed"),
])
def test_paired_tests_bad_options(pairs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_tests(*pairs, **kwargs)


# ----------------------------------------------------------------------------- Welch

@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_welch_matches_scipy(alternative):
    a, b = [17.8, 17.5, 18.1], [13.9, 13.6, 14.0, 13.8]
    r = welch_test(a, b, alternative).iloc[0]
    ref = sps.ttest_ind(a, b, equal_var=False, alternative=alternative)
    assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert r["df"] == pytest.approx(ref.df, rel=1e-12)
    assert r["n_a"] == 3 and r["n_b"] == 4 and r["n"] == 7


def test_welch_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 7.0])
    r = welch_test(a, b).iloc[0]
    va, vb = 1.0 / 3, (7 / 3) / 3  # var(a)=1, var(b)=7/3 (ddof=1), divided by n
    se = math.sqrt(va + vb)
    df = se ** 4 / (va ** 2 / 2 + vb ** 2 / 2)
    assert r["mean_a"] == 2.0 and r["mean_b"] == pytest.approx(16 / 3)
    assert r["effect"] == pytest.approx(2.0 - 16 / 3)
    assert r["statistic"] == pytest.approx((2.0 - 16 / 3) / se, rel=1e-12)
    assert r["df"] == pytest.approx(df, rel=1e-12)
    assert r["p_value"] == pytest.approx(2 * sps.t.sf(abs(r["statistic"]), df), rel=1e-10)
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


@pytest.mark.filterwarnings("error")
def test_welch_constant_groups():
    same = welch_test([1.0, 1.0], [1.0, 1.0]).iloc[0]
    assert same["p_value"] == 1.0 and "constant" in same["note"]
    differ = welch_test([1.0, 1.0], [2.0, 2.0]).iloc[0]
    assert np.isnan(differ["p_value"]) and differ["effect"] == -1.0


def test_welch_bad_input():
    with pytest.raises(ValueError, match="at least 2 values in each group; b has 1"):
        welch_test([1.0, 2.0], [3.0])
    with pytest.raises(ValueError, match="a contains non-finite"):
        welch_test([1.0, np.nan], [3.0, 4.0])


# ----------------------------------------------------------------------------- claim 2: relative reductions

def test_relative_reduction_all_pairs():
    base_mean, base_p99 = np.full(24, 0.17), np.full(24, 3.0)
    treat_mean, treat_p99 = np.full(24, 0.12), np.full(24, 1.7)  # p99 -43%, mean -29%
    two = relative_reduction_sign_test(base_mean, base_p99, treat_mean, treat_p99).iloc[0]
    assert two["statistic"] == 24 and two["n"] == 24
    assert two["p_value"] == pytest.approx(2 * 0.5 ** 24, rel=1e-12)
    one = relative_reduction_sign_test(base_mean, base_p99, treat_mean, treat_p99, "greater").iloc[0]
    assert one["p_value"] == pytest.approx(0.5 ** 24, rel=1e-12)
    assert one["median_rel_reduction_p99"] == pytest.approx(1 - 1.7 / 3.0)
    assert one["median_rel_reduction_mean"] == pytest.approx(1 - 0.12 / 0.17)


def test_relative_reduction_counts_and_ties_by_hand():
    base_mean = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    base_p99 = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    treat_mean = np.array([0.5, 0.9, 0.8, 0.5, 1.0, 1.0])
    treat_p99 = np.array([2.0, 5.0, 9.0, 5.0, 4.0, 8.0])
    # r_p99: .8 .5 .1 .5 .6 .2 ; r_mean: .5 .1 .2 .5 .5 0 -> success, success, fail, tie, success, success
    r = relative_reduction_sign_test(base_mean, base_p99, treat_mean, treat_p99).iloc[0]
    assert r["n"] == 5 and r["statistic"] == 4
    assert r["p_value"] == pytest.approx(2 * binom_tail(4, 5), rel=1e-12)
    assert "ties dropped: 1" in r["note"]
    # a success is exactly "p99/mean went down"
    assert np.sum(treat_p99 / treat_mean < base_p99 / base_mean) == 4


def test_relative_reduction_bad_input():
    ok = np.ones(4)
    with pytest.raises(ValueError, match="base_p99 must be > 0.*positions \\[2\\]"):
        relative_reduction_sign_test(ok, np.array([1.0, 1.0, 0.0, 1.0]), ok, ok)
    with pytest.raises(ValueError, match="same length"):
        relative_reduction_sign_test(ok, ok, ok, np.ones(3))
    with pytest.raises(ValueError, match="treat_mean contains non-finite"):
        relative_reduction_sign_test(ok, ok, np.array([1.0, np.nan, 1.0, 1.0]), ok)


# ----------------------------------------------------------------------------- Holm

def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(0.06, 1*0.04)=0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_cap_monotone_and_single():
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.2]) == pytest.approx([0.2])
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=20)
    adj = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    assert np.all(adj >= p) and np.all(adj <= 1)


def test_holm_tied_p_values():
    p = np.array([0.01, 0.01, 0.02])
    # sorted: 3*0.01=0.03, 2*0.01=0.02 -> running max 0.03, 1*0.02 -> 0.03
    assert holm(p) == pytest.approx([0.03, 0.03, 0.03])


@pytest.mark.parametrize("p, message", [([], "empty"), ([0.1, np.nan], "non-finite"),
                                        ([0.1, 1.5], r"\[0, 1\]; positions \[1\]")])
def test_holm_bad_input(p, message):
    with pytest.raises(ValueError, match=message):
        holm(p)


def test_add_holm_families_and_nan_rows(pairs):
    a, b = pairs
    t1 = paired_tests(a, b, label="x", n_boot=100)
    t2 = paired_tests(a, b + 0.1, label="y", n_boot=100)
    both = pd.concat([t1, t2], ignore_index=True)
    out = add_holm(both, by=["test"])
    assert "p_holm" not in both.columns  # input untouched
    for test in ("paired_t", "wilcoxon", "sign_test"):
        sub = out[out["test"] == test]
        assert sub["p_holm"].to_numpy() == pytest.approx(holm(sub["p_value"].to_numpy()))
    assert out.loc[out["p_value"].isna(), "p_holm"].isna().all()
    whole = add_holm(both, out_col="adj")
    has_p = whole["p_value"].notna()
    assert whole.loc[has_p, "adj"].to_numpy() == pytest.approx(holm(whole.loc[has_p, "p_value"]))


def test_add_holm_bad_input(pairs):
    df = paired_tests(*pairs, n_boot=50)
    with pytest.raises(ValueError, match="p_col='p' is not a column"):
        add_holm(df, p_col="p")
    with pytest.raises(ValueError, match=r"by columns \['family'\]"):
        add_holm(df, by=["family"])


# ----------------------------------------------------------------------------- pairing runs

def runs_table():
    rows = []
    value = 0.0
    for seed in (0, 1, 2):
        for hidden in ((32, 16), (128, 64)):
            for activation in ("relu", "poly"):
                for method in ("BASE", "DREG", "SN"):
                    value += 1.0
                    rows.append({"seed": seed, "hidden": hidden, "activation": activation,
                                 "method": method, "p99": value})
    return pd.DataFrame(rows)


KEYS = ["seed", "hidden", "activation"]


def test_pair_runs_aligns_shuffled_rows():
    df = runs_table()
    shuffled = df.sample(frac=1.0, random_state=1)
    a, b, keys = pair_runs(shuffled, KEYS, "method", "DREG", "BASE", "p99", return_keys=True)
    assert len(a) == len(b) == len(keys) == 12
    assert np.all(a - b == 1.0)  # DREG's value is always the BASE value of the same run + 1
    lookup = df.set_index(["seed", "hidden", "activation", "method"])["p99"]
    for i, k in keys.iterrows():
        assert a[i] == lookup[(k.seed, k.hidden, k.activation, "DREG")]
        assert b[i] == lookup[(k.seed, k.hidden, k.activation, "BASE")]
    a2, b2 = pair_runs(df, KEYS, "method", "DREG", "BASE", "p99")
    assert np.array_equal(a, a2) and np.array_equal(b, b2)


def test_pair_runs_list_valued_keys():
    df = runs_table()
    df["hidden"] = df["hidden"].map(list)
    a, b = pair_runs(df, KEYS, "method", "SN", "DREG", "p99")
    assert len(a) == 12 and np.all(a - b == 1.0)


def test_pair_runs_missing_and_duplicate():
    df = runs_table()
    missing = df.drop(index=df.index[(df["method"] == "BASE") & (df["seed"] == 2)][0])
    with pytest.raises(ValueError, match="1 run\\(s\\) of 'DREG' have no matching run of 'BASE'"):
        pair_runs(missing, KEYS, "method", "DREG", "BASE", "p99")
    duplicated = pd.concat([df, df.iloc[[1]]], ignore_index=True)  # row 1 is a DREG run
    with pytest.raises(ValueError, match="method 'DREG' has more than one run"):
        pair_runs(duplicated, KEYS, "method", "DREG", "BASE", "p99")
    with pytest.raises(ValueError, match="method 'DREG' has more than one run.*add the distinguishing column"):
        pair_runs(df, ["seed", "hidden"], "method", "DREG", "BASE", "p99")


def test_pair_runs_bad_arguments():
    df = runs_table()
    with pytest.raises(ValueError, match="a='IGP' is not valid"):
        pair_runs(df, KEYS, "method", "IGP", "BASE", "p99")
    with pytest.raises(ValueError, match="both 'BASE'"):
        pair_runs(df, KEYS, "method", "BASE", "BASE", "p99")
    with pytest.raises(ValueError, match=r"columns \['acc'\] are not in the results table"):
        pair_runs(df, KEYS, "method", "DREG", "BASE", "acc")
    with pytest.raises(ValueError, match="by must be a non-empty list"):
        pair_runs(df, [], "method", "DREG", "BASE", "p99")


def test_pair_runs_feeds_paired_tests():
    a, b = pair_runs(runs_table(), KEYS, "method", "DREG", "BASE", "p99")
    df = paired_tests(a, b, n_boot=100)
    assert row(df, "sign_test")["p_value"] == pytest.approx(2 * 0.5 ** 12, rel=1e-12)
