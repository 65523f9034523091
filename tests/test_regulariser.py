"""Regulariser (one forward pass, output and penalty) against torch.func and the functional penalties."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap
from torch.nn import functional as F

import dreg_utils
from dreg_utils import Regulariser
from dreg_utils.models import CompactMLP
from dreg_utils.penalties import dreg_penalty, input_gradient_penalty, jacobian_penalty

pytestmark = pytest.mark.usefixtures("float64")
LAM = 0.3


def sequential(activation: nn.Module, outputs: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 7), activation, nn.Linear(7, 5), activation, nn.Linear(5, outputs))


MODELS = {
    "seq-relu": lambda: sequential(nn.ReLU()),
    "seq-tanh": lambda: sequential(nn.Tanh()),
    "compact-poly": lambda: CompactMLP.seeded(1, 4, (7, 5), 3, activation="poly"),
    "compact-relu": lambda: CompactMLP.seeded(2, 4, (7, 5), 3, activation="relu"),
}


def batch(n: int = 12, outputs: int = 3):
    gen = torch.Generator().manual_seed(5)
    return torch.randn(n, 4, generator=gen), torch.randn(n, outputs, generator=gen)


def per_sample(model: nn.Module, fn):
    """fn applied to one sample's model (x_i -> f(x_i)), vmapped over the batch."""
    return lambda params, x: vmap(lambda xi: fn(lambda v: functional_call(model, params, (v.unsqueeze(0),))[0], xi))(x)


def jacobian_sq_by_jacrev(model, params, x):
    """E_b ||J_x f(x_b)||_F^2 by torch.func.jacrev, per sample."""
    return per_sample(model, lambda f, xi: jacrev(f)(xi).pow(2).sum())(params, x).mean()


def igp_by_func(model, params, x, y):
    """E_b ||grad_x mean_k (f_k(x_b) - y_bk)^2||^2 by torch.func.grad, per sample."""
    def one(xi, yi):
        return grad(lambda v: (functional_call(model, params, (v.unsqueeze(0),))[0] - yi).pow(2).mean())(xi).pow(2).sum()
    return vmap(one)(x, y).mean()


def dreg_by_jacrev(model: nn.Sequential, params, x):
    """(1/L) sum_l E_b ||J^(l)(x_b)||_F^2 with J^(l) the jacrev of h -> phi(W^(l) h + b^(l))
    (the output layer h -> W^(L) h + b^(L)), DREG eqs. 3-5."""
    layers = list(model)
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    total, h = 0.0, x
    for position, i in enumerate(linears):
        names = {f"{i}.weight", f"{i}.bias"}
        sub = {n[len(str(i)) + 1:]: p for n, p in params.items() if n in names}
        activation = layers[i + 1] if position < len(linears) - 1 else nn.Identity()

        def layer_map(hi, sub=sub, i=i, activation=activation):
            return activation(functional_call(layers[i], sub, (hi.unsqueeze(0),))[0])

        total = total + vmap(jacrev(layer_map))(h).pow(2).sum(dim=(1, 2)).mean()
        h = vmap(layer_map)(h)
    return total / len(linears)


def loop_gradients(model, reg, x, y):
    """The parameter gradients of mse(output, y) + LAM * penalty as the loop computes them."""
    model.zero_grad(set_to_none=True)
    output, penalty = reg(model, x, y)
    (F.mse_loss(output, y) + LAM * penalty).backward()
    return output.detach(), penalty.detach(), {n: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                                              for n, p in model.named_parameters()}


def assert_gradients_close(got, expected):
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.Tanh()], ids=["relu", "tanh"])
@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
def test_the_loop_form_matches_torch_func_value_and_gradients(activation, method):
    """Output = model(x); penalty and d(task + LAM penalty)/dtheta equal an independent torch.func computation."""
    model = sequential(activation)
    x, y = batch()
    output, penalty, grads = loop_gradients(model, Regulariser(method), x, y)
    params = {n: p.detach() for n, p in model.named_parameters()}
    independent = {"none": lambda p: torch.zeros(()), "dreg": lambda p: dreg_by_jacrev(model, p, x),
                   "jacobian": lambda p: jacobian_sq_by_jacrev(model, p, x),
                   "igp": lambda p: igp_by_func(model, p, x, y)}[method]
    torch.testing.assert_close(output, model(x).detach(), rtol=0, atol=0)
    torch.testing.assert_close(penalty, independent(params), rtol=1e-10, atol=1e-14)

    def objective(p):
        return F.mse_loss(functional_call(model, p, (x,)), y) + LAM * independent(p)

    assert_gradients_close(grads, grad(objective)(params))


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("reg, functional", [
    (Regulariser("dreg"), lambda m, x, y: dreg_penalty(m, x)),
    (Regulariser("jacobian"), lambda m, x, y: jacobian_penalty(m, x)),
    (Regulariser("igp"), lambda m, x, y: input_gradient_penalty(m, x, y)),
    (Regulariser("jacobian", n_projections=3, distribution="sphere", generator=torch.Generator().manual_seed(4)),
     lambda m, x, y: jacobian_penalty(m, x, 3, torch.Generator().manual_seed(4), distribution="sphere")),
], ids=["dreg", "jacobian", "igp", "jacobian-sphere-3"])
def test_the_loop_form_gives_the_functional_penalty_and_its_gradients(model_name, reg, functional):
    if reg.generator is not None:
        reg.generator.manual_seed(4)  # the same projections as the functional form draws
    model = MODELS[model_name]()
    x, y = batch()
    _, penalty, grads = loop_gradients(model, reg, x, y)
    model.zero_grad(set_to_none=True)
    expected = functional(model, x, y)
    (F.mse_loss(model(x), y) + LAM * expected).backward()
    torch.testing.assert_close(penalty, expected.detach(), rtol=1e-12, atol=0)
    assert_gradients_close(grads, {n: p.grad if p.grad is not None else torch.zeros_like(p)
                                   for n, p in model.named_parameters()})


@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
@pytest.mark.parametrize("model_name", ["seq-tanh", "compact-poly"])
def test_one_forward_pass_per_call(method, model_name):
    """Every activation runs as often in one call as in one plain forward pass model(x)
    (CompactMLP's traced forward calls its linear layers functionally)."""
    model = MODELS[model_name]()
    calls = []
    for module in model.modules():
        if not list(module.children()) and not isinstance(module, nn.Linear):
            module.register_forward_hook(lambda *_: calls.append(1))
    x, y = batch()
    model(x)
    plain, calls[:] = len(calls), []
    Regulariser(method)(model, x, y)
    assert plain > 0 and len(calls) == plain


def test_the_projection_estimate_with_one_output_is_exact():
    """Rademacher and sphere projections of a one-output model give ||grad_x f||^2 exactly."""
    model = sequential(nn.Tanh(), outputs=1)
    x, y = batch(outputs=1)
    params = {n: p.detach() for n, p in model.named_parameters()}
    for distribution in ("rademacher", "sphere"):
        _, penalty = Regulariser("jacobian", n_projections=1, distribution=distribution)(model, x)
        torch.testing.assert_close(penalty.detach(), jacobian_sq_by_jacrev(model, params, x), rtol=1e-12, atol=0)


def test_cross_entropy_igp_matches_torch_func():
    model = sequential(nn.Tanh())
    x, _ = batch()
    labels = torch.tensor([0, 1, 2] * 4)
    params = {n: p.detach() for n, p in model.named_parameters()}

    def one(xi, yi):
        return grad(lambda v: F.cross_entropy(functional_call(model, params, (v.unsqueeze(0),)), yi.unsqueeze(0)))(xi)

    expected = vmap(one)(x, labels).pow(2).sum(dim=1).mean()
    _, penalty = Regulariser("igp", loss="ce")(model, x, labels)
    torch.testing.assert_close(penalty.detach(), expected, rtol=1e-10, atol=0)


def test_the_package_exports_the_regulariser():
    assert dreg_utils.Regulariser is Regulariser and "Regulariser" in dreg_utils.__all__
    assert repr(Regulariser("jacobian", n_projections=2)) == "Regulariser('jacobian', n_projections=2, distribution='rademacher')"


BATCH_NORM = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: Regulariser("sn"), ValueError, r"method='sn' is not valid; choose one of \['none', 'dreg', 'jacobian', 'igp'\]"),
    (lambda: Regulariser("dreg", n_projections=2), ValueError,
     r"n_projections=2 applies only to method='jacobian', not method='dreg'"),
    (lambda: Regulariser("jacobian", n_projections=0), ValueError, r"n_projections=0 is not valid"),
    (lambda: Regulariser("jacobian", distribution="uniform"), ValueError, r"distribution='uniform' is not valid"),
    (lambda: Regulariser("igp", loss="hinge"), ValueError, r"loss='hinge' is not valid; choose one of \['mse', 'ce'\]"),
    (lambda: Regulariser("jacobian", generator=3), TypeError, r"generator must be a torch.Generator or None, got int"),
    (lambda: Regulariser("dreg")(lambda v: v, batch()[0]), TypeError, r"model must be a torch.nn.Module, got function"),
    (lambda: Regulariser("igp")(sequential(nn.Tanh()), batch()[0], torch.zeros(5, 3)), ValueError,
     r"y must be a tensor with one row per row of x \(12\), got \(5, 3\)"),
    (lambda: Regulariser("dreg")(nn.Linear(4, 3), batch()[0]), TypeError,
     r"method='dreg' needs a CompactMLP or an nn.Sequential .*, got Linear"),
    (lambda: Regulariser("dreg")(BATCH_NORM, batch()[0]), TypeError, r"layer 1 of the Sequential is BatchNorm1d"),
    (lambda: Regulariser("jacobian")(BATCH_NORM, batch()[0]), ValueError, r"batch normalisation in training mode"),
    (lambda: Regulariser("igp")(BATCH_NORM, *batch()), ValueError, r"batch normalisation in training mode"),
    (lambda: Regulariser("dreg")(sequential(nn.Tanh()), torch.zeros(3, 4, dtype=torch.long)), ValueError,
     r"x must be a 2-D floating-point tensor"),
])
def test_bad_arguments_are_refused_by_name(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
