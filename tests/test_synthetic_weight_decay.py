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
# smooth's targets have variance about 1, so a constant predicts its validation split with an MSE near 1
# (wd_study.constant_val_mse): every fitted model below has an MSE of about 0.1.


def run_rows(rows: list[tuple], family: str = "smooth", seed: int = 0, **fixed) -> pd.DataFrame:
    """Finished runs of ``family``, ``seed``: (setting, val_mse, val_grad_p90, test_mse, grad_p90) each."""
    return pd.DataFrame([{"family": family, "seed": seed, "diverged": False, "grad_mean": 1.0, **fixed, **dict(zip(
        ("setting", "val_mse", "val_grad_p90", "test_mse", "grad_p90"), row))} for row in rows])


def dreg_and_wd(dreg_rows: list[tuple], wd_rows: list[tuple], **where) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's runs (lambda = setting, the sweep's weight decay) and the weight-decay runs (lambda = 0)."""
    runs = run_rows(dreg_rows, weight_decay=1e-2, **where).rename(columns={"setting": "lam"})
    return runs, run_rows(wd_rows, lam=0.0, **where).rename(columns={"setting": "weight_decay"})


def test_the_constant_predictors_mse_is_that_of_the_training_mean_on_validation():
    data = make_family("oscillatory")
    expected = float(np.mean((data.y_val.numpy() - data.y_train.numpy().mean()) ** 2))
    assert wd_study.constant_val_mse("oscillatory") == pytest.approx(expected, rel=1e-6)
    assert 0.5 < wd_study.constant_val_mse("smooth") < 1.5  # standardised targets


def test_each_method_is_chosen_on_validation_never_on_test():
    """DREG: lambda = 0.1 has the best test p90 and 0.3 the best validation p90, but 0.3's validation
    MSE is 20% above BASE's; 0.01 has the lowest validation p90 of the rest. Weight decay: 1 has
    the best test p90, 0.1 the best validation p90."""
    runs, wd_runs = dreg_and_wd([(0.0, 0.100, 5.0, 0.1, 5.0), (1e-2, 0.102, 3.0, 0.1, 4.0),
                                 (1e-1, 0.101, 4.0, 0.1, 1.0), (3e-1, 0.120, 0.5, 0.1, 0.1)],
                                [(1e-1, 0.100, 2.0, 0.1, 9.0), (1.0, 0.101, 2.5, 0.1, 0.5)])
    choice = wd_study.weight_decay_choices(runs, wd_runs).iloc[0]
    assert (choice["dreg_setting"], choice["wd_setting"]) == (1e-2, 1e-1)
    assert (choice["dreg_grad_p90"], choice["wd_grad_p90"]) == (4.0, 9.0)  # reported on test
    assert choice["base_fits"] and (choice["dreg_collapsed"], choice["wd_collapsed"]) == (0, 0)
    diverged = wd_runs.assign(diverged=[True, False])  # a diverged arm is never chosen
    assert wd_study.weight_decay_choices(runs, diverged).iloc[0]["wd_setting"] == 1.0
    strict = wd_study.weight_decay_choices(runs, wd_runs, mse_tolerance=0.5).iloc[0]
    assert (strict["dreg_setting"], strict["wd_setting"]) == (0.0, 1e-1)  # only BASE and 0.1 within 0.5%


def test_a_collapsed_candidate_is_never_chosen():
    """Finding 3 of review 24: lambda = 0.3 flattened the model (validation p90 below 1% of BASE's) and
    its validation MSE passes; it is ruled out, and the choice falls to the best of the rest."""
    runs, wd_runs = dreg_and_wd([(0.0, 0.10, 5.0, 0.1, 5.0), (1e-1, 0.10, 2.0, 0.1, 2.0),
                                 (3e-1, 0.09, 0.01, 0.1, 1e-9)], [(1.0, 0.101, 2.5, 0.1, 0.5)])
    assert 0.01 < study.COLLAPSE_FRACTION * 5.0
    choice = wd_study.weight_decay_choices(runs, wd_runs).iloc[0]
    assert choice["dreg_setting"] == 0.1 and choice["dreg_collapsed"] == 1 and choice["wd_collapsed"] == 0
    assert wd_study.collapsed(runs, 5.0, 1.0).tolist() == [False, False, True]
    assert wd_study.collapsed(runs, 0.0, 0.095).tolist() == [True, True, False]  # MSE alone: no better than 0.095


def oscillatory_seed(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed of oscillatory as the default book measured it: BASE above a constant's validation MSE
    (about 0.875); lambda = 0.03 below BASE but still above a constant; lambda = 0.3 a constant."""
    return dreg_and_wd([(0.0, 1.14, 2.3, 1.1, 2.3), (3e-2, 0.89, 0.25, 0.9, 0.25), (3e-1, 0.8752, 1e-9, 0.9, 1e-9)],
                       [(1.0, 0.93, 0.70, 0.95, 0.7)], family="oscillatory", seed=seed)


def test_a_family_base_does_not_fit_has_no_eligible_candidate_and_is_inconclusive():
    """Finding 3 of review 24: the comparison "held" on oscillatory because DREG's chosen model was a
    constant. Every candidate there predicts no better than a constant: nothing is chosen, the
    family has no pair, and its verdict is inconclusive; BASE's failure to fit is recorded."""
    seeds = [oscillatory_seed(seed) for seed in range(3)]
    runs, wd_runs = (pd.concat([s[i] for s in seeds], ignore_index=True) for i in (0, 1))
    choices = wd_study.weight_decay_choices(runs, wd_runs)
    assert not choices["base_fits"].any()
    assert choices[["dreg_setting", "wd_setting"]].isna().all().all()
    assert choices["dreg_collapsed"].tolist() == [3] * 3 and choices["wd_collapsed"].tolist() == [2] * 3
    row = wd_study.weight_decay_comparison(choices).iloc[0]
    assert (row["seeds"], row["pairs"], row["base_unfit"], row["dreg_unchosen"], row["wd_unchosen"]) == (3, 0, 3, 3, 3)
    assert math.isnan(row["p90_reduction_vs_wd_pct"]) and row["verdict"] == "inconclusive"


def test_ties_go_to_the_smaller_setting_and_no_eligible_candidate_gives_none():
    candidates = run_rows([(1e-1, 0.1, 2.0, 0.1, 1.0), (1e-3, 0.1, 2.0, 0.1, 3.0)])
    assert wd_study.choose_on_validation(candidates, 0.1, 2.0, 1.0)["setting"] == 1e-3
    assert wd_study.choose_on_validation(candidates, 0.05, 2.0, 1.0) is None  # both 100% above BASE's MSE
    assert wd_study.choose_on_validation(candidates, 0.1, 2.0, 0.1) is None  # no better than a constant


def choices_of(dreg: dict, wd: dict) -> pd.DataFrame:
    """Choices of each family, per seed the test p90 of DREG's and weight decay's choice (NaN: none eligible)."""
    return pd.DataFrame([{"family": family, "seed": seed, "base_fits": True, "dreg_setting": 0.01, "wd_setting": 0.1,
                          "dreg_grad_p90": d, "wd_grad_p90": w, "dreg_test_mse": 1.0, "wd_test_mse": 1.0}
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


def test_a_seed_without_an_eligible_candidate_drops_out_of_the_pairs():
    choices = choices_of({"smooth": [0.5, 0.6, 0.45, 0.55]}, {"smooth": [1.0, 1.1, 1.0, 1.0]})
    choices.loc[3, ["wd_setting", "wd_grad_p90", "wd_test_mse"]] = np.nan
    choices.loc[3, "base_fits"] = False
    row = wd_study.weight_decay_comparison(choices).iloc[0]
    assert (row["seeds"], row["pairs"], row["base_unfit"], row["dreg_unchosen"], row["wd_unchosen"]) == (4, 3, 1, 0, 1)
    three = wd_study.weight_decay_comparison(choices.iloc[:3]).iloc[0]
    assert row["p90_reduction_vs_wd_pct"] == three["p90_reduction_vs_wd_pct"]


def test_an_exactly_constant_model_leaves_its_family_unmeasured():
    table = wd_study.weight_decay_comparison(choices_of({"oscillatory": [0.0, 1e-9, 2e-9]},
                                                        {"oscillatory": [1.0, 1.0, 1.1]}))
    assert math.isnan(table.iloc[0]["p90_reduction_vs_wd_pct"]) and table.iloc[0]["verdict"] == "inconclusive"


def test_a_grid_of_only_the_sweeps_weight_decay_trains_nothing_and_tunes_among_base_alone(tmp_path):
    settings = SyntheticSettings.from_profile("smoke", **{**TINY, "weight_decays": [1e-2], "epochs": 20})
    runs = study.run_sweep(settings, tmp_path, progress=False)
    assert (runs.loc[runs["lam"] == 0.0, "val_mse"] < wd_study.constant_val_mse("smooth")).all()  # BASE fits
    wd_runs = wd_study.run_weight_decay_sweep(settings, tmp_path, progress=False)
    assert wd_runs.empty and (tmp_path / "weight_decay_runs.csv").exists()
    choices = wd_study.weight_decay_choices(runs, wd_runs)
    assert choices["wd_setting"].tolist() == [1e-2, 1e-2] and len(wd_study.weight_decay_comparison(choices)) == 1
