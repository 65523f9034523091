"""The five synthetic function families."""
import numpy as np
import pytest
import torch

from dreg_utils.data.synthetic import FAMILIES, Splits, make_family, target_function


@pytest.fixture(scope="module")
def clean():
    """Every family with the paper's sizes and no label noise."""
    return {family: make_family(family, noise=0.0, seed=3) for family in FAMILIES}


def test_default_shapes(clean):
    for splits in clean.values():
        assert isinstance(splits, Splits)
        assert splits.x_train.shape == (2000, 10) and splits.y_train.shape == (2000, 1)
        assert splits.x_val.shape == (500, 10) and splits.y_val.shape == (500, 1)
        assert splits.x_test.shape == (1000, 10) and splits.y_test.shape == (1000, 1)
        assert splits.x_train.dtype == torch.float32 and splits.y_train.dtype == torch.float32
        x = torch.cat([splits.x_train, splits.x_val, splits.x_test])
        assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_clean_signal_has_unit_variance_on_train(clean, family):
    y = clean[family].y_train.double()
    assert float(y.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(y.std(unbiased=False)) == pytest.approx(1.0, abs=1e-5)
    assert family in clean[family].source and "seed=3" in clean[family].source


@pytest.mark.parametrize("family", FAMILIES)
def test_seed_determinism(family):
    a, b, c = (make_family(family, n_train=50, n_val=20, n_test=30, seed=s) for s in (1, 1, 2))
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, name), getattr(b, name))
        assert not torch.equal(getattr(a, name), getattr(c, name))


@pytest.mark.parametrize("family", FAMILIES)
def test_label_noise_has_requested_std(family):
    """The same seed with noise 0.1 adds Gaussian noise of std 0.1 to the same clean signal."""
    noisy = make_family(family, noise=0.1, seed=4)
    exact = make_family(family, noise=0.0, seed=4)
    assert torch.equal(noisy.x_train, exact.x_train)
    diff = torch.cat([noisy.y_train - exact.y_train, noisy.y_test - exact.y_test]).double()
    assert float(diff.std()) == pytest.approx(0.1, rel=0.05)
    assert float(diff.mean()) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("family", FAMILIES)
def test_targets_come_from_target_function(family):
    """With no noise, y is an affine image of target_function drawn first from the seed's rng."""
    splits = make_family(family, n_train=300, n_val=10, n_test=10, noise=0.0, seed=8)
    f = target_function(family, 10, np.random.default_rng(8))
    values = f(splits.x_train.double().numpy())
    assert np.corrcoef(values, splits.y_train.double().numpy()[:, 0])[0, 1] > 1 - 1e-6


def relevant_coordinates(f, d, n=20, step=1e-4, seed=0):
    """Coordinates whose central-difference partial derivative is non-zero somewhere."""
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, d))
    used = []
    for j in range(d):
        e = np.zeros(d)
        e[j] = step
        if np.abs(f(x + e) - f(x - e)).max() / (2 * step) > 1e-8:
            used.append(j)
    return used


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_family_uses_two_of_ten_coordinates(seed):
    f = target_function("sparse", 10, np.random.default_rng(seed))
    assert len(relevant_coordinates(f, 10)) == 2


@pytest.mark.parametrize("family", ["smooth", "piecewise", "oscillatory", "entangled"])
def test_dense_families_use_every_coordinate(family):
    f = target_function(family, 10, np.random.default_rng(0))
    assert relevant_coordinates(f, 10) == list(range(10))


def test_oscillatory_is_rougher_than_smooth():
    """Frequency scale 5 vs 0.5: the mean gradient norm of the standardised target is much larger."""
    rough = {}
    for family in ("smooth", "oscillatory"):
        f = target_function(family, 10, np.random.default_rng(0))
        x = np.random.default_rng(1).uniform(-1, 1, size=(200, 10))
        sd = f(x).std()
        grads = [(f(x + h) - f(x - h)) / 2e-5 for h in 1e-5 * np.eye(10)]
        rough[family] = np.sqrt(np.sum(np.square(grads), axis=0)).mean() / sd
    assert rough["oscillatory"] > 5 * rough["smooth"]


def test_piecewise_is_sum_of_abs():
    rng = np.random.default_rng(0)
    f = target_function("piecewise", 3, np.random.default_rng(0))
    tau = rng.uniform(-0.5, 0.5, size=3)
    x = np.array([[0.2, -0.7, 0.9], [-1.0, 1.0, 0.0]])
    np.testing.assert_allclose(f(x), np.abs(x - tau).sum(axis=1), rtol=1e-14)


def test_custom_sizes_and_dimension():
    splits = make_family("sparse", n_train=40, n_val=5, n_test=7, d=20, seed=0)
    assert splits.x_train.shape == (40, 20) and splits.x_val.shape == (5, 20) and splits.x_test.shape == (7, 20)
    f = target_function("sparse", 20, np.random.default_rng(0))
    assert len(relevant_coordinates(f, 20)) == 4  # 20% of the coordinates
