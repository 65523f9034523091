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
    draws = torch.stack([jacobians.projected_jacobian_sq(model, x, 1, generator=gen, distribution="gaussian")[0]
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
    got, _ = jacobians.projected_jacobian_sq(model, x, 1, generator=torch.Generator().manual_seed(1),
                                             distribution="gaussian")
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


OUTPUT_SHAPES = {  # the last layers of a Linear(3, 6) -> Tanh model, and the output shape they give
    "(n,)": (lambda: [torch.nn.Linear(6, 1), torch.nn.Flatten(0)], (7,)),
    "(n, k)": (lambda: [torch.nn.Linear(6, 4)], (7, 4)),
    "(n, 2, 3)": (lambda: [torch.nn.Linear(6, 6), torch.nn.Unflatten(1, (2, 3))], (7, 2, 3)),
}


@pytest.mark.parametrize("shape", list(OUTPUT_SHAPES))
def test_every_output_shape_is_flattened_per_sample(shape):
    """||J||_F^2 of each sample's whole output, against vmap(jacrev); the one-output projections
    are exact (before: (n,) raised IndexError and (n, 2, 3) summed over the first output axis only)."""
    from torch.func import jacrev, vmap

    torch.manual_seed(0)
    last, expected_shape = OUTPUT_SHAPES[shape]
    model = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), *last())
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    expected = vmap(jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x).pow(2).flatten(1).sum(dim=1)
    sq, out = jacobians.jacobian_sq_frobenius(model, x)
    assert out.shape == expected_shape
    torch.testing.assert_close(sq, expected, rtol=1e-12, atol=0)
    many, _ = jacobians.projected_jacobian_sq(model, x, 3000, torch.Generator().manual_seed(2))
    torch.testing.assert_close(many, expected, rtol=0.1, atol=0)
    if shape == "(n,)":
        for distribution in ("rademacher", "sphere"):
            one, _ = jacobians.projected_jacobian_sq(model, x, 1, distribution=distribution)
            torch.testing.assert_close(one, expected, rtol=1e-12, atol=0)


def test_an_output_without_one_row_per_sample_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Flatten(0))  # (n, 2) -> (2 n,)
    with pytest.raises(ValueError, match=r"the model's output has shape \(10,\) for x of shape \(5, 3\); the "
                                         r"penalties need one output row per sample: shape \(5,\), \(5, k\)"):
        jacobians.jacobian_sq_frobenius(model, torch.randn(5, 3))


def test_per_sample_losses_of_outputs_with_more_dimensions_average_each_sample():
    """Squared error over all of a sample's output values; cross-entropy over the extra axes
    (class axis 1): their batch means equal F.mse_loss / F.cross_entropy."""
    gen = torch.Generator().manual_seed(3)
    out = torch.randn(6, 4, 5, generator=gen)
    y = torch.randn(6, 4, 5, generator=gen)
    mse = jacobians.per_sample_loss(out, y, "mse")
    torch.testing.assert_close(mse, (out - y).pow(2).mean(dim=(1, 2)), rtol=1e-12, atol=0)
    labels = torch.randint(0, 4, (6, 5), generator=gen)
    ce = jacobians.per_sample_loss(out, labels, "ce")
    assert ce.shape == (6,)
    assert float(ce.mean()) == pytest.approx(float(F.cross_entropy(out, labels)), rel=1e-12)
    flat = jacobians.per_sample_loss(out[:, 0, 0], y[:, 0, 0], "mse")  # (n,) outputs
    torch.testing.assert_close(flat, (out[:, 0, 0] - y[:, 0, 0]).pow(2), rtol=0, atol=0)


@pytest.mark.parametrize("loss, output_shape, y, pattern", [
    ("mse", (4, 2), torch.zeros(4, 3), r"y has shape \(4, 3\) but the model's output has shape \(4, 2\): "
                                      r"loss='mse' needs 2 target value\(s\) per sample"),
    ("ce", (4,), torch.zeros(4, dtype=torch.long), r"loss='ce' needs class scores of shape \(n, classes, ...\)"),
    ("ce", (4, 3, 2), torch.zeros(4, dtype=torch.long), r"loss='ce' needs class indices of shape \(4, 2\) or "
                                                        r"class probabilities of shape \(4, 3, 2\)"),
    ("ce", (4, 3), torch.tensor([0, 1, 3, 2]), r"^y holds class index 3 but the model's output has 3 classes "
                                               r"\(axis 1\): loss='ce' needs class indices in 0\.\.2$"),
    ("ce", (4, 3, 2), torch.tensor([[0, 1]] * 3 + [[-1, 2]]), r"^y holds class index -1 but .* in 0\.\.2$"),
    ("ce", (4, 3), torch.tensor([0, 1, 2, 2], dtype=torch.uint8) + 1, r"^y holds class index 3 but"),
    ("mse", (4, 2), torch.ones(4, 2, dtype=torch.bool), r"^y has dtype torch.bool, which no loss takes: loss='mse' "
                                                        r"needs floating-point \(or integer\) targets"),
    ("ce", (4, 2), torch.ones(4, dtype=torch.bool), r"^y has dtype torch.bool, which no loss takes"),
])
def test_targets_that_do_not_fit_the_output_are_refused(loss, output_shape, y, pattern):
    """Before (class index out of range, bool targets): raw torch errors from the loss."""
    with pytest.raises(ValueError, match=pattern):
        jacobians.check_targets(torch.zeros(output_shape), y, loss)


def test_class_indices_of_every_integer_dtype_give_the_int64_losses():
    """Before: int32 indices failed inside F.cross_entropy ("expected target dtype to be Long")."""
    gen = torch.Generator().manual_seed(4)
    out, labels = torch.randn(6, 4, 5, generator=gen), torch.randint(0, 4, (6, 5), generator=gen)
    expected = F.cross_entropy(out, labels, reduction="none").mean(dim=1)
    for dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
        assert torch.equal(jacobians.per_sample_loss(out, labels.to(dtype), "ce"), expected), dtype


def test_dropout_and_rrelu_in_training_mode_are_refused_and_exact_in_eval_mode():
    """In eval mode dropout is the identity and RReLU a LeakyReLU of slope (lower + upper) / 2."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Dropout(0.5), torch.nn.RReLU(0.1, 0.3),
                                torch.nn.Linear(6, 2))
    x = torch.randn(10, 4)
    for call in (lambda: jacobians.jacobian_sq_frobenius(model, x),
                 lambda: jacobians.projected_jacobian_sq(model, x, 2),
                 lambda: jacobians.loss_gradient_sq(model, x, torch.zeros(10, 2), "mse")):
        with pytest.raises(ValueError, match=r"Sequential has Dropout \(1\), RReLU \(2\) in training mode: it "
                                             r"draws new random numbers on every call.*call model.eval\(\)"):
            call()
    ours, _ = jacobians.jacobian_sq_frobenius(model.eval(), x)
    leaky = torch.nn.Sequential(model[0], torch.nn.LeakyReLU(0.2), model[3])
    expected, _ = jacobians.jacobian_sq_frobenius(leaky, x)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=0)
