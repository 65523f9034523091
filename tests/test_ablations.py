"""The two ablation studies: their variants, configurations and gains on hand-made run tables."""
import numpy as np
import pandas as pd
import pytest

from dreg_utils.book import ablation_text, labels
from dreg_utils.data.regression import in_raw_units, load_dataset
from dreg_utils.intervals import t_interval
from dreg_utils.studies import distillation_ablation as dab
from dreg_utils.studies import synthetic, synthetic_ablation as sab


def test_t_interval_by_hand():
    low, high = t_interval([1.0, 2.0, 3.0], 0.95)  # mean 2, sd 1, t_{2, 0.975} = 4.302653
    assert (low, high) == pytest.approx((2 - 4.302653 / 3 ** 0.5, 2 + 4.302653 / 3 ** 0.5), rel=1e-6)
    assert all(np.isnan(t_interval([1.0])))


def test_synthetic_variants_change_one_factor_and_share_the_baseline():
    s = sab.AblationSettings.from_profile("smoke")
    variants = sab.variants(s)
    assert variants[0][0] == "base"
    base = variants[0][2]
    for factor, value, protocol in variants[1:]:
        assert [k for k in protocol if protocol[k] != base[k]] == [factor] and protocol[factor] == value
    configs = sab.make_configs(s)
    keys = {(c["family"], c["lam"], c["seed"], str(c["hidden"]), c["activation"], c["epochs"],
             c["target_scale"], c["noise"]) for c in configs}
    assert len(keys) == len(configs)  # the lambda variant's lambda = 0 runs are the base's, listed once


def test_synthetic_reductions_and_conclusion_on_hand_made_runs():
    s = sab.AblationSettings.from_profile("smoke", families=["smooth"], activations=[], widths=[],
                                          epoch_counts=[], target_scales=[], noises=[], lams=[])
    rows = [{"family": "smooth", "lam": lam, "seed": seed, "hidden": "16-16", "activation": "relu",
             "epochs": 3, "target_scale": 1.0, "noise": 0.1, "diverged": False,
             "grad_p90": p90, "test_mse": 1.0} for lam, seed, p90 in
            [(0.0, 0, 2.0), (0.0, 1, 4.0), (1e-2, 0, 1.0), (1e-2, 1, 1.0)]]
    table = sab.reductions(pd.DataFrame(rows), s)
    assert table.loc[0, "per_seed_p90_reduction_pct"] == pytest.approx(62.5)  # (50% + 75%) / 2
    assert table.loc[0, "pairs"] == 2 and table.loc[0, "paper_p90_reduction_pct"] == 65.1
    summary = sab.closest(table)
    assert summary.loc[0, "mean_gap_to_paper"] == pytest.approx(2.6)
    assert sab.near_paper(summary)["factor"].tolist() == ["base"]
    assert ablation_text.synthetic_conclusion(summary) == (
        "Closest to the paper: base = - (mean p90 reduction 62.5%, 2.6 points from the paper's per-family numbers "
        "on average, test MSE +0.0%). Within 15 points of the paper at a test MSE at most 5% worse: base = -.")
    assert sab.near_paper(summary, mse_tolerance=-1.0).empty  # the MSE did not fall
    assert ablation_text.synthetic_conclusion(summary, -1.0).endswith(
        "No variant comes within 15 points of the paper's reductions while keeping the test MSE within -1%.")


def test_chapters_01_and_07_name_their_two_p90_estimators_apart():
    """Chapter 07 averages the per-seed reductions, chapter 01 reduces the seed means: on one
    table they differ, so they carry different column names and labels that say which."""
    s = sab.AblationSettings.from_profile("smoke", families=["smooth"], activations=[], widths=[],
                                          epoch_counts=[], target_scales=[], noises=[], lams=[])
    runs = pd.DataFrame([{"family": "smooth", "lam": lam, "seed": seed, "hidden": "16-16", "activation": "relu",
                          "epochs": 3, "target_scale": 1.0, "noise": 0.1, "diverged": False, "grad_p90": p90,
                          "test_mse": mse, **{m: 1.0 for m in synthetic.METRICS if m not in ("grad_p90", "test_mse")}}
                         for lam, seed, p90, mse in [(0.0, 0, 2.0, 1.0), (0.0, 1, 4.0, 3.0),
                                                     (1e-2, 0, 1.0, 2.0), (1e-2, 1, 1.0, 3.0)]])
    per_seed = sab.reductions(runs, s).iloc[0]
    of_means = synthetic.table2(synthetic.summarize(runs), 1e-2).iloc[0]
    assert per_seed["per_seed_p90_reduction_pct"] == pytest.approx((50.0 + 75.0) / 2)
    assert of_means["p90_reduction_pct"] == pytest.approx(100 * (1 - 1.0 / 3.0))  # 1 - mean(1, 1) / mean(2, 4)
    assert per_seed["per_seed_test_mse_change_pct"] == pytest.approx((100.0 + 0.0) / 2)
    assert of_means["test_mse_change_pct"] == pytest.approx(100 * (2.5 / 2.0 - 1))
    assert "p90_reduction_pct" not in per_seed and "test_mse_change_pct" not in per_seed
    assert labels.label("per_seed_p90_reduction_pct", chapter="07_synthetic_ablation") == \
        "mean p90 reduction over seeds %"
    assert labels.label("p90_reduction_pct", chapter="01_synthetic_families") == \
        "p90 reduction of the seed means % (ours)"
    assert labels.label("per_seed_test_mse_change_pct").startswith("mean test MSE change over seeds %")
    assert labels.label("test_mse_change_pct").startswith("test MSE change of the seed means %")


def test_raw_units_undo_the_standardisation_and_keep_r2():
    data = load_dataset("concrete")
    raw = in_raw_units(data)
    assert raw.y_train.mean() == pytest.approx(data.y_mean + data.y_std * data.y_train.mean())
    assert raw.x_train.max() > 100 and raw.x_std.tolist() == [1.0] * raw.x_train.shape[1]


def test_distillation_variants_and_their_configs():
    s = dab.DistillationAblationSettings.from_profile("smoke", variants=["ours", "raw_units", "rough_teacher",
                                                                         "gp_budget", "gp_large", "fidelity"])
    assert dab.protocol(s, "rough_teacher").epochs == s.rough_epochs
    assert (dab.protocol(s, "gp_budget").population_size, dab.protocol(s, "gp_budget").generations) == (1000, 20)
    assert (dab.protocol(s, "gp_large").population_size, dab.protocol(s, "gp_large").generations) == (2000, 20)
    configs = dab.make_variant_configs(s)
    assert {c["variant"] for c in configs} == {"ours", "raw_units", "rough_teacher", "gp_budget", "gp_large"}
    assert all(c["raw_students"] == (c["variant"] == "raw_units") for c in configs)


def test_distillation_gains_by_hand():
    s = dab.DistillationAblationSettings.from_profile("smoke", variants=["ours", "fidelity"])
    rows = []
    for seed, (zero, best) in enumerate([(0.2, 0.4), (0.5, 0.5)]):
        rows += [{"variant": "ours", "kind": "distill", "dataset": "concrete", "seed": seed, "lam": 0.0,
                  "gp_val_r2": 0.3, "gp_test_r2": zero, "gp_fidelity_r2": zero, "diverged": False},
                 {"variant": "ours", "kind": "distill", "dataset": "concrete", "seed": seed, "lam": 0.1,
                  "gp_val_r2": 0.4, "gp_test_r2": best, "gp_fidelity_r2": best / 2, "diverged": False}]
    table = dab.gains(pd.DataFrame(rows), s).set_index("variant")
    assert table.loc["ours", "improvement_pct"] == pytest.approx(50.0)  # (+100% and 0%) / 2
    assert table.loc["ours", "improvement_pct_oracle"] == pytest.approx(50.0)  # validation picks the oracle here
    assert table.loc["ours", "paper_improvement_pct"] == 515.0
    assert table.loc["fidelity", "student_r2_base"] == pytest.approx(0.35)
    assert ablation_text.distillation_conclusion(table.reset_index()) == (
        "On concrete, the variant closest to the paper's +515% is ours: +50% with lambda chosen on validation "
        "(95% interval -585% to +685% over 2 seeds; lambda = 0 student R2 0.35; the oracle, best lambda > 0 on "
        "test, an upper bound: +50%); the interval does not exclude zero.")
    no_gain = ablation_text.distillation_conclusion(table.reset_index(), "diabetes")
    assert no_gain == "No variant has a gain on diabetes."
    assert dab.closest(table.reset_index())["variant"] == "ours"
    assert dab.closest(table.reset_index(), "diabetes") is None
    per_seed = dab.seed_gains(pd.DataFrame(rows), "ours")
    assert per_seed["gain"].tolist() == pytest.approx([100.0, 0.0])
    assert ablation_text.seed_spread(per_seed) == ("Over 2 seeds the median gain is +50% against a mean of +50%; "
                                                   "the largest, +100% (seed 0), starts from a lambda = 0 student R2 "
                                                   "of 0.20.")
    with pytest.raises(ValueError, match=r"variant contains \['best'\], which is not valid"):
        dab.seed_gains(pd.DataFrame(rows), "best")


def test_distillation_ablation_chooses_lambda_on_validation():
    """Reproduction: chapter 08 took each seed's best lambda on the test split."""
    s = dab.DistillationAblationSettings.from_profile("smoke", variants=["ours", "fidelity"])
    # seed 0: test prefers 0.1 (+100%), validation 0.5 (+25%); seed 1: validation keeps lambda = 0 (0%)
    grid = {0: [(0.0, 0.5, 0.4), (0.1, 0.4, 0.8), (0.5, 0.6, 0.5)],
            1: [(0.0, 0.7, 0.5), (0.1, 0.6, 0.6), (0.5, 0.5, 0.4)]}
    rows = [{"variant": "ours", "kind": "distill", "dataset": "concrete", "seed": seed, "lam": lam, "gp_val_r2": val,
             "gp_test_r2": test, "gp_fidelity_r2": 1.0 - lam, "diverged": False}
            for seed, students in grid.items() for lam, val, test in students]
    per_seed = dab.seed_gains(pd.DataFrame(rows), "ours")
    assert per_seed["lambda_validation"].tolist() == [0.5, 0.0] and per_seed["lambda_oracle"].tolist() == [0.1, 0.1]
    assert per_seed["gain"].tolist() == pytest.approx([25.0, 0.0])
    assert per_seed["gain_oracle"].tolist() == pytest.approx([100.0, 20.0])
    table = dab.gains(pd.DataFrame(rows), s).set_index("variant")
    assert table.loc["ours", "improvement_pct"] == pytest.approx(12.5)
    assert table.loc["ours", "improvement_pct_oracle"] == pytest.approx(60.0)
    assert table.loc["ours", "student_r2_validation"] == pytest.approx(0.5)  # 0.5 and 0.5
    fidelity = dab.seed_gains(pd.DataFrame(rows), "fidelity")  # the same validation choice, scored on the teacher
    assert fidelity["lambda_validation"].tolist() == [0.5, 0.0] and fidelity["gain"].tolist() == pytest.approx([-50, 0])
    overall = dab.mean_gains(pd.DataFrame(rows), s).set_index("variant")
    assert overall.loc["ours", ["improvement_pct", "improvement_pct_oracle"]].tolist() == pytest.approx([12.5, 60.0])


def test_distillation_mean_gain_averages_datasets_within_each_seed():
    s = dab.DistillationAblationSettings.from_profile("smoke", datasets=["concrete", "diabetes"],
                                                      variants=["ours", "raw_units"])
    rows = []
    # seed 0: concrete +100%, diabetes +50%; seed 1: concrete 0%, diabetes +10%; seed 2 lacks diabetes
    for seed, dataset, zero, best in [(0, "concrete", 0.2, 0.4), (0, "diabetes", 0.2, 0.3), (1, "concrete", 0.5, 0.5),
                                      (1, "diabetes", 0.5, 0.55), (2, "concrete", 0.1, 0.9)]:
        rows += [{"variant": "ours", "kind": "distill", "dataset": dataset, "seed": seed, "lam": lam,
                  "gp_val_r2": val, "gp_test_r2": r2, "diverged": False}
                 for lam, r2, val in ((0.0, zero, 0.5), (0.1, best, 0.6), (0.5, zero / 2, 0.4))]
    table = dab.mean_gains(pd.DataFrame(rows), s).set_index("variant")
    ours = table.loc["ours"]
    assert ours["seeds"] == 2 and ours["datasets"] == 2  # seed 2 did not finish diabetes
    assert ours["improvement_pct"] == pytest.approx((75.0 + 5.0) / 2)
    half = 12.706204736 * np.std([75.0, 5.0], ddof=1) / np.sqrt(2)  # t_{1, 0.975}
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx((40.0 - half, 40.0 + half))
    assert ours["paper_improvement_pct"] == 120.0
    assert np.isnan(table.loc["raw_units", "improvement_pct"])  # no runs
    assert dab.nearest_paper(table.reset_index())["variant"] == "ours"  # raw_units has no gain
    line = ablation_text.mean_conclusion(table.reset_index())
    assert line.startswith("Averaged over 2 dataset(s), the variant closest to the paper's +120% is ours: +40% with "
                           "lambda chosen on validation")
    assert "does not exclude zero" in line and "the oracle, best lambda > 0 on test, an upper bound: +40%" in line


@pytest.mark.parametrize("ci_low, words", [(5.0, "excludes zero."), (-5.0, "does not exclude zero."),
                                           (float("nan"), "does not exclude zero.")])
def test_a_conclusion_says_whether_the_interval_excludes_zero(ci_low, words):
    table = pd.DataFrame({"variant": ["ours", "raw_units"], "dataset": "concrete", "datasets": 1, "seeds": 3,
                          "student_r2_base": 0.5, "improvement_pct": [40.0, np.nan], "ci_low": [ci_low, 1.0],
                          "ci_high": 75.0, "improvement_pct_oracle": [60.0, np.nan], "paper_improvement_pct": 515.0})
    assert ablation_text.distillation_conclusion(table).endswith(
        f"; lambda = 0 student R2 0.50; the oracle, best lambda > 0 on test, an upper bound: +60%); "
        f"the interval {words}")
    assert ablation_text.mean_conclusion(table).startswith("Averaged over 1 dataset(s), the variant closest to the "
                                                           "paper's +515% is ours: +40% with lambda chosen on "
                                                           "validation (95% interval")
    assert ablation_text.mean_conclusion(table).endswith(f"over 3 seeds; the oracle, best lambda > 0 on test, an upper "
                                                         f"bound: +60%); the interval {words}")


def test_ablation_figures_draw_one_panel_per_family_or_dataset():
    import matplotlib

    matplotlib.use("Agg")
    from dreg_utils.book import ablation_figures

    synthetic = pd.DataFrame({"factor": ["base", "lam", "base", "lam"], "value": ["-", "0.1", "-", "0.1"],
                              "family": ["smooth", "smooth", "sparse", "sparse"],
                              "per_seed_p90_reduction_pct": [5.0, 40.0, 3.0, 50.0], "ci_low": [1.0, 30.0, np.nan, 45.0],
                              "ci_high": [9.0, 50.0, np.nan, 55.0], "paper_p90_reduction_pct": [65.1, 65.1, 88.2, 88.2]})
    fig = ablation_figures.ablation_figure(synthetic)
    assert [ax.get_title() for ax in fig.axes] == ["smooth", "sparse"]
    distill = pd.DataFrame({"variant": ["ours", "raw_units"], "dataset": ["concrete"] * 2,
                            "improvement_pct": [8.0, 2.0], "ci_low": [-1.0, -5.0], "ci_high": [17.0, 9.0],
                            "paper_improvement_pct": [515.0, 515.0]})
    fig = ablation_figures.distillation_ablation_figure(distill)
    assert fig.axes[0].get_title() == "concrete"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ours", "raw_units"]
