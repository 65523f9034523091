"""DREG against tuned weight decay (chapter 01): the extra runs, their pairing with the DREG runs
(same initial weights and minibatch order per seed), the choice of each method's setting on the
validation split, and the paired comparison on the test split."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from dreg_utils import ensemble
from dreg_utils.data.synthetic import make_family
from dreg_utils.models import CompactMLP
from dreg_utils.studies import synthetic as study
from dreg_utils.studies import synthetic_weight_decay as wd_study
from dreg_utils.studies.synthetic import SyntheticSettings
from dreg_utils.train import evaluate, fit

TINY = dict(families=["smooth"], lambdas=[0.0, 1e-2], seeds=[0, 1], hidden=[8], epochs=1, batch_size=256,
            weight_decay=1e-2, weight_decays=[0.0, 1e-2, 1e-1], device="cpu")


def test_the_extra_runs_are_lambda_0_at_each_other_weight_decay_with_the_sweeps_seeds():
    settings = SyntheticSettings.from_profile("smoke", **TINY)
    configs = wd_study.weight_decay_configs(settings)
    assert [(c["weight_decay"], c["seed"]) for c in configs] == [(0.0, 0), (0.0, 1), (1e-1, 0), (1e-1, 1)]
    sweep = study.make_configs(settings)[0]
    for config in configs:
        assert config["lam"] == 0.0 and {k: v for k, v in config.items() if k not in ("weight_decay", "seed")} == \
            {k: v for k, v in sweep.items() if k not in ("weight_decay", "seed")}


def test_each_weight_decay_arm_starts_from_its_seeds_dreg_weights(tmp_path, monkeypatch):
    """The weight-decay arms and the DREG runs of one seed start from the same weights (recorded as
    each group is built, before any step), and two seeds from different ones."""
    built = []
    original = ensemble._build_group

    def recording(members, *args):
        models, net, optimizer = original(members, *args)
        weight_decay = optimizer.param_groups[0]["weight_decay"]
        built.extend((m.seed, m.lam, weight_decay, [p.detach().clone() for p in model.parameters()])
                     for m, model in zip(members, models))
        return models, net, optimizer

    monkeypatch.setattr(ensemble, "_build_group", recording)
    settings = SyntheticSettings.from_profile("smoke", **TINY)
    study.run_sweep(settings, tmp_path, progress=False)
    wd_study.run_weight_decay_sweep(settings, tmp_path, progress=False)
    start = {(seed, lam, wd): weights for seed, lam, wd, weights in built}
    assert {wd for _, _, wd in start} == {0.0, 1e-2, 1e-1}
    for seed in (0, 1):
        dreg = start[(seed, 1e-2, 1e-2)]
        for wd in (0.0, 1e-1):
            assert all(torch.equal(a, b) for a, b in zip(start[(seed, 0.0, wd)], dreg))
    assert not torch.equal(start[(0, 1e-2, 1e-2)][0], start[(1, 1e-2, 1e-2)][0])


def test_a_weight_decay_arm_is_the_run_trained_alone_with_its_seed(tmp_path):
    """Each arm equals dreg_utils.train.fit from its seed's initial weights with its seed's
    minibatch order (the order DREG's runs of that seed use) at its weight decay."""
    settings = SyntheticSettings.from_profile("smoke", **TINY)
    runs = wd_study.run_weight_decay_sweep(settings, tmp_path, progress=False)
    assert (tmp_path / "weight_decay_runs.csv").exists() and len(runs) == 4 and not runs["diverged"].any()
    again = wd_study.run_weight_decay_sweep(settings, tmp_path, progress=False)
    assert "val_grad_p90" in runs and again["cached"].all()
    data = make_family("smooth")
    for _, row in runs.iterrows():
        model = CompactMLP.seeded(row["seed"], 10, [8], 1, activation="relu")
        fit(model, data.x_train, data.y_train, method="dreg", lam=0.0, epochs=1, batch_size=256, lr=1e-3,
            weight_decay=row["weight_decay"], seed=row["seed"], device="cpu")
        assert row["test_mse"] == pytest.approx(evaluate(model.eval(), data.x_test, data.y_test, "regression")["loss"],
                                                rel=1e-5)
    assert runs.loc[0, "test_mse"] != runs.loc[2, "test_mse"]  # the weight decays really differ


def test_the_validation_p90_is_that_of_the_input_gradient_norms_on_the_validation_split(tmp_path):
    settings = SyntheticSettings.from_profile("smoke", **{**TINY, "lambdas": [0.0], "seeds": [0], "hidden": [16, 16]})
    row = study.run_sweep(settings, tmp_path, progress=False).iloc[0]
    data = make_family("smooth")
    model = CompactMLP.seeded(0, 10, [16, 16], 1, activation="relu")
    fit(model, data.x_train, data.y_train, method="dreg", lam=0.0, epochs=1, batch_size=256, lr=1e-3,
        weight_decay=1e-2, seed=0, device="cpu")
    model.eval()

    def norms(x: torch.Tensor) -> np.ndarray:
        grads = torch.func.vmap(torch.func.grad(lambda xi: model(xi.unsqueeze(0)).squeeze()))(x)
        return grads.norm(dim=1).detach().numpy()

    assert row["val_grad_p90"] == pytest.approx(np.percentile(norms(data.x_val), 90), rel=1e-5)
    assert row["grad_p90"] == pytest.approx(np.percentile(norms(data.x_test), 90), rel=1e-5)
    assert row["val_grad_p90"] != row["grad_p90"]  # two splits, two values


# ----------------------------------------------------------------------------- the choice and the comparison


def run_rows(rows: list[tuple], **fixed) -> pd.DataFrame:
    """Finished runs of smooth, seed 0: (setting, val_mse, val_grad_p90, test_mse, grad_p90) each."""
    return pd.DataFrame([{"family": "smooth", "seed": 0, "diverged": False, "grad_mean": 1.0, **fixed, **dict(zip(
        ("setting", "val_mse", "val_grad_p90", "test_mse", "grad_p90"), row))} for row in rows])


def test_each_method_is_chosen_on_validation_never_on_test():
    """DREG: lambda = 0.1 has the best test p90 and 0.3 the best validation p90, but 0.3's validation
    MSE is 20% above BASE's; 0.01 has the lowest validation p90 of the rest. Weight decay: 1 has
    the best test p90, 0.1 the best validation p90."""
    runs = run_rows([(0.0, 1.00, 5.0, 1.0, 5.0), (1e-2, 1.02, 3.0, 1.0, 4.0), (1e-1, 1.01, 4.0, 1.0, 1.0),
                     (3e-1, 1.20, 0.5, 1.0, 0.1)], weight_decay=1e-2).rename(columns={"setting": "lam"})
    wd_runs = run_rows([(1e-1, 1.00, 2.0, 1.0, 9.0), (1.0, 1.01, 2.5, 1.0, 0.5)], lam=0.0).rename(
        columns={"setting": "weight_decay"})
    choice = wd_study.weight_decay_choices(runs, wd_runs).iloc[0]
    assert (choice["dreg_setting"], choice["wd_setting"]) == (1e-2, 1e-1)
    assert (choice["dreg_grad_p90"], choice["wd_grad_p90"]) == (4.0, 9.0)  # reported on test
    diverged = wd_runs.assign(diverged=[True, False])  # a diverged arm is never chosen
    assert wd_study.weight_decay_choices(runs, diverged).iloc[0]["wd_setting"] == 1.0
    strict = wd_study.weight_decay_choices(runs, wd_runs, mse_tolerance=0.5).iloc[0]
    assert (strict["dreg_setting"], strict["wd_setting"]) == (0.0, 1e-1)  # only BASE and 0.1 within 0.5%


def test_a_chosen_model_flattened_to_a_constant_is_flagged():
    runs = run_rows([(0.0, 1.00, 5.0, 1.0, 5.0), (3e-1, 0.90, 1e-9, 1.0, 1e-9)], weight_decay=1e-2).rename(
        columns={"setting": "lam"})
    runs.loc[1, "grad_mean"] = 1e-9
    wd_runs = run_rows([(1.0, 1.01, 2.5, 1.0, 0.5)], lam=0.0).rename(columns={"setting": "weight_decay"})
    choice = wd_study.weight_decay_choices(runs, wd_runs).iloc[0]
    assert choice["dreg_setting"] == 0.3 and choice["dreg_collapsed"] and not choice["wd_collapsed"]
    assert wd_study.weight_decay_comparison(wd_study.weight_decay_choices(runs, wd_runs)).iloc[0]["dreg_collapsed"] == 1


def test_ties_go_to_the_smaller_setting_and_an_empty_choice_is_refused():
    candidates = run_rows([(1e-1, 1.0, 2.0, 1.0, 1.0), (1e-3, 1.0, 2.0, 1.0, 3.0)])
    assert wd_study.choose_on_validation(candidates, 1.0)["setting"] == 1e-3
    with pytest.raises(ValueError, match="no candidate has a validation MSE within 5% of 0.5"):
        wd_study.choose_on_validation(candidates, 0.5)


def choices_of(dreg: dict, wd: dict) -> pd.DataFrame:
    """Choices of each family, per seed the test p90 of DREG's and weight decay's choice."""
    return pd.DataFrame([{"family": family, "seed": seed, "dreg_grad_p90": d, "wd_grad_p90": w,
                          "dreg_test_mse": 1.0, "wd_test_mse": 1.0, "dreg_collapsed": False, "wd_collapsed": False}
                         for family in dreg for seed, (d, w) in enumerate(zip(dreg[family], wd[family]))])


def test_the_comparison_is_paired_signed_and_decided_per_family_by_its_interval():
    dreg = {"smooth": [0.5, 0.6, 0.45], "sparse": [1.1, 0.8, 1.0]}
    wd = {"smooth": [1.0, 1.1, 1.0], "sparse": [1.0, 1.0, 1.05]}
    table = wd_study.weight_decay_comparison(choices_of(dreg, wd)).set_index("family")
    assert list(table.index) == ["smooth", "sparse"] and table["pairs"].tolist() == [3, 3]
    for family in table.index:
        logs = np.log(np.array(dreg[family]) / np.array(wd[family]))
        ci = stats.ttest_1samp(logs, 0.0).confidence_interval(0.95)
        assert table.loc[family, "p90_reduction_vs_wd_pct"] == pytest.approx(-100 * np.expm1(logs.mean()))
        assert [table.loc[family, "p90_reduction_vs_wd_low"], table.loc[family, "p90_reduction_vs_wd_high"]] == \
            pytest.approx([-100 * np.expm1(ci.high), -100 * np.expm1(ci.low)])
    assert table["verdict"].tolist() == ["holds", "inconclusive"]  # DREG's p90 about half; straddles zero
    assert wd_study.weight_decay_verdict(table) == "partly"
    flipped = wd_study.weight_decay_comparison(choices_of(wd, dreg))
    assert flipped["verdict"].tolist() == ["does not hold", "inconclusive"]
    assert wd_study.weight_decay_verdict(flipped) == "does not hold"
    both = wd_study.weight_decay_comparison(choices_of({"smooth": dreg["smooth"]}, {"smooth": wd["smooth"]}))
    assert wd_study.weight_decay_verdict(both) == "holds"


def test_an_exactly_constant_model_leaves_its_family_unmeasured():
    table = wd_study.weight_decay_comparison(choices_of({"oscillatory": [0.0, 1e-9, 2e-9]},
                                                        {"oscillatory": [1.0, 1.0, 1.1]}))
    assert math.isnan(table.iloc[0]["p90_reduction_vs_wd_pct"]) and table.iloc[0]["verdict"] == "inconclusive"


def test_a_grid_of_only_the_sweeps_weight_decay_trains_nothing_and_tunes_among_base_alone(tmp_path):
    settings = SyntheticSettings.from_profile("smoke", **{**TINY, "weight_decays": [1e-2]})
    runs = study.run_sweep(settings, tmp_path, progress=False)
    wd_runs = wd_study.run_weight_decay_sweep(settings, tmp_path, progress=False)
    assert wd_runs.empty and (tmp_path / "weight_decay_runs.csv").exists()
    choices = wd_study.weight_decay_choices(runs, wd_runs)
    assert choices["wd_setting"].tolist() == [1e-2, 1e-2] and len(wd_study.weight_decay_comparison(choices)) == 1
