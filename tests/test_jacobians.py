"""Per-sample input derivatives (dreg_utils.jacobians) against torch.func and statistics."""
import pytest
import torch
from torch.nn import functional as F

import reference as ref
from dreg_utils import jacobians
from dreg_utils.models import CompactMLP

pytestmark = pytest.mark.usefixtures("float64")


@pytest.mark.parametrize("activation", ["relu", "poly"])
@pytest.mark.parametrize("k", [1, 4])
def test_jacobian_sq_frobenius_matches_jacrev(activation, k):
    model = CompactMLP.seeded(3, 5, (9, 6), k, activation=activation)
    x = torch.randn(21, 5, generator=torch.Generator().manual_seed(0))
    sq, out = jacobians.jacobian_sq_frobenius(model, x)
    expected = ref.input_jacobian(model, x).detach().pow(2).sum(dim=(1, 2))
    torch.testing.assert_close(sq, expected, rtol=1e-10, atol=0)
    torch.testing.assert_close(out.detach(), ref.forward(model, x)[0].detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_per_sample_loss_matches_torch_means(loss):
    """The batch mean of per-sample losses equals F.mse_loss / F.cross_entropy."""
    gen = torch.Generator().manual_seed(1)
    out = torch.randn(12, 3, generator=gen)
    if loss == "ce":
        y = torch.randint(0, 3, (12,), generator=gen)
        expected = F.cross_entropy(out, y)
    else:
        y = torch.randn(12, 3, generator=gen)
        expected = F.mse_loss(out, y)
    got = jacobians.per_sample_loss(out, y, loss)
    assert got.shape == (12,)
    assert float(got.mean()) == pytest.approx(float(expected), rel=1e-12)


def test_per_sample_loss_rejects_unknown_loss():
    with pytest.raises(ValueError, match=r"loss='hinge' is not valid; choose one of \['mse', 'ce'\]"):
        jacobians.per_sample_loss(torch.zeros(2, 2), torch.zeros(2, 2), "hinge")


def test_projected_jacobian_sq_is_unbiased():
    """The mean of 2000 single-projection estimates is within 3 standard errors of ||J||_F^2."""
    model = CompactMLP.seeded(4, 4, (8, 8), 5, activation="poly")
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    exact, _ = jacobians.jacobian_sq_frobenius(model, x)
    gen = torch.Generator().manual_seed(2024)
    draws = torch.stack([jacobians.projected_jacobian_sq(model, x, 1, generator=gen)[0]
                         for _ in range(2000)])  # (2000, n)
    mean = draws.mean(dim=0)
    se = draws.std(dim=0) / 2000 ** 0.5
    assert torch.all((mean - exact).abs() < 3 * se), (mean, exact, se)
    # the spread is that of a Gaussian quadratic form: Var = 2 ||J J^T||_F^2
    jac = ref.input_jacobian(model, x).detach()
    gram = jac @ jac.transpose(1, 2)
    torch.testing.assert_close(draws.var(dim=0), 2 * gram.pow(2).sum(dim=(1, 2)), rtol=0.2, atol=0)


def test_projected_jacobian_sq_averages_projections():
    """n projections in one call equal the mean of the n single draws from the same generator."""
    model = CompactMLP.seeded(5, 3, (6,), 2, activation="relu")
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(3))
    many, _ = jacobians.projected_jacobian_sq(model, x, 5, generator=torch.Generator().manual_seed(9))
    gen = torch.Generator().manual_seed(9)
    singles = torch.stack([jacobians.projected_jacobian_sq(model, x, 1, generator=gen)[0] for _ in range(5)])
    torch.testing.assert_close(many, singles.mean(dim=0), rtol=1e-12, atol=0)


def test_projected_jacobian_sq_exact_for_scalar_output_in_expectation_form():
    """For one output, ||v J||^2 = v^2 ||grad f||^2 with v ~ N(0, 1) drawn from the generator."""
    model = CompactMLP.seeded(6, 3, (5,), 1, activation="poly")
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(4))
    got, _ = jacobians.projected_jacobian_sq(model, x, 1, generator=torch.Generator().manual_seed(1))
    v = torch.randn(4, 1, generator=torch.Generator().manual_seed(1))
    grad_sq = ref.input_jacobian(model, x).detach().pow(2).sum(dim=(1, 2))
    torch.testing.assert_close(got, v[:, 0] ** 2 * grad_sq, rtol=1e-10, atol=0)


def test_batch_norm_in_training_mode_is_refused_and_eval_mode_is_exact():
    from torch.func import jacrev, vmap

    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                torch.nn.Linear(6, 2)).double()
    x = torch.randn(10, 4, dtype=torch.float64)
    for call in (lambda: jacobians.jacobian_sq_frobenius(model, x), lambda: jacobians.projected_jacobian_sq(model, x, 2),
                 lambda: jacobians.loss_gradient_sq(model, x, torch.zeros(10, dtype=torch.long), "ce")):
        with pytest.raises(ValueError, match=r"batch normalisation in training mode \(\['1'\]\).*model.eval\(\)"):
            call()
    model.eval()
    ours, _ = jacobians.jacobian_sq_frobenius(model, x)
    jac = vmap(jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x)
    torch.testing.assert_close(ours, jac.pow(2).sum(dim=(1, 2)))


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher", "sphere"])
def test_every_projection_is_unbiased(float64, distribution):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    exact, _ = jacobians.jacobian_sq_frobenius(model, x)
    estimate, _ = jacobians.projected_jacobian_sq(model, x, 20_000, torch.Generator().manual_seed(1),
                                                  distribution=distribution)
    torch.testing.assert_close(estimate, exact, rtol=0.05, atol=0)


def test_rademacher_and_sphere_have_less_variance_and_are_exact_for_one_output(float64):
    """Var of one projection: Gaussian 2 ||J J^T||_F^2 against 2 (||J J^T||_F^2 - sum_k (J J^T)_kk^2)
    for Rademacher, so with one output (a 1 x 1 J J^T) only the Gaussian one varies."""
    torch.manual_seed(0)
    wide = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    draws = {d: torch.stack([jacobians.projected_jacobian_sq(wide, x, 1, torch.Generator().manual_seed(s),
                                                             distribution=d)[0] for s in range(400)])
             for d in jacobians.PROJECTIONS}
    variance = {d: float(v.var(dim=0).mean()) for d, v in draws.items()}
    assert variance["rademacher"] < 0.8 * variance["gaussian"] and variance["sphere"] < 0.8 * variance["gaussian"]
    narrow = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    exact, _ = jacobians.jacobian_sq_frobenius(narrow, x)
    for d in ("rademacher", "sphere"):
        one, _ = jacobians.projected_jacobian_sq(narrow, x, 1, torch.Generator().manual_seed(0), distribution=d)
        torch.testing.assert_close(one, exact)
    with pytest.raises(ValueError, match=r"distribution='uniform' is not valid; choose one of \['gaussian'"):
        jacobians.projected_jacobian_sq(narrow, x, 1, distribution="uniform")
