"""Tables, verdicts and the stability plateau of the synthetic study, on hand-made summaries."""
import numpy as np
import pandas as pd
import pytest

from dreg_utils.studies import synthetic as study
from dreg_utils.studies.synthetic import SyntheticSettings


def summary(family="piecewise", mses=(0.10, 0.10, 0.104, 0.2), p90s=(4.0, 3.0, 2.0, 1.0)):
    lams = [0.0, 1e-3, 3e-3, 1e-2]
    rows = [{"family": family, "lam": lam, "test_mse": m, "grad_p90": p,
             **{k: 1.0 for k in study.METRICS if k not in ("test_mse", "grad_p90")}}
            for lam, m, p in zip(lams, mses, p90s)]
    return pd.DataFrame(rows)


def test_percent_reduction_and_change_signs():
    assert study.percent_reduction(4.0, 1.0) == 75.0 and study.percent_change(4.0, 1.0) == -75.0
    assert study.percent_reduction(1.0, 1.5) == -50.0 and study.percent_change(1.0, 1.5) == 50.0


def test_table2_percentages_and_paper_columns():
    t2 = study.table2(summary(), 1e-2)
    row = t2.iloc[0]
    assert row["p90_reduction_pct"] == pytest.approx(75.0)  # the p90 fell: + = lower
    assert row["test_mse_change_pct"] == pytest.approx(100.0)  # the MSE doubled: + = higher
    assert row["paper_p90_reduction_pct"] == 78.9
    assert f"{row['paper_test_mse_change_pct']:+.2f}" == "+0.00"  # the paper's 0.00, not -0.00
    sparse = study.table2(summary("sparse"), 1e-2).iloc[0]
    assert sparse["paper_test_mse_change_pct"] == -4.12  # Table 2 prints its 4.12% decrease as +4.12


@pytest.mark.parametrize("p90, mse, expected", [  # paired p90 reduction (estimate, low, high), MSE change (low, high)
    ((60.0, 50.0, 70.0), (1.0, 4.0), "holds"),  # p90 interval above half the paper's 78.9, MSE within +5%
    ((60.0, 50.0, 70.0), (1.0, 9.0), "partly"),  # the MSE interval reaches past +5%: undecided
    ((30.0, 10.0, 50.0), (-1.0, 3.0), "partly"),  # above zero, straddles 39.45
    ((10.0, -5.0, 45.0), (-1.0, 3.0), "inconclusive"),  # holds both 0 and 39.45
    ((10.0, 5.0, 15.0), (-1.0, 3.0), "does not hold"),  # wholly short of half the paper's reduction
    ((-5.0, -9.0, -1.0), (0.0, 1.0), "does not hold"),
    ((70.0, 60.0, 80.0), (20.0, 30.0), "partly"),  # the p90 part holds, the MSE part is refuted
    ((10.0, -5.0, 45.0), (20.0, 30.0), "does not hold")])  # MSE refuted, the p90 part supports nothing
def test_verdict_reads_the_paired_intervals(p90, mse, expected):
    row = pd.Series({"p90_reduction_pct": 99.0, "test_mse_change_pct": -50.0,  # the seed means play no part
                     "p90_reduction_paired_pct": p90[0], "p90_reduction_paired_low": p90[1],
                     "p90_reduction_paired_high": p90[2], "paper_p90_reduction_pct": 78.9,
                     "test_mse_change_paired_low": mse[0], "test_mse_change_paired_high": mse[1]})
    assert study.verdict(row) == expected


def test_plateau_stops_at_first_lambda_outside_tolerance():
    # MSE within 5% up to lambda = 3e-3, then +100%.
    plateau = study.stability_plateau(summary()).iloc[0]
    assert plateau["plateau_lambda"] == 3e-3
    assert plateau["plateau_p90_reduction_pct"] == pytest.approx(50.0)


def test_plateau_flags_a_model_collapsed_to_a_constant_and_the_page_says_so():
    from dreg_utils.book import synthetic_text

    s = summary()
    s.loc[s["lam"] == 3e-3, "grad_mean"] = 0.009  # under 1% of lambda = 0's mean gradient norm, at the plateau end
    plateau = study.stability_plateau(s)
    assert plateau["collapsed"].tolist() == [True] and not study.stability_plateau(summary())["collapsed"].any()
    shown = synthetic_text.plateau_display(plateau)
    assert list(shown.columns)[-1] == "note" and shown["note"].tolist() == ["model collapsed to a near-constant"]


def test_plateau_is_contiguous_from_zero():
    s = summary(mses=(0.10, 0.2, 0.10, 0.10))
    assert study.stability_plateau(s).iloc[0]["plateau_lambda"] == 0.0


def test_display_labels_are_applied_only_when_shown():
    from dreg_utils.book import synthetic_text
    from dreg_utils.book.labels import show

    t1 = study.table1(summary(), "piecewise", 1e-2)
    assert t1["metric"].tolist() == list(study.TABLE1_METRICS)
    shown = synthetic_text.table1_display(t1, 1e-2)
    assert list(shown.columns) == ["metric", "lambda=0", "lambda=0.01", "ratio (ours)", "paper lambda=0",
                                   "paper lambda=0.01", "ratio (paper)"]
    assert shown["metric"].tolist() == ["mean ||grad f||", "p90 ||grad f||", "p99 ||grad f||", "max ||grad f||",
                                        "p99/mean", "test MSE"]
    assert list(show(study.table2(summary(), 1e-2), "01_synthetic_families").columns)[1:5] == [
        "test MSE change of the seed means % (ours, + = worse)", "test MSE change % (paper, + = worse)",
        "p90 reduction of the seed means % (ours)", "p90 reduction % (paper)"]
    assert all(c == c.lower() and " " not in c for c in study.table2(summary(), 1e-2).columns)


def test_table1_ratios():
    t1 = study.table1(summary(), "piecewise", 1e-2).set_index("metric")
    assert t1.loc["grad_p90", "ratio_ours"] == pytest.approx(4.0)
    assert t1.loc["grad_p90", "ratio_paper"] == pytest.approx(4.94e-5 / 1.04e-5)


def test_smoke_sweep_end_to_end(tmp_path):
    settings = SyntheticSettings.from_profile("smoke", families=["sparse"], seeds=[0, 1], epochs=2)
    runs = study.run_sweep(settings, tmp_path, progress=False)
    assert len(runs) == 4 and not runs["diverged"].any()
    assert (tmp_path / "runs.csv").exists()
    s = study.summarize(runs)
    assert np.isfinite(s[list(study.METRICS)].to_numpy()).all()
    assert (s["n_seeds"] == 2).all()
    again = study.run_sweep(settings, tmp_path, progress=False)
    assert again["cached"].all()
    pd.testing.assert_frame_equal(runs.drop(columns="cached"), again.drop(columns="cached"))


def test_a_vectorised_family_group_equals_runs_trained_one_at_a_time():
    """run_group trains every (lambda, seed) of a family together; each row must equal the run
    trained alone by dreg_utils.train.fit (own initialisation and minibatch order) to 1e-5."""
    import torch

    from dreg_utils.data.synthetic import make_family
    from dreg_utils.models import CompactMLP
    from dreg_utils.train import evaluate, fit

    protocol = {"family": "smooth", "hidden": [16, 8], "activation": "relu", "epochs": 2,
                "batch_size": 128, "lr": 1e-2, "weight_decay": 1e-2}
    configs = [{**protocol, "lam": lam, "seed": seed} for lam in (0.0, 0.1, 1.0) for seed in (0, 1)]
    assert len({study.group_key(c) for c in configs}) == 1
    rows = study.run_group(configs, "cpu")
    data = make_family("smooth")
    for config, row in zip(configs, rows):
        model = CompactMLP.seeded(config["seed"], 10, config["hidden"], 1, activation="relu")
        fit(model, data.x_train, data.y_train, method="dreg", lam=config["lam"], epochs=2, batch_size=128,
            lr=1e-2, weight_decay=1e-2, seed=config["seed"], device="cpu")
        alone = evaluate(model.eval(), data.x_test, data.y_test, "regression")["loss"]
        assert row["test_mse"] == pytest.approx(alone, rel=1e-5)
        with torch.no_grad():
            assert row["derivative_proxy"] == pytest.approx(float(study.dreg_penalty(model, data.x_test)), rel=1e-5)
    assert rows[0]["test_mse"] != rows[4]["test_mse"]  # the lambdas really differ
