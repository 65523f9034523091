"""Symbolic distillation: metrics, gplearn settings, formulas, teachers, the study's tables."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from gplearn.functions import _function_map as F
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score as sk_r2

from dreg_utils.book import distillation_text
from dreg_utils.studies import distillation as sr_study
from dreg_utils.studies import distillation_tables as sr_tables
from dreg_utils.studies import teacher_cost
from dreg_utils import fast_gplearn, formulas
from dreg_utils import symbolic_regression as symbolic
from dreg_utils.data.stored_formula import read_srepr
from dreg_utils.data.regression import load_dataset
from dreg_utils.models import CompactMLP
from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.settings import PROFILES
from dreg_utils.teachers import mean_jacobian_sq, predict, train_teacher, train_teachers

TINY_GP = {"population_size": 40, "generations": 2, "tournament_size": 5}
TINY_TEACHER = {"hidden": [16], "epochs": 2, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.0}


@pytest.fixture(scope="module")
def spring():
    """Feynman I.14.4, U = k x^2 / 2, without noise."""
    return load_dataset("feynman_I_14_4", noise=0.0, n_samples=200)


# ------------------------------------------------------------------ metrics

def test_r2_matches_sklearn():
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=50), rng.normal(size=50)
    assert symbolic.r2_score(y, yhat) == pytest.approx(sk_r2(y, yhat), rel=1e-12)
    assert symbolic.r2_score(y, y) == 1.0
    assert symbolic.r2_score(y, np.full(50, y.mean())) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("y, yhat, pattern", [
    (np.ones(5), np.zeros(5), "undefined for a constant"),
    (np.arange(5.0), np.arange(4.0), "equal length"),
])
def test_r2_rejects_bad_input(y, yhat, pattern):
    with pytest.raises(ValueError, match=pattern):
        symbolic.r2_score(y, yhat)


def test_snr_proxy_matches_sklearn_linear_regression():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3.0 + rng.normal(size=200)
    residual = y - LinearRegression().fit(x, y).predict(x)
    expected = np.var(y) / np.var(residual)
    assert symbolic.snr_proxy(x, y) == pytest.approx(expected, rel=1e-10)
    r2_lin = LinearRegression().fit(x, y).score(x, y)
    assert symbolic.snr_proxy(x, y) == pytest.approx(1 / (1 - r2_lin), rel=1e-10)


def test_relative_improvement():
    assert symbolic.relative_improvement(0.1, 0.615) == pytest.approx(515.0)
    assert symbolic.relative_improvement(0.5, 0.25) == pytest.approx(-50.0)
    assert symbolic.relative_improvement(-0.2, 0.2) == pytest.approx(200.0)
    assert math.isnan(symbolic.relative_improvement(0.0, 0.3))


# ------------------------------------------------------------------ gplearn settings

def test_gp_defaults_are_gplearns_with_the_papers_function_set():
    s = symbolic.check_gp_settings({})
    assert s["function_set"] == ["add", "sub", "mul", "div"]
    reg = symbolic.make_symbolic_regressor({}, seed=3)
    assert reg.population_size == 1000 and reg.generations == 20 and reg.random_state == 3
    assert reg.init_depth == (2, 6) and reg.const_range == (-1.0, 1.0)


@pytest.mark.parametrize("gp, error, pattern", [
    ({"function_set": []}, ValueError, r"function_set=\[\] is not valid; give a non-empty list"),
    ({"function_set": ["add", "pow"]}, ValueError, r"function_set contains \['pow'\], which gplearn does not know"),
    ({"function_set": "add"}, ValueError, r"function_set='add' is not valid"),
    ({"population_size": 0}, ValueError, r"population_size=0 is not valid; it must be an integer >= 2"),
    ({"population_size": 10.5}, TypeError, r"population_size must be an integer"),
    ({"generations": 0}, ValueError, r"generations=0 is not valid"),
    ({"population_size": 10, "tournament_size": 20}, ValueError,
     r"tournament_size=20 is not valid; it must be <= population_size=10"),
    ({"parsimony_coefficient": -1}, ValueError, r"parsimony_coefficient=-1.0 is not valid"),
    ({"init_depth": [6, 2]}, ValueError, r"init_depth=\[6, 2\] is not valid; low must be <= high"),
    ({"const_range": [1.0]}, ValueError, r"const_range=\[1.0\] is not valid; it must be a pair"),
    ({"metric": "huber"}, ValueError, r"metric='huber' is not valid; choose one of"),
    ({"n_jobs": 0}, ValueError, r"n_jobs=0 is not valid"),
    ({"populaton_size": 5}, ValueError, r"unknown gplearn settings \['populaton_size'\]"),
])
def test_bad_gp_settings(gp, error, pattern):
    with pytest.raises(error, match=pattern):
        symbolic.check_gp_settings(gp)


# ------------------------------------------------------------------ formulas

def test_program_to_sympy_of_a_known_program():
    x0, x1 = sympy.symbols("x0 x1")
    program = [F["add"], 0, F["mul"], 1, F["div"], 0.5, 0]  # add(X0, mul(X1, div(0.5, X0)))
    assert sympy.simplify(formulas.program_to_sympy(program, (x0, x1)) - (x0 + x1 * 0.5 / x0)) == 0
    with pytest.raises(ValueError, match="malformed"):
        formulas.program_to_sympy([F["add"], 0, 1, 1], (x0, x1))


@pytest.mark.parametrize("program, expected", [
    ([F["div"], 0, F["sub"], 1, 1], lambda x0, x1: 1.0 + 0 * x0),  # x0 / (x1 - x1): gplearn gives 1
    ([F["add"], 0, F["div"], 1, 0.0005], lambda x0, x1: x0 + 1.0),  # |0.0005| <= 0.001: 1
    ([F["add"], 0, F["div"], 1, 0.5], lambda x0, x1: x0 + 2 * x1),  # a plain division
    ([F["mul"], 0, F["inv"], -0.0002], lambda x0, x1: 0 * x0),  # inv of a tiny constant: 0
])
def test_program_to_sympy_follows_gplearns_protected_division(program, expected):
    """The formula evaluates like gplearn's own execution of the program (its protected div and inv)."""
    from gplearn._program import _Program
    from gplearn.fitness import _fitness_map

    x0, x1 = sympy.symbols("x0 x1")
    expr = formulas.program_to_sympy(program, (x0, x1))
    assert not expr.has(sympy.zoo, sympy.nan)
    x = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    gp = _Program(function_set=[F["add"], F["sub"], F["mul"], F["div"], F["inv"]], arities={1: [F["inv"]],
                  2: [F["add"], F["sub"], F["mul"], F["div"]]}, init_depth=(2, 3), init_method="grow",
                  n_features=2, const_range=(-1, 1), metric=_fitness_map["mse"], p_point_replace=0.05,
                  parsimony_coefficient=0.0, random_state=np.random.RandomState(0), program=list(program))
    ours = np.broadcast_to(sympy.lambdify((x0, x1), expr, "numpy")(x[:, 0], x[:, 1]), (50,))
    np.testing.assert_allclose(ours, gp.execute(x), rtol=1e-12)
    np.testing.assert_allclose(ours, expected(x[:, 0], x[:, 1]), rtol=1e-12)


def test_formulas_equal_refuses_a_non_rational_truth_and_rejects_a_non_rational_candidate():
    k, x = sympy.symbols("k x")
    points = np.random.default_rng(0).uniform(1, 2, size=(20, 2))
    assert not formulas.formulas_equal(sympy.zoo * k + 1, k * x, (k, x), points)
    assert not formulas.formulas_equal(sympy.sin(k), k * x, (k, x), points)
    with pytest.raises(ValueError, match=r"needs a rational function of \(k, x\) as truth, got sin\(k\)"):
        formulas.formulas_equal(k * x, sympy.sin(k), (k, x), points)


def test_gplearn_runs_with_this_scikit_learn_and_its_formula_predicts_like_it():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(200, 3))
    y = x[:, 0] * x[:, 1] + x[:, 2]
    reg = symbolic.make_symbolic_regressor({"population_size": 200, "generations": 4}, seed=0).fit(x, y)
    symbols = sympy.symbols("a b c")
    expr = formulas.program_to_sympy(reg._program.program, symbols)
    formula = sympy.lambdify(symbols, expr, "numpy")
    np.testing.assert_allclose(np.broadcast_to(formula(*x.T), (200,)), reg.predict(x), rtol=1e-9, atol=1e-12)
    assert symbolic.r2_score(y, reg.predict(x)) > 0.5


def test_formulas_equal_on_the_spring_energy(spring):
    k, x = formulas.raw_symbols(spring)
    truth = spring.truth
    points = spring.x_test * spring.x_std + spring.x_mean
    program = [F["mul"], 0.5, F["mul"], 0, F["mul"], 1, 1]  # mul(0.5, mul(k, mul(x, x)))
    found = formulas.program_to_sympy(program, (k, x))
    assert formulas.formulas_equal(found, truth, (k, x), points)
    assert formulas.formulas_equal(0.501 * k * x**2 + 1e-5 * k, truth, (k, x), points)
    assert not formulas.formulas_equal(0.52 * k * x**2, truth, (k, x), points)
    assert not formulas.formulas_equal(k * x / 2, truth, (k, x), points)
    assert not formulas.formulas_equal(k * x**2 / 2 + 0.3 * x, truth, (k, x), points)
    assert not formulas.formulas_equal(sympy.sin(k), truth, (k, x), points)  # not rational: not the truth


def test_formulas_equal_rounds_pi_and_rational_forms():
    q1, q2, eps, r = symbols = sympy.symbols("q1 q2 epsilon r", positive=True)
    truth = q1 * q2 / (4 * sympy.pi * eps * r**2)
    points = np.random.default_rng(0).uniform(1, 5, size=(100, 4))
    assert formulas.formulas_equal(0.0796 * q1 * q2 / (eps * r * r), truth, symbols, points)
    assert formulas.formulas_equal(q2 / ((12.566 * eps * r) * (r / q1)), truth, symbols, points)
    assert not formulas.formulas_equal(q1 * q2 / (eps * r**2), truth, symbols, points)


def test_standardised_truth_maps_back_to_raw_units():
    """The ground truth written in standardised coordinates, mapped back, is the truth again."""
    data = load_dataset("feynman_I_18_4", noise=0.0, n_samples=200)
    raw = formulas.raw_symbols(data)
    z = formulas.standardized_symbols(data.feature_names)
    substitution = {xj: float(m) + float(s) * zj for xj, zj, m, s in zip(raw, z, data.x_mean, data.x_std)}
    in_z = (data.truth.xreplace(substitution) - data.y_mean) / data.y_std
    points = data.x_test * data.x_std + data.x_mean
    assert formulas.formulas_equal(formulas.to_raw_units(in_z, data), data.truth, raw, points)
    values = sympy.lambdify(z, in_z, "numpy")(*data.x_test.T)
    np.testing.assert_allclose(values, data.y_test, atol=1e-9)


def test_round_simplify_and_latex():
    a, b = sympy.symbols("z_cement z_k")
    assert formulas.round_floats(0.123456 * a, 3) == sympy.Float(0.123, 3) * a
    assert formulas.simplify_formula((a + a) * 0.25 + 0.5 * a) == a
    latex = distillation_text.formula_latex(a + b)  # the book writes LaTeX; formulas.py holds none
    assert r"\tilde{\mathrm{cement}}" in latex and r"\tilde{k}" in latex
    assert not hasattr(formulas, "formula_latex")


def test_formula_captions_name_the_teacher_from_its_key_and_lambda():
    """The study's formulas table holds the teacher's key and lambda; the book writes the words."""
    a = sympy.Symbol("z_x0")
    found = pd.DataFrame([{"dataset": "concrete", "teacher": teacher, "lam": lam, "formula": 2 * a,
                           "raw_units": None, "truth": None, "length": 3, "test_r2": 0.5}
                          for teacher, lam in (("lambda_0", 0.0), ("lambda_validation", 0.01))])
    captions = [caption for caption, _ in distillation_text.formula_blocks(found)]
    assert captions == ["**concrete**, teacher at lambda = 0: length 3, test R² = 0.500",
                        "**concrete**, teacher at validation lambda = 0.01: length 3, test R² = 0.500"]


# ------------------------------------------------------------------ teachers and students

def test_mean_jacobian_sq_of_a_linear_model():
    model = CompactMLP(3, [4], 1)
    with torch.no_grad():  # zero the hidden layer's effect: f(x) = b, then make f linear via the bias path
        model.layers[0].weight.zero_()
        model.layers[0].bias.fill_(1.0)
    assert mean_jacobian_sq(model, np.zeros((5, 3))) == pytest.approx(0.0)
    model = CompactMLP(2, [2], 1)
    with torch.no_grad():  # f(x) = relu(x1) - relu(-x1) + 2 relu(x2) ... here: identity rows
        model.layers[0].weight.copy_(torch.eye(2))
        model.layers[0].bias.zero_()
        model.layers[1].weight.copy_(torch.tensor([[3.0, 4.0]]))
    x = np.array([[1.0, 1.0], [1.0, -1.0]])  # gradients (3, 4) and (3, 0)
    assert mean_jacobian_sq(model, x) == pytest.approx((25.0 + 9.0) / 2)


@pytest.mark.parametrize("method, lam", [("base", 0.0), ("jacobian", 0.1), ("dreg", 0.1)])
def test_distill_returns_every_metric(spring, method, lam):
    row = symbolic.distill(spring, method, lam, 0, TINY_TEACHER, TINY_GP, tree_max_depth=3)
    for key in ("teacher_test_r2", "teacher_val_r2", "teacher_clean_r2", "teacher_jacobian_sq",
                "gp_test_r2", "gp_val_r2", "gp_fidelity_r2", "gp_clean_r2", "tree_test_r2",
                "tree_fidelity_r2", "teacher_seconds", "gp_seconds", "tree_seconds"):
        assert np.isfinite(row[key]), key
    assert row["gp_length"] >= 1 and isinstance(row["gp_equals_truth"], bool)
    assert sympy.srepr(read_srepr(row["gp_formula"])) == row["gp_formula"]  # read back without sympify
    assert sr_study.DISTILL_SCHEMA.problem(json.loads(json.dumps(row))) is None


def test_direct_controls(spring):
    row = symbolic.direct(spring, 0, TINY_GP, tree_max_depth=3)
    assert row["snr_proxy"] == pytest.approx(symbolic.snr_proxy(spring.x_train, spring.y_train))
    assert row["boost_test_r2"] > 0.9 and "gp_fidelity_r2" not in row
    assert sr_study.DIRECT_SCHEMA.problem(json.loads(json.dumps(row))) is None


def test_train_teacher_rejects_unknown_method(spring):
    with pytest.raises(ValueError, match=r"method='igp' is not valid"):
        train_teacher(spring, "igp", 0.1, 0, **TINY_TEACHER)
    with pytest.raises(ValueError, match=r"method='sn' is not valid"):
        train_teachers(spring, [("base", 0.0), ("sn", 0.0)], 0, **TINY_TEACHER)


def test_teachers_trained_as_a_group_match_teachers_trained_alone(spring):
    """train_teachers (one vectorised group) against train_teacher (train.fit, one at a time):
    the same initialisation, minibatch order and penalty, so the same predictions up to
    float32 rounding; the penalties make the teachers differ from each other."""
    teachers = [("base", 0.0), ("jacobian", 0.5), ("dreg", 0.5)]
    protocol = {**TINY_TEACHER, "epochs": 4}
    group = train_teachers(spring, teachers, 3, **protocol)
    x = spring.x_test
    alone = [predict(train_teacher(spring, m, lam, 3, **protocol)[0], x) for m, lam in teachers]
    grouped = [predict(result.model.eval(), x) for result in group]
    for a, g in zip(alone, grouped):
        np.testing.assert_allclose(g, a, atol=2e-5)
    assert np.abs(alone[0] - alone[1]).max() > 1e-3 and np.abs(alone[0] - alone[2]).max() > 1e-3


def test_a_task_trains_each_distinct_teacher_once_and_shares_it(spring, monkeypatch):
    """The ablation's variants that keep the teacher protocol share one task and one teacher."""
    config = {"kind": "distill", "dataset": spring.name, "noise": 0.0, "seed": 0, "gp": TINY_GP,
              "tree_max_depth": 3, "teacher": TINY_TEACHER}
    configs = [{**config, "method": m, "lam": lam, "raw_students": raw}
               for raw in (False, True) for m, lam in (("base", 0.0), ("jacobian", 0.1))]
    assert len({sr_study.task_key(c) for c in configs}) == 1
    assert sr_study.task_key({**configs[0], "teacher": {**TINY_TEACHER, "epochs": 3}}) != sr_study.task_key(configs[0])
    trained = []
    original = sr_study.teach
    monkeypatch.setattr(sr_study, "teach", lambda inputs, teachers, *a, **k: trained.append(teachers)
                        or original(inputs, teachers, *a, **k))
    monkeypatch.setattr(sr_study, "load_dataset", lambda name, noise: spring)
    rows = sr_study.run_task(configs)
    assert trained == [[("base", 0.0), ("jacobian", 0.1)]]
    assert [r["teacher_test_r2"] for r in rows[:2]] == [r["teacher_test_r2"] for r in rows[2:]]
    assert rows[0]["teacher_test_r2"] != rows[1]["teacher_test_r2"]


# ------------------------------------------------------------------ the study

def study_settings(**overrides):
    return sr_study.validate(DistillationSettings.from_profile("smoke", **overrides))


def test_profiles_validate_and_paper_uses_the_papers_lambdas():
    for profile in PROFILES:
        sr_study.validate(DistillationSettings.from_profile(profile))
    assert DistillationSettings.from_profile("paper")["lambdas"] == [0.0, 0.001, 0.01, 0.05, 0.1, 0.5]


@pytest.mark.parametrize("overrides, error, pattern", [
    ({"datasets": ["concrete", "mnist"]}, ValueError, r"datasets\[1\]='mnist' is not valid; choose one of"),
    ({"function_set": []}, ValueError, r"function_set must be a non-empty list, got \[\]"),
    ({"population_size": 1}, ValueError, r"population_size=1 is not valid"),
    ({"lambdas": [0.1, 0.5]}, ValueError, r"lambdas=\[0.1, 0.5\] must include 0.0"),
    ({"lambdas": [0.0, 0.1, 0.1]}, ValueError, r"lambdas lists 0.1 more than once"),
    ({"dreg_lambdas": [0.0, 0.1]}, ValueError, r"dreg_lambdas\[0\]=0.0 is not valid; it must be > 0"),
    ({"noise_datasets": ["concrete"]}, ValueError, r"noise_datasets contains \['concrete'\]"),
    ({"n_jobs": 0}, ValueError, r"n_jobs=0 is not valid"),
    ({"tree_max_depth": 0}, ValueError, r"tree_max_depth=0 is not valid"),
])
def test_bad_study_parameters(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        study_settings(**overrides)


def test_make_configs_counts_and_shares_real_datasets_across_noise():
    s = study_settings(dreg_lambdas=[])
    configs = sr_study.make_configs(s, ["concrete", "feynman_I_14_4"], [0.0, 0.1])
    # concrete: 1 noise-free run set (noise ignored); feynman: 2 noise levels; each 1 direct + 2 teachers
    assert len(configs) == 3 * 3
    assert {c["noise"] for c in configs if c["dataset"] == "concrete"} == {None}
    assert [c["method"] for c in configs[:3]] == [None, "base", "jacobian"]
    with_dreg = sr_study.make_configs(study_settings(), ["concrete"], [0.1])
    assert [c["method"] for c in with_dreg] == [None, "base", "jacobian", "dreg"]


def fake_summary():
    """Two datasets: 'a' gains from lambda = 0.1, 'b' starts near zero."""
    rows = []
    for dataset, student, val, tree in (("a", [0.4, 0.6, 0.5], [0.5, 0.55, 0.6], [0.7, 0.7, 0.6]),
                                        ("b", [0.02, 0.1, 0.05], [0.1, 0.2, 0.1], [0.5, 0.4, 0.45])):
        rows.append({"dataset": dataset, "noise": "-", "kind": "direct", "method": "-", "lam": "-",
                     "gp_test_r2": 0.3, "boost_test_r2": 0.9, "snr_proxy": 3.0})
        for lam, s, v, t in zip((0.0, 0.1, 0.5), student, val, tree):
            rows.append({"dataset": dataset, "noise": "-", "kind": "distill",
                         "method": "base" if lam == 0 else "jacobian", "lam": lam,
                         "teacher_test_r2": 0.9 - lam, "gp_test_r2": s, "gp_val_r2": v, "tree_test_r2": t,
                         "gp_fidelity_r2": s + 0.1, "gp_length": 7})
    return pd.DataFrame(rows)


def test_teacher_cost_ratios_are_relative_to_the_unregularised_teacher():
    rows = pd.DataFrame(teacher_cost.teacher_cost("feynman_I_14_4", [8], epochs=1, batch_size=256,
                                              outputs=[1, 3], repeats=1))
    assert set(rows["method"]) == set(teacher_cost.COST_METHODS) and set(rows["outputs"]) == {1, 3}
    assert (rows.loc[rows["method"] == "base", "ratio_to_base"] == 1.0).all()
    assert (rows["seconds"] > 0).all()


def test_study_end_to_end_with_cache_tables_and_figures(tmp_path):
    """A tiny grid on one formula: runs, cache reuse, every table and figure of the notebook."""
    import matplotlib

    matplotlib.use("Agg")
    from dreg_utils.book import distillation_figures

    s = study_settings(datasets=["feynman_I_14_4"], lambdas=[0.0, 0.1], dreg_lambdas=[0.1], hidden=[8],
                       epochs=1, population_size=20, generations=1, tournament_size=5)
    runs = sr_study.run_runs(s, s["datasets"], [0.1], tmp_path, "runs", progress=False)
    assert len(runs) == 4 and not runs["cached"].any() and (tmp_path / "runs.csv").exists()
    again = sr_study.run_runs(s, s["datasets"], [0.1], tmp_path, "runs", progress=False)
    assert again["cached"].all() and again["gp_test_r2"].equals(runs["gp_test_r2"])
    summary = sr_tables.summarize(runs)
    table = sr_tables.dataset_table(summary)
    assert list(table["dataset"]) == ["feynman_I_14_4"] and set(table["lambda_validation"]) <= {0.0, 0.1}
    assert set(sr_tables.bridge_table(summary).columns) >= {"jacobian_student_r2", "dreg_student_r2"}
    recovery = sr_tables.recovery_table(runs)
    assert list(recovery.columns) == ["on_y", "lambda_0", "jacobian_0.1", "dreg_0.1"]
    shown = distillation_text.recovery_display(recovery)
    assert list(shown.index) == ["on y", "lambda=0", "jacobian 0.1", "dreg 0.1"]
    times = sr_tables.stage_times(runs)
    assert set(times["method"]) == {"no_teacher", "base", "jacobian", "dreg"}
    assert set(distillation_text.stage_times_display(times)["method"]) == {"none (controls on y)", "base",
                                                                          "jacobian", "dreg"}
    found = sr_tables.formulas(runs, table)
    blocks = distillation_text.formula_blocks(found)
    assert len(found) == 2 and len(blocks) == 4
    # each model's formula, then (with a known truth) the formula in raw units above the truth
    assert [eq.startswith(r"\hat y") for _, eq in blocks] == [True, False, True, False]
    assert all(eq.startswith(r"\begin{gathered} \hat y") and r"\\ y = " in eq for _, eq in blocks[1::2])
    assert list(found["teacher"]) == ["lambda_0", "lambda_validation"] and found["lam"].iloc[0] == 0.0
    noise = sr_tables.noise_table(summary)
    assert noise["noise"].tolist() == [0.1]
    cost = teacher_cost.run_cost(s, tmp_path)
    assert len(cost) == 2 * len(teacher_cost.COST_METHODS) and (tmp_path / "teacher_cost.csv").exists()
    for fig in (distillation_figures.distillation_figure(summary), distillation_figures.snr_benefit_figure(table),
                distillation_figures.noise_figure(noise)):
        assert fig.axes
        matplotlib.pyplot.close(fig)


def histories(regressor) -> dict:
    """gplearn's per-generation record without its timings."""
    return {k: v for k, v in regressor.run_details_.items() if k != "generation_time"}


@pytest.mark.parametrize("seed, gp", [
    (0, {"population_size": 300, "generations": 6}),
    (7, {"population_size": 200, "generations": 5, "function_set": ["add", "sub", "mul", "div", "sin", "max"],
         "tournament_size": 5}),
    (np.int64(3), {"population_size": 150, "generations": 4, "metric": "mse"}),
])
def test_fast_gplearn_fits_the_same_programs(seed, gp):
    """fast_gplearn.fit against gplearn's own fit: identical populations, histories and
    predictions (crossover, the mutations and reproduction all occur at these budgets)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(150, 3))
    y = x[:, 0] * x[:, 1] + np.sin(x[:, 2]) + 0.1 * rng.normal(size=150)
    reference = symbolic.make_symbolic_regressor(gp, seed=int(seed)).fit(x, y)
    np.random.seed(123)
    global_before = np.random.get_state()[1].copy()
    fast = fast_gplearn.fit(symbolic.make_symbolic_regressor(gp, seed=int(seed)).set_params(random_state=seed), x, y)
    assert histories(fast) == histories(reference)
    assert [str(p) for p in fast._programs[-1]] == [str(p) for p in reference._programs[-1]]
    assert [p.raw_fitness_ for p in fast._programs[-1]] == [p.raw_fitness_ for p in reference._programs[-1]]
    methods = {p.parents["method"] for p in fast._programs[-1]}
    assert {"Crossover", "Subtree Mutation", "Hoist Mutation", "Point Mutation", "Reproduction"} <= methods
    np.testing.assert_array_equal(fast.predict(x), reference.predict(x))
    np.testing.assert_array_equal(np.random.get_state()[1], global_before)  # NumPy's global generator untouched
    for ours, theirs in zip(fast._programs[-1], reference._programs[-1]):  # gplearn's own method, after the fit
        for a, b in zip(ours.get_all_indices(), theirs.get_all_indices()):
            np.testing.assert_array_equal(a, b)
    # gplearn's own classes are restored after the fit
    from gplearn import genetic
    from gplearn._program import _Program
    assert _Program.get_all_indices is fast_gplearn._ORIGINAL_INDICES
    assert genetic.check_random_state is fast_gplearn._ORIGINAL_CHECK


def test_fast_gplearn_keeps_subsampling_as_gplearn_does():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(120, 2))
    y = x[:, 0] - 2 * x[:, 1]
    gp = {"population_size": 100, "generations": 3}
    reference = symbolic.make_symbolic_regressor(gp, seed=4).set_params(max_samples=0.7).fit(x, y)
    fast = fast_gplearn.fit(symbolic.make_symbolic_regressor(gp, seed=4).set_params(max_samples=0.7), x, y)
    assert histories(fast) == histories(reference)
    assert [p.oob_fitness_ for p in fast._programs[-1]] == [p.oob_fitness_ for p in reference._programs[-1]]
