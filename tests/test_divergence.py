"""Numerical faults: a NaN or infinity in a loss, a gradient, the parameters or a measured metric
marks that run as diverged with its step and reason, tables show it, and no mean turns NaN."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dreg_utils.book import mnist_text
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies import distillation_tables as sr_tables
from dreg_utils import symbolic_regression as symbolic
from dreg_utils.studies import synthetic as synthetic_study
from dreg_utils.data.mnist import MNISTData
from dreg_utils.data.regression import load_dataset
from dreg_utils.data.synthetic import make_family
from dreg_utils.ensemble import Member, fit_ensemble
from dreg_utils.metrics import nonfinite_metric
from dreg_utils.models import CompactMLP
from dreg_utils.train import fit, locate_divergence
from dreg_utils.runs import diverged_runs, divergence_status


@pytest.fixture(scope="module")
def smooth():
    return make_family("smooth", n_train=256, n_val=64, n_test=64, seed=0)


@pytest.fixture(scope="module")
def blobs():
    """170 points in 6-D, 3 classes: 6 minibatches of 32 per epoch."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(170, 6, generator=gen)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()


def train(data, scale: float = 1.0, **options):
    model = CompactMLP.seeded(0, 10, (16, 16), 1)
    settings = dict(epochs=5, lr=1e-2, batch_size=64, seed=0, device="cpu")
    settings.update(options)
    return fit(model, data.x_train, data.y_train * scale, data.x_val, data.y_val, **settings)


@pytest.mark.parametrize("lr, scale", [(1e6, 1.0), (1e30, 1.0), (1e-2, 1e30)])
def test_fit_reports_the_first_non_finite_step(smooth, lr, scale):
    """A huge step or a target scaled by 1e30 overflows the loss; fit names the global step
    (4 minibatches per epoch here), its epoch and the quantity."""
    result = train(smooth, scale, lr=lr)
    assert result.diverged and result.diverged_step >= 1
    assert result.diverged_epoch == (result.diverged_step - 1) // 4 + 1
    assert result.diverged_reason == (f"non-finite training loss at step {result.diverged_step} "
                                      f"(epoch {result.diverged_epoch})")
    assert len(result.history) == result.diverged_epoch - 1
    assert all(math.isfinite(row["train_task_loss"]) for row in result.history)


def test_fit_without_faults_has_no_divergence_fields(smooth):
    result = train(smooth, epochs=2)
    assert result.divergence() == {"diverged": False, "diverged_step": None, "diverged_epoch": None,
                                   "diverged_reason": None}


def _toy_step(w: torch.nn.Parameter):
    """Step on batches (x, factor): loss = sum sqrt(w - x) (finite with an infinite slope at
    w = x), then w *= factor (an 'update' that can overflow on its own)."""
    def step(xb: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        w.grad = None
        loss = torch.sqrt(w - xb).sum(dim=1)
        loss.sum().backward()
        with torch.no_grad():
            w.mul_(factor)
        return loss.detach()
    return step


@pytest.mark.parametrize("x1, factor, expected", [
    (-math.inf, 1.0, "non-finite training loss at step 8 (epoch 2)"),
    (1.0, 1.0, "non-finite gradient of w at step 8 (epoch 2)"),
    (0.0, math.inf, "non-finite parameters after the update at step 8 (epoch 2), with a finite loss "
                    "and finite gradients")])
def test_locate_divergence_names_the_quantity(x1, factor, expected):
    """Two members (rows of w); only member 1 meets the fault, at the replay's second step."""
    w = torch.nn.Parameter(torch.ones(2, 3))
    ok = (torch.zeros(2, 3), torch.ones(2, 1))
    bad = (torch.tensor([[0.0], [x1]]).expand(2, 3), torch.tensor([[1.0], [factor]]))
    found = locate_divergence(_toy_step(w), [ok, bad, ok], [("w", w)], torch.tensor([True, True]),
                              first_step=7, epoch=2)
    assert found == {1: (8, expected)}


def test_locate_divergence_only_reports_pending_members():
    w = torch.nn.Parameter(torch.ones(2, 3))
    bad = (torch.full((2, 3), 1.0), torch.ones(2, 1))  # both members: infinite gradient
    found = locate_divergence(_toy_step(w), [bad], [("w", w)], torch.tensor([False, True]), 1, 1)
    assert list(found) == [1]


def test_one_diverging_member_leaves_the_others_as_they_would_be(blobs):
    """At lr = 300 the IGP member's gradient overflows in epoch 3 while BASE and SN train on.
    The survivors equal, bit for bit, the same group with a harmless IGP member (lam = 0) in
    that position, and the diverged member reports what fit reports for it alone."""
    x, y = blobs
    options = dict(epochs=4, batch_size=32, lr=300.0, weight_decay=1e-2, activation="relu",
                   out_features=3, device="cpu")
    members = [Member(0, "base"), Member(3, "igp", 0.1), Member(1, "sn")]
    together = fit_ensemble(members, x, y, (12, 8), **options)
    harmless = fit_ensemble([members[0], Member(3, "igp", 0.0), members[2]], x, y, (12, 8), **options)
    assert [r.diverged for r in together] == [False, True, False] and not harmless[1].diverged
    for i in (0, 2):
        assert together[i].history == harmless[i].history and len(together[i].history) == 4
        for a, b in zip(together[i].model.state_dict().values(), harmless[i].model.state_dict().values()):
            assert torch.equal(a, b)
    diverged = together[1]
    model = CompactMLP.seeded(3, 6, (12, 8), 3)
    alone = fit(model, x, y, task="classification", method="igp", lam=0.1, seed=3, epochs=4,
                batch_size=32, lr=300.0, weight_decay=1e-2, device="cpu")
    assert (diverged.diverged_step, diverged.diverged_epoch) == (alone.diverged_step, alone.diverged_epoch)
    assert diverged.diverged_reason == alone.diverged_reason
    assert diverged.diverged_reason.startswith("non-finite gradient of layers.")
    assert f"at step {diverged.diverged_step} (epoch {diverged.diverged_epoch})" in diverged.diverged_reason
    assert len(diverged.history) == diverged.diverged_epoch - 1


def synthetic_config(seed: int, lam: float, lr: float) -> dict:
    return {"family": "sparse", "lam": lam, "seed": seed, "hidden": [8], "activation": "relu", "epochs": 1,
            "batch_size": 256, "lr": lr, "weight_decay": 1e-2}


def test_synthetic_rows_and_summary_show_divergence():
    """lambda = 0: two finished seeds and one at lr = 1e6; lambda = 0.01: every seed at lr = 1e6."""
    configs = ([synthetic_config(s, 0.0, 1e-2) for s in (0, 1)] + [synthetic_config(2, 0.0, 1e6)]
               + [synthetic_config(s, 0.01, 1e6) for s in (0, 1)])
    runs = pd.DataFrame([{**c, **synthetic_study.run_group([c], "cpu")[0]} for c in configs])
    bad = runs[runs["diverged"]]
    assert len(bad) == 3 and bad["test_mse"].isna().all()
    assert (bad["diverged_step"] >= 1).all() and (bad["diverged_epoch"] == 1).all()
    assert bad["diverged_reason"].str.startswith("non-finite training loss at step").all()

    summary = synthetic_study.summarize(runs).set_index("lam")
    assert summary.loc[0.0, "status"] == "diverged (1/3)" and summary.loc[0.0, "n_seeds"] == 2
    assert summary.loc[0.0, list(synthetic_study.METRICS)].notna().all()
    finished = runs[~runs["diverged"]]
    assert summary.loc[0.0, "test_mse"] == pytest.approx(finished["test_mse"].mean())
    assert summary.loc[0.01, "status"] == "diverged (2/2)" and summary.loc[0.01, "n_seeds"] == 0
    assert summary.loc[0.01, "n_diverged"] == 2 and summary.loc[0.01, "test_mse"] != summary.loc[0.01, "test_mse"]
    assert list(synthetic_study.finished_groups(summary.reset_index())["lam"]) == [0.0]
    with pytest.raises(ValueError, match=r"no finished runs .* \(diverged \(2/2\)\)"):
        synthetic_study.table1(summary.reset_index(), "sparse", 0.01)

    table = diverged_runs(runs, ["lam", "seed"])
    assert list(table.columns) == ["lam", "seed", "diverged_step", "diverged_epoch", "diverged_reason"]
    assert table[["lam", "seed"]].values.tolist() == [[0.0, 2], [0.01, 0], [0.01, 1]]
    assert str(table["diverged_step"].dtype) == "Int64"


def test_a_non_finite_metric_marks_the_synthetic_row_diverged(monkeypatch):
    monkeypatch.setattr(synthetic_study, "local_linearity_error", lambda model, x: float("nan"))
    row = synthetic_study.run_group([synthetic_config(0, 0.0, 1e-2)], "cpu")[0]
    assert row["diverged"] and row["diverged_reason"] == "metric local_linearity_error is not finite"
    assert row["diverged_step"] is None and "test_mse" not in row


def mnist_config(data: MNISTData, method: str, seed: int, lr: float) -> dict:
    return {**mnist_study.data_identity(data), "hidden": [16, 8], "activation": "relu", "method": method,
            "lam": 0.01 if method == "dreg" else 0.0, "seed": seed, "epochs": 2, "batch_size": 32,
            "lr": lr, "weight_decay": 1e-2}


def test_mnist_group_with_a_huge_learning_rate(tiny_mnist):
    """BASE trains at lr = 1e-3; DREG's two seeds at lr = 1e6 (their own group) diverge. Table 3
    shows the diverged cell by its status and BASE's without a NaN."""
    base = [mnist_config(tiny_mnist, "base", s, 1e-3) for s in (0, 1)]
    dreg = [mnist_config(tiny_mnist, "dreg", s, 1e6) for s in (0, 1)]
    rows = mnist_study.run_group(base, tiny_mnist, "cpu") + mnist_study.run_group(dreg, tiny_mnist, "cpu")
    runs = pd.DataFrame([{**c, **r} for c, r in zip(base + dreg, rows)]).assign(hidden="16-8")
    assert runs["diverged"].tolist() == [False, False, True, True]
    for r in diverged_runs(runs, ["seed"]).itertuples():
        assert r.diverged_step >= 1 and r.diverged_epoch == (r.diverged_step - 1) // 3 + 1
        assert f"at step {r.diverged_step} (epoch {r.diverged_epoch})" in r.diverged_reason
    summary = mnist_study.summarize(runs).set_index("method")
    assert summary.loc["base", "status"] == "ok" and summary.loc["dreg", "status"] == "diverged (2/2)"
    assert summary.loc["base", list(mnist_study.METRICS)].notna().all()
    layout = mnist_text.table3_layout(mnist_study.table3(summary.reset_index()))
    assert layout.loc[("16, 8", "RELU_DREG"), ("Test Acc (%)", "ours")] == "diverged (2/2)"
    assert "diverged" not in layout.loc[("16, 8", "RELU_BASE"), ("Test Acc (%)", "ours")]


def test_a_non_finite_gradient_norm_marks_the_mnist_row_diverged(tiny_mnist, monkeypatch):
    def with_nan(*args, **kwargs):
        return torch.tensor([1.0, float("nan")])
    monkeypatch.setattr(mnist_study, "input_gradient_norms", with_nan)
    row = mnist_study.run_group([mnist_config(tiny_mnist, "base", 0, 1e-3)], tiny_mnist, "cpu")[0]
    assert row["diverged"] and row["diverged_reason"] == "metric input-gradient norm is not finite"
    assert "test_acc" not in row and "ig_quantiles" not in row


def test_divergence_status_counts_per_group():
    runs = pd.DataFrame({"g": ["a", "a", "b", "b", "c"], "diverged": [False, True, True, True, False]})
    status = divergence_status(runs, ["g"])
    assert status["n_diverged"].tolist() == [1, 2, 0]
    assert status["status"].tolist() == ["diverged (1/2)", "diverged (2/2)", "ok"]


def test_diverged_runs_treats_missing_flags_as_finished():
    runs = pd.DataFrame({"k": [1, 2, 3], "diverged": [np.nan, True, False], "diverged_step": [np.nan, 4, np.nan],
                         "diverged_reason": [None, "non-finite training loss at step 4 (epoch 1)", None]})
    table = diverged_runs(runs, ["k"])
    assert table.to_dict("list") == {"k": [2], "diverged_step": [4],
                                     "diverged_reason": ["non-finite training loss at step 4 (epoch 1)"]}
    assert diverged_runs(runs.drop(columns="diverged"), ["k"]).empty


def test_nonfinite_metric_names_the_first_bad_value():
    assert nonfinite_metric({"a": 1.0, "b": np.array([0.0, 2.0]), "c": torch.ones(3)}) is None
    assert nonfinite_metric({"a": 1.0, "b": torch.tensor([0.0, math.inf]), "c": math.nan}) == \
        "metric b is not finite"


def test_a_diverged_teacher_gives_a_row_and_a_status_in_the_sr_summary():
    """A teacher at lr = 1e30 diverges: its distillation row has the step and reason and no
    students; the summary counts it and keeps the finished settings free of NaN."""
    data = load_dataset("feynman_I_14_4")
    teacher = {"hidden": [8], "epochs": 1, "batch_size": 64, "weight_decay": 0.0}
    gp = {"population_size": 20, "generations": 1, "tournament_size": 5}
    bad = symbolic.distill(data, "base", 0.0, 0, {**teacher, "lr": 1e30}, gp, tree_max_depth=2)
    assert bad["diverged"] and bad["diverged_step"] >= 1 and "gp_test_r2" not in bad
    assert bad["diverged_reason"].startswith("non-finite training loss at step")
    good = symbolic.distill(data, "jacobian", 0.1, 0, {**teacher, "lr": 1e-3}, gp, tree_max_depth=2)
    key = {"dataset": data.name, "noise": None, "kind": "distill", "seed": 0}
    runs = pd.DataFrame([{**key, "method": "base", "lam": 0.0, **bad},
                         {**key, "method": "jacobian", "lam": 0.1, **good}])
    summary = sr_tables.summarize(runs).set_index("method")
    assert summary["status"].to_dict() == {"base": "diverged (1/1)", "jacobian": "ok"}
    assert summary.loc["jacobian", "gp_test_r2"] == pytest.approx(good["gp_test_r2"])
    assert summary.loc["base", "n_seeds"] == 0 and np.isnan(summary.loc["base", "gp_test_r2"])
    assert diverged_runs(runs, ["method"])["method"].tolist() == ["base"]
