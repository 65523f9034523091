"""Your own data in the distillation study: formulas parsed without eval, the two public
constructors, and a run of the study on a formula end to end."""
import numpy as np
import pytest
import sympy

from dreg_utils import formulas
from dreg_utils import symbolic_regression as symbolic
from dreg_utils.data.formula import parse_formula, parse_formula_spec
from dreg_utils.data.regression import (check_dataset, formula_spec, from_arrays, from_formula,
                                        load_dataset)
from dreg_utils.settings import PROFILES
from dreg_utils.studies import distillation as study
from dreg_utils.studies import distillation_tables as study_tables
from dreg_utils.studies.distillation import DistillationSettings

SPEC = "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"
TINY_GP = {"population_size": 40, "generations": 2, "tournament_size": 5}
TINY_TEACHER = {"hidden": [16], "epochs": 2, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.0}


# ------------------------------------------------------------------ parsing

def test_parse_formula_builds_the_expression_sympy_would():
    expr, (a, b) = parse_formula("-a**2/2 + 3*sqrt(b) - exp(-b) * pi + abs(a - E)", ["a", "b"])
    a_, b_ = sympy.symbols("a b", real=True)
    expected = -a_ ** 2 / 2 + 3 * sympy.sqrt(b_) - sympy.exp(-b_) * sympy.pi + sympy.Abs(a_ - sympy.E)
    assert (a, b) == (a_, b_) and sympy.simplify(expr - expected) == 0


@pytest.mark.parametrize("text, message", [
    ("x0 + y", r"unknown name 'y'; the inputs are \['x0'\]"),
    ("system(x0)", r"calls 'system', which is not a known function; choose from \['sin'"),
    ("__import__('os').system('true')", r"is not allowed"),
    ("x0.real", r"contains 'x0.real', which is not allowed"),
    ("sin(x0, x0)", r"sin takes one argument, got 2"),
    ("sin(x=x0)", r"is not allowed"),
    ("(lambda: 1)()", r"is not allowed"),
    ("x0 +", r"is not a valid expression"),
    ("x0 - x0", r"uses none of the inputs"),
    ("'text'", r"is not allowed"),
])
def test_parse_formula_refuses_everything_else(text, message):
    with pytest.raises(ValueError, match=message):
        parse_formula(text, ["x0"])


def test_parse_formula_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError):
        parse_formula(f"open({str(marker)!r}, 'w')", ["x0"])
    assert not marker.exists()


def test_input_names_are_checked():
    with pytest.raises(ValueError, match=r"input name 'sin' is not valid; it is a function"):
        parse_formula("sin + 1", ["sin"])
    with pytest.raises(ValueError, match=r"input name '2x' is not valid"):
        parse_formula("x", ["2x"])
    with pytest.raises(ValueError, match=r"name an input twice"):
        parse_formula("x", ["x", "x"])


def test_spec_gives_the_formula_and_the_ranges_in_order():
    formula, ranges = parse_formula_spec("b*a ; b in [0, 2*pi];a in [-1.5,1e1]")
    assert formula == "b*a" and list(ranges) == ["b", "a"]
    assert ranges["b"] == pytest.approx((0.0, 2 * np.pi)) and ranges["a"] == (-1.5, 10.0)


@pytest.mark.parametrize("spec, message", [
    ("x0**2", r"is not a formula spec; write the formula, then each input's range"),
    ("x0; x0 from 0 to 1", r"'x0 from 0 to 1' .* is not an input range"),
    ("x0; x0 in [1, 0]", r"ranges\['x0'\]=\(1.0, 0.0\) is not valid; low must be < high"),
    ("x0; x0 in [0, 1]; x0 in [0, 2]", r"gives the range of 'x0' twice"),
    ("x0; x0 in [0, foo]", r"range end 'foo' .* is not a number"),
])
def test_spec_refusals(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_formula_spec(spec)


# ------------------------------------------------------------------ from_formula

def test_from_formula_targets_follow_the_formula_in_raw_units():
    data = from_formula("x0**2 + sin(x1)", {"x0": (-2, 2), "x1": (0, 3)}, noise=0.0, n_samples=300)
    x = data.x_test * data.x_std + data.x_mean
    assert x[:, 0].min() >= -2 and x[:, 0].max() <= 2 and x[:, 1].min() >= 0 and x[:, 1].max() <= 3
    y = data.y_test * data.y_std + data.y_mean
    np.testing.assert_allclose(y, x[:, 0] ** 2 + np.sin(x[:, 1]), rtol=1e-12)
    np.testing.assert_allclose(data.y_clean_test, data.y_test, rtol=1e-12)
    assert data.feature_names == ("x0", "x1") and data.noise == 0.0
    assert sympy.srepr(data.truth) == sympy.srepr(parse_formula("x0**2 + sin(x1)", ["x0", "x1"])[0])


def test_from_formula_noise_has_the_stated_size():
    data = from_formula("x0 * x1", {"x0": (1, 5), "x1": (1, 5)}, noise=0.5, n_samples=4000)
    residual = (data.y_test - data.y_clean_test) * data.y_std
    clean_std = np.std(data.y_clean_test * data.y_std)
    assert np.std(residual) == pytest.approx(0.5 * clean_std, rel=0.15)


def test_the_name_is_a_spec_that_rebuilds_the_same_data():
    data = from_formula("x0**2 + sin(x1)", {"x0": (-2, 2), "x1": (0, np.pi)}, seed=3, n_samples=100)
    assert data.name == formula_spec("x0**2 + sin(x1)", {"x0": (-2, 2), "x1": (0, np.pi)})
    again = load_dataset(data.name, seed=3, n_samples=100)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    np.testing.assert_array_equal(again.y_test, data.y_test)
    assert load_dataset(SPEC).name == SPEC  # a spec given as text keeps its own spelling


@pytest.mark.parametrize("call, error, message", [
    (lambda: from_formula("x0", {}), TypeError, r"ranges must be a non-empty dict"),
    (lambda: from_formula("x0", {"x0": 3}), ValueError, r"ranges\['x0'\]=3 is not valid; give a pair"),
    (lambda: from_formula("x0 + x1", {"x0": (0, 1)}), ValueError, r"unknown name 'x1'"),
    (lambda: from_formula("sqrt(x0)", {"x0": (-1, 1)}), ValueError, r"not finite and real on every input row"),
    (lambda: from_formula("x0", {"x0": (0, 1)}, noise=-1), ValueError, r"noise=-1.0 is not valid"),
    (lambda: from_formula("x0", {"x0": (0, 1)}, n_samples=5), ValueError, r"n_samples=5 is not valid"),
    (lambda: from_formula("x0", {"x0": (0, 1)}, name=""), ValueError, r"name='' is not valid"),
    (lambda: load_dataset("x0; x0 in [0, 1"), ValueError,
     r"dataset='x0; x0 in \[0, 1' is not valid; choose one of \['concrete'.* or give a formula spec"),
])
def test_from_formula_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ from_arrays

def test_from_arrays_splits_like_the_built_in_tables():
    """The raw Concrete table through from_arrays gives exactly load_dataset's splits."""
    built_in = load_dataset("concrete", seed=2)
    raw = {s: getattr(built_in, f"x_{s}") * built_in.x_std + built_in.x_mean for s in ("train", "val", "test")}
    y_raw = {s: getattr(built_in, f"y_{s}") * built_in.y_std + built_in.y_mean for s in ("train", "val", "test")}
    # undo the shuffle: rows in the order load_dataset's permutation put them back
    order = np.random.default_rng(2).permutation(built_in.raw_shape[0])
    x = np.empty((len(order), built_in.n_features))
    y = np.empty(len(order))
    x[order] = np.concatenate([raw["train"], raw["val"], raw["test"]])
    y[order] = np.concatenate([y_raw["train"], y_raw["val"], y_raw["test"]])
    mine = from_arrays(x, y.reshape(-1, 1), built_in.feature_names, seed=2, name="concrete")
    np.testing.assert_allclose(mine.x_test, built_in.x_test, atol=1e-9)
    np.testing.assert_allclose(mine.y_train, built_in.y_train, atol=1e-9)
    assert mine.truth is None and mine.y_clean_test is None and mine.noise is None


def test_from_arrays_with_a_truth_scores_against_it():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 3, size=(200, 3))
    clean = x[:, 0] * x[:, 1] / x[:, 2]
    data = from_arrays(x, clean + 0.01 * rng.normal(size=200), ["m", "v", "r"], truth="m*v/r")
    raw_test = data.x_test * data.x_std + data.x_mean
    np.testing.assert_allclose(data.y_clean_test * data.y_std + data.y_mean,
                               raw_test[:, 0] * raw_test[:, 1] / raw_test[:, 2], rtol=1e-12)
    assert data.feature_names == ("m", "v", "r") and data.x_train.shape == (120, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: from_arrays(np.ones((20, 2, 1)), np.ones(20)), ValueError, r"x must have 2 dimension\(s\)"),
    (lambda: from_arrays(np.ones((20, 2)), np.ones(19)), ValueError, r"x has 20 rows but y has 19"),
    (lambda: from_arrays(np.ones((20, 2)), np.ones((20, 2))), ValueError, r"y must have shape \(n,\) or \(n, 1\)"),
    (lambda: from_arrays(np.full((20, 1), np.nan), np.ones(20)), ValueError, r"x contains NaN"),
    (lambda: from_arrays(np.ones((5, 1)), np.arange(5.0)), ValueError, r"rows of x=5 is not valid"),
    (lambda: from_arrays(np.arange(40.0).reshape(20, 2), np.arange(20.0), ["a"]), ValueError,
     r"feature_names=\['a'\] is not valid; give 2 distinct strings"),
    (lambda: from_arrays(np.c_[np.arange(20.0), np.ones(20)], np.arange(20.0)), ValueError,
     r"\['x1'\] constant on the training split"),
    (lambda: from_arrays(np.arange(20.0)[:, None], np.arange(20.0), truth="x0 + z"), ValueError,
     r"unknown name 'z'"),
    (lambda: from_arrays(np.arange(20.0)[:, None], np.arange(20.0), truth=sympy.Symbol("z")), ValueError,
     r"truth uses \['z'\], which are not among feature_names \['x0'\]"),
    (lambda: from_arrays(np.arange(20.0)[:, None], np.arange(20.0), truth=3), TypeError,
     r"truth must be a formula string or a sympy expression"),
    (lambda: from_arrays(np.arange(20.0)[:, None], np.arange(20.0), seed=-1), ValueError, r"seed=-1"),
    (lambda: from_arrays(np.arange(20.0)[:, None], np.arange(20.0), fractions=(0.9, 0.1)), ValueError,
     r"leave no test split"),
])
def test_from_arrays_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ the study on your own data

def test_a_hand_built_dataset_with_a_truth_distils_end_to_end():
    """Formerly crashed after the GP fit (the raw symbols were looked up by dataset name)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, size=(150, 2))
    data = from_arrays(x, x[:, 0] * x[:, 1], ["a", "b"], truth="a*b", name="mine")
    row = symbolic.distill(data, "jacobian", 0.1, 0, TINY_TEACHER, TINY_GP, tree_max_depth=3)
    assert isinstance(row["gp_equals_truth"], bool) and -10 < row["gp_clean_r2"] <= 1
    a, b = formulas.raw_symbols(data)
    assert formulas.formulas_equal(a * b * 1.0, data.truth, (a, b), x)


def test_the_study_runs_a_formula_spec(tmp_path):
    s = study.validate(DistillationSettings.from_profile(
        "smoke", datasets=["x0*x1 + x2; x0 in [-1, 1]; x1 in [-1, 1]; x2 in [-1, 1]"], lambdas=[0.0, 0.1],
        dreg_lambdas=[], hidden=[8], epochs=1, population_size=20, generations=1, tournament_size=5))
    runs = study.run_runs(s, s["datasets"], [0.1], tmp_path, "runs", progress=False)
    assert len(runs) == 3 and runs["gp_clean_r2"].notna().all()
    table = study_tables.dataset_table(study_tables.summarize(runs))
    assert list(table["dataset"]) == s["datasets"]
    assert list(study_tables.recovery_table(runs).index) == s["datasets"]
    found = study_tables.formulas(runs, table)
    assert found["truth"].map(sympy.srepr).nunique() == 1 and found["raw_units"].notna().all()


def test_study_datasets_accept_specs_and_name_a_bad_value():
    for profile in PROFILES:
        assert DistillationSettings.from_profile(profile, datasets=["concrete", SPEC])["datasets"][1] == SPEC
    with pytest.raises(ValueError, match=r"datasets\[1\]='boston' is not valid; choose one of \['concrete'"):
        DistillationSettings.from_profile("smoke", datasets=["concrete", "boston"])
    with pytest.raises(ValueError, match=r"noise_datasets contains \['concrete'\], which have no recoverable"):
        DistillationSettings.from_profile("smoke", noise_datasets=["concrete"])
    assert check_dataset("d", SPEC) == SPEC
