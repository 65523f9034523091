"""CompactMLP, its traced forward pass, spectral normalisation and the activations."""
import pytest
import torch
from torch import nn

import reference as ref
from dreg_utils.activations import ACTIVATIONS, Poly, ReLU, make_activation
from dreg_utils.models import CompactMLP

pytestmark = pytest.mark.usefixtures("float64")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [(5,), (6, 3), (4, 7, 2)])
def test_forward_and_trace_match_hand_computation(activation, hidden):
    model = CompactMLP.seeded(1, 3, hidden, 2, activation=activation)
    x = torch.randn(9, 3, generator=torch.Generator().manual_seed(0))
    out, inputs = ref.forward(model, x)
    torch.testing.assert_close(model(x), out, rtol=1e-12, atol=1e-14)
    trace = model.trace(x)
    torch.testing.assert_close(trace.output, out, rtol=1e-12, atol=1e-14)
    assert len(trace.preactivations) == len(hidden) and len(trace.weights) == len(hidden) + 1
    for l, (z, layer) in enumerate(zip(trace.preactivations, model.layers)):
        torch.testing.assert_close(z, inputs[l] @ layer.weight.T + layer.bias, rtol=1e-12, atol=1e-14)
    for w, layer in zip(trace.weights, model.layers):
        assert w is layer.weight


def test_shapes_depth_and_parameter_count():
    model = CompactMLP(10, (32, 16), 3)
    assert model.depth == 3
    assert model.num_parameters() == (10 * 32 + 32) + (32 * 16 + 16) + (16 * 3 + 3)
    assert [tuple(layer.weight.shape) for layer in model.layers] == [(32, 10), (16, 32), (3, 16)]
    assert model(torch.zeros(4, 10)).shape == (4, 3)
    assert model.layers[0].weight.dtype == torch.float64  # follows the default dtype
    assert CompactMLP(2, [3], 1).depth == 2  # lists work too


def test_seeded_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = CompactMLP.seeded(7, 4, (5, 5), 2)
    assert torch.equal(torch.rand(3), expected_next)
    b = CompactMLP.seeded(7, 4, (5, 5), 2)
    c = CompactMLP.seeded(8, 4, (5, 5), 2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.layers[0].weight, c.layers[0].weight)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [(6,), (12, 8), (5, 9, 4)])
def test_spectral_norm_converges_to_unit_top_singular_value(activation, hidden):
    """After enough train-mode forwards (power iteration), every used W has sigma_max ~ 1."""
    model = CompactMLP.seeded(3, 6, hidden, 3, activation=activation, spectral_norm=True)
    assert model.uses_spectral_norm
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    model.train()
    for _ in range(200):
        model(x)
    model.eval()
    for layer in model.layers:
        sigma = float(torch.linalg.matrix_norm(layer.weight.detach(), ord=2))
        assert sigma == pytest.approx(1.0, abs=1e-2)
    trace = model.trace(x)  # the trace uses the normalised weights
    for w in trace.weights:
        assert float(torch.linalg.matrix_norm(w.detach(), ord=2)) == pytest.approx(1.0, abs=1e-2)
    torch.testing.assert_close(trace.output, model(x))


def test_spectral_norm_weights_are_the_raw_weights_rescaled():
    model = CompactMLP.seeded(2, 4, (5,), 2, spectral_norm=True)
    for _ in range(100):
        model(torch.zeros(1, 4))
    model.eval()
    for layer in model.layers:
        raw = layer.parametrizations.weight.original.detach()
        ratio = layer.weight.detach() / raw
        torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio[0, 0])))
        assert float(ratio[0, 0]) == pytest.approx(1.0 / float(torch.linalg.matrix_norm(raw, ord=2)), rel=1e-2)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_matches_autograd(name):
    act = make_activation(name)
    z = torch.linspace(-3, 3, 61) + 0.013  # avoid the ReLU kink at exactly 0
    torch.testing.assert_close(act(z), ref.phi(name, z), rtol=1e-14, atol=0)
    z.requires_grad_(True)
    (auto,) = torch.autograd.grad(act(z).sum(), z)
    torch.testing.assert_close(act.derivative(z.detach()), auto, rtol=1e-14, atol=0)


def test_relu_derivative_at_zero_is_zero():
    assert float(ReLU().derivative(torch.zeros(1))) == 0.0


def test_poly_coefficients_fixed_or_trainable():
    fixed, trainable = Poly(), Poly(trainable=True)
    assert list(fixed.parameters()) == [] and "coefficients" in dict(fixed.named_buffers())
    assert isinstance(trainable.coefficients, nn.Parameter)
    assert fixed.coefficients.tolist() == [1.0, 0.1]
    custom = Poly(c1=2.0, c2=-0.5)
    z = torch.tensor([1.5])
    assert float(custom(z)) == pytest.approx(2.0 * 1.5 - 0.5 * 1.5 ** 2)
    assert float(custom.derivative(z)) == pytest.approx(2.0 - 1.5)
    model = CompactMLP(3, (4, 4), 1, activation="poly", trainable_poly=True)
    assert model.num_parameters() == (3 * 4 + 4) + (4 * 4 + 4) + (4 + 1) + 2 * 2


@pytest.mark.parametrize("hidden", [(16, 8), (32, 16, 8)])
def test_every_method_of_a_seed_starts_from_the_same_weights(hidden):
    """Paired arms share their random numbers: BASE, DREG, IGPEN and SN of one seed start from
    identical weights and biases in every layer (SN's power-iteration vectors are drawn after)."""
    from dreg_utils.ensemble import Member, build_group

    plain = CompactMLP.seeded(3, 12, hidden, 4)
    sn = CompactMLP.seeded(3, 12, hidden, 4, spectral_norm=True)
    for a, b in zip(plain.layers, sn.layers):
        assert torch.equal(a.weight, b.parametrizations.weight.original)
        assert torch.equal(a.bias, b.bias)
    members = [Member(3, "base"), Member(3, "dreg", 0.1), Member(3, "igp", 0.1), Member(3, "sn")]
    _, net, _ = build_group(members, 12, hidden, 4)
    for weights in net.weights:
        assert all(torch.equal(weights[0], weights[s]) for s in range(1, 4))
