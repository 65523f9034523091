"""The Section-6.3 analysis on small hand-made results tables whose verdicts are known."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as sps  # noqa: E402

from dreg_utils import claims  # noqa: E402
from dreg_utils.book import statistics_figures
from dreg_utils.studies import statistics as study  # noqa: E402
from dreg_utils.studies import statistics_synthetic as synthetic_stats
from dreg_utils.studies import statistics_inputs as inputs_study
from dreg_utils.book import statistics_notes, statistics_synthetic_text, statistics_tables
from dreg_utils.book import statistics_text as verdict_text
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.statistics import StatisticsSettings
from dreg_utils.studies.synthetic import SyntheticSettings
from dreg_utils.settings import PROFILES

CAPACITIES = ("32-16", "128-64", "256-128", "512-256")
N_BOOT = 200


def mnist_runs(capacities=CAPACITIES, activations=("relu", "poly"), seeds=(0, 1, 2),
               methods=("base", "dreg", "igp", "sn"), dreg_p99=0.45, dreg_mean=0.7, dreg_cost=0.4,
               sn_p99=0.25, sn_cost=1.5):
    """A tidy MNIST runs table shaped like the paper's Table 3: BASE p99/mean rises with capacity,
    POLY_BASE has heavier tails than RELU_BASE, and DREG and SN scale BASE's numbers by the
    given factors (p99, mean) or lower its accuracy by the given points. Each run gets a small
    seeded multiplicative jitter so that no paired difference is constant."""
    rng = np.random.default_rng(0)
    rows = []
    for i, hidden in enumerate(capacities):
        for activation in activations:
            for seed in seeds:
                heavy = 1.3 if activation == "poly" else 1.0
                base = {"ig_mean": 0.15, "ig_p99": 3.0 * (1 + 0.3 * i) * heavy, "ig_max": 8.0 * heavy ** 2,
                        "test_acc": 97.0}
                factors = {"base": (1.0, 1.0, 0.0), "igp": (1.0, 1.0, 0.0),
                           "dreg": (dreg_mean, dreg_p99, dreg_cost), "sn": (0.6, sn_p99, sn_cost)}
                for method in methods:
                    f_mean, f_p99, cost = factors[method]
                    jitter = np.exp(0.02 * rng.standard_normal(3))
                    mean = base["ig_mean"] * f_mean * jitter[0]
                    p99 = base["ig_p99"] * f_p99 * jitter[1]
                    rows.append({"hidden": hidden, "activation": activation, "method": method, "seed": seed,
                                 "lam": 0.01 if method in ("dreg", "igp") else 0.0, "epochs": 8,
                                 "diverged": False,
                                 "test_acc": base["test_acc"] - cost + 0.1 * rng.standard_normal(),
                                 "ig_mean": mean, "ig_p99": p99, "ig_max": base["ig_max"] * f_p99 * jitter[2],
                                 "ig_p99_over_mean": p99 / mean})
    return pd.DataFrame(rows)


def analyse(runs):
    return study.mnist_tests(runs, n_boot=N_BOOT)


def row(tests, comparison, test):
    return tests[(tests["comparison"] == comparison) & (tests["test"] == test)].iloc[0]


@pytest.fixture(scope="module")
def paper_like():
    return analyse(mnist_runs())


# ----------------------------------------------------------------------------- MNIST verdicts

def test_every_claim_holds_on_a_paper_like_table(paper_like):
    verdicts = verdict_text.verdict_table(paper_like)
    assert list(verdicts["claim"]) == [1, 2, 3, 4, 5]
    assert (verdicts["verdict"] == "holds").all()
    assert (verdicts["verdict_holm"] == "holds").all()


def test_paper_design_sizes_and_the_24_of_24_sign_test(paper_like):
    designs = study.designs(paper_like).set_index("design")
    assert designs["pairs_ours"].to_dict() == {"DREG vs BASE": 24, "DREG vs SN": 24,
                                                 "POLY_BASE vs RELU_BASE": 12}
    sign = row(paper_like, verdict_text.P99, "sign_test")
    assert (sign["n"], sign["statistic"]) == (24, 0)  # DREG p99 above BASE in none of 24 pairs
    # one-sided in the paper's direction (claim 1 declares it): P(X <= 0) = 0.5**24
    assert sign["alternative"] == "less"
    assert sign["p_value"] == pytest.approx(0.5 ** 24, rel=1e-12)
    assert sign["p_floor"] == pytest.approx(0.5 ** 24, rel=1e-12)
    assert row(paper_like, verdict_text.POLY_P99, "sign_test")["p_value"] == pytest.approx(0.5 ** 12, rel=1e-12)
    assert designs.loc["POLY_BASE vs RELU_BASE", "min_sign_p_ours"] == pytest.approx(0.5 ** 12)


def test_holm_runs_over_the_deciding_tests_only(paper_like):
    deciding = paper_like[paper_like["role"] == "deciding"]
    # claim 1: p99, p99/mean; 2: relative sign; 3: p99 only; 4: accuracy, p99; 5: trend + 4 Welch
    assert len(deciding) == 2 + 1 + 1 + 2 + (1 + 4) == 11
    assert deciding["comparison"].is_unique  # one deciding test per hypothesis
    assert set(paper_like.loc[paper_like["p_holm"].notna(), "role"]) == {"deciding"}
    supporting = paper_like[paper_like["role"] == "supporting"]
    assert len(supporting) > 20 and supporting["p_value"].notna().all() and supporting["p_holm"].isna().all()
    assert (deciding["p_holm"] >= deciding["p_value"]).all()
    assert (deciding["p_holm_floor"] <= deciding["p_holm"]).all()


def test_holm_factor_equals_the_number_of_deciding_tests(paper_like):
    deciding = paper_like[paper_like["role"] == "deciding"]
    smallest = deciding["p_value"].min()  # first in Holm's order: multiplied by m = 11
    at_min = deciding[deciding["p_value"] == smallest]
    assert at_min["p_holm"].to_numpy() == pytest.approx(11 * smallest, rel=1e-12)


def test_mark_roles_names_the_deciding_test():
    rows = study.compare(mnist_runs(), "dreg", "base", "ig_p99", verdict_text.P99, n_boot=N_BOOT)
    roles = study.mark_roles(rows, "sign_test").set_index("test")["role"]
    assert roles.to_dict() == {"paired_t": "supporting", "wilcoxon": "supporting", "sign_test": "deciding",
                               "cohen_dz": "effect size", "median_ratio": "effect size",
                               "bootstrap_mean_diff": "effect size"}
    assert set(study.mark_roles(rows, None)["role"]) == {"supporting", "effect size"}
    assert list(study.mark_roles(study.no_test("c", 0, "none"), "sign_test")["role"]) == ["no test"]


def test_holm_floors_by_hand():
    # first test at its floor 0.03 ranks first of 2: 2 * 0.03; the second at 0 ranks first: 0
    assert study.holm_floors([0.04, 0.5], [0.03, 0.0]) == pytest.approx([0.06, 0.0], abs=1e-15)
    # 6 pairs (floor 1/64) in a family of 4 tests: 4/64 = 0.0625, out of alpha's reach
    floors = study.holm_floors([1 / 64, 0.5, 0.6, 0.7], [1 / 64, 0.0, 0.0, 0.0])
    assert floors[0] == pytest.approx(0.0625, rel=1e-12)
    with pytest.raises(ValueError, match="1-D of one length"):
        study.holm_floors([0.1, 0.2], [0.0])


def test_six_pairs_hold_raw_and_are_inconclusive_after_holm():
    tests = analyse(mnist_runs(capacities=("32-16",)))  # 6 DREG-BASE pairs: one-sided floor 1/64
    verdicts = verdict_text.verdict_table(tests).set_index("claim")
    assert verdicts.loc[1, "verdict"] == "holds" and verdicts.loc[1, "verdict_holm"] == "inconclusive"
    m = int(tests["p_holm"].notna().sum())
    assert m == 6  # 7 deciding tests; POLY vs RELU's 3 pairs (floor 1/8) cannot decide and stay out
    assert (f"after Holm over the {m} deciding tests that can reach α, no outcome could be significant: "
            f"{verdict_text.P99} p ≥ {5 / 64:.2g}") in verdicts.loc[1, "sample_size"]
    # 6 deciding tests: the Welch p (2.7e-4) ranks first, the sign tests at 1/64 follow with factor 5
    parts = verdicts.loc[1, "parts"]
    assert parts.count(": supported (after Holm: cannot decide at this size)") == 2
    assert "accuracy cost ≤ 1 point: " in parts and parts.endswith(
        ": supported (after Holm: no tail reduction to qualify)")


def test_sample_size_notes_name_the_floors(paper_like):
    notes = verdict_text.verdict_table(paper_like).set_index("claim")["sample_size"]
    # one-sided, 24 pairs reach the paper's p < 1e-6 (claim 1) and its p < 1e-7 (claim 2)
    assert notes[1] == "" and notes[2] == ""
    notes = verdict_text.verdict_table(analyse(mnist_runs(seeds=(0, 1)))).set_index("claim")["sample_size"]
    assert "16 non-tied pairs (paper: 24)" in notes[1]
    assert "one-sided exact sign test on 16 pairs cannot go below 0.5^16 = 1.53e-05" in notes[1]
    assert "needs ≥ 20 pairs" in notes[1]


def test_accuracy_cost_is_base_minus_dreg_by_hand():
    runs = mnist_runs(dreg_cost=3.0)
    tests = analyse(runs)
    base = runs[runs["method"] == "base"].sort_values(["hidden", "activation", "seed"])["test_acc"].to_numpy()
    dreg = runs[runs["method"] == "dreg"].sort_values(["hidden", "activation", "seed"])["test_acc"].to_numpy()
    cost, low, high = claims.accuracy_cost(tests)
    assert cost == pytest.approx(np.mean(base - dreg), abs=1e-12)
    assert low < cost < high
    # the tails still go the paper's way, but 3 points is not a modest cost: its interval lies above 1
    assert [part.status for part in claims.claim_parts(tests)[1]] == ["supported", "supported", "refuted"]
    assert verdict_text.verdict_table(tests).set_index("claim").loc[1, "verdict"] == "partly"


def test_dreg_with_heavier_tails_contradicts_claims_1_and_5():
    tests = analyse(mnist_runs(dreg_p99=1.5))
    # one-sided "less" cannot be significant the other way, but its interval lies above 1/2
    assert claims.support(tests, verdict_text.P99, -1) == "refuted"
    # the modest accuracy cost does not rescue claim 1: it only qualifies a tail reduction
    assert [part.status for part in claims.claim_parts(tests)[1]] == ["refuted", "refuted"]
    verdicts = verdict_text.verdict_table(tests).set_index("claim")["verdict"]
    assert verdicts[1] == "does not hold"
    assert verdicts[5] == "partly"  # BASE still grows heavy-tailed, but DREG no longer lowers p99/mean
    assert verdicts[3] == "holds"  # POLY_BASE vs RELU_BASE does not involve DREG


def test_uniform_shrinkage_is_not_selective():
    # p99 and mean both shrink by 30%: relative reductions are equal up to jitter, no direction.
    tests = analyse(mnist_runs(dreg_p99=0.7, dreg_mean=0.7))
    sign = row(tests, verdict_text.RELATIVE, "relative_reduction_sign")
    assert sign["ci_low"] < 0.5 < sign["ci_high"]  # the share's interval straddles 1/2
    assert claims.support(tests, verdict_text.RELATIVE, +1) == "undecided"
    # no evidence either way: inconclusive, not "does not hold"
    assert verdict_text.verdict_table(tests).set_index("claim").loc[2, "verdict"] == "inconclusive"


def test_a_smoke_sized_design_is_inconclusive_and_says_why():
    tests = analyse(mnist_runs(capacities=("32-16",), seeds=(0, 1)))
    verdicts = verdict_text.verdict_table(tests).set_index("claim")
    assert (verdicts.loc[[1, 2, 3, 4], "verdict"] == "inconclusive").all()
    # claim 5: one capacity gives no trend test, but the Welch test there supports its other part
    assert verdicts.loc[5, "verdict"] == "partly"
    assert "cannot decide at this size, needs ≥ 5 pairs" in verdicts.loc[1, "parts"]
    assert "cannot go below 0.5^4 = 0.0625 ≥ α = 0.05" in verdicts.loc[1, "sample_size"]
    assert "4 non-tied pairs (paper: 24)" in verdicts.loc[1, "sample_size"]
    assert study.designs(tests).set_index("design").loc["POLY_BASE vs RELU_BASE", "pairs_ours"] == 2


def test_a_diverged_run_drops_its_pair():
    runs = mnist_runs()
    first_dreg = runs.index[runs["method"] == "dreg"][0]
    runs.loc[first_dreg, ["diverged", "ig_p99"]] = [True, np.nan]
    tests = analyse(runs)
    assert row(tests, verdict_text.P99, "paired_t")["n"] == 23
    assert row(tests, verdict_text.P99, "paired_t")["unmatched"] == 1
    assert verdict_text.verdict_table(tests).set_index("claim").loc[1, "verdict"] == "holds"


def test_without_sn_runs_claim_4_is_inconclusive():
    tests = analyse(mnist_runs(methods=("base", "dreg")))
    assert row(tests, verdict_text.SN_ACC, "none")["n"] == 0
    verdicts = verdict_text.verdict_table(tests).set_index("claim")["verdict"]
    assert verdicts[4] == "inconclusive" and verdicts[1] == "holds"


def test_claim_5_tests_match_scipy(paper_like):
    runs = mnist_runs()
    at = runs[runs["hidden"] == "128-64"]
    expected = sps.ttest_ind(at.loc[at["method"] == "dreg", "ig_p99_over_mean"],
                             at.loc[at["method"] == "base", "ig_p99_over_mean"], equal_var=False,
                             alternative="less")  # claim 5 is one-sided: DREG lowers p99/mean
    welch = row(paper_like, "DREG vs BASE: p99/mean at 128-64", "welch_t")
    assert welch["p_value"] == pytest.approx(expected.pvalue, rel=1e-10)
    assert (welch["n_a"], welch["n_b"]) == (6, 6)
    base = runs[runs["method"] == "base"]
    rho = sps.spearmanr(base["hidden"].map(CAPACITIES.index), base["ig_p99_over_mean"], alternative="greater")
    trend = row(paper_like, verdict_text.TREND, "spearman")
    assert trend["n"] == 24
    assert (trend["statistic"], trend["p_value"]) == pytest.approx((rho.statistic, rho.pvalue), rel=1e-10)
    # BASE's seed means at the ends of the capacity range: numbers in the tests table, words in the book
    ends = paper_like[paper_like["test"] == study.SEED_MEAN]
    cells = [("poly", "32-16"), ("poly", "512-256"), ("relu", "32-16"), ("relu", "512-256")]
    assert list(zip(ends["activation"], ends["capacity"])) == cells
    expected = [base.loc[(base["activation"] == a) & (base["hidden"] == h), "ig_p99_over_mean"].mean()
                for a, h in cells]
    assert ends["statistic"].tolist() == pytest.approx(expected, rel=1e-12)
    assert (ends["n"] == 3).all() and (ends["role"] == "effect size").all() and ends["p_holm"].isna().all()
    # rho's interval: Fisher's z with the Bonett-Wright variance, by hand
    half = sps.norm.ppf(0.975) * math.sqrt((1 + rho.statistic ** 2 / 2) / (24 - 3))
    assert (trend["ci_low"], trend["ci_high"]) == pytest.approx(
        (math.tanh(math.atanh(rho.statistic) - half), math.tanh(math.atanh(rho.statistic) + half)), rel=1e-12)
    words = verdict_text.ours_text(paper_like, 5)
    assert (f"over 24 runs (POLY_BASE {expected[0]:.2f} at 32-16 -> {expected[1]:.2f} at 512-256; "
            f"RELU_BASE {expected[2]:.2f} at 32-16 -> {expected[3]:.2f} at 512-256)") in words
    welch_rows = paper_like[paper_like["test"] == "welch_t"]
    assert list(welch_rows["capacity"]) == list(CAPACITIES)  # ordered by parameter count, not as text


def test_relative_reduction_counts_by_hand():
    # 8 pairs; DREG cuts p99 by half and the mean by 20% except in pairs 0 and 1, where the mean
    # falls by 60%: the relative p99 reduction is larger in 6 of 8 pairs.
    runs = mnist_runs(capacities=("32-16", "128-64"), activations=("relu", "poly"), seeds=(0, 1),
                      methods=("base", "dreg"))
    base = runs[runs["method"] == "base"].sort_values(["hidden", "activation", "seed"])
    dreg_index = runs[runs["method"] == "dreg"].sort_values(["hidden", "activation", "seed"]).index
    runs.loc[dreg_index, "ig_p99"] = 0.5 * base["ig_p99"].to_numpy()
    runs.loc[dreg_index, "ig_mean"] = base["ig_mean"].to_numpy() * np.array([0.4, 0.4] + [0.8] * 6)
    sign = row(analyse(runs), verdict_text.RELATIVE, "relative_reduction_sign")
    assert (sign["statistic"], sign["n"]) == (6, 8)
    assert sign["p_value"] == pytest.approx((1 + 8 + 28) / 256, rel=1e-12)  # one-sided: P(X >= 6)


def test_paper_table3_checks_count_its_own_cells():
    checks = verdict_text.paper_table3_checks()
    assert checks[1].startswith("p99 lower in 8/8 cells") and "0.43 points" in checks[1]
    # in the paper's Table 3, POLY_SN is more accurate than POLY_DREG at 3 of 4 capacities
    assert "DREG more accurate than SN in 5/8 cells (ReLU 4/4, poly 1/4)" in checks[4]
    assert "RELU 17.79 → 35.60" in checks[5]


def test_summary_view_has_one_row_per_comparison(paper_like):
    view = statistics_tables.summary_view(paper_like)
    assert len(view) == paper_like["comparison"].nunique() == 14
    p99 = view.set_index("comparison").loc[verdict_text.P99]
    assert p99["n"] == 24 and p99["effect"] < 0
    assert p99["deciding_test"] == "sign" and p99["holm_deciding"] >= p99["p_sign"]
    poly_max = view.set_index("comparison").loc[verdict_text.POLY_MAX]
    assert poly_max["deciding_test"] == "none: supporting" and math.isnan(poly_max["holm_deciding"])
    assert p99["bootstrap_low"] < p99["effect"] < p99["bootstrap_high"]
    assert p99["median_ratio"] == pytest.approx(0.45, rel=0.05)


def test_closing_note_lists_every_claim(paper_like):
    verdicts = verdict_text.verdict_table(paper_like)
    note = statistics_notes.closing_note(verdicts, pd.DataFrame(), study.designs(paper_like))
    assert all(f"**Claim {c}**" in note for c in range(1, 6))
    for what in ("after Holm (the scorecard's)", "on raw p-values"):
        assert f"Tally {what}: holds 5, partly 0, does not hold 0, inconclusive 0." in note
    assert "smaller than the paper's" not in note


def test_pair_ratios_and_their_figure():
    runs = mnist_runs()
    ratios = study.pair_ratios(runs)
    assert len(ratios) == 24 and list(ratios.columns) == ["hidden", "activation", "seed", "ig_mean", "ig_p99"]
    assert ratios["ig_p99"].median() == pytest.approx(0.45, rel=0.05)
    assert (ratios["ig_p99"] < ratios["ig_mean"]).all()  # the hand-made DREG is selective
    fig = statistics_figures.pair_ratio_figure(ratios)
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel().startswith("DREG / BASE")
    plt.close(fig)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"lacks the columns \['ig_max'\]"):
        study.mnist_tests(mnist_runs().drop(columns="ig_max"))


# ----------------------------------------------------------------------------- synthetic families

def synthetic_runs(families=("smooth", "sparse"), seeds=(0, 1, 2)):
    """lambda = 1e-2 halves grad_p90 and raises the test MSE by 10% (times a small jitter)."""
    rows = []
    for family in families:
        for seed in seeds:
            for lam, p90, mse in ((0.0, 2.0, 1.0), (1e-2, 1.0, 1.1)):
                jitter = 1 + 0.01 * (seed + 1) * (1 if lam else -1)
                rows.append({"family": family, "lam": lam, "seed": seed, "diverged": False,
                             "test_mse": mse * jitter, "grad_p90": p90 * jitter,
                             "grad_p99": 2 * p90 * jitter})
    return pd.DataFrame(rows)


def test_synthetic_tests_pool_families_and_read_directions():
    tests, variances = synthetic_stats.synthetic_analysis(synthetic_runs(), 1e-2, n_boot=N_BOOT)
    pooled = tests[tests["family"] == synthetic_stats.ALL_FAMILIES]
    pairs = pooled[pooled["test"] == "paired_t"].set_index("metric")["n"]
    assert pairs["test_mse"] == pairs["grad_p90"] == 6
    # the study names each comparison by its key and keeps lambda as a number; the book writes the words
    assert set(tests["comparison"]) == {"test_mse", "grad_p90", "grad_p99", synthetic_stats.SEED_VARIANCE}
    assert (tests["lam"] == 1e-2).all()
    table = statistics_synthetic_text.synthetic_readings(tests)
    # each comparison pooled first (and saying so), then family by family
    assert list(table["scope"]) == ["pooled over 2 families and seeds", "smooth", "sparse"] * 3 + [
        "pooled over 2 families"]
    readings = table[table["scope"].str.startswith("pooled")].set_index("comparison")
    assert list(readings.index) == ["lambda=0.01 / lambda=0: test_mse", "lambda=0.01 / lambda=0: grad_p90",
                                    "lambda=0.01 / lambda=0: grad_p99",
                                    "seed variance of test MSE, per family: lambda / lambda=0"]
    by_family = statistics_synthetic_text.synthetic_by_family(tests)
    assert list(by_family["family"].unique()) == ["smooth", "sparse"]
    assert set(by_family["comparison"]) == set(readings.index[:3])
    p90 = readings.loc["lambda=0.01 / lambda=0: grad_p90"]
    assert p90["reading"] == "lower with DREG" and p90["lower_with_dreg"] == "6/6"
    assert p90["p_sign"] == pytest.approx(0.5 ** 6, rel=1e-12)  # one-sided: DREG lowers the gradients' tail
    assert readings.loc["lambda=0.01 / lambda=0: test_mse", "reading"] == "higher with DREG"
    per_family = tests[(tests["family"] == "smooth") & (tests["test"] == "sign_test")]
    floors = per_family.set_index("metric")["p_floor"]  # 3 seeds: 2 * 0.5**3 two-sided, 0.5**3 one-sided
    assert floors.to_dict() == {"test_mse": 0.25, "grad_p90": 0.125, "grad_p99": 0.125}


def test_synthetic_ratio_effects_by_hand():
    tests, _ = synthetic_stats.synthetic_analysis(synthetic_runs(), 1e-2, n_boot=N_BOOT)
    smooth = tests[(tests["family"] == "smooth") & (tests["metric"] == "grad_p90")].set_index("test")
    ratios = [0.5 * (1 + 0.01 * k) / (1 - 0.01 * k) for k in (1, 2, 3)]
    assert smooth.loc["median_ratio", "effect"] == pytest.approx(np.median(ratios), rel=1e-12)
    assert smooth.loc["paired_t", "effect"] == pytest.approx(np.mean(np.log(ratios)), rel=1e-12)


def test_ratio_tests_take_logs_by_hand():
    # q = [2, 2, 2, 1/2]: log q = ln2 * [1, 1, 1, -1], mean ln2 / 2 (a mean of q - 1 would say +62.5%),
    # sd ln2, so t = (ln2 / 2) / (ln2 / sqrt(4)) = 1 on 3 df: two-sided p = 2/3 - sqrt(3) / (2 pi)
    out = synthetic_stats.ratio_tests(np.array([2.0, 2.0, 2.0, 0.5]), np.ones(4), "q").set_index("test")
    assert out.loc["paired_t", "effect"] == pytest.approx(math.log(2) / 2, rel=1e-12)
    assert out.loc["paired_t", "statistic"] == pytest.approx(1.0, rel=1e-12)
    assert out.loc["paired_t", "p_value"] == pytest.approx(2 / 3 - math.sqrt(3) / (2 * math.pi), rel=1e-9)
    assert out.loc["cohen_dz", "effect"] == pytest.approx(0.5, rel=1e-12)
    assert out.loc["median_ratio", "effect"] == 2.0
    assert out.loc["sign_test", "statistic"] == 3  # q > 1 in 3 of 4 pairs, as before the logs
    with pytest.raises(ValueError, match="a log ratio needs values > 0"):
        synthetic_stats.ratio_tests(np.array([0.0, 1.0]), np.ones(2), "q")


def test_seed_variance_by_hand():
    variances = synthetic_stats.seed_variance(synthetic_runs(), 1e-2).set_index("family")
    base = [1.0 * (1 - 0.01 * k) for k in (1, 2, 3)]
    dreg = [1.1 * (1 + 0.01 * k) for k in (1, 2, 3)]
    assert variances.loc["smooth", "var_base"] == pytest.approx(np.var(base, ddof=1), rel=1e-12)
    ratio = np.var(dreg, ddof=1) / np.var(base, ddof=1)
    assert variances.loc["smooth", "variance_ratio"] == pytest.approx(ratio, rel=1e-12)
    assert variances.loc["smooth", "seeds"] == 3


def test_seed_variance_needs_two_seeds():
    variances = synthetic_stats.seed_variance(synthetic_runs(seeds=(0,)), 1e-2)
    assert variances["variance_ratio"].isna().all()
    tests, _ = synthetic_stats.synthetic_analysis(synthetic_runs(seeds=(0,)), 1e-2, n_boot=N_BOOT)
    assert (tests.loc[tests["metric"] == "test_mse seed variance", "test"] == "none").all()


def test_synthetic_lambda_must_be_in_the_table():
    with pytest.raises(ValueError, match=r"lambda=0.1 is not in the synthetic results table; "
                                         r"it has \[0.0, 0.01\]"):
        synthetic_stats.synthetic_tests(synthetic_runs(), 0.1)


# ----------------------------------------------------------------------------- inputs and parameters

def test_matched_values_keep_only_keys_both_finished():
    runs = mnist_runs(capacities=("32-16",), activations=("relu",), seeds=(0, 1, 2), methods=("base", "dreg"))
    runs = runs.drop(runs.index[(runs["method"] == "dreg") & (runs["seed"] == 2)])
    a, b, unmatched = study.matched_values(runs, "dreg", "base", "ig_p99")
    assert len(a) == len(b) == 2 and unmatched == 1


def test_grid_mismatch_and_load_or_run(tmp_path):
    settings = study.validate(StatisticsSettings.from_profile("smoke"))
    synthetic_settings = SyntheticSettings.from_profile("smoke")
    grid, n_runs = study.synthetic_grid(synthetic_settings)
    runs = pd.DataFrame([{"family": f, "lam": lam, "seed": s, "hidden": "32-32", "activation": "relu",
                          "epochs": 4}
                         for f in synthetic_settings["families"] for lam in synthetic_settings["lambdas"]
                         for s in synthetic_settings["seeds"]])
    assert inputs_study.grid_mismatch(runs, grid, n_runs) == []
    mismatches = inputs_study.grid_mismatch(runs[runs["seed"] == 0].drop(columns="epochs"), grid, n_runs)
    assert mismatches == [inputs_study.Mismatch("seed", [0], [0, 1]), inputs_study.Mismatch("epochs", None, [4]),
                          inputs_study.Mismatch(inputs_study.N_RUNS, n_runs // 2, n_runs)]
    assert [statistics_notes.mismatch_text(m) for m in mismatches] == [
        "seed is [0], expected [0, 1]", "no column 'epochs'", f"{n_runs // 2} runs, expected {n_runs}"]
    calls = []

    def run():
        calls.append(1)
        return runs

    path = tmp_path / "runs.csv"
    _, origin = inputs_study.load_or_run(settings["synthetic_runs"], path, grid, n_runs, run)
    assert calls == [1] and origin == inputs_study.Origin(str(path), ran=True)
    assert statistics_notes.origin_text(origin) == f"ran the cached sweep because {path} does not exist"
    runs.to_csv(path, index=False)
    loaded, origin = inputs_study.load_or_run(None, path, grid, n_runs, run)
    assert calls == [1] and origin == inputs_study.Origin(str(path), ran=False)
    assert loaded["hidden"].iloc[0] == "32-32"
    assert statistics_notes.origin_text(origin) == f"read {path}"
    runs.assign(epochs=9).to_csv(path, index=False)
    _, origin = inputs_study.load_or_run(None, path, grid, n_runs, run)
    assert calls == [1, 1] and origin.ran and origin.mismatches == (inputs_study.Mismatch("epochs", [9], [4]),)
    assert statistics_notes.origin_text(origin) == (f"ran the cached sweep because {path} holds another grid "
                                                "(epochs is [9], expected [4])")
    _, origin = inputs_study.load_or_run(path, tmp_path / "elsewhere.csv", grid, n_runs, run)
    assert calls == [1, 1] and not origin.ran
    assert statistics_notes.origin_text(origin) == f"read {path} (not the profile's grid: epochs is [9], expected [4])"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates_and_matches_the_sweeps(profile):
    settings = study.validate(StatisticsSettings.from_profile(profile))
    assert settings["n_boot"] >= 1000
    grid, n_runs = study.mnist_grid(MNISTSettings.from_profile(profile))
    assert n_runs == math.prod(len(grid[k]) for k in ("hidden", "activation", "method", "seed"))
    assert settings["synthetic_lam"] in SyntheticSettings.from_profile(profile)["lambdas"]


@pytest.mark.parametrize("overrides, error, pattern", [
    (dict(mnist_runs=3), TypeError, r"mnist_runs must be the path of a runs.csv table, or None"),
    (dict(synthetic_runs="no/such.csv"), FileNotFoundError, r"synthetic_runs='no/such.csv' is not a file"),
    (dict(synthetic_lam=0.0), ValueError, r"synthetic_lam=0.0 is not valid; it must be > 0"),
    (dict(alpha=1.0), ValueError, r"alpha=1.0 is not valid; it must be in \(0, 1\)"),
    (dict(confidence=1.5), ValueError, r"confidence=1.5 is not valid; it must be in \(0, 1\)"),
    (dict(n_boot=10), ValueError, r"n_boot=10 is not valid; it must be an integer >= 100"),
    (dict(bootstrap_seed=-1), ValueError, r"bootstrap_seed=-1 is not valid"),
])
def test_bad_parameters(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        study.validate(StatisticsSettings.from_profile("smoke", **overrides))


@pytest.mark.parametrize("test, n, alternative, floor", [
    ("sign_test", 4, "two-sided", 0.125), ("wilcoxon", 4, "less", 0.0625),
    ("relative_reduction_sign", 24, "greater", 0.5 ** 24), ("sign_test", 0, "less", 1.0),
    ("welch_t", 12, "less", 0.0)])
def test_p_floor_follows_the_sidedness(test, n, alternative, floor):
    assert study.p_floor(test, n, alternative) == pytest.approx(floor, rel=1e-12)
    assert math.isnan(study.p_floor("cohen_dz", n, alternative))
