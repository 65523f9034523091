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
:func:`dreg_forward` does the same for both activations inside training's backward pass
(for poly the penalty also depends on z through phi'(z); an analytic backward adds it).

Spectral normalisation is not a penalty: see ``CompactMLP(spectral_norm=True)``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from .activations import Poly, ReLU
from .jacobians import (LOSSES, check_grad_enabled, check_target_batch, jacobian_sq_frobenius, loss_gradient_sq,
                        projected_jacobian_sq)
from .models import CompactMLP, ForwardTrace, check_input
from .sequential import check_batch, sequential_dreg_penalty
from .validation import check_choice, check_int
from .vocabulary import DEFAULT_PROJECTION, PROJECTIONS


def dreg_layer_terms(model: CompactMLP, x: torch.Tensor | None = None,
                     trace: ForwardTrace | None = None) -> torch.Tensor:
    """E_batch[d_l(x)] for l = 1..L (eq. 4), as a tensor of length L.

    Pass either the input batch ``x`` or a ``trace`` from ``model.trace(x)``.
    """
    if trace is None:
        if x is None:
            raise ValueError("dreg_layer_terms needs the input batch x or a forward trace")
        trace = model.trace(check_batch(model, x))
    elif trace.output.shape[0] == 0:
        raise ValueError("the trace is of an empty batch; a penalty is a batch mean and needs at least one sample")
    terms = []
    for act, z, w in zip(model.activations, trace.preactivations, trace.weights):
        mean_sq_slope = act.derivative(z).pow(2).mean(dim=0)  # E_b[phi'(z_j)^2], shape (width,)
        terms.append(mean_sq_slope @ w.pow(2).sum(dim=1))
    terms.append(trace.weights[-1].pow(2).sum())
    return torch.stack(terms)


def dreg_penalty(model: CompactMLP | nn.Sequential, x: torch.Tensor | None = None,
                 trace: ForwardTrace | None = None) -> torch.Tensor:
    """The CR-penalty (eq. 5): the mean over layers of E_batch[d_l(x)]; differentiable.

    ``model`` is a :class:`CompactMLP` (the fast path; ``x`` or its ``trace``) or any
    ``nn.Sequential`` of Linear layers and elementwise activations
    (:func:`dreg_utils.sequential.sequential_dreg_penalty`; ``x``). It needs no gradient of
    ``x``, so it also runs under ``torch.no_grad()``."""
    if isinstance(model, CompactMLP):
        return dreg_layer_terms(model, x, trace).mean()
    if isinstance(model, nn.Sequential):
        if x is None:
            raise ValueError("dreg_penalty of an nn.Sequential needs the input batch x")
        return sequential_dreg_penalty(model, x)
    raise TypeError(f"dreg_penalty needs a CompactMLP or an nn.Sequential of Linear layers and "
                    f"elementwise activations, got {type(model).__name__}")


def dreg_per_sample(model: CompactMLP, x: torch.Tensor) -> torch.Tensor:
    """Per-sample (1/L) sum_l d_l(x): the derivative proxy of each input, shape (batch,)."""
    trace = model.trace(check_input(model, x))
    total = trace.weights[-1].pow(2).sum().expand(x.shape[0])
    for act, z, w in zip(model.activations, trace.preactivations, trace.weights):
        total = total + act.derivative(z).pow(2) @ w.pow(2).sum(dim=1)
    return total / model.depth


@torch.no_grad()
def add_relu_dreg_gradient_(model: CompactMLP, trace: ForwardTrace, lam: float) -> None:
    """Add lam * dCR/dW = lam * (2/L) a_j W_j to each weight's ``.grad`` (ReLU, no SN).

    Equals ``lam * dreg_penalty(model, trace=trace)`` back-propagated, at the cost of
    three small kernels on the pre-activations and one pass over the weights per layer
    instead of an autograd graph.
    """
    if model.uses_spectral_norm or not all(isinstance(a, ReLU) for a in model.activations):
        raise ValueError("add_relu_dreg_gradient_ needs a ReLU CompactMLP without spectral_norm")
    _add_direct_terms_(_relu_direct_terms(trace.preactivations, trace.weights), trace.weights, lam)


def _relu_direct_terms(zs, ws) -> list:
    """(W, number of batch samples with z_j > 0 per row, batch size) per hidden layer."""
    # relu(z).sign_() is 1[z > 0] as floats; faster on the CPU than (z > 0).sum(dtype=...)
    return [(w, torch.relu(z).sign_().sum(dim=0), z.shape[0]) for z, w in zip(zs, ws)]


def _add_direct_terms_(direct, ws, lam: float) -> None:
    """grad W_j += lam (2/L) (row_sum_j / B) W_j per hidden layer and lam (2/L) W_L at the output."""
    scale = 2.0 * lam / len(ws)
    for w, row_sum, batch in direct:
        _grad_of(w).addcmul_(w, row_sum.unsqueeze(1), value=scale / batch)
    _grad_of(ws[-1]).add_(ws[-1], alpha=scale)


def dreg_forward(model: CompactMLP, x: torch.Tensor,
                 lam: float) -> tuple[torch.Tensor, Callable[[], None]]:
    """Forward pass whose backward pass also carries the gradient of ``lam * CR``.

    Use it instead of adding ``lam * dreg_penalty(model, x)`` to the loss::

        output, finish = dreg_forward(model, x, lam)
        task_loss(output, y).backward()
        finish()  # every .grad now equals that of task_loss + lam * dreg_penalty(model, x)

    ``output`` equals ``model(x)``. No autograd graph is built for the penalty. With B
    the batch size, d = phi'(z) and r_j = ||W_j||^2, hidden layer l contributes
    (1/(L B)) sum_b,j d_bj^2 r_j to CR, so

    * dCR/dW_j = (2/(L B)) (sum_b d_bj^2) W_j directly (output layer: 2 W_L / L): one pass
      over the weights, added to ``.grad`` by ``finish()`` after the backward pass;
    * dCR/dz_bj = (2/(L B)) r_j d_bj phi''(z_bj): zero for ReLU; 4 c2 r_j d_bj / (L B) for
      poly, added to the task loss's gradient at z inside the activation's own analytic
      backward (:class:`_PolyDREG`), from where backpropagation carries it to the biases
      and weights of earlier layers;
    * trainable poly coefficients get dCR/dc1 = (2/(L B)) sum_j r_j sum_b d_bj and
      dCR/dc2 = (4/(L B)) sum_j r_j sum_b d_bj z_bj in the same backward.

    For ReLU the active-unit counts come from the ReLU output h: 1[z > 0] = sign(h).
    Call ``finish()`` exactly once, after the backward pass. Spectral normalisation is
    not supported (its weights are functions of other parameters).
    """
    if model.uses_spectral_norm:
        raise ValueError("dreg_forward needs a CompactMLP without spectral_norm")
    layers = model.layers
    batch = x.shape[0]
    scale = 2.0 * lam / (len(layers) * batch)
    direct, h = [], x
    for layer, act in zip(layers[:-1], model.activations):
        w = layer.weight
        z = F.linear(h, w, layer.bias)
        if isinstance(act, ReLU):
            h = act(z)
            with torch.no_grad():
                direct.append((w, h.sign().sum(dim=0), batch))  # units active per row
        elif isinstance(act, Poly):
            h, sum_sq_slope = _PolyDREG.apply(z, act.coefficients, w, scale)
            direct.append((w, sum_sq_slope, batch))
        else:
            raise ValueError(f"dreg_forward supports ReLU and Poly activations, not {act!r}")
    last = layers[-1]
    output = F.linear(h, last.weight, last.bias)
    weights = [layer.weight for layer in layers]

    def finish() -> None:
        with torch.no_grad():
            _add_direct_terms_(direct, weights, lam)

    return output, finish


class _PolyDREG(torch.autograd.Function):
    """h = phi(z) = c1 z + c2 z^2 with an analytic backward that adds the CR-penalty's dz.

    ``apply(z, coefficients, w, scale)`` with ``scale = 2 lam / (L B)`` returns ``h``
    (bit-identical to :class:`~dreg_utils.activations.Poly`) and, not differentiable,
    sum_b phi'(z_bj)^2 per unit. The backward returns
    dL/dz = phi'(z) * (dL/dh + 2 scale c2 ||W_j||^2), i.e. the task gradient plus
    lam * dCR/dz, and for trainable coefficients their task plus penalty gradients.
    No gradient flows to ``w`` here: its direct term is added by ``dreg_forward``'s finish.
    """

    @staticmethod
    def forward(ctx, z, coefficients, w, scale):
        c1, c2 = coefficients
        c2z = c2 * z
        c1_c2z = c1 + c2z
        h = z * c1_c2z  # exactly Poly.forward: z * (c1 + c2 * z)
        slope = c1_c2z.add_(c2z)  # phi'(z) = c1 + 2 c2 z
        sum_sq_slope = torch.linalg.vecdot(slope, slope, dim=0)  # sum_b phi'(z_bj)^2
        row_sq = torch.linalg.vector_norm(w, dim=1).square_()  # ||W_j||^2, one pass over W
        ctx.save_for_backward(z, slope, row_sq, c2)
        ctx.scale = scale
        ctx.mark_non_differentiable(sum_sq_slope)
        ctx.set_materialize_grads(False)
        return h, sum_sq_slope

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, _grad_sum_sq_slope):
        z, slope, row_sq, c2 = ctx.saved_tensors
        if grad_h is None:
            grad_h = torch.zeros_like(z)
        # phi'(z) (dL/dh + 2 scale c2 ||W_j||^2) = task gradient + lam dCR/dz at z
        grad_z = torch.addcmul(grad_h, row_sq, c2, value=2.0 * ctx.scale).mul_(slope)
        grad_coefficients = None
        if ctx.needs_input_grad[1]:
            grad_coefficients = torch.stack([
                (grad_h * z).sum() + ctx.scale * (row_sq @ slope.sum(dim=0)),
                (grad_h * z * z).sum() + 2.0 * ctx.scale * (row_sq @ (slope * z).sum(dim=0)),
            ])
        return grad_z, grad_coefficients, None, None


def _grad_of(p: torch.Tensor) -> torch.Tensor:
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    return p.grad


def input_gradient_penalty(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                           loss: str = "mse") -> torch.Tensor:
    """IGP by double backprop (Drucker & LeCun, 1992; Ross & Doshi-Velez, 2018).

    With targets ``y``: E_batch ||grad_x loss(f(x_i), y_i)||^2 (``loss`` "mse", the squared error
    averaged over each sample's output values, or "ce"). Without: E_batch ||J_x f(x_i)||_F^2, which
    is ||grad_x f||^2 for one output per sample. The output needs one row per sample; each
    sample's output is flattened (:mod:`dreg_utils.jacobians`).
    """
    check_choice("loss", loss, LOSSES)
    x = check_batch(model, x)
    if y is not None:
        check_target_batch(y, x)
    check_grad_enabled("input_gradient_penalty")
    if y is None:
        sq, _ = jacobian_sq_frobenius(model, x, create_graph=True)
    else:
        sq, _ = loss_gradient_sq(model, x, y, loss, create_graph=True)
    return sq.mean()


def jacobian_penalty(model: nn.Module, x: torch.Tensor, n_projections: int | None = None,
                     generator: torch.Generator | None = None,
                     distribution: str = DEFAULT_PROJECTION) -> torch.Tensor:
    """E_batch ||J_x f(x)||_F^2 ("Teaching the Teacher", Sec. 3), differentiable; each sample's
    output flattened (shape (n,), (n, k) or (n, k1, k2, ...)).

    ``n_projections=None`` computes it exactly (one backward per output); an integer
    uses that many projections drawn from ``distribution`` ("rademacher", the default
    ``DEFAULT_PROJECTION`` that :class:`~dreg_utils.regulariser.Regulariser` shares, "gaussian"
    or "sphere"), an unbiased estimate (see :func:`dreg_utils.jacobians.projected_jacobian_sq`).
    """
    x = check_batch(model, x)
    if n_projections is not None:
        check_int("n_projections", n_projections, minimum=1)
    check_choice("distribution", distribution, PROJECTIONS)
    check_grad_enabled("jacobian_penalty")
    if n_projections is None:
        sq, _ = jacobian_sq_frobenius(model, x, create_graph=True)
    else:
        sq, _ = projected_jacobian_sq(model, x, n_projections, generator, create_graph=True,
                                      distribution=distribution)
    return sq.mean()
