"""Derivative penalties: the CR-penalty (DREG), input-gradient penalty, Jacobian penalty.

CR-penalty (DREG paper, eqs. 3-5). For layer l with J^(l)(x) = diag(phi'(z^(l))) W^(l),

    d_l(x) = ||J^(l)(x)||_F^2 = sum_j phi'(z_j^(l))^2 ||W_j,:^(l)||^2          (4)
    CR     = (1/L) sum_l E_batch[d_l(x)]                                      (5)

with phi' = 1 for the linear output layer, so d_L = ||W^(L)||_F^2. The batch mean
commutes with the row sum: E_b[d_l] = sum_j E_b[phi'(z_j)^2] ||W_j||^2, one
matrix-vector product per layer on quantities the forward pass already produced.

For ReLU, phi'(z)^2 = 1[z > 0] is piecewise constant in the parameters, so
    dCR/dW_j^(l) = (2/L) a_j^(l) W_j^(l),   a_j^(l) = fraction of the batch with z_j^(l) > 0:
ReLU-DREG is a weight decay on each row weighted by how often its unit fires.
:func:`add_relu_dreg_gradient_` applies exactly this gradient without building a graph.

Spectral normalisation is not a penalty: see ``CompactMLP(spectral_norm=True)``.
"""
from __future__ import annotations

import torch

from .activations import ReLU
from .jacobians import jacobian_sq_frobenius, loss_gradient_sq, projected_jacobian_sq
from .models import CompactMLP, ForwardTrace
from .validation import check_int


def dreg_layer_terms(model: CompactMLP, x: torch.Tensor | None = None,
                     trace: ForwardTrace | None = None) -> torch.Tensor:
    """E_batch[d_l(x)] for l = 1..L (eq. 4), as a tensor of length L.

    Pass either the input batch ``x`` or a ``trace`` from ``model.trace(x)``.
    """
    if trace is None:
        if x is None:
            raise ValueError("dreg_layer_terms needs the input batch x or a forward trace")
        trace = model.trace(x)
    terms = []
    for act, z, w in zip(model.activations, trace.preactivations, trace.weights):
        mean_sq_slope = act.derivative(z).pow(2).mean(dim=0)  # E_b[phi'(z_j)^2], shape (width,)
        terms.append(mean_sq_slope @ w.pow(2).sum(dim=1))
    terms.append(trace.weights[-1].pow(2).sum())
    return torch.stack(terms)


def dreg_penalty(model: CompactMLP, x: torch.Tensor | None = None,
                 trace: ForwardTrace | None = None) -> torch.Tensor:
    """The CR-penalty (eq. 5): the mean over layers of E_batch[d_l(x)]; differentiable."""
    return dreg_layer_terms(model, x, trace).mean()


def dreg_per_sample(model: CompactMLP, x: torch.Tensor) -> torch.Tensor:
    """Per-sample (1/L) sum_l d_l(x): the derivative proxy of each input, shape (batch,)."""
    trace = model.trace(x)
    total = trace.weights[-1].pow(2).sum().expand(x.shape[0])
    for act, z, w in zip(model.activations, trace.preactivations, trace.weights):
        total = total + act.derivative(z).pow(2) @ w.pow(2).sum(dim=1)
    return total / model.depth


@torch.no_grad()
def add_relu_dreg_gradient_(model: CompactMLP, trace: ForwardTrace, lam: float) -> None:
    """Add lam * dCR/dW = lam * (2/L) a_j W_j to each weight's ``.grad`` (ReLU, no SN).

    Equals ``lam * dreg_penalty(model, trace=trace)`` back-propagated, at the cost of
    two small kernels per layer instead of an autograd graph.
    """
    if model.uses_spectral_norm or not all(isinstance(a, ReLU) for a in model.activations):
        raise ValueError("add_relu_dreg_gradient_ needs a ReLU CompactMLP without spectral_norm")
    scale = 2.0 * lam / model.depth
    for layer, z in zip(model.layers, trace.preactivations):
        active_fraction = (z > 0).sum(dim=0, dtype=z.dtype).mul_(scale / z.shape[0])
        _grad_of(layer.weight).addcmul_(layer.weight, active_fraction.unsqueeze(1))
    last = model.layers[-1].weight
    _grad_of(last).add_(last, alpha=scale)


def _grad_of(p: torch.Tensor) -> torch.Tensor:
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad


def input_gradient_penalty(model: CompactMLP, x: torch.Tensor, y: torch.Tensor | None = None,
                           loss: str = "mse") -> torch.Tensor:
    """IGP by double backprop (Drucker & LeCun, 1992; Ross & Doshi-Velez, 2018).

    With targets ``y``: E_batch ||grad_x loss(f(x_i), y_i)||^2 (``loss`` "mse" or "ce").
    Without: E_batch ||J_x f(x_i)||_F^2, which is ||grad_x f||^2 for a scalar output.
    """
    if y is None:
        sq, _ = jacobian_sq_frobenius(model, x, create_graph=True)
    else:
        sq, _ = loss_gradient_sq(model, x, y, loss, create_graph=True)
    return sq.mean()


def jacobian_penalty(model: CompactMLP, x: torch.Tensor, n_projections: int | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E_batch ||J_x f(x)||_F^2 ("Teaching the Teacher", Sec. 3), differentiable.

    ``n_projections=None`` computes it exactly (one backward per output); an integer
    uses that many Gaussian projections, an unbiased estimate (see
    :func:`dreg_utils.jacobians.projected_jacobian_sq`).
    """
    if n_projections is None:
        sq, _ = jacobian_sq_frobenius(model, x, create_graph=True)
    else:
        check_int("n_projections", n_projections, minimum=1)
        sq, _ = projected_jacobian_sq(model, x, n_projections, generator, create_graph=True)
    return sq.mean()
