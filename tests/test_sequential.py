"""The CR-penalty on a user's own nn.Sequential, against independent computations."""
import pytest
import torch
from torch import nn

import dreg_utils
from dreg_utils.activations import Poly, ReLU, Tanh
from dreg_utils.metrics import input_gradient_norms
from dreg_utils.models import CompactMLP
from dreg_utils.penalties import dreg_penalty, input_gradient_penalty, jacobian_penalty

TORCH_ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.1), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.SiLU(),
                     nn.Softplus(), nn.ELU(), nn.LeakyReLU(0.2, inplace=True), Poly(0.8, 0.3), ReLU(), Tanh()]


def by_hand(model: nn.Sequential, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """(1/L) [sum_l E_b sum_j phi'(z_bj)^2 ||W_j||^2 + ||W_L||_F^2] with phi' by central differences."""
    layers = list(model)
    linears, activations = layers[0::2], layers[1::2]
    total, a = linears[-1].weight.pow(2).sum(), x
    for linear, activation in zip(linears[:-1], activations):
        z = linear(a)
        slope = (activation(z + h) - activation(z - h)) / (2 * h)
        total = total + (slope.pow(2) * linear.weight.pow(2).sum(dim=1)).sum(dim=1).mean()
        a = activation(z)
    return total / len(linears)


@pytest.mark.parametrize("activation", TORCH_ACTIVATIONS,
                         ids=lambda a: f"{type(a).__module__.split('.')[0]}.{type(a).__name__}"
                         + ("-inplace" if getattr(a, "inplace", False) else ""))
def test_every_supported_activation_matches_the_definition(float64, activation):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), activation, nn.Linear(7, 6), activation, nn.Linear(6, 3)).double()
    x = torch.randn(20, 5, dtype=torch.float64)
    ours = dreg_utils.dreg_penalty(model, x)
    torch.testing.assert_close(ours, by_hand(model, x), rtol=1e-7, atol=1e-9)
    ours.backward()  # differentiable in every weight (the last bias does not enter the penalty)
    assert all(m.weight.grad is not None and torch.isfinite(m.weight.grad).all()
               for m in model if isinstance(m, nn.Linear))


@pytest.mark.parametrize("name, module", [("relu", nn.ReLU()), ("tanh", nn.Tanh())])
def test_a_sequential_equals_the_compact_mlp_with_the_same_weights(float64, name, module):
    compact = CompactMLP.seeded(0, 4, (6, 5), 2, activation=name).double()
    sequential = nn.Sequential(compact.layers[0], module, compact.layers[1], module, compact.layers[2])
    x = torch.randn(12, 4, dtype=torch.float64)
    torch.testing.assert_close(dreg_penalty(sequential, x), dreg_penalty(compact, x), rtol=1e-12, atol=0)


@pytest.mark.parametrize("model, pattern", [
    (nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)),
     r"layer 1 of the Sequential is BatchNorm1d; .* must be one elementwise activation \(ReLU, LeakyReLU"),
    (nn.Sequential(nn.Linear(4, 8), nn.Softmax(dim=1), nn.Linear(8, 1)),
     r"layer 1 of the Sequential is Softmax; .* must be one elementwise activation"),
    (nn.Sequential(nn.Linear(4, 8), nn.ReLU()), r"must start and end with nn.Linear"),
    (nn.Linear(4, 1), r"dreg_penalty needs a CompactMLP or an nn.Sequential .*, got Linear"),
])
def test_other_layers_are_refused_by_name(model, pattern):
    with pytest.raises(TypeError, match=pattern):
        dreg_penalty(model, torch.randn(3, 4))


def test_a_sequential_without_its_input_batch_is_refused():
    with pytest.raises(ValueError, match=r"dreg_penalty of an nn.Sequential needs the input batch x"):
        dreg_penalty(nn.Sequential(nn.Linear(4, 1)))


def test_training_mode_batch_norm_is_refused_by_every_per_sample_penalty():
    """Every penalty of one sample's input derivatives refuses a model whose samples interact."""
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2))
    x, y = torch.randn(10, 4), torch.randn(10, 2)
    calls = [lambda: jacobian_penalty(model, x), lambda: jacobian_penalty(model, x, n_projections=2),
             lambda: jacobian_penalty(model, x, n_projections=1, distribution="sphere"),
             lambda: input_gradient_penalty(model, x), lambda: input_gradient_penalty(model, x, y)]
    for call in calls:
        with pytest.raises(ValueError, match=r"batch normalisation in training mode \(\['1'\]\).*model.eval\(\)"):
            call()
    with pytest.raises(TypeError, match=r"layer 1 of the Sequential is BatchNorm1d"):
        dreg_penalty(model, x)  # and the CR-penalty takes no normalisation layer at all
    # the diagnostic measures in eval mode (running statistics), where samples are independent
    torch.testing.assert_close(input_gradient_norms(model, x).pow(2).mean(), input_gradient_penalty(model.eval(), x))


def test_the_package_exports_the_three_penalties():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(8, 3)
    assert set(dreg_utils.__all__) >= {"dreg_penalty", "jacobian_penalty", "input_gradient_penalty"}
    torch.testing.assert_close(dreg_utils.jacobian_penalty(model, x), dreg_utils.input_gradient_penalty(model, x))
