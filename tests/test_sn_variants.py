"""The variants of spectral normalisation (hidden layers only, a learnable output scale): each
constrained layer has spectral norm 1, the free ones do not, and a vectorised group equals its
members trained alone, member by member (float64)."""
import pytest
import torch
from torch.func import jacrev, vmap
from torch.nn import functional as F

from dreg_utils.models import CompactMLP, spectral_norm_options
from dreg_utils.stacked import StackedMLP
from dreg_utils.vocabulary import METHODS, SN_METHODS, SN_MODES, methods_for

pytestmark = pytest.mark.usefixtures("float64")

# members side by side and apart, every mode, and a member without SN between them
METHODS_OF_A_GROUP = ["sn_hidden", "base", "sn_scaled", "sn", "sn_hidden", "sn_scaled"]


def top_singular_value(w: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(w.detach(), ord=2))


def converged(method: str, seed: int = 0, activation: str = "relu") -> CompactMLP:
    """A model of ``method`` whose power iteration ran 300 training-mode forwards, in eval mode."""
    model = CompactMLP.seeded(seed, 6, (12, 8), 3, activation=activation, **spectral_norm_options(method))
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    for _ in range(300):
        model.train()(x)
    return model.eval()


def test_the_vocabulary_names_each_variant_and_its_mode():
    assert SN_METHODS == ("sn", "sn_hidden", "sn_scaled")
    assert [METHODS[m].sn_mode for m in SN_METHODS] == list(SN_MODES)
    assert all(METHODS[m].sn_mode is None for m in METHODS if m not in SN_METHODS)
    for trainer in ("fit", "ensemble", "surrogate"):  # wherever SN runs, its variants run
        assert set(SN_METHODS) <= set(methods_for(trainer)), trainer
    assert spectral_norm_options("none") == {"spectral_norm": False}
    assert spectral_norm_options("sn_hidden") == {"spectral_norm": True, "sn_mode": "hidden"}


@pytest.mark.parametrize("method", SN_METHODS)
def test_each_constrained_layer_has_spectral_norm_one(method):
    model = converged(method)
    assert model.sn_mode == METHODS[method].sn_mode
    weights = model.trace(torch.zeros(1, 6)).weights
    for w in weights[:-1]:  # the hidden layers: every variant constrains them
        assert top_singular_value(w) == pytest.approx(1.0, abs=1e-6)
    last = model.layers[-1]
    if method == "sn_hidden":  # the output layer is free: a plain weight, its norm not 1
        assert not hasattr(last, "parametrizations") and weights[-1] is last.weight
        assert abs(top_singular_value(weights[-1]) - 1.0) > 0.05
    else:
        assert top_singular_value(last.weight) == pytest.approx(1.0, abs=1e-6)
    if method == "sn_scaled":  # the output layer's norm is the learnable scale exp(s)
        with torch.no_grad():
            model.output_log_scale.fill_(0.7)
        w = model.trace(torch.zeros(1, 6)).weights[-1]
        assert top_singular_value(w) == pytest.approx(torch.e ** 0.7, rel=1e-6)
    else:
        assert model.output_log_scale is None


@pytest.mark.parametrize("method", SN_METHODS)
@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_forward_equals_the_normalised_network_written_out(method, activation):
    """Each constrained W divided by its top singular value from an SVD, the scaled output
    multiplied by exp(s): the same outputs as the model's forward and trace."""
    model = converged(method, activation=activation)
    if model.output_log_scale is not None:
        with torch.no_grad():
            model.output_log_scale.fill_(-0.4)
    x = torch.randn(9, 6, generator=torch.Generator().manual_seed(2))
    h = x
    for l, layer in enumerate(model.layers):
        raw = layer.parametrizations.weight.original if hasattr(layer, "parametrizations") else layer.weight
        w = raw / top_singular_value(raw) if hasattr(layer, "parametrizations") else raw
        if l == len(model.layers) - 1:
            out = h @ w.T * (torch.e ** -0.4 if method == "sn_scaled" else 1.0) + layer.bias
        else:
            z = h @ w.T + layer.bias
            h = torch.relu(z) if activation == "relu" else z + 0.1 * z * z
    torch.testing.assert_close(model(x), out, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(model.trace(x).output, out, rtol=1e-6, atol=1e-8)


def test_scaled_and_hidden_start_from_the_weights_of_base():
    """Paired arms share their initial weights: every variant's raw weights are BASE's."""
    plain = CompactMLP.seeded(4, 5, (7, 6), 2)
    for method in SN_METHODS:
        model = CompactMLP.seeded(4, 5, (7, 6), 2, **spectral_norm_options(method))
        for a, b in zip(plain.layers, model.layers):
            raw = b.parametrizations.weight.original if hasattr(b, "parametrizations") else b.weight
            assert torch.equal(a.weight, raw) and torch.equal(a.bias, b.bias)


def train_both(activation: str, steps: int = 120):
    """The group of METHODS_OF_A_GROUP trained as one StackedMLP and each member alone (AdamW,
    the same minibatches), in float64."""
    def build():
        return [CompactMLP.seeded(s, 4, (7, 5), 2, activation=activation, **spectral_norm_options(m))
                for s, m in enumerate(METHODS_OF_A_GROUP)]
    singles, net = build(), StackedMLP(build()).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-2)
    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=1e-2) for m in singles]
    generator = torch.Generator().manual_seed(0)
    size = len(METHODS_OF_A_GROUP)
    for _ in range(steps):
        x = torch.randn(size, 16, 4, generator=generator)
        y = 5.0 * x[..., :2] - x[..., 2:]  # steeper than 1: the scale must grow
        optimizer.zero_grad()
        ((net(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
        net.add_sn_gradient_()
        optimizer.step()
        for i, (model, single_optimizer) in enumerate(zip(singles, optimizers)):
            single_optimizer.zero_grad()
            F.mse_loss(model.train()(x[i]), y[i]).backward()
            single_optimizer.step()
    return net, singles


@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_a_stacked_group_equals_its_members_trained_alone(activation):
    net, singles = train_both(activation)
    net.eval()
    for i, model in enumerate(singles):
        exported = net.copy_member_to_(i, CompactMLP.seeded(99, 4, (7, 5), 2, activation=activation,
                                                            **spectral_norm_options(METHODS_OF_A_GROUP[i])))
        ours, theirs = exported.state_dict(), model.state_dict()
        assert list(ours) == list(theirs)  # the same parameters and power-iteration vectors
        for key in theirs:
            torch.testing.assert_close(ours[key], theirs[key], rtol=1e-10, atol=1e-10, msg=key)
    scales = net.log_scales.detach()
    assert all(scales[i] > 0.05 for i, m in enumerate(METHODS_OF_A_GROUP) if m == "sn_scaled")  # it learned
    assert all(scales[i] == 0.0 for i, m in enumerate(METHODS_OF_A_GROUP) if m != "sn_scaled")  # never moved


@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_stacked_penalties_of_the_variants_equal_jacrev_member_by_member(activation):
    """The output Jacobian and the loss gradient of the stack (eval mode: the stored vectors)
    equal torch.func.jacrev of each member alone."""
    net, singles = train_both(activation, steps=20)
    net.eval()
    size = len(singles)
    x = torch.randn(size, 5, 4, generator=torch.Generator().manual_seed(3))
    y = torch.randn(size, 5, 2, generator=torch.Generator().manual_seed(4))
    trace = net.trace(x.clone().requires_grad_(False))
    jac_sq = net.output_jacobian_sq(trace)
    losses = ((trace.output - y) ** 2).sum(dim=2)
    grad_sq = net.input_gradient_sq(losses, trace)
    for i, model in enumerate(singles):
        model.eval()
        jac = vmap(jacrev(lambda row: model(row.unsqueeze(0)).squeeze(0)))(x[i])  # [B, out, in]
        torch.testing.assert_close(jac_sq[i], jac.pow(2).sum(dim=(1, 2)), rtol=1e-10, atol=1e-12)
        grad = vmap(jacrev(lambda row, target: ((model(row.unsqueeze(0)).squeeze(0) - target) ** 2).sum()))(x[i], y[i])
        torch.testing.assert_close(grad_sq[i], grad.pow(2).sum(dim=1), rtol=1e-10, atol=1e-12)


def test_a_non_finite_output_scale_marks_its_member():
    models = [CompactMLP.seeded(s, 3, (4,), 1, **spectral_norm_options(m)) for s, m in enumerate(["sn_scaled", "base"])]
    net = StackedMLP(models)
    with torch.no_grad():
        net.log_scales[0] = float("nan")
    assert net.finite_members().tolist() == [False, True]


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(sn_mode="hidden"), ValueError, r"^sn_mode='hidden' needs spectral_norm=True$"),
    (dict(spectral_norm=True, sn_mode="output"), ValueError,
     r"^sn_mode='output' is not valid; choose one of \['all', 'hidden', 'scaled'\]$"),
])
def test_bad_sn_mode_is_refused_in_one_line(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        CompactMLP(3, (4,), 1, **kwargs)


@pytest.mark.parametrize("method", ["sn_hidden", "sn_scaled"])
def test_fit_ensemble_trains_each_variant_as_fit_does(method):
    """The training paths build each variant from its method (ensemble.build_group and
    train.fit's check use models.spectral_norm_options): a group equals fit member by member."""
    from dreg_utils.ensemble import Member, fit_ensemble
    from dreg_utils.train import fit

    x = torch.randn(80, 4, generator=torch.Generator().manual_seed(5))
    y = 4.0 * x[:, :1] - x[:, 1:2] ** 2
    members = [Member(0, method), Member(1, "base"), Member(2, method)]
    options = dict(epochs=3, batch_size=16, lr=1e-2, weight_decay=1e-2)
    together = fit_ensemble(members, x, y, (6, 5), task="regression", device="cpu", **options)
    for member, result in zip(members, together):
        assert result.model.sn_mode == METHODS[member.method].sn_mode
        alone = CompactMLP.seeded(member.seed, 4, (6, 5), 1, **spectral_norm_options(member.method))
        fit(alone, x, y, method=member.method, seed=member.seed, device="cpu", **options)
        for key, value in alone.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-10, atol=1e-10, msg=key)
