"""Smoke test of the benchmark scripts: they run, print and save their table (timings are not
checked); their workloads are the studies' settings, and by default those of the saved tables."""
import importlib
import json
import subprocess
import sys
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str, out: Path, *options: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> --quick <options> --out <out>``; asserts that it succeeded."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", *options, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_bench_penalties_quick_prints_and_saves_the_table(tmp_path):
    # One thread: on a busy machine, multi-threaded steps can stall for whole scheduler slices.
    done = run_quick("bench_penalties.py", tmp_path, "--threads", "1")
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("hidden"))
    from dreg_utils.vocabulary import PAPER_LABELS, methods_for

    # the paper labels of every chapter; a step with the other activation as the paper names it
    assert header.split() == ["hidden", "params", "BASE", "ms", *(PAPER_LABELS[m] for m in methods_for("fit")[1:]),
                              "POLY_DREG", "POLY_BASE", "ms"]
    rows = [line for line in lines if line.startswith("(")]
    assert [row.split(")")[0] + ")" for row in rows] == ["(32, 16)", "(128, 64)"]
    for row in rows:
        numbers = row.split(")", 1)[1].split()
        assert len(numbers) == 1 + 1 + len(methods_for("fit")) + 1  # params, BASE ms, the ratios, BASE-poly ms
        assert all(float(v) > 0 for v in numbers)
    # two repetitions are too few for a 95% interval: the verdict says so instead of judging a point
    assert "target (the 95% interval of DREG's ratio below 1.2x BASE at every capacity): inconclusive" in lines

    saved = pd.read_csv(tmp_path / "penalties.csv")
    assert list(saved["hidden"].unique()) == ["32-16", "128-64"]
    assert saved.columns.tolist() == ["hidden", "params", "method", "activation", "ratio", "ratio_q1", "ratio_q3",
                                      "ci_low", "ci_high", "step_ms"]
    assert list(dict.fromkeys(zip(saved["method"], saved["activation"]))) == \
        [*((m, "relu") for m in methods_for("fit")), ("base", "poly"), ("dreg", "poly")]  # keys, not labels
    assert (saved.loc[saved["method"] == "base", "ratio"] == 1.0).all()
    assert (saved["step_ms"] > 0).all()
    meta = json.loads((tmp_path / "penalties.meta.json").read_text())
    assert meta["quick"] is True and meta["torch_threads"] == 1 and meta["cpu"]


@pytest.mark.parametrize("method", ["base", "dreg", "igp", "sn"])
def test_the_floor_counts_the_products_a_real_step_dispatches(method):
    """benchmarks/floor.py's count of a step's matrix products equals what torch runs."""
    from collections import Counter

    import torch

    from dreg_utils.models import CompactMLP
    from dreg_utils.train import make_step

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from floor import RecordProducts, step_products

    model = CompactMLP.seeded(0, 784, (128, 64), 10, spectral_norm=method == "sn")
    step = make_step(model, torch.optim.AdamW(model.parameters()), method,
                     0.01 if method in ("dreg", "igp") else 0.0, "classification")
    x, y = torch.randn(32, 784), torch.randint(0, 10, (32,))
    step(x, y)
    with RecordProducts() as recorded:
        step(x, y)
    products = Counter()
    for func, args in recorded.calls:  # a single model: mm and addmm, each (m, k) @ (k, n)
        a, b = (args[0], args[1]) if func.overloadpacket.__name__ == "mm" else (args[1], args[2])
        (m, k), (_, n) = a[0], b[0]
        products[(m, k, n)] += 1
    matrix_products = Counter({k: v for k, v in products.items() if min(k) > 1})  # no mat-vec (SN)
    assert matrix_products == step_products((784, 128, 64, 10), 32, method)


def test_the_replay_issues_a_group_steps_products_alone_with_their_layouts():
    """floor.RecordProducts sees every product of a vectorised group step (per member, the
    counts of floor.step_products, up to transposition: the group forms weight gradients as
    [in, out]) and floor.replayer issues the same ops, shapes and strides."""
    from collections import Counter

    import torch

    from dreg_utils.ensemble import Member, build_group, make_group_step

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from floor import RecordProducts, replayer, step_products

    members = [Member(s, m, 0.01 if m == "dreg" else 0.0) for m in ("base", "dreg") for s in (0, 1)]
    _, net, optimizer = build_group(members, 784, (128, 64), 10)
    step = make_group_step(net, optimizer, members)
    x, y = torch.randn(4, 32, 784), torch.randint(0, 10, (4, 32))
    with RecordProducts() as recorded:
        step(x, y)
    per_member = Counter()
    for func, args in recorded.calls:
        assert func.overloadpacket.__name__ in ("bmm", "baddbmm")
        (s, m, k), (_, _, n) = (args[0][0], args[1][0]) if func.overloadpacket.__name__ == "bmm" \
            else (args[1][0], args[2][0])
        assert s == len(members)
        per_member[(min(m, n), k, max(m, n))] += 1  # C = AB and C^T = B^T A^T: the same product
    expected = Counter()
    for (m, k, n), count in step_products((784, 128, 64, 10), 32, "base").items():
        expected[(min(m, n), k, max(m, n))] += count
    assert per_member == expected
    with RecordProducts() as replayed:
        replayer(recorded.calls)()
    assert replayed.calls == recorded.calls


@pytest.mark.slow
def test_bench_naive_quick_prints_the_ratio_and_the_floor(tmp_path):
    done = run_quick("bench_naive.py", tmp_path, "--threads", "1")
    assert "project / reference = " in done.stdout and "wall / floor = " in done.stdout
    saved = pd.read_csv(tmp_path / "naive.csv")
    assert list(saved["arm"]) == ["reference", "project"] and (saved["wall_over_floor"] > 1).all()
    meta = json.loads((tmp_path / "naive.meta.json").read_text())
    assert meta["floor_s"] > 0 and meta["runs"] == 4


def test_bench_gpu_says_when_there_is_no_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the GPU benchmark would run the sweep")
    done = run_quick("bench_gpu.py", tmp_path, timeout=120)
    assert "CUDA is not available" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_predicted_projection_variances_hold_for_every_distribution():
    """bench_projections' formulas against exact enumeration (Rademacher: all 2^k sign vectors) and
    a large Monte-Carlo sample of v^T A v (Gaussian, sphere), for a fixed 3 x 5 Jacobian."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_projections import predicted_relative_variance

    gen = torch.Generator().manual_seed(0)
    jac = torch.randn(1, 3, 5, generator=gen, dtype=torch.float64)
    a = jac[0] @ jac[0].T
    trace = torch.trace(a)
    signs = torch.cartesian_prod(*[torch.tensor([-1.0, 1.0], dtype=torch.float64)] * 3)
    quad = torch.einsum("ri,ij,rj->r", signs, a, signs)
    assert float(quad.mean()) == pytest.approx(float(trace), rel=1e-12)
    assert float(predicted_relative_variance(jac, "rademacher")) == pytest.approx(float(quad.var(unbiased=False) / trace ** 2), rel=1e-12)
    v = torch.randn(400_000, 3, generator=gen, dtype=torch.float64)
    for distribution, draws in (("gaussian", v), ("sphere", v / v.norm(dim=1, keepdim=True) * 3 ** 0.5)):
        quad = torch.einsum("ri,ij,rj->r", draws, a, draws)
        assert float(predicted_relative_variance(jac, distribution)) == pytest.approx(float(quad.var() / trace ** 2), rel=0.02)


@pytest.mark.slow
def test_bench_projections_quick_saves_the_table(tmp_path):
    run_quick("bench_projections.py", tmp_path)
    saved = pd.read_csv(tmp_path / "projections.csv")
    assert set(saved["distribution"]) == {"gaussian", "rademacher", "sphere"}
    one_output = saved[saved["outputs"] == 1].set_index("distribution")
    assert one_output.loc["rademacher", "relative_variance"] == pytest.approx(0.0, abs=1e-20)
    assert one_output.loc["sphere", "relative_variance"] == pytest.approx(0.0, abs=1e-20)
    assert (saved.loc[saved["distribution"] == "gaussian", "reduction_vs_gaussian"] == 1.0).all()
    assert json.loads((tmp_path / "projections.meta.json").read_text())["quick"] is True


@pytest.mark.slow
def test_bench_gplearn_quick_saves_the_ratio(tmp_path):
    run_quick("bench_gplearn.py", tmp_path)
    saved = pd.read_csv(tmp_path / "gplearn.csv")
    assert list(saved["budget"]) == ["smoke (60 x 3)"]  # the smoke profile's budget
    row = saved.iloc[0]
    assert row["fast_over_gplearn"] == pytest.approx(row["fast_s_per_fit"] / row["gplearn_s_per_fit"])
    assert json.loads((tmp_path / "gplearn.meta.json").read_text())["dataset"] == "concrete"


@pytest.mark.slow
def test_bench_teachers_quick_saves_both_paths(tmp_path):
    run_quick("bench_teachers.py", tmp_path)
    row = pd.read_csv(tmp_path / "teachers.csv").iloc[0]
    assert row["epochs"] == 5 and row["teachers"] == 6  # the default group: base, 3 Jacobian, 2 CR-penalty
    assert row["group_over_one_at_a_time"] == pytest.approx(row["group_s"] / row["one_at_a_time_s"])
    assert row["max_prediction_difference"] < 1e-3  # the same teachers after 5 epochs, up to float32 rounding


# ----------------------------------------------------------------------------- workloads from the settings

MNIST_PROTOCOL = ("capacities", "activations", "methods", "seeds", "lam", "epochs", "batch_size", "lr",
                  "weight_decay", "n_train", "n_test")
TRAINING = ("epochs", "batch_size", "lr", "weight_decay")
PROFILES = ("smoke", "default", "paper")


def benchmark(name: str):
    """The module ``benchmarks/<name>.py``, imported as its scripts import each other."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module(name)


def tiny_images():
    import torch

    from dreg_utils.data.mnist import MNISTData

    zeros = torch.zeros(2, 784), torch.zeros(2, dtype=torch.long)
    return MNISTData("tiny", *zeros, *zeros, source="zeros")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_mnist_benchmarks_train_the_studys_runs_in_its_groups(profile):
    """bench_sweep (and bench_gpu, which takes its workload) trains Table 3's grid of the MNIST
    study's settings, run for run, in the study's groups (one shape each, IGPEN apart); bench_naive
    its ReLU half on at most 5,000 training images."""
    from dreg_utils.studies.mnist import MNISTSettings
    from dreg_utils.vocabulary import METHODS

    study = MNISTSettings.from_profile(profile)
    sweep = benchmark("bench_sweep").workload(profile)
    assert {k: sweep[k] for k in MNIST_PROTOCOL} == {k: study[k] for k in MNIST_PROTOCOL}
    groups = benchmark("workloads").mnist_groups(sweep, tiny_images())
    runs = [config for _, _, configs in groups for config in configs]
    expected = [(tuple(h), a, m, s, study["lam"] if METHODS[m].takes_lambda else 0.0)
                for h, a, m, s in product(study["capacities"], study["activations"], study["methods"], study["seeds"])]
    trained = [(tuple(c["hidden"]), c["activation"], c["method"], c["seed"], c["lam"]) for c in runs]
    assert sorted(trained) == sorted(expected)
    assert all(c[k] == study[k] for c in runs for k in TRAINING)
    assert len(groups) == 2 * len(study["capacities"]) * len(study["activations"])
    for hidden, activation, configs in groups:
        assert {(tuple(c["hidden"]), c["activation"]) for c in configs} == {(hidden, activation)}
        assert {c["method"] for c in configs} == {"igp"} or "igp" not in {c["method"] for c in configs}
    quick_gpu = benchmark("bench_gpu").chosen_groups(sweep, True, tiny_images())
    assert [(h, a, [c["epochs"] for c in configs]) for h, a, configs in quick_gpu] == \
        [(groups[0][0], groups[0][1], [1] * len(groups[0][2]))]

    naive = benchmark("bench_naive")
    reference = naive.workload(profile)
    assert reference["activations"] == ["relu"] and reference["n_train"] == min(5_000, study["n_train"] or 5_000)
    assert all(reference[k] == study[k] for k in MNIST_PROTOCOL if k not in ("activations", "n_train"))
    quick = naive.workload(profile, quick=True)
    assert (quick["capacities"], quick["seeds"], quick["epochs"]) == (study["capacities"][:1], study["seeds"][:1], 1)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_penalty_benchmark_times_every_fit_method_at_the_studys_settings(profile):
    from dreg_utils.published import COST_CLAIMS
    from dreg_utils.studies.mnist import MNISTSettings
    from dreg_utils.vocabulary import methods_for

    study = MNISTSettings.from_profile(profile)
    settings, variants = benchmark("bench_penalties").workload(profile)
    assert {k: settings[k] for k in MNIST_PROTOCOL} == {k: study[k] for k in MNIST_PROTOCOL}
    first, *others = study["activations"]
    assert tuple(v.method for v in variants if v.activation == first) == methods_for("fit")
    assert [(v.method, v.activation) for v in variants if v.activation != first] == \
        [(m, a) for a in others for m in ("base", "dreg")]
    assert set(COST_CLAIMS) <= {v.method for v in variants}  # the methods the performance chapter reads


@pytest.mark.parametrize("profile", PROFILES)
def test_the_distillation_benchmarks_take_the_studys_teachers_and_budgets(profile):
    from dreg_utils.studies.distillation import DistillationSettings, teacher_grid

    study = DistillationSettings.from_profile(profile)
    teachers = benchmark("bench_teachers")
    protocol = {k: study[k] for k in ("hidden", "epochs", "batch_size", "lr", "weight_decay")}
    assert teachers.workload(profile) == (study["cost_dataset"], teacher_grid(study), protocol)
    assert teachers.workload(profile, quick=True)[2] == {**protocol, "epochs": teachers.QUICK_EPOCHS}
    gp_keys = ("population_size", "generations", "tournament_size", "parsimony_coefficient", "function_set")
    budgets = {**benchmark("bench_gplearn").workload()[1], **benchmark("bench_gplearn").workload(quick=True)[1]}
    label = f"{profile} ({study['population_size']} x {study['generations']})"
    assert budgets[label] == {k: study[k] for k in gp_keys}


def test_the_default_workloads_are_those_of_the_saved_tables():
    """Run without --profile, each benchmark measures what benchmarks/results holds, so a new run
    compares with the saved tables (bench_penalties' lam excepted: now the study's 1e-2, was 1e-3;
    a step's cost does not depend on its value)."""
    from dreg_utils.runs import hidden_label

    results = ROOT / "benchmarks" / "results"

    def meta(name: str) -> dict:
        return json.loads((results / f"{name}.meta.json").read_text())

    workloads = benchmark("workloads")
    sweep = benchmark("bench_sweep").workload()
    groups = workloads.mnist_groups(sweep, tiny_images())
    steps = sweep["epochs"] * -(-workloads.SPLIT_SIZES[0] // sweep["batch_size"])
    assert (sum(len(configs) for _, _, configs in groups), steps) == \
        (meta("sweep")["runs"], meta("sweep")["steps_per_run"])
    check = benchmark("bench_sweep").check_group(sweep, groups)
    assert f"{check[0]} {check[1]}" == meta("sweep")["check_cell"]
    naive = benchmark("bench_naive").workload()
    naive_runs = len(naive["capacities"]) * len(naive["methods"]) * len(naive["seeds"])
    assert (naive_runs, naive["n_train"], naive["epochs"], naive["batch_size"]) == \
        tuple(meta("naive")[k] for k in ("runs", "n_train", "epochs", "batch"))
    settings, variants = benchmark("bench_penalties").workload()
    saved = pd.read_csv(results / "penalties.csv", dtype={"hidden": str})
    assert list(variants) == list(dict.fromkeys(zip(saved["method"], saved["activation"])))
    assert [hidden_label(h) for h in settings["capacities"]] == list(dict.fromkeys(saved["hidden"]))
    assert (settings["batch_size"], settings["lr"], settings["weight_decay"]) == \
        tuple(meta("penalties")[k] for k in ("batch", "lr", "weight_decay"))
    dataset, budgets = benchmark("bench_gplearn").workload()
    assert (dataset, list(budgets)) == (meta("gplearn")["dataset"],
                                        list(pd.read_csv(results / "gplearn.csv")["budget"]))
    dataset, teachers, protocol = benchmark("bench_teachers").workload()
    assert (dataset, [list(t) for t in teachers], protocol["epochs"]) == \
        (meta("teachers")["dataset"], meta("teachers")["teachers"], pd.read_csv(results / "teachers.csv")["epochs"][0])
    teacher_cost = benchmark("bench_teacher_cost").workload()
    assert teacher_cost == {k: meta("teacher_cost")[k] for k in teacher_cost}
    assert list(dict.fromkeys(pd.read_csv(results / "teacher_cost.csv")["outputs"])) == teacher_cost["outputs"]
    memory = pd.read_csv(results / "memory.csv", dtype={"hidden": str})
    assert [hidden_label(h) for h in settings["capacities"]] == list(dict.fromkeys(memory["hidden"]))
    assert (settings["batch_size"], settings["lam"], settings["activations"][0]) == \
        tuple(meta("memory")[k] for k in ("batch", "lam", "activation"))
    assert list(dict.fromkeys(memory["method"])) == list(benchmark("bench_memory").METHODS_MEASURED)


@pytest.mark.slow
def test_bench_teacher_cost_quick_times_the_papers_scalar_teacher_first(tmp_path):
    from dreg_utils.studies.distillation import DistillationSettings
    from dreg_utils.studies.teacher_cost import COST_METHODS

    run_quick("bench_teacher_cost.py", tmp_path)
    saved = pd.read_csv(tmp_path / "teacher_cost.csv")
    assert saved.columns.tolist() == ["outputs", "method", "seconds", "ratio", "ci_low", "ci_high", "repeats"]
    settings = DistillationSettings.from_profile("default")
    assert list(dict.fromkeys(saved["outputs"])) == [1, *(k for k in settings["cost_outputs"] if k != 1)]
    assert list(saved["method"].iloc[:len(COST_METHODS)]) == list(COST_METHODS)
    assert (saved.loc[saved["method"] == "base", "ratio"] == 1.0).all() and (saved["seconds"] > 0).all()
    assert saved["ci_low"].isna().all() and (saved["repeats"] == 2).all()  # two repeats: too few for an interval
    meta = json.loads((tmp_path / "teacher_cost.meta.json").read_text())
    assert meta["quick"] is True and meta["hidden"] == settings["hidden"] and meta["dataset"] == settings["cost_dataset"]
