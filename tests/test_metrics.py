"""Sensitivity metrics against jacrev, finite differences and numpy."""
import math

import numpy as np
import pytest
import torch

import reference as ref
from dreg_utils import metrics
from dreg_utils.models import CompactMLP

STEP = 1e-6


def model_and_data(activation, k, seed=0, n=13, d=4):
    model = CompactMLP.seeded(seed, d, (7, 5), k, activation=activation)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 1))
    return model, x


def fd_norms(fn, x):
    """Per-sample Frobenius norms of the central-difference Jacobian of fn."""
    return ref.central_difference_jacobian(fn, x, STEP).pow(2).sum(dim=(1, 2)).sqrt()


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("activation", ["relu", "poly"])
@pytest.mark.parametrize("k", [1, 3])
def test_norms_without_targets(activation, k):
    """||J_x f(x_i)||_F equals jacrev and central finite differences."""
    model, x = model_and_data(activation, k)
    got = metrics.input_gradient_norms(model, x)
    assert got.shape == (13,) and not got.requires_grad
    exact = ref.input_jacobian(model, x).detach().pow(2).sum(dim=(1, 2)).sqrt()
    torch.testing.assert_close(got, exact, rtol=1e-10, atol=0)
    torch.testing.assert_close(got, fd_norms(model, x), rtol=1e-6, atol=0)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("activation", ["relu", "poly"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_norms_with_targets(activation, loss):
    """||grad_x loss(f(x_i), y_i)|| equals jacrev and central finite differences."""
    k = 3
    model, x = model_and_data(activation, k, seed=5)
    gen = torch.Generator().manual_seed(6)
    y = torch.randint(0, k, (13,), generator=gen) if loss == "ce" else torch.randn(13, k, generator=gen)
    got = metrics.input_gradient_norms(model, x, y, loss=loss)
    exact = ref.loss_input_gradient(model, x, y, loss).detach().norm(dim=1)
    torch.testing.assert_close(got, exact, rtol=1e-10, atol=0)
    with torch.no_grad():
        out_fn = ref.per_sample_loss_fn(model, loss)
        yy = torch.nn.functional.one_hot(y, k).double() if loss == "ce" else y

        def batch_loss(xb):
            return torch.stack([out_fn(xi, yi) for xi, yi in zip(xb, yy)]).unsqueeze(1)

        torch.testing.assert_close(got, fd_norms(batch_loss, x), rtol=1e-6, atol=0)


@pytest.mark.usefixtures("float64")
def test_norms_batching_is_transparent():
    model, x = model_and_data("relu", 2, n=11)
    y = torch.randint(0, 2, (11,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(metrics.input_gradient_norms(model, x, batch_size=3),
                               metrics.input_gradient_norms(model, x), rtol=1e-14, atol=0)
    torch.testing.assert_close(metrics.input_gradient_norms(model, x, y, batch_size=4),
                               metrics.input_gradient_norms(model, x, y), rtol=1e-14, atol=0)


def test_tail_stats_known_array():
    """1..100: numpy's linear percentiles are 90.1, 95.05, 99.01."""
    stats = metrics.tail_stats(np.arange(1, 101))
    assert set(stats) == set(metrics.TAIL_STATS)
    assert stats["mean"] == pytest.approx(50.5)
    assert stats["p90"] == pytest.approx(90.1)
    assert stats["p95"] == pytest.approx(95.05)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["max"] == 100.0
    assert stats["p99_over_mean"] == pytest.approx(99.01 / 50.5)


@pytest.mark.parametrize("kind", ["numpy", "tensor", "list"])
def test_tail_stats_matches_numpy(kind):
    values = np.random.default_rng(0).lognormal(size=257)
    data = {"numpy": values, "tensor": torch.tensor(values), "list": values.tolist()}[kind]
    stats = metrics.tail_stats(data)
    assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
    for q in (90, 95, 99):
        assert stats[f"p{q}"] == pytest.approx(np.percentile(values, q), rel=1e-12)
    assert stats["max"] == values.max()
    assert stats["p99_over_mean"] == pytest.approx(np.percentile(values, 99) / values.mean(), rel=1e-12)


def test_tail_stats_zero_mean_gives_nan_ratio():
    stats = metrics.tail_stats([0.0, 0.0, 0.0])
    assert stats["mean"] == 0.0 and math.isnan(stats["p99_over_mean"])


@pytest.mark.parametrize("bad, match", [
    ([], "at least one value, got an empty array"),
    (np.array([1.0, np.nan]), "non-finite values"),
    (torch.tensor([1.0, float("inf")]), "non-finite values"),
])
def test_tail_stats_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        metrics.tail_stats(bad)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_local_linearity_error_by_hand(activation):
    """Same seeded unit directions, gradient from jacrev: the Taylor residual matches."""
    model, x = model_and_data(activation, 1, seed=3, n=17)
    eps, seed = 0.05, 11
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    v = v / v.norm(dim=1, keepdim=True)
    assert torch.allclose(v.norm(dim=1), torch.ones(17))
    grad = ref.input_jacobian(model, x).detach()[:, 0, :]
    with torch.no_grad():
        f = lambda z: ref.forward(model, z)[0][:, 0]
        residual = f(x + eps * v) - f(x) - eps * (grad * v).sum(dim=1)
    got = metrics.local_linearity_error(model, x, eps=eps, seed=seed)
    assert isinstance(got, float)
    assert got == pytest.approx(float(residual.abs().mean()), rel=1e-10)
    assert metrics.local_linearity_error(model, x, eps=eps, seed=seed + 1) != got


@pytest.mark.usefixtures("float64")
def test_local_linearity_error_zero_for_linear_model():
    """A poly model with c2 = 0 is affine: the residual is rounding only."""
    model, x = model_and_data("poly", 1, seed=4)
    for act in model.activations:
        act.coefficients[1] = 0.0
    assert metrics.local_linearity_error(model, x, eps=0.5) < 1e-13


@pytest.mark.usefixtures("float64")
def test_local_linearity_error_scales_quadratically():
    """For a smooth (poly) model the residual is O(eps^2): halving eps divides it by ~4."""
    model, x = model_and_data("poly", 1, seed=2, n=64)
    e1 = metrics.local_linearity_error(model, x, eps=1e-3)
    e2 = metrics.local_linearity_error(model, x, eps=5e-4)
    assert e1 > 0 and e1 / e2 == pytest.approx(4.0, rel=0.02)


def test_local_linearity_error_rejects_bad_input():
    model = CompactMLP(3, (4,), 2)
    with pytest.raises(ValueError, match="needs a scalar-output model, got 2 outputs"):
        metrics.local_linearity_error(model, torch.randn(5, 3))
    with pytest.raises(ValueError, match="eps=0.0 is not valid; it must be > 0"):
        metrics.local_linearity_error(CompactMLP(3, (4,), 1), torch.randn(5, 3), eps=0.0)


@pytest.mark.parametrize("values", [[1.0, 2.0], [0.3, 0.1, 0.7, 0.4], np.linspace(0, 1, 9)])
def test_seed_stability_is_sample_std(values):
    assert metrics.seed_stability(values) == pytest.approx(np.std(np.asarray(values), ddof=1), rel=1e-12)


def test_seed_stability_constant_is_zero():
    assert metrics.seed_stability([0.5, 0.5, 0.5]) == 0.0


@pytest.mark.parametrize("values", [[], [1.0]])
def test_seed_stability_needs_two_seeds(values):
    with pytest.raises(ValueError, match=f"at least 2 seeds, got {len(values)}"):
        metrics.seed_stability(values)


@pytest.mark.usefixtures("float64")
def test_metrics_on_spectral_norm_model_use_eval_mode():
    """In train mode each forward moves SN's power iteration; the metrics must not see that."""
    model = CompactMLP.seeded(0, 4, (8, 8), 1, spectral_norm=True)
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    model.train()
    model(x)  # one power-iteration step: u, v are not converged yet
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    lle = [metrics.local_linearity_error(model, x, eps=0.01) for _ in range(2)]
    norms = [metrics.input_gradient_norms(model, x, batch_size=8) for _ in range(2)]
    assert model.training  # mode restored
    assert lle[0] == lle[1] and torch.equal(norms[0], norms[1])
    for k, v in model.state_dict().items():
        assert torch.equal(v, buffers[k]), k
    model.eval()
    assert metrics.local_linearity_error(model, x, eps=0.01) == lle[0]
    exact = ref.input_jacobian(model, x).detach().pow(2).sum(dim=(1, 2)).sqrt()
    torch.testing.assert_close(norms[0], exact, rtol=1e-10, atol=0)
