"""Issue 24's verdict rules for the statistics chapter: a verdict word follows its definition (an
interval that straddles the null is inconclusive, one on the wrong side does not hold), a test that
cannot reach alpha says what size could, Holm families hold only tests that can decide, and seed
stability is decided by an interval."""
import math

import myst_nb
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from dreg_utils import claims, intervals, significance
from dreg_utils.book import statistics_synthetic_text
from dreg_utils.book import statistics_text as text
from dreg_utils.studies import statistics as study
from dreg_utils.studies import statistics_synthetic as synthetic_stats

CAPACITIES = ("32-16", "64-32")


def runs_with_ratios(dreg_ratio: dict, base_ratio: dict) -> pd.DataFrame:
    """A smoke-sized MNIST runs table (2 capacities x 2 activations x 2 seeds; BASE, DREG, SN)
    whose p99/mean takes the given values per capacity (one per activation and seed, in order)."""
    rows = []
    for hidden in CAPACITIES:
        values = {"base": base_ratio[hidden], "dreg": dreg_ratio[hidden], "sn": base_ratio[hidden]}
        for i, (activation, seed) in enumerate([(a, s) for a in ("relu", "poly") for s in (0, 1)]):
            for method in ("base", "dreg", "sn"):
                ratio = values[method][i]
                rows.append({"hidden": hidden, "activation": activation, "method": method, "seed": seed,
                             "lam": 0.01 if method == "dreg" else 0.0, "diverged": False,
                             "test_acc": 97.0 + 0.1 * i + (0.05 if method == "base" else 0.0), "ig_mean": 1.0,
                             "ig_p99": ratio, "ig_max": 2 * ratio, "ig_p99_over_mean": ratio})
    return pd.DataFrame(rows)


# BASE's p99/mean does not rise with capacity here (the trend is undecided), so claim 5 rests on Welch.
FLAT_BASE = {"32-16": [2.9, 3.4, 2.6, 3.1], "64-32": [3.2, 2.7, 3.3, 2.8]}


def welch_rows(tests: pd.DataFrame) -> pd.DataFrame:
    return tests[(tests["claim"] == 5) & (tests["test"] == "welch_t")]


# ----------------------------------------------------------------------------- the verdict words

def test_a_deciding_interval_that_straddles_zero_is_inconclusive_not_refuted():
    """The smoke build's claim 5: DREG's p99/mean a little lower at both capacities, Welch p ~ 0.4."""
    dreg = {h: [v - 0.1 + 0.01 * i for i, v in enumerate(FLAT_BASE[h])] for h in CAPACITIES}
    tests = study.mnist_tests(runs_with_ratios(dreg, FLAT_BASE), n_boot=200)
    welch = welch_rows(tests)
    assert (welch["effect"] < 0).all() and (welch["p_value"] > 0.3).all()
    assert ((welch["ci_low"] < 0) & (welch["ci_high"] > 0)).all()  # each interval straddles 0
    assert claims.mnist_verdicts(tests)[5] == "inconclusive"  # the old rule said "does not hold"
    statuses = [part.status for part in claims.claim_parts(tests)[5]]
    assert statuses == ["undecided", "undecided", "undecided"]
    parts = text.parts_text(tests, 5)
    assert "DREG p99/mean lower at 32-16: difference -0.09 (95% CI " in parts and ": undecided" in parts


def test_an_interval_on_the_wrong_side_does_not_hold():
    dreg = {h: [v + 1.5 + 0.01 * i for i, v in enumerate(FLAT_BASE[h])] for h in CAPACITIES}
    tests = study.mnist_tests(runs_with_ratios(dreg, FLAT_BASE), n_boot=200)
    welch = welch_rows(tests)
    assert (welch["ci_low"] > 0).all()  # DREG's p99/mean clearly higher: the interval lies above 0
    assert [part.status for part in claims.claim_parts(tests)[5]] == ["undecided", "refuted", "refuted"]
    assert claims.mnist_verdicts(tests)[5] == "does not hold"


@pytest.mark.parametrize("greater, status", [(11, "refuted"), (7, "undecided"), (1, "supported")])
def test_a_sign_test_is_read_from_the_share_of_pairs(greater, status):
    """12 pairs, claimed a < b: 11 of 12 with a > b puts the Clopper-Pearson interval of the share
    above 1/2 (refuted); 7 of 12 straddles it (undecided); 1 of 12 is significant the claimed way."""
    a = np.array([2.0] * greater + [0.5] * (12 - greater)) + 0.01 * np.arange(12)
    tests = significance.paired_tests(a, np.ones(12), "less", label="c", n_boot=200)
    table = study.holm_over_deciding(study.tag(study.mark_roles(tests, "sign_test"), unmatched=0))
    sign = table.set_index("test").loc["sign_test"]
    interval = sps.binomtest(greater, 12).proportion_ci(0.95, method="exact")
    assert (sign["ci_low"], sign["ci_high"]) == pytest.approx((interval.low, interval.high), rel=1e-12)
    assert claims.support(table, "c", -1) == status


def test_a_test_significant_the_other_way_refutes():
    """1 of 8 pairs the claimed way (a > b): the interval of the share (0.3% to 53%) includes 1/2,
    but the sign test run the other way gives P(X <= 1) = 9/256 < alpha."""
    a = np.array([2.0] + [0.5] * 7) + 0.01 * np.arange(8)
    tests = significance.paired_tests(a, np.ones(8), "greater", label="c", n_boot=200)
    table = study.tag(study.mark_roles(tests, "sign_test"), unmatched=0)
    sign = table[table["test"] == "sign_test"].iloc[0]
    assert sign["ci_low"] < 0.5 < sign["ci_high"]
    assert claims.opposite_p(sign) == pytest.approx(9 / 256, rel=1e-12)
    assert claims.support(table, "c", +1) == "refuted"
    t_row = table[table["test"] == "paired_t"].iloc[0]
    assert claims.opposite_p(t_row) == pytest.approx(
        sps.ttest_1samp(a - 1, 0.0, alternative="less").pvalue, rel=1e-12)


def test_the_scorecard_rule_is_the_test_rule(monkeypatch):
    dreg = {h: [v - 0.1 + 0.01 * i for i, v in enumerate(FLAT_BASE[h])] for h in CAPACITIES}
    tests = study.mnist_tests(runs_with_ratios(dreg, FLAT_BASE), n_boot=200)
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    text.glue_verdicts(text.verdict_table(tests), tests, 0.05, "smoke")
    assert glued["sc_mnist_claim5_rule"] == claims.TEST_RULE
    assert "95% CI" in glued["sc_mnist_claim5_ours"] and "95% CI of the share" in glued["sc_mnist_claim1_ours"]


# ----------------------------------------------------------------------------- tests that cannot decide

def test_a_test_that_cannot_reach_alpha_is_inconclusive_and_names_the_size():
    # claim 3 on 4 POLY/RELU pairs, all pointing the paper's way: one-sided floor 0.5**4 = 0.0625
    tests = study.mnist_tests(runs_with_ratios(FLAT_BASE, FLAT_BASE).assign(
        ig_p99=lambda r: r["ig_p99"] * np.where(r["activation"] == "poly", 3.0, 1.0)), n_boot=200)
    sign = tests[(tests["comparison"] == claims.POLY_P99) & (tests["test"] == "sign_test")].iloc[0]
    assert (sign["n"], sign["statistic"], sign["p_value"]) == (4, 4, 0.0625)
    assert claims.support(tests, claims.POLY_P99, +1) == "unreachable"
    assert claims.mnist_verdicts(tests)[3] == "inconclusive"
    # the size that could decide: the smallest n whose floor 0.5**n is below alpha, found by counting
    needed = next(n for n in range(1, 40) if 0.5 ** n < 0.05)
    assert sign["pairs_to_decide"] == needed == 5
    assert f"cannot decide at this size, needs ≥ {needed} pairs" in text.parts_text(tests, 3)
    assert f"(that needs ≥ {needed} pairs)" in text.sample_size_note(tests, 3)


def synthetic_runs(families=("smooth", "piecewise", "sparse", "oscillatory", "entangled"), seeds=(0, 1, 2),
                   spread=None):
    """lambda = 1e-2 halves grad_p90; the test MSE's spread across seeds is ``spread[family]``
    times larger with DREG (1 when not given)."""
    spread = spread or {}
    rows = []
    for f, family in enumerate(families):
        for seed in seeds:
            for lam in (0.0, 1e-2):
                wiggle = 0.01 * (seed - 1) * (1 + 0.1 * f + 0.03 * seed * f) * (spread.get(family, 1.0) if lam else 1)
                rows.append({"family": family, "lam": lam, "seed": seed, "diverged": False,
                             "test_mse": 1.0 + wiggle + (0.002 * (seed + 1) if lam else 0.0),
                             "grad_p90": (1.0 if lam else 2.0) * (1 + 0.01 * seed),
                             "grad_p99": (2.0 if lam else 4.0) * (1 + 0.01 * seed + 0.001 * f)})
    return pd.DataFrame(rows)


def test_the_holm_family_excludes_tests_that_cannot_decide():
    tests, _ = synthetic_stats.synthetic_analysis(synthetic_runs(), 1e-2, n_boot=200)
    per_family = tests[(tests["family"] != synthetic_stats.ALL_FAMILIES) & (tests["role"] == "deciding")]
    gradients = per_family["metric"] != "test_mse"  # one-sided, in the paper's direction (lower)
    assert len(per_family) == 15 and (per_family.loc[gradients, "p_floor"] == 0.125).all()  # 3 seeds: 0.5**3
    assert (per_family.loc[~gradients, "p_floor"] == 0.25).all()  # the test MSE two-sided: 2 * 0.5**3
    assert not per_family["decidable"].any() and per_family["p_holm"].isna().all()
    assert (per_family.loc[gradients, "pairs_to_decide"] == 5).all()  # one-sided: 0.5**5 < 0.05 <= 0.5**4
    assert (per_family.loc[~gradients, "pairs_to_decide"] == 6).all()  # two-sided: 2 * 0.5**6 < 0.05 <= 2 * 0.5**5
    family = tests[tests["p_holm"].notna()]
    assert len(family) == 4 and (family["p_floor"] < 0.05).all()  # 3 pooled sign tests + seed variance t
    # Holm by hand over those four alone
    p = family["p_value"].to_numpy()
    order = np.argsort(p)
    expected = np.empty(4)
    expected[order] = np.minimum(1, np.maximum.accumulate((4 - np.arange(4)) * p[order]))
    assert family["p_holm"].to_numpy() == pytest.approx(expected, rel=1e-12)
    table = statistics_synthetic_text.synthetic_readings(tests)
    smooth = table[(table["scope"] == "smooth")].iloc[0]
    assert smooth["reading"] == "cannot decide at n = 3 (sign test needs ≥ 6)"
    assert smooth["deciding_test"] == "sign: cannot decide (needs ≥ 6 pairs)"
    assert "95% CI" in smooth["change"]  # each family's estimate is shown with its interval


def test_holm_over_deciding_by_hand():
    tests = pd.DataFrame({"test": ["sign_test"] * 3, "role": "deciding", "p_value": [0.01, 0.03, 0.25],
                          "p_floor": [0.001, 0.01, 0.25], "alternative": "two-sided"})
    out = study.holm_over_deciding(tests, 0.05)
    assert out["p_holm"].iloc[:2].tolist() == pytest.approx([0.02, 0.03], rel=1e-12)  # m = 2, not 3
    assert math.isnan(out["p_holm"].iloc[2]) and out["decidable"].tolist() == [True, True, False]
    with pytest.raises(ValueError, match="alpha=2.0 is not valid"):
        study.holm_over_deciding(tests, 2)


# ----------------------------------------------------------------------------- seed stability

@pytest.mark.parametrize("spread, verdict", [
    (10.0, "does not hold"),  # DREG's runs 10x more spread out in every family: variance ratio ~100
    (0.1, "holds"),
    ({"smooth": 10.0, "piecewise": 0.1, "sparse": 5.0, "oscillatory": 0.2, "entangled": 1.0}, "inconclusive")])
def test_seed_stability_verdict(spread, verdict):
    families = ("smooth", "piecewise", "sparse", "oscillatory", "entangled")
    spread = spread if isinstance(spread, dict) else dict.fromkeys(families, spread)
    tests, variances = synthetic_stats.synthetic_analysis(synthetic_runs(spread=spread), 1e-2, n_boot=200)
    stability = synthetic_stats.seed_stability(tests)
    assert stability.verdict == verdict
    # the interval by hand: t over the families' log variance ratios, exponentiated
    logs = np.log(variances["var_dreg"] / variances["var_base"]).to_numpy()
    half = sps.t.ppf(0.975, logs.size - 1) * logs.std(ddof=1) / math.sqrt(logs.size)
    assert (stability.ratio, stability.low, stability.high) == pytest.approx(
        (math.exp(logs.mean()), math.exp(logs.mean() - half), math.exp(logs.mean() + half)), rel=1e-9)
    assert stability.median_ratio == pytest.approx(np.median(np.exp(logs)), rel=1e-12)
    # a sign test over 5 families cannot decide: floor 2 * 0.5**5 = 0.0625; 6 families could
    assert (stability.families, stability.sign_floor, stability.sign_families_needed) == (5, 0.0625, 6)
    ours, details = statistics_synthetic_text.seed_stability_texts(stability)
    assert ours.startswith(f"median ratio {stability.median_ratio:.2f}; geometric mean ") and "95% CI" in ours
    assert "it would need ≥ 6 families" in details
    readings = statistics_synthetic_text.synthetic_readings(tests).set_index("comparison")
    seed_row = readings.loc["seed variance of test MSE, per family: lambda / lambda=0"]
    expected = {"holds": "lower with DREG", "does not hold": "higher with DREG",
                "inconclusive": "no significant change"}[verdict]
    assert seed_row["reading"] == expected and seed_row["deciding_test"] == "t"


def test_seed_stability_glues_its_scorecard_row(monkeypatch):
    tests, _ = synthetic_stats.synthetic_analysis(synthetic_runs(), 1e-2, n_boot=200)
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    stability = synthetic_stats.seed_stability(tests)
    statistics_synthetic_text.glue_seed_stability(stability)
    assert glued["sc_seed_stability_rule"] == statistics_synthetic_text.SEED_STABILITY_RULE
    ours = statistics_synthetic_text.seed_stability_texts(stability)[0]
    assert glued["sc_seed_stability_ours"] == glued["seed_stability_ours"] == ours
    assert glued["seed_stability_verdict"] == stability.verdict
    assert stability.verdict in glued["sc_seed_stability_verdict"].data


def test_seed_stability_without_ratios_is_inconclusive():
    tests, _ = synthetic_stats.synthetic_analysis(synthetic_runs(seeds=(0,)), 1e-2, n_boot=200)
    stability = synthetic_stats.seed_stability(tests)
    assert stability.verdict == "inconclusive" and math.isnan(stability.low)
    with pytest.raises(ValueError, match="no 'test_mse_seed_variance' rows"):
        synthetic_stats.seed_stability(tests[tests["comparison"] != synthetic_stats.SEED_VARIANCE])


# ----------------------------------------------------------------------------- rho's interval

def test_spearman_interval_by_hand_and_its_coverage():
    rho, n = 0.5, 28
    half = sps.norm.ppf(0.975) * math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    assert intervals.spearman_interval(rho, n) == pytest.approx(
        (math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)), rel=1e-12)
    assert all(math.isnan(v) for v in intervals.spearman_interval(0.3, 3))
    # coverage over simulated bivariate normal samples (population Spearman rho = 6/pi asin(r/2))
    rng = np.random.default_rng(0)
    r = 0.6
    truth = 6 / math.pi * math.asin(r / 2)
    cov = [[1, r], [r, 1]]
    hits = 0
    for _ in range(1000):
        x, y = rng.multivariate_normal([0, 0], cov, size=30).T
        low, high = intervals.spearman_interval(float(sps.spearmanr(x, y).statistic), 30)
        hits += low <= truth <= high
    assert 0.93 <= hits / 1000 <= 0.975
    with pytest.raises(ValueError, match="rho=1.5 is not valid"):
        intervals.spearman_interval(1.5, 10)
