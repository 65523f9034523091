"""The CR-penalty for a user's own ``torch.nn.Sequential`` of linear layers and elementwise
activations (DREG paper, eqs. 4-5), with phi' taken from the activation itself.

For ``Linear -> act -> Linear -> ... -> act -> Linear`` with pre-activations z^(l) = W^(l) h + b:

    CR(x) = (1/L) [ sum_{l < L} sum_j phi_l'(z_j^(l))^2 ||W_j^(l)||^2 + ||W^(L)||_F^2 ],

averaged over the batch: the same definition :func:`dreg_utils.penalties.dreg_penalty` computes
for a :class:`~dreg_utils.models.CompactMLP` (its fast path). phi'(z) comes from autograd of the
activation applied elementwise (or its own ``derivative``), so it stays differentiable in the
parameters, PReLU's slopes included. ``ELEMENTWISE`` lists the activations accepted: every
elementwise activation of ``torch.nn`` (RReLU in eval mode) and those of
:mod:`dreg_utils.activations`; the others of ``torch.nn`` (Softmax, GLU, ...) mix units and are
refused by name.

Nested ``nn.Sequential`` are flattened. ``nn.Identity``, ``nn.Flatten`` over the features
(``start_dim`` 1) and dropout in eval mode pass the values through and may sit anywhere;
``nn.Flatten`` and ``nn.Unflatten`` after the last Linear reshape the output, which must keep one
row per sample. Dropout and RReLU in training mode are refused (random on every call).
"""
from __future__ import annotations

import torch
from torch import nn

from .activations import Poly, ReLU, Tanh
from .jacobians import DROPOUT, check_not_inference, check_output, check_samples_independent
from .models import check_input

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Softplus, nn.ELU,
               nn.CELU, nn.SELU, nn.Mish, nn.Hardtanh, nn.ReLU6, nn.Hardsigmoid, nn.Hardswish,
               nn.LogSigmoid, nn.Softsign, nn.Tanhshrink, nn.Hardshrink, nn.Softshrink, nn.Threshold,
               nn.PReLU, nn.RReLU, ReLU, Poly, Tanh)
OUTPUT_RESHAPES = (nn.Flatten, nn.Unflatten)
CASTS = {torch.float64: "double()", torch.float32: "float()", torch.float16: "half()", torch.bfloat16: "bfloat16()"}


def flat_layers(model: nn.Sequential, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The layers of ``model`` in call order, nested ``nn.Sequential`` expanded, each with its
    position ("1", or "0.2" for the third layer of a nested first one)."""
    layers = []
    for i, layer in enumerate(model):
        position = f"{prefix}{i}"
        layers += flat_layers(layer, f"{position}.") if isinstance(layer, nn.Sequential) else [(position, layer)]
    return layers


def _passes_through(layer: nn.Module) -> bool:
    """True for a layer that returns the (n, features) hidden state unchanged (dropout in eval
    mode; in training mode :func:`~dreg_utils.jacobians.check_samples_independent` refuses it)."""
    if isinstance(layer, nn.Flatten):
        return layer.start_dim in (1, -1)
    return isinstance(layer, (nn.Identity, *DROPOUT))


def check_layers(model: nn.Sequential) -> tuple[list[nn.Linear], list[nn.Module]]:
    """The linear layers and the activations between them; any other layout is a ``TypeError``
    naming the offending layer and what is supported (see the module docstring)."""
    linears, activations, reshaped = [], [], False
    for position, layer in flat_layers(model):
        if _passes_through(layer):
            continue
        expect_linear = len(linears) == len(activations)
        if reshaped or (isinstance(layer, OUTPUT_RESHAPES) and not expect_linear):
            if not isinstance(layer, OUTPUT_RESHAPES):
                raise TypeError(f"layer {position} of the Sequential is {type(layer).__name__}; after a "
                                "reshape of the output (nn.Flatten, nn.Unflatten) only reshapes may follow")
            reshaped = True
        elif expect_linear and isinstance(layer, nn.Linear):
            linears.append(layer)
        elif not expect_linear and isinstance(layer, ELEMENTWISE):
            activations.append(layer)
        else:
            supported = ", ".join(t.__name__ for t in ELEMENTWISE)
            expected = "nn.Linear" if expect_linear else f"one elementwise activation ({supported})"
            raise TypeError(f"layer {position} of the Sequential is {type(layer).__name__}; the CR-penalty needs "
                            f"Linear layers alternating with single elementwise activations, so layer {position} "
                            f"must be {expected}")
    if not linears or len(linears) == len(activations):
        raise TypeError("the Sequential must start and end with nn.Linear")
    return linears, activations


def _first_linear(model: nn.Module) -> nn.Linear | None:
    """The first layer of an ``nn.Sequential`` that is not a pass-through, if it is Linear."""
    if not isinstance(model, nn.Sequential):
        return None
    first = next((layer for _, layer in flat_layers(model) if not _passes_through(layer)), None)
    return first if isinstance(first, nn.Linear) else None


def _cast(dtype: torch.dtype) -> str:
    """The call that converts a tensor or module to ``dtype``: "double()", "float()", "half()",
    "bfloat16()" or else "to(dtype)"."""
    return CASTS.get(dtype, f"to({dtype})")


def check_batch(model: nn.Module, x: object, name: str = "x") -> torch.Tensor:
    """``x`` as a penalty's input batch: :func:`~dreg_utils.models.check_input`'s checks, at least
    one row, for an ``nn.Sequential`` that starts with Linear its ``in_features`` columns, the dtype
    of the model's floating-point parameters (where they share one) and, outside
    ``torch.inference_mode`` with gradients enabled, no inference tensor; a ``ValueError``
    (``RuntimeError`` for the inference tensor) naming the value otherwise."""
    x = check_input(model, x, name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(x.shape)}); a penalty is a batch mean and needs at "
                         "least one sample")
    first = _first_linear(model)
    if first is not None and x.shape[1] != first.in_features:
        raise ValueError(f"{name} has {x.shape[1]} features (shape {tuple(x.shape)}) but the model's first "
                         f"Linear layer takes in_features={first.in_features}")
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()} if isinstance(model, nn.Module) else set()
    if len(dtypes) == 1 and x.dtype not in dtypes:
        (dtype,) = dtypes
        raise ValueError(f"{name} has dtype {x.dtype} but the model's parameters have dtype {dtype}; make them "
                         f"match: model.{_cast(x.dtype)} or {name}.{_cast(dtype)}")
    check_not_inference(x, name, " and is used outside it with gradients enabled, but inference tensors "
                                 "cannot be used for autograd")
    return x


def _activate(activation: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """h = phi(z) and phi'(z) elementwise, differentiable in z and the activation's parameters
    (PReLU's slopes) where gradients are enabled; phi' from the activation's own ``derivative``
    where it has one, else by autograd of sum(phi(z)) (phi elementwise), reusing h."""
    if hasattr(activation, "derivative"):
        return activation(z), activation.derivative(z)
    track = torch.is_grad_enabled()
    with torch.enable_grad():
        source = z if z.requires_grad else z.detach().requires_grad_(True)
        # an in-place activation (inplace=True) must not overwrite the z that phi' is taken at
        h = activation(source.clone() if getattr(activation, "inplace", False) else source)
        (slope,) = torch.autograd.grad(h.sum(), source, create_graph=track)
    return (h if track else h.detach()), slope


def sequential_dreg_penalty(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The batch mean of CR(x) for ``model`` (see the module docstring), differentiable."""
    return sequential_output_and_dreg_penalty(model, x)[1]


def sequential_output_and_dreg_penalty(model: nn.Sequential,
                                       x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``model(x)`` and the batch mean of CR(x) from the same forward pass: each layer's
    pre-activations z^(l) give both h^(l) = phi(z^(l)) and the layer's term of CR."""
    linears, activations = check_layers(model)
    check_samples_independent(model)
    x = check_batch(model, x)
    if torch.is_inference_mode_enabled() and not all(hasattr(a, "derivative") for a in activations):
        raise RuntimeError("the CR-penalty of an nn.Sequential takes phi' of torch.nn activations by autograd, "
                           "which torch.inference_mode() forbids; call it under torch.no_grad() instead")
    h, total, linear = x, linears[-1].weight.pow(2).sum(), linears[0]
    for _, layer in flat_layers(model):
        if isinstance(layer, ELEMENTWISE):
            h, slope = _activate(layer, h)
            total = total + (slope.pow(2).mean(dim=0) @ linear.weight.pow(2).sum(dim=1))
        else:
            h = layer(h)
            linear = layer if isinstance(layer, nn.Linear) else linear
    check_output(h, x)
    return h, total / len(linears)
