"""The CR-penalty for a user's own ``torch.nn.Sequential`` of linear layers and elementwise
activations (DREG paper, eqs. 4-5), with phi' taken from the activation itself.

For ``Linear -> act -> Linear -> ... -> act -> Linear`` with pre-activations z^(l) = W^(l) h + b:

    CR(x) = (1/L) [ sum_{l < L} sum_j phi_l'(z_j^(l))^2 ||W_j^(l)||^2 + ||W^(L)||_F^2 ],

averaged over the batch: the same definition :func:`dreg_utils.penalties.dreg_penalty` computes
for a :class:`~dreg_utils.models.CompactMLP` (its fast path). phi'(z) comes from autograd of the
activation applied elementwise, so any elementwise activation works; it stays differentiable in
the parameters.
"""
from __future__ import annotations

import torch
from torch import nn

from .activations import Poly, ReLU, Tanh
from .models import check_input

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Softplus, nn.ELU,
               ReLU, Poly, Tanh)


def check_layers(model: nn.Sequential) -> tuple[list[nn.Linear], list[nn.Module]]:
    """The linear layers and the activations between them; any other layout is a ``TypeError``
    naming the offending layer and what is supported."""
    supported = ", ".join(t.__name__ for t in ELEMENTWISE)
    layers = list(model)
    for i, layer in enumerate(layers):
        want_linear = i % 2 == 0
        if want_linear and not isinstance(layer, nn.Linear) or \
                not want_linear and not isinstance(layer, ELEMENTWISE):
            expected = "nn.Linear" if want_linear else f"one elementwise activation ({supported})"
            raise TypeError(f"layer {i} of the Sequential is {type(layer).__name__}; the CR-penalty needs "
                            f"Linear layers alternating with single elementwise activations, so layer {i} "
                            f"must be {expected}")
    if not layers or not isinstance(layers[-1], nn.Linear):
        raise TypeError("the Sequential must start and end with nn.Linear")
    return layers[0::2], layers[1::2]


def _activate(activation: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """h = phi(z) and phi'(z) elementwise, differentiable in z; phi' from the activation's own
    ``derivative`` where it has one, else by autograd of sum(phi(z)) (phi elementwise), reusing h."""
    if hasattr(activation, "derivative"):
        return activation(z), activation.derivative(z)
    with torch.enable_grad():
        source = z if z.requires_grad else z.detach().requires_grad_(True)
        # an in-place activation (inplace=True) must not overwrite the z that phi' is taken at
        h = activation(source.clone() if getattr(activation, "inplace", False) else source)
        (slope,) = torch.autograd.grad(h.sum(), source, create_graph=z.requires_grad)
    return (h if z.requires_grad else h.detach()), slope


def sequential_dreg_penalty(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The batch mean of CR(x) for ``model`` (see the module docstring), differentiable."""
    return sequential_output_and_dreg_penalty(model, x)[1]


def sequential_output_and_dreg_penalty(model: nn.Sequential,
                                       x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``model(x)`` and the batch mean of CR(x) from the same forward pass: each layer's
    pre-activations z^(l) give both h^(l) = phi(z^(l)) and the layer's term of CR."""
    linears, activations = check_layers(model)
    x = check_input(model, x)
    h, total = x, linears[-1].weight.pow(2).sum()
    for linear, activation in zip(linears[:-1], activations):
        h, slope = _activate(activation, linear(h))
        total = total + (slope.pow(2).mean(dim=0) @ linear.weight.pow(2).sum(dim=1))
    return linears[-1](h), total / len(linears)
