"""Surrogate-optimisation study: objectives and their gradients, cosine, domain exits, parameters."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pandas as pd
import pytest
import torch

from dreg_utils.book import surrogate_figures, surrogate_text
from dreg_utils import optimisation
from dreg_utils.studies import surrogate as study
from dreg_utils.studies import surrogate_verdicts as verdicts
from dreg_utils.threads import single_threaded
from dreg_utils.data.synthetic import target_function
from dreg_utils.studies.surrogate import SurrogateSettings
from dreg_utils.vocabulary import SN_METHODS


@pytest.mark.parametrize("name", ["rosenbrock", "rastrigin"])
def test_analytic_gradient_matches_autograd(name):
    objective = optimisation.make_objective(name)
    x = optimisation.uniform(objective, 64, seed=5)
    assert torch.allclose(objective.gradient(x), optimisation.autograd_gradient(objective.value)(x), atol=1e-9)


def test_rosenbrock_gradient_matches_finite_differences_in_higher_dimension():
    x = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h, eye = 1e-6, torch.eye(4, dtype=torch.float64)
    fd = torch.stack([(optimisation.rosenbrock(x + h * e) - optimisation.rosenbrock(x - h * e)) / (2 * h) for e in eye], dim=1)
    assert torch.allclose(optimisation.rosenbrock_gradient(x), fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, x_star", [("rosenbrock", [1.0, 1.0]), ("rastrigin", [0.0, 0.0])])
def test_known_minimum_has_zero_value_and_gradient(name, x_star):
    objective = optimisation.make_objective(name)
    x = torch.tensor([x_star], dtype=torch.float64)
    assert float(objective.value(x)) == pytest.approx(objective.f_star, abs=1e-12)
    assert torch.allclose(objective.gradient(x), torch.zeros(1, 2, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("family", ["smooth", "piecewise"])
def test_family_reimplementation_matches_the_numpy_generator(family):
    x = np.random.default_rng(1).uniform(-1, 1, size=(32, 5))
    expected = target_function(family, 5, np.random.default_rng(0))(x)
    got = optimisation.family_function(family, 5, seed=0)(torch.as_tensor(x))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_family_gradient_matches_finite_differences():
    objective = optimisation.make_objective("smooth")
    x = optimisation.uniform(objective, 16, seed=3)
    h, eye = 1e-6, torch.eye(5, dtype=torch.float64)
    fd = torch.stack([(objective.value(x + h * e) - objective.value(x - h * e)) / (2 * h) for e in eye], dim=1)
    assert torch.allclose(objective.gradient(x), fd, atol=1e-6)


def test_piecewise_gradient_is_the_sign_vector():
    objective = optimisation.make_objective("piecewise")
    x = optimisation.uniform(objective, 16, seed=3)
    assert set(objective.gradient(x).unique().tolist()) <= {-1.0, 1.0}


def test_cosine_helper():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[3.0, 0.0], [-1.0, -1.0], [1.0, 0.0], [0.0, 5.0]])
    assert torch.allclose(optimisation.cosine(a, b), torch.tensor([1.0, -1.0, 0.0, 0.0]))


def test_domain_exit_and_divergence_detection():
    x = torch.tensor([[0.0, 0.5], [1.0, -1.0], [1.01, 0.0], [0.0, float("nan")], [25.0, 0.0]])
    assert optimisation.outside(x, -1.0, 1.0).tolist() == [False, False, True, True, True]
    assert optimisation.diverged(x, -1.0, 1.0).tolist() == [False, False, False, True, True]


def test_gradient_descent_flags_exits_and_freezes_divergent_starts():
    starts = torch.tensor([[0.5], [0.9]], dtype=torch.float64)
    uphill = optimisation.gradient_descent(lambda x: -x, starts, step=1.0, steps=20, lower=-1.0, upper=1.0)
    assert uphill.left_domain.all() and uphill.diverged.all()
    assert torch.isfinite(uphill.final).all()
    downhill = optimisation.gradient_descent(lambda x: x, starts, step=0.5, steps=20, lower=-1.0, upper=1.0, keep=1)
    assert not downhill.left_domain.any() and torch.allclose(downhill.final, torch.zeros(2, 1, dtype=torch.float64), atol=1e-5)
    assert len(downhill.paths) == 1 and len(downhill.paths[0]) == 21


def test_lbfgs_minimises_a_quadratic_and_detects_an_unbounded_surrogate():
    starts = torch.tensor([[0.5, -0.3]], dtype=torch.float64)
    bowl = optimisation.lbfgs(lambda x: ((x - 0.2) ** 2).sum(dim=1), starts, steps=10, lower=-1.0, upper=1.0)
    assert torch.allclose(bowl.final, torch.full((1, 2), 0.2, dtype=torch.float64), atol=1e-6)
    assert not bowl.left_domain.any()
    ramp = optimisation.lbfgs(lambda x: x.sum(dim=1), starts, steps=10, lower=-1.0, upper=1.0)
    assert ramp.left_domain.all() and (ramp.final < -1.0).all()


def test_normalised_regret_is_zero_at_the_optimum_and_clips_to_the_box():
    objective = optimisation.make_objective("rastrigin")
    x = torch.tensor([[0.0, 0.0], [10.0, 0.0]], dtype=torch.float64)
    regret = study.normalised_regret(objective, x, 0.0, 2.0)
    assert regret[0] == 0.0 and regret[1] == pytest.approx(float(objective.value(torch.tensor([[2.0, 0.0]]))) / 2)


def surrogate(**overrides):
    return study.validate(SurrogateSettings.from_profile("smoke", **overrides))


@pytest.mark.parametrize("overrides, error, pattern", [
    (dict(objectives=["sphere"]), ValueError, r"objectives contains \['sphere'\], which is not valid; choose from"),
    (dict(methods=["dreg", "sn"]), ValueError, r"must include 'base'"),
    (dict(methods=["base", "jacobian"]), ValueError, r"methods contains \['jacobian'\]"),
    (dict(activations=["gelu"]), ValueError, r"activations contains \['gelu'\]"),
    (dict(dreg_lam=-1.0), ValueError, r"dreg_lam=-1.0 is not valid; it must be >= 0"),
    (dict(gd_step=0.0), ValueError, r"gd_step=0.0 is not valid; it must be > 0"),
    (dict(n_starts=0), ValueError, r"n_starts=0 is not valid"),
    (dict(seeds="0"), TypeError, r"seeds must be a non-empty list"),
    (dict(device="tpu"), ValueError, r"device='tpu' is not valid"),
])
def test_bad_parameters(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        surrogate(**overrides)


def test_unknown_objective_name():
    with pytest.raises(ValueError, match=r"objective='ackley' is not valid; choose one of"):
        optimisation.make_objective("ackley")


def test_configs_cover_the_grid_with_each_methods_lambda():
    settings = surrogate()
    configs = study.make_configs(settings)
    assert len(configs) == 2 * len(settings["methods"]) * 2 * 1
    lams = {c["method"]: c["lam"] for c in configs}
    assert lams == {"base": 0.0, "dreg": settings["dreg_lam"], "igp": settings["igp_lam"],
                    **{m: 0.0 for m in SN_METHODS}}


def test_tiny_sweep_end_to_end(tmp_path):
    settings = surrogate(objectives=["rastrigin"], methods=["base", "dreg"], activations=["relu"],
                         epochs=2, n_starts=3, gd_steps=5, lbfgs_steps=3)
    runs, starts, paths = study.run_sweep(settings, tmp_path, progress=False)
    assert len(runs) == 2 and (tmp_path / "starts.csv").exists()
    assert len(starts) == (2 + 1) * 2 * 3  # two surrogates and the oracle, two optimisers, three starts
    assert set(paths["step"]) == set(range(6)) | set(range(4))
    assert runs[["cos_mean", "cos_p10", "gd_regret_median", "lbfgs_left_domain"]].notna().all().all()
    again, _, _ = study.run_sweep(settings, tmp_path, progress=False)
    assert again["cached"].all()
    objective = optimisation.make_objective("rastrigin")
    figures = [surrogate_figures.trajectories_figure(paths, lambda x: objective.value(torch.as_tensor(x)).numpy(),
                                            objective.lower, objective.upper, "rastrigin"),
               surrogate_figures.regret_figure(starts), surrogate_figures.cosine_vs_tail_figure(runs)]
    assert all(len(f.axes) >= 1 for f in figures)
    plt.close("all")


def runs_table(regret: dict, mse: dict, seeds=(0, 1, 2), val: dict | None = None) -> pd.DataFrame:
    """One finished run per (method, seed) of objective "o" / relu, with per-method median regrets
    (both optimisers alike), test MSEs and validation MSEs given per seed as lists."""
    rows = []
    for method, values in regret.items():
        for i, seed in enumerate(seeds):
            rows.append({"objective": "o", "method": method, "activation": "relu", "seed": seed, "diverged": False,
                         "grad_p99_over_mean": 3.0 if method == "base" else 1.5, "test_mse": mse[method][i],
                         "val_mse": (val or mse)[method][i], "cos_mean": 0.9, "cos_p5": 0.5, "cos_p10": 0.6,
                         "gd_regret_median": values[i], "lbfgs_regret_median": values[i],
                         "gd_left_domain": 0.0, "lbfgs_left_domain": 0.0, "lbfgs_diverged": 0.0})
    return pd.DataFrame(rows)


def test_correlations_carry_spearman_and_its_interval():
    runs = pd.DataFrame({"objective": "o", "method": ["base", "dreg"] * 3, "activation": "relu",
                         "seed": [0, 0, 1, 1, 2, 2], "diverged": False,
                         "grad_p99_over_mean": [3.0, 1.5, 3.2, 1.4, 2.9, 1.6],
                         "test_mse": [0.1, 0.2, 0.1, 0.2, 0.1, 0.2], "val_mse": [0.1, 0.2, 0.1, 0.2, 0.1, 0.2],
                         "cos_mean": 0.9, "cos_p5": 0.5, "cos_p10": [0.5, 0.8] * 3,
                         "gd_regret_median": [0.3, 0.1, 0.35, 0.12, 0.28, 0.11],
                         "lbfgs_regret_median": [0.3, 0.1, 0.35, 0.12, 0.28, 0.11],
                         "gd_left_domain": 0.0, "lbfgs_left_domain": 0.0, "lbfgs_diverged": 0.0})
    corr = verdicts.correlations(runs).set_index(["predictor", "outcome"])
    row = corr.loc[("grad_p99_over_mean", "gd_regret_median")]
    # Spearman by hand: p99/mean and regret ranks differ by (0, 1, 0, -2, 0, 1): 1 - 6 * 6 / (6 * 35) = 0.83
    assert row["rho"] == pytest.approx(1 - 36 / 210)
    # Fisher z, Bonett-Wright: tanh(atanh 0.829 -/+ 1.96 sqrt((1 + 0.829**2 / 2) / 3)) = tanh(1.1836 -/+ 1.3117)
    assert (row["low"], row["high"]) == (pytest.approx(-0.1272, abs=2e-4), pytest.approx(0.9865, abs=2e-4))
    assert np.isnan(corr.loc[("grad_p99_over_mean", "gd_left_domain"), "rho"])
    predictors = verdicts.regret_predictors(corr.reset_index()).set_index(["predictor", "outcome"])
    assert predictors.loc[("grad_p99_over_mean", "gd_regret_median"), "relation"] == "none"  # 6 runs: includes 0
    assert predictors.loc[("test_mse", "gd_regret_median"), "relation"] == "opposite"  # rho = -0.88
    lines = surrogate_text.verdict_lines(verdicts.regret_predictors(corr.reset_index()),
                                         verdicts.method_worth(verdicts.paired_differences(runs)))
    assert lines[0] == ("p99/mean vs GD regret: predicts in 0/1 objectives - o rho=+0.83 "
                        "(95% CI -0.13 to +0.99; no clear relation)")


def test_spearman_interval_is_fisher_z_with_the_bonett_wright_variance():
    # rho = 0.5 from 28 pairs: atanh 0.5493, half-width 1.96 sqrt((1 + 0.125) / 25) = 0.4158 -> tanh 0.1327 and 0.7465
    low, high = verdicts.spearman_interval(0.5, 28)
    assert (low, high) == (pytest.approx(0.1327, abs=2e-4), pytest.approx(0.7465, abs=2e-4))
    assert np.isnan(verdicts.spearman_interval(0.5, 3)).all() and np.isnan(verdicts.spearman_interval(np.nan, 30)).all()


@pytest.mark.parametrize("rho, low, high, relation", [
    (0.3, 0.05, 0.55, "predicts"), (0.29, 0.05, 0.5, "weak"), (0.5, -0.01, 0.8, "none"),
    (-0.5, -0.8, -0.1, "opposite"), (0.6, float("nan"), float("nan"), "none"),
    (float("nan"), float("nan"), float("nan"), "undefined")])
def test_regret_predictors_read_rho_by_its_interval(rho, low, high, relation):
    corr = pd.DataFrame({"objective": "o", "predictor": "test_mse", "outcome": ["gd_regret_median", "cos_mean"],
                         "rho": rho, "low": low, "high": high, "n": 5})
    assert verdicts.regret_predictors(corr)["relation"].tolist() == [relation]  # the cosine row is no regret


def test_a_difference_of_1e17_is_a_tie():
    assert verdicts.tie_free_difference([0.1 + 0.2, 1e-17, 0.5], [0.3, 0.0, 0.25]).tolist() == [0.0, 0.0, 0.25]
    assert 0.1 + 0.2 - 0.3 > 0  # 5.6e-17: not zero in floating point
    base = [0.3, 0.4, 0.5, 0.2, 0.3, 0.6]
    runs = runs_table({"base": base, "dreg": [0.1 + 0.2, 0.4, 0.5, 0.2, 0.3, 0.6]},
                      {"base": [0.1] * 6, "dreg": [0.1] * 6}, seeds=range(6))
    pairs = verdicts.paired_differences(runs)
    assert (pairs["gd_regret_diff"] == 0.0).all()
    row = verdicts.method_worth(pairs).iloc[0]
    assert (row["gd_lower"], row["gd_higher"], row["gd_tied"]) == (0, 0, 6)
    assert row["gd_verdict"] == "inconclusive" and row["worth"] == "inconclusive"  # not "higher regret"
    versus = verdicts.versus_base(study.summarize(runs))
    assert versus.loc[0, "gd_regret_diff"] == 0.0


def test_a_verdict_whose_interval_straddles_zero_is_inconclusive():
    """Eight pairs, regret lower in four and higher in four: the median's interval includes 0."""
    base = [0.5] * 8
    runs = runs_table({"base": base, "dreg": [0.3, 0.4, 0.45, 0.49, 0.51, 0.55, 0.6, 0.7]},
                      {"base": [0.1] * 8, "dreg": [0.1] * 8}, seeds=range(8))
    row = verdicts.method_worth(verdicts.paired_differences(runs)).iloc[0]
    assert row["gd_low"] < 0 < row["gd_high"] and row["gd_verdict"] == "inconclusive"
    assert row["cost"] == "within" and row["worth"] == "inconclusive"
    line = surrogate_text.worth_line(next(verdicts.method_worth(verdicts.paired_differences(runs)).itertuples()))
    assert line.startswith("DREG vs BASE: inconclusive - over 8 pairs")
    assert "GD regret change 0 (95% CI -0.2 to +0.2; lower in 4, higher in 4, tied in 0: inconclusive)" in line


@pytest.mark.parametrize("dreg_regret, dreg_mse, n, worth", [
    ([0.4] * 8, [0.1] * 8, 8, "worth_it"),  # lower in every pair, no cost
    ([0.4] * 8, [0.3] * 8, 8, "mixed"),  # lower, but test MSE +200% (over the budget)
    ([0.6] * 8, [0.1] * 8, 8, "not_worth_it"),  # higher in every pair
    ([0.4] * 5, [0.1] * 5, 5, "inconclusive"),  # lower in every pair, but five pairs give no interval
])
def test_worth_is_decided_by_intervals(dreg_regret, dreg_mse, n, worth):
    runs = runs_table({"base": [0.5] * n, "dreg": dreg_regret}, {"base": [0.1] * n, "dreg": dreg_mse}, seeds=range(n))
    row = verdicts.method_worth(verdicts.paired_differences(runs)).iloc[0]
    assert row["n"] == n and row["worth"] == worth


def test_sn_is_judged_by_its_variant_chosen_on_validation():
    """SN-HIDDEN fits the validation draw best, so its verdict speaks for SN, although SN-SCALE
    would look better on regret: the choice never looks at what it is judged on."""
    n = 8
    runs = runs_table({"base": [0.5] * n, "sn": [0.6] * n, "sn_hidden": [0.6] * n, "sn_scaled": [0.4] * n},
                      {m: [0.1] * n for m in ("base", "sn", "sn_hidden", "sn_scaled")}, seeds=range(n),
                      val={"base": [0.1] * n, "sn": [0.9] * n, "sn_hidden": [0.2] * n, "sn_scaled": [0.3] * n})
    worth = verdicts.method_worth(verdicts.paired_differences(runs))
    assert verdicts.best_sn_variant(worth) == "sn_hidden"
    assert verdicts.best_sn_variant(worth[worth["method"] == "base"]) is None
    line = surrogate_text.sn_line(worth)
    assert line.startswith("SN, its best variant on validation MSE (SN-HIDDEN): not worth it - each variant: "
                           "SN not worth it (median validation MSE 0.9); SN-HIDDEN not worth it")
    assert "SN-SCALE worth it (median validation MSE 0.3)" in line
    predictors = pd.DataFrame(columns=["predictor", "outcome", "objective", "rho", "low", "high", "relation"])
    assert surrogate_text.verdict_lines(predictors, worth)[-1] == line


def test_estimate_minimum_uses_known_value_or_bounds_the_samples():
    assert optimisation.estimate_minimum(optimisation.make_objective("rosenbrock")) == 0.0
    smooth = optimisation.make_objective("smooth")
    f_min = optimisation.estimate_minimum(smooth, n=512)
    assert f_min <= float(smooth.value(optimisation.uniform(smooth, 512, 12345)).min())


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_a_vectorised_surrogate_group_equals_surrogates_trained_alone():
    """run_group trains every method and seed of an (objective, activation) together; each
    surrogate's test MSE must equal that of the surrogate trained alone by fit, to 1e-5."""
    from dreg_utils.models import CompactMLP, spectral_norm_options
    from dreg_utils.train import evaluate, fit

    protocol = {"objective": "rosenbrock", "activation": "relu", "hidden": [8, 8], "epochs": 2,
                "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0, "n_train": 128, "n_test": 64,
                "n_starts": 2, "gd_step": 0.01, "gd_steps": 3, "lbfgs_steps": 2}
    configs = [{**protocol, "method": m, "lam": lam, "seed": s}
               for m, lam in (("base", 0.0), ("dreg", 0.03), ("igp", 0.03), ("sn", 0.0), ("sn_hidden", 0.0),
                              ("sn_scaled", 0.0)) for s in (0, 1)]
    assert len({study.group_key(c) for c in configs}) == 1
    rows = study.run_group(configs, "cpu")
    objective = optimisation.make_objective("rosenbrock")
    data = study.training_data(objective, 128, 64)
    for config, row in zip(configs, rows):
        model = CompactMLP.seeded(config["seed"], 2, [8, 8], 1, **spectral_norm_options(config["method"]))
        fit(model, data["x_train"], data["y_train"], method=config["method"], lam=config["lam"], epochs=2,
            batch_size=64, lr=3e-3, weight_decay=0.0, seed=config["seed"], device="cpu")
        alone = evaluate(model.eval(), data["x_test"].float(), data["y_test"], "regression")["loss"]
        assert row["test_mse"] == pytest.approx(alone, rel=1e-5), config["method"]


def test_a_method_is_named_by_its_paper_label_on_the_page():
    """The surrogate page names the loss-gradient penalty IGPEN, as every other chapter does (it
    printed the key in capitals, "IGP")."""
    runs = runs_table({"base": [0.5] * 6, "igp": [0.4] * 6}, {"base": [0.1] * 6, "igp": [0.1] * 6}, seeds=range(6))
    row = next(verdicts.method_worth(verdicts.paired_differences(runs)).itertuples())
    assert surrogate_text.worth_line(row).startswith("IGPEN vs BASE: ")
