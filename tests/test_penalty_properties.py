"""Property tests of the public penalties on random ``nn.Sequential`` models (hypothesis).

Each example draws a model (depth, widths, activations of the supported set, pass-through layers,
nesting, the output's shape, sometimes a layer the CR-penalty refuses), a dtype, a mode and a
batch, and checks dreg_penalty, jacobian_penalty (exact and projected), input_gradient_penalty
(without targets, with squared-error and with cross-entropy targets) and Regulariser's methods:
each equals an independent float64 computation by torch.func (per-sample jacrev of each sample's
flattened output, or of each layer's map for the CR-penalty, DREG eqs. 3-5) or raises its
documented error, and none is NaN. A second group checks every activation of ``torch.nn``: each
is supported, with phi' checked against central differences and its CR-penalty against jacrev,
or refused by name.
"""
import copy
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.func import jacrev, vmap

from dreg_utils import Regulariser, dreg_penalty, input_gradient_penalty, jacobian_penalty
from dreg_utils.activations import Poly, ReLU, Tanh
from dreg_utils.sequential import ELEMENTWISE, _activate

ACTIVATIONS = {  # name -> factory(width): the supported activations the models draw from
    "ReLU": lambda w: nn.ReLU(), "ReLU-inplace": lambda w: nn.ReLU(inplace=True),
    "LeakyReLU": lambda w: nn.LeakyReLU(0.2), "Tanh": lambda w: nn.Tanh(), "Sigmoid": lambda w: nn.Sigmoid(),
    "GELU": lambda w: nn.GELU(), "GELU-tanh": lambda w: nn.GELU("tanh"), "SiLU": lambda w: nn.SiLU(),
    "Softplus": lambda w: nn.Softplus(beta=2.0), "ELU": lambda w: nn.ELU(), "CELU": lambda w: nn.CELU(0.7),
    "SELU": lambda w: nn.SELU(), "Mish": lambda w: nn.Mish(), "Hardtanh": lambda w: nn.Hardtanh(-0.5, 0.8),
    "ReLU6": lambda w: nn.ReLU6(), "Hardsigmoid": lambda w: nn.Hardsigmoid(), "Hardswish": lambda w: nn.Hardswish(),
    "LogSigmoid": lambda w: nn.LogSigmoid(), "Softsign": lambda w: nn.Softsign(),
    "Tanhshrink": lambda w: nn.Tanhshrink(), "Hardshrink": lambda w: nn.Hardshrink(0.3),
    "Softshrink": lambda w: nn.Softshrink(0.3), "Threshold": lambda w: nn.Threshold(0.1, -0.2),
    "PReLU": lambda w: nn.PReLU(), "PReLU-per-unit": lambda w: nn.PReLU(w, init=0.1),
    "dreg.ReLU": lambda w: ReLU(), "dreg.Poly": lambda w: Poly(0.8, 0.3), "dreg.Tanh": lambda w: Tanh(),
}
FILLERS = {"Identity": nn.Identity, "Flatten": nn.Flatten, "Dropout": lambda: nn.Dropout(0.5)}
# merged: Flatten(0) of (n, k > 1), not one row per sample; listed once, the others twice (drawn less often)
SHAPES = ("(n,)", "(n,k)", "(n,a,b)") * 2 + ("merged",)
ODD = (None,) * 4 + ("BatchNorm1d", "Softmax")  # layers the CR-penalty refuses (the others take them)


@st.composite
def specs(draw) -> dict:
    """A model description; :func:`build` makes it (the seed draws the weights)."""
    widths = draw(st.lists(st.integers(1, 5), max_size=3))
    n_core = 2 * len(widths) + 1
    return {
        "d": draw(st.integers(1, 4)), "widths": widths,
        "activations": [draw(st.sampled_from(sorted(ACTIVATIONS))) for _ in widths],
        "shape": draw(st.sampled_from(SHAPES)), "a": draw(st.integers(1, 3)), "b": draw(st.integers(1, 3)),
        "fillers": draw(st.lists(st.tuples(st.integers(0, n_core), st.sampled_from(sorted(FILLERS))), max_size=3)),
        "nest": draw(st.lists(st.tuples(st.integers(0, n_core + 3), st.integers(1, 3)), max_size=2)),
        "odd": draw(st.sampled_from(ODD)) if widths else None, "seed": draw(st.integers(0, 2**16)),
    }


def output_shape(spec: dict) -> tuple[int, ...]:
    """The per-sample output shape the last Linear layer is built for."""
    a, b = spec["a"], spec["b"]
    return {"(n,)": (1,), "(n,k)": (a,), "(n,a,b)": (a, b), "merged": (a + 1,)}[spec["shape"]]


def build(spec: dict) -> nn.Sequential:
    widths = [spec["d"], *spec["widths"]]
    k = torch.Size(output_shape(spec)).numel()
    with torch.random.fork_rng():
        torch.manual_seed(spec["seed"])
        layers = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i == 0 and spec["odd"] == "BatchNorm1d":
                layers.append(nn.BatchNorm1d(n_out))
            odd_activation = i == 0 and spec["odd"] == "Softmax"
            layers.append(nn.Softmax(dim=1) if odd_activation else ACTIVATIONS[spec["activations"][i]](n_out))
        layers.append(nn.Linear(widths[-1], k))
        for position, name in sorted(spec["fillers"], reverse=True):
            layers.insert(min(position, len(layers)), FILLERS[name]())
        if spec["shape"] in ("(n,)", "merged"):
            layers.append(nn.Flatten(0))
        elif spec["shape"] == "(n,a,b)":
            layers.append(nn.Unflatten(1, (spec["a"], spec["b"])))
        for start, size in spec["nest"]:
            start = min(start, len(layers) - 1)
            layers[start:start + size] = [nn.Sequential(*layers[start:start + size])]
    return nn.Sequential(*layers)


def leaves(model: nn.Module) -> list[nn.Module]:
    return [leaf for layer in model for leaf in (leaves(layer) if isinstance(layer, nn.Sequential) else [layer])]


def per_sample(fn, *tensors: torch.Tensor, loop: bool) -> torch.Tensor:
    """vmap(fn) over the batch, or a loop over samples (torch.func's vmap of PReLU's backward fails)."""
    return torch.stack([fn(*row) for row in zip(*tensors)]) if loop else vmap(fn)(*tensors)


def cr_by_jacrev(model: nn.Sequential, x: torch.Tensor, loop: bool) -> torch.Tensor:
    """(1/L) sum_l E_b ||J^(l)(x_b)||_F^2 with J^(l) the jacrev of h -> phi_l(W_l h + b_l) (the
    output layer h -> W_L h + b_L): the layers found by walking the model, pass-throughs and the
    output's reshape dropped (eval mode)."""
    kept = [m for m in leaves(model) if not isinstance(m, (nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout))]
    linears, activations = kept[0::2], [*kept[1::2], nn.Identity()]
    total, h = 0.0, x
    for linear, activation in zip(linears, activations):
        def layer(hi, linear=linear, activation=activation):
            return activation(linear(hi.unsqueeze(0)))[0]
        total = total + per_sample(jacrev(layer), h, loop=loop).pow(2).sum(dim=(1, 2)).mean()
        h = activation(linear(h))
    return total / len(linears)


def references(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor | None,
               seed: int) -> dict[str, torch.Tensor]:
    """Every penalty of ``model`` (a float64 copy in eval mode's sense: no random layer is active)."""
    loop = any(isinstance(m, nn.PReLU) for m in model.modules())

    def f(xi):
        return model(xi.unsqueeze(0))[0].reshape(-1)

    jac = per_sample(jacrev(f), x, loop=loop)  # (n, outputs, d)
    exact = jac.pow(2).sum(dim=(1, 2)).mean()
    generator = torch.Generator().manual_seed(seed)
    vs = [2.0 * torch.randint(0, 2, jac.shape[:2], generator=generator).double() - 1.0 for _ in range(2)]
    projected = torch.stack([torch.einsum("nk,nkd->nd", v, jac).pow(2).sum(dim=1) for v in vs]).mean()

    def mse(xi, yi):
        return (f(xi) - yi.reshape(-1)).pow(2).mean()

    def ce(xi, ti):
        scores = model(xi.unsqueeze(0))[0]  # (classes,) or (classes, positions)
        picked = scores.gather(0, ti.reshape(1, *scores.shape[1:])).squeeze(0)
        return (torch.logsumexp(scores, dim=0) - picked).mean()

    result = {"dreg": None, "jacobian": exact, "jacobian-projected": projected, "igp": exact,
              "igp-mse": per_sample(jacrev(mse), x, y, loop=loop).pow(2).sum(dim=1).mean()}
    if labels is not None:
        result["igp-ce"] = per_sample(jacrev(ce), x, labels, loop=loop).pow(2).sum(dim=1).mean()
    return result


def expected_error(spec: dict, training: bool, method: str) -> tuple[type, str] | None:
    """The documented error of ``method`` on this model, or None where it computes the penalty."""
    dropout = any(name == "Dropout" for _, name in spec["fillers"])
    if method == "dreg" and spec["odd"] is not None:
        return TypeError, rf"layer [\d.]+ of the Sequential is {spec['odd']}; the CR-penalty needs Linear layers"
    if method != "dreg" and training and spec["odd"] == "BatchNorm1d":
        return ValueError, r"batch normalisation in training mode"
    if training and dropout:
        return ValueError, r"Dropout \([\d.]+\)(, Dropout \([\d.]+\))* in training mode: it draws new random numbers"
    if spec["shape"] == "merged":
        return ValueError, r"the model's output has shape \(\d+,\) for x of shape .* one output row per sample"
    if method == "igp-ce" and spec["shape"] == "(n,)":
        return ValueError, r"loss='ce' needs class scores of shape \(n, classes, ...\)"
    return None


@settings(max_examples=100, deadline=None, derandomize=True, database=None)  # the same examples every run
@given(spec=specs(), dtype=st.sampled_from([torch.float32, torch.float64]), training=st.booleans(),
       n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_every_penalty_is_the_independent_value_or_a_documented_error(spec, dtype, training, n, seed):
    model = build(spec).to(dtype).train(training)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, spec["d"], generator=gen).to(dtype)
    y = torch.randn(n, *output_shape(spec), generator=gen).to(dtype)
    shape = output_shape(spec)
    labels = torch.randint(0, shape[0], (n, *shape[1:]), generator=gen) if spec["shape"] != "(n,)" else None
    ce_targets = labels if labels is not None else torch.zeros(n, dtype=torch.long)
    calls = {
        "dreg": [lambda: dreg_penalty(model, x), lambda: Regulariser("dreg")(model, x, y)[1]],
        "jacobian": [lambda: jacobian_penalty(model, x), lambda: Regulariser("jacobian")(model, x)[1]],
        "jacobian-projected": [
            lambda: jacobian_penalty(model, x, 2, torch.Generator().manual_seed(seed)),
            lambda: Regulariser("jacobian", 2, generator=torch.Generator().manual_seed(seed))(model, x)[1]],
        "igp": [lambda: input_gradient_penalty(model, x), lambda: Regulariser("igp")(model, x)[1]],
        "igp-mse": [lambda: input_gradient_penalty(model, x, y), lambda: Regulariser("igp")(model, x, y)[1]],
        "igp-ce": [lambda: input_gradient_penalty(model, x, ce_targets, "ce"),
                   lambda: Regulariser("igp", loss="ce")(model, x, ce_targets)[1]],
    }
    reference_model = copy.deepcopy(model).double()
    computable = {m for m in calls if expected_error(spec, training, m) is None}
    expected = {}
    if computable - {"dreg"}:
        expected = references(reference_model, x.double(), y.double(), labels, seed)
    if "dreg" in computable:
        expected["dreg"] = cr_by_jacrev(reference_model, x.double(),
                                        loop=any(isinstance(m, nn.PReLU) for m in model.modules()))
    tolerance = dict(rtol=1e-9, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-4, atol=2e-5)
    for method, forms in calls.items():
        error = expected_error(spec, training, method)
        for call in forms:
            if error is not None:
                with pytest.raises(error[0], match=error[1]):
                    call()
                continue
            value = call()
            assert value.dtype == dtype and value.shape == () and bool(torch.isfinite(value)), (method, value)
            torch.testing.assert_close(value.detach().double(), expected[method], **tolerance,
                                       msg=lambda m, method=method: f"{method}: {m}")
    if not training or spec["odd"] != "BatchNorm1d":  # (torch refuses training-mode batch norm of one row)
        output, penalty = Regulariser("none")(model, x)
        assert float(penalty) == 0.0
    if not (training and (spec["odd"] == "BatchNorm1d" or any(name == "Dropout" for _, name in spec["fillers"]))):
        torch.testing.assert_close(output, model(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------
# every activation of torch.nn: supported (phi' checked) or refused by name

REFUSED = {"GLU", "MultiheadAttention", "Softmax", "Softmin", "Softmax2d", "LogSoftmax"}  # not elementwise
NEEDS_ARGUMENTS = {"Threshold": lambda: nn.Threshold(0.1, -0.2),
                   "MultiheadAttention": lambda: nn.MultiheadAttention(4, 1),
                   "Softmax": lambda: nn.Softmax(dim=1), "Softmin": lambda: nn.Softmin(dim=1),
                   "LogSoftmax": lambda: nn.LogSoftmax(dim=1), "PReLU": lambda: nn.PReLU(4, init=0.2)}
TORCH_ACTIVATIONS = torch.nn.modules.activation.__all__


def make(name: str) -> nn.Module:
    return NEEDS_ARGUMENTS.get(name, getattr(nn, name))()


@pytest.mark.parametrize("name", TORCH_ACTIVATIONS)
def test_every_torch_activation_is_supported_with_its_derivative_or_refused_by_name(float64, name):
    activation = make(name)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), activation, nn.Linear(4, 2)).eval()
    x = torch.randn(6, 3)
    if name in REFUSED:
        assert not isinstance(activation, ELEMENTWISE)
        supported = re.escape(", ".join(t.__name__ for t in ELEMENTWISE))
        with pytest.raises(TypeError, match=rf"layer 1 of the Sequential is {name}; .* must be one elementwise "
                                            rf"activation \({supported}\)"):
            dreg_penalty(model, x)
        return
    assert isinstance(activation, ELEMENTWISE)
    # phi' against central differences, at points away from every kink (0, +-0.1, +-0.5, +-1, 3, 6)
    z = torch.linspace(-7.0, 7.0, 57).add(0.0123).reshape(-1, 1).expand(-1, 4).contiguous()
    h, slope = _activate(activation, z)
    step = 1e-6
    numeric = (activation(z + step) - activation(z - step)) / (2 * step)
    torch.testing.assert_close(h, activation(z), rtol=0, atol=0)
    torch.testing.assert_close(slope, numeric, rtol=1e-6, atol=1e-8)
    if name == "RReLU":  # eval mode: the mean slope (torch.func cannot vmap rrelu)
        leaky = nn.Sequential(model[0], nn.LeakyReLU((activation.lower + activation.upper) / 2), model[2])
        torch.testing.assert_close(dreg_penalty(model, x), dreg_penalty(leaky, x), rtol=1e-12, atol=0)
        with pytest.raises(ValueError, match=r"Sequential has RReLU \(1\) in training mode"):
            dreg_penalty(model.train(), x)
        return
    # the CR-penalty of the Sequential against jacrev of each layer's map
    torch.testing.assert_close(dreg_penalty(model, x), cr_by_jacrev(model, x, loop=name == "PReLU"),
                               rtol=1e-10, atol=1e-12)
