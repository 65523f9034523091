"""The MNIST study: parameters, grouping, the cached sweep, Table 3 against the paper, findings."""
import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.func import jacrev, vmap  # noqa: E402

from dreg_utils.studies import mnist as study  # noqa: E402
from dreg_utils.studies import mnist_frontier  # noqa: E402
from dreg_utils import claims, models, published  # noqa: E402
from dreg_utils.book import mnist_figures, mnist_text, statistics_text
from dreg_utils.data.mnist import split_halves
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.settings import PROFILES
from dreg_utils.train import FitResult


def settings(**overrides):
    return study.validate(MNISTSettings.from_profile("smoke", **overrides))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates(profile):
    s = study.validate(MNISTSettings.from_profile(profile))
    assert set(s["methods"]) <= set(study.METHODS)
    if profile != "smoke":
        assert s["capacities"] == study.PAPER_CAPACITIES and s["seeds"] == [0, 1, 2]
        assert (s["epochs"], s["batch_size"], s["lr"], s["weight_decay"]) == (8, 64, 1e-3, 1e-2)


@pytest.mark.parametrize("overrides, error, pattern", [
    (dict(dataset="cifar10"), ValueError, r"dataset='cifar10' is not valid; choose one of \['mnist', 'fashion-mnist'\]"),
    (dict(source="web"), ValueError, r"source='web' is not valid; choose one of \['auto', 'idx'"),
    (dict(data_dir=3), TypeError, r"data_dir must be a folder path or None, got 3"),
    (dict(n_train=0), ValueError, r"n_train=0 is not valid; it must be an integer >= 1"),
    (dict(capacities=[]), ValueError, r"capacities must be a non-empty list"),
    (dict(capacities="32,16"), TypeError, r"capacities must be a non-empty list, got '32,16'"),
    (dict(capacities=[[32, 16], [64, 0]]), ValueError, r"capacities\[1\]\[1\]=0 is not valid"),
    (dict(capacities=[[32, 16], [32, 16]]), ValueError, r"capacities lists \[32, 16\] more than once"),
    (dict(activations=["relu", "gelu"]), ValueError,
     r"activations contains \['gelu'\], which is not valid; choose from \['relu', 'poly'\]"),
    (dict(methods=["base", "dropout"]), ValueError,
     r"methods contains \['dropout'\], which is not valid; choose from " + re.escape(str(list(study.METHODS)))),
    (dict(seeds=[0, 0]), ValueError, r"seeds lists 0 more than once"),
    (dict(lam=-0.01), ValueError, r"lam=-0.01 is not valid; it must be >= 0"),
    (dict(dreg_lambdas=[0.01, 0.0]), ValueError, r"dreg_lambdas\[1\]=0.0 is not valid; it must be > 0"),
    (dict(igp_lambdas=[-1.0]), ValueError, r"igp_lambdas\[0\]=-1.0 is not valid"),
    (dict(frontier_activation="gelu"), ValueError, r"frontier_activation='gelu' is not valid"),
    (dict(frontier_capacities=[]), ValueError, r"frontier_capacities must be a non-empty list"),
    (dict(frontier_capacities=[[128, 0]]), ValueError, r"frontier_capacities\[0\]\[1\]=0 is not valid"),
    (dict(frontier_capacities=[32, 16]), TypeError, r"frontier_capacities\[0\]"),
    (dict(frontier_weight_decays=[-0.1]), ValueError, r"frontier_weight_decays\[0\]=-0.1 is not valid; it must be >= 0"),
    (dict(frontier_weight_decays=[0.1, 0.1]), ValueError, r"frontier_weight_decays lists 0.1 more than once"),
    (dict(frontier_weight_decays=[]), ValueError, r"frontier_weight_decays must be a non-empty list"),
    (dict(epochs=0), ValueError, r"epochs=0 is not valid"),
    (dict(lr=0.0), ValueError, r"lr=0.0 is not valid; it must be > 0"),
    (dict(device="tpu"), ValueError, r"device='tpu' is not valid"),
    (dict(paper_scale_datasets="fashion-mnist"), TypeError, r"paper_scale_datasets must be a .*list"),
    (dict(paper_scale_datasets=["cifar10"]), ValueError,
     r"paper_scale_datasets contains \['cifar10'\], which is not valid; choose from \['mnist', 'fashion-mnist'\]"),
])
def test_bad_parameters(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        settings(**overrides)


def test_paper_profile_adds_fashion_mnist_at_full_size():
    paper = MNISTSettings.from_profile("paper")
    assert paper["paper_scale_datasets"] == ["fashion-mnist"]
    assert MNISTSettings.from_profile("default")["paper_scale_datasets"] == []
    full = study.paper_scale_settings(paper.replace(n_train=4000, n_test=1000, seeds=[0, 1]), "fashion-mnist")
    assert (full["dataset"], full["source"], full["n_train"], full["n_test"]) == ("fashion-mnist", "auto", None, None)
    assert full["seeds"] == [0, 1] and full["paper_scale_datasets"] == []  # every other knob kept


def test_a_paper_scale_dataset_may_not_repeat_the_full_main_one():
    with pytest.raises(ValueError, match=r"repeats dataset='mnist', which already runs with all its images"):
        MNISTSettings.from_profile("default", paper_scale_datasets=["mnist"])
    # a subset of MNIST in the main grid and all of it at paper scale is allowed
    assert MNISTSettings.from_profile("default", n_train=4000, paper_scale_datasets=["mnist"])


def test_unknown_parameter_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameters \['capacity'\].*'capacities'"):
        MNISTSettings.from_profile("smoke", capacity=[32, 16])


def test_configs_and_groups(tiny_mnist):
    s = settings(capacities=[[8, 4], [16, 8]], seeds=[0, 1])
    configs = study.make_configs(s, tiny_mnist)
    assert len(configs) == 2 * 2 * 4 * 2
    assert {c["lam"] for c in configs if c["method"] in ("base", "sn")} == {0.0}
    assert {c["lam"] for c in configs if c["method"] in ("dreg", "igp")} == {s["lam"]}
    # a key holds the data's content (fingerprint and sizes), never its source text or folder
    assert all("data_source" not in c for c in configs)
    assert {c["data_fingerprint"] for c in configs} == {tiny_mnist.fingerprint()}
    groups = {}
    for c in configs:
        groups.setdefault(study.group_key(c), []).append(c)
    # per (capacity, activation): one group of base/dreg/sn x seeds and one of igp x seeds
    assert sorted(len(g) for g in groups.values()) == [2] * 4 + [6] * 4
    for group in groups.values():
        assert len({(str(c["hidden"]), c["activation"]) for c in group}) == 1
        assert len({c["method"] == "igp" for c in group}) == 1
    s = settings(frontier_capacities=[[8, 4], [16, 8]], frontier_weight_decays=[0.0, 1e-2, 1e-1])
    frontier = mnist_frontier.make_frontier_configs(s, tiny_mnist)
    single = [m for m in study.METHODS if m not in study.LAMBDA_METHODS]  # BASE, SN and its variants
    extra_decays = [w for w in s["frontier_weight_decays"] if w != s["weight_decay"]]
    per_capacity = len(single) + len(s["dreg_lambdas"]) + len(s["igp_lambdas"]) + len(s["jacobian_lambdas"]) \
        + len(extra_decays)
    assert len(frontier) == 2 * per_capacity * len(s["frontier_seeds"])
    assert {c["weight_decay"] for c in frontier if c["method"] != "base"} == {s["weight_decay"]}
    assert sorted({c["weight_decay"] for c in frontier if c["method"] == "base"}) == [0.0, 1e-2, 1e-1]
    # BASE at another weight decay trains in a group of its own (AdamW's decay is the group's)
    decayed = [c for c in frontier if c["weight_decay"] == 1e-1]
    assert {study.group_key(c) for c in decayed}.isdisjoint({study.group_key(c) for c in frontier
                                                             if c["weight_decay"] != 1e-1})


def test_sweep_caches_and_saves_tidy_tables(tiny_mnist, tmp_path):
    s = settings(capacities=[[32, 16]], activations=["relu"], seeds=[0, 1], epochs=1,
                 frontier_capacities=[[32, 16]], dreg_lambdas=[1e-2], igp_lambdas=[1e-2],
                 frontier_weight_decays=[1e-2, 1e-1], device="cpu")
    runs = study.run_sweep(s, tiny_mnist, tmp_path, progress=False)
    assert len(runs) == 8 and not runs["cached"].any() and not runs["diverged"].any()
    assert set(runs["group_size"]) == {2, 6}
    assert ((runs["test_acc"] >= 0) & (runs["test_acc"] <= 100)).all()
    assert (runs["ig_p99"] <= runs["ig_max"]).all() and (runs["ig_mean"] > 0).all()
    assert (runs["oj_mean"] > 0).all() and (runs["oj_mean"] <= runs["oj_p99"] * 1.5).all()
    # the two halves of the test images partition it: their accuracies average to the test accuracy
    validation, held_out = split_halves(tiny_mnist.y_test, study.HALVES_SEED)
    pooled = (runs["val_acc"] * len(validation) + runs["heldout_acc"] * len(held_out)) / tiny_mnist.n_test
    np.testing.assert_allclose(pooled, runs["test_acc"], rtol=1e-12)
    assert (runs[["val_ig_p99", "heldout_ig_p99"]].max(axis=1) <= runs["ig_max"]).all()
    saved = pd.read_csv(tmp_path / "runs.csv")
    assert len(saved) == 8 and "ig_quantiles" not in saved and saved["hidden"].eq("32-16").all()
    quantiles = pd.read_csv(tmp_path / "runs_ig_quantiles.csv")
    assert len(quantiles) == 8 * len(study.QUANTILE_LEVELS)
    assert (quantiles.groupby("run_key")["ig_norm"].diff().dropna() >= 0).all()  # monotone
    # the frontier shares BASE, SN and DREG/IGP at lam = 1e-2 with the main grid (cached); the
    # output-gradient runs, the SN variants and BASE at another weight decay are its own
    frontier = mnist_frontier.run_frontier(s, tiny_mnist, tmp_path, progress=False)
    shared = frontier["method"].isin(s["methods"]) & (frontier["weight_decay"] == s["weight_decay"])
    assert frontier.loc[shared, "cached"].all() and not frontier.loc[~shared, "cached"].any()
    assert set(frontier.loc[~shared, "method"]) >= {"jacobian", "base"}
    again = study.run_sweep(s, tiny_mnist, tmp_path, progress=False)
    assert again["cached"].all()
    pd.testing.assert_series_equal(again["ig_p99"], runs["ig_p99"])

    summary = study.summarize(runs)
    assert list(summary["label"]) == ["RELU_BASE", "RELU_DREG", "RELU_IGPEN", "RELU_SN"]
    assert (summary["n_seeds"] == 2).all() and (summary["n_params"] == 784 * 32 + 32 + 32 * 16 + 16 + 170).all()
    tidy = study.table3(summary)
    assert len(tidy) == 4 * len(study.METRICS)
    row = tidy[(tidy["method"] == "RELU_DREG") & (tidy["metric"] == "test_acc")].iloc[0]
    assert (row["paper"], row["paper_std"]) == (96.05, 0.17)
    assert row["difference"] == pytest.approx(row["ours"] - 96.05)
    layout = mnist_text.table3_layout(tidy)
    assert layout.shape == (4, 3 * len(study.METRICS))
    assert layout.loc[("32, 16", "RELU_DREG"), ("Test Acc (%)", "paper")] == "96.05\u00a0±\u00a00.17"  # one line
    assert layout.loc[("32, 16", "RELU_DREG"), ("p99/Mean", "paper")] == "13.81"
    for fig in (mnist_figures.tail_vs_capacity_figure(summary), mnist_figures.accuracy_vs_p99_figure(summary),
                mnist_figures.frontier_figure(mnist_frontier.frontier_summary(frontier), s["weight_decay"]),
                mnist_figures.ig_ecdf_figure(quantiles, saved, "32-16")):
        assert fig.axes
        matplotlib.pyplot.close(fig)


def test_paper_table3_ratio_column_is_p99_over_mean():
    for block in published.TABLE3.values():
        assert len(block) == 8
        for row in block.values():
            assert row[3][0] / row[1][0] == pytest.approx(row[5], abs=0.1)


def fake_runs(dreg_p99_factor: float, dreg_acc_shift: float) -> pd.DataFrame:
    """Hand-made runs: 2 capacities x 2 activations x 3 seeds, BASE, DREG and SN."""
    rows = []
    for h, hidden in enumerate(["32-16", "512-256"]):
        for activation in ("relu", "poly"):
            for seed in range(3):
                wobble = 0.01 * seed
                base_p99 = (3.0 if activation == "relu" else 4.0) * (1 + h) + wobble
                base_max = base_p99 * 1.5
                rows += [
                    dict(method="base", ig_mean=0.15, ig_p99=base_p99, ig_max=base_max, test_acc=97.0),
                    dict(method="dreg", ig_mean=0.12, ig_p99=base_p99 * dreg_p99_factor,
                         ig_max=base_max * dreg_p99_factor, test_acc=97.0 + dreg_acc_shift),
                    dict(method="sn", ig_mean=0.08, ig_p99=0.7, ig_max=1.0, test_acc=95.0)]
                for row in rows[-3:]:
                    row.update(hidden=hidden, activation=activation, seed=seed, lam=0.0, diverged=False)
    runs = pd.DataFrame(rows)
    runs["ig_p99_over_mean"] = runs["ig_p99"] / runs["ig_mean"]
    runs["ig_p95"] = runs["ig_p99"] / 2
    return runs


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # DREG's accuracies are BASE's - 0.4
def test_findings_hold_on_paper_like_runs():
    result = statistics_text.findings(fake_runs(dreg_p99_factor=0.5, dreg_acc_shift=-0.4))
    assert list(result["finding"]) == [1, 2, 3, 4, 5]
    assert list(result["verdict"]) == ["holds"] * 5
    assert "p99 lower in 12/12 pairs" in result.loc[0, "ours"]
    assert "accuracy cost 0.40 points" in result.loc[0, "ours"]
    assert result.loc[0, "paper"] == claims.MNIST_CLAIMS[1].paper_statistic


def test_findings_fail_when_dreg_does_nothing():
    result = statistics_text.findings(fake_runs(dreg_p99_factor=1.2, dreg_acc_shift=-3.0))
    # BASE tails still grow with capacity (half of finding 5), but DREG no longer lowers them
    assert result.set_index("finding").loc[[1, 2, 5], "verdict"].tolist() == ["does not hold", "does not hold",
                                                                              "partly"]
    # DREG (94%) is now less accurate than SN (95%), while SN still has the lighter tail
    assert result.loc[3, "verdict"] == "partly"


def test_summarize_rejects_all_diverged():
    runs = fake_runs(0.5, 0.0).assign(diverged=True)
    with pytest.raises(ValueError, match="every run diverged"):
        study.summarize(runs)


def test_n_parameters():
    assert models.n_parameters("32-16") == 785 * 32 + 33 * 16 + 17 * 10
    assert study.n_parameters([512, 256]) == 785 * 512 + 513 * 256 + 257 * 10
    assert np.isnan(study.paper_value("64-32", "RELU_BASE", "ig_p99")[0])


def test_measure_output_jacobian_norms_and_halves_against_jacrev():
    """The run's ||J_f(x_i)||_F mean and p99 against jacrev, and each half's accuracy and p99 of
    ||grad_x CE|| against jacrev of the per-sample loss and the argmax by hand."""
    torch.manual_seed(0)
    model = models.CompactMLP.seeded(3, 12, (8, 6), 10).double().eval()
    x = torch.randn(41, 12, dtype=torch.float64)
    y = torch.randint(0, 10, (41,))
    validation, held_out = split_halves(y, study.HALVES_SEED)
    halves = {"val": torch.from_numpy(validation), "heldout": torch.from_numpy(held_out)}
    row = study._measure(FitResult(model, history=[{"train_task_loss": 1.0}]), x, y, halves, group_size=1)

    jacobians = vmap(jacrev(lambda xi: model(xi[None])[0]))(x)  # (41, 10 logits, 12 inputs)
    assert jacobians.shape == (41, 10, 12)
    norms = jacobians.flatten(1).norm(dim=1).detach().numpy()
    assert row["oj_mean"] == pytest.approx(norms.mean(), rel=1e-10)
    assert row["oj_p99"] == pytest.approx(np.percentile(norms, 99), rel=1e-10)

    def loss(xi, yi):
        return torch.nn.functional.cross_entropy(model(xi[None]), yi[None])

    grads = vmap(jacrev(loss))(x, y).norm(dim=1).detach().numpy()
    assert row["ig_p99"] == pytest.approx(np.percentile(grads, 99), rel=1e-10)
    correct = (model(x).argmax(dim=1) == y).detach().numpy()
    for half, index in (("val", validation), ("heldout", held_out)):
        assert row[f"{half}_ig_p99"] == pytest.approx(np.percentile(grads[index], 99), rel=1e-10)
        assert row[f"{half}_acc"] == pytest.approx(100 * correct[index].mean(), rel=1e-12)
    assert study.RESULT_SCHEMA.finished.keys() >= {"oj_mean", "oj_p99", *study.HALF_METRICS}


def test_load_data_passes_the_data_settings(monkeypatch, tiny_mnist):
    calls = []
    monkeypatch.setattr(study, "load_mnist", lambda *args, **kwargs: calls.append((args, kwargs)) or tiny_mnist)
    s = settings(dataset="fashion-mnist", source="debian", n_train=50, n_test=30)
    assert study.load_data(s) is tiny_mnist
    assert calls == [(("fashion-mnist", None), dict(source="debian", n_train=50, n_test=30))]
