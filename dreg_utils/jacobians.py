"""Per-sample input derivatives by reverse-mode autograd.

Every sample of an MLP batch depends only on its own input, so the gradient of a
*sum* over the batch with respect to the batch of inputs holds each sample's own
gradient in its row. A layer that couples the samples of a batch (batch normalisation in
training mode) breaks this, and one that draws random numbers on every call (dropout, RReLU in
training mode) makes the derivative that of a random function, so every function here refuses
both. The model's output needs one row per sample; each sample's output is flattened, so
outputs of shape (n,), (n, k) and (n, k1, k2, ...) have k = 1, k and k1 k2 ... columns. These
helpers return per-sample squared norms; with ``create_graph=True`` they stay differentiable in
the parameters (double backprop), which is what the input-gradient and Jacobian penalties train
through. The ``check_*`` functions refuse what these penalties cannot compute, with one line
naming the bad value.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .validation import check_choice, check_int
from .vocabulary import DEFAULT_PROJECTION, PROJECTIONS

LOSSES = ("mse", "ce")
# Layers that draw random numbers on every call in training mode; in eval mode dropout is the
# identity and RReLU takes its mean slope.
DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
RANDOM_IN_TRAINING = (*DROPOUT, nn.RReLU)


def _projection(shape: torch.Size, distribution: str, generator: torch.Generator | None,
                dtype: torch.dtype) -> torch.Tensor:
    """One projection vector per row, with E[v v^T] = I (drawn on the CPU for reproducibility)."""
    if distribution == "rademacher":
        return (2 * torch.randint(0, 2, shape, generator=generator) - 1).to(dtype)
    v = torch.randn(shape, generator=generator, dtype=dtype)
    if distribution == "sphere":
        return v / v.norm(dim=1, keepdim=True) * shape[1] ** 0.5
    return v


def check_samples_independent(model: Callable) -> None:
    """Refuse a model whose output for one sample is not a fixed function of that sample alone:
    batch normalisation in training mode (couples the samples), dropout or RReLU in training
    mode (random on every call)."""
    if not isinstance(model, nn.Module):
        return
    modules = list(model.named_modules())
    coupled = [name or type(m).__name__ for name, m in modules
               if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    if coupled:
        raise ValueError(f"{type(model).__name__} has batch normalisation in training mode ({coupled}): it "
                         "couples the samples of a batch, so per-sample input derivatives would be wrong; "
                         "call model.eval() (running statistics) or remove the layer")
    random = [type(m).__name__ + (f" ({name})" if name else "") for name, m in modules
              if isinstance(m, RANDOM_IN_TRAINING) and m.training]
    if random:
        raise ValueError(f"{type(model).__name__} has {', '.join(random)} in training mode: it draws new random "
                         "numbers on every call, so the penalty would not be a function of x; call model.eval() "
                         "for the penalty or remove the layer")


def check_grad_enabled(what: str) -> None:
    """Refuse to differentiate through the input where autograd is switched off."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError(f"{what} differentiates through x, which torch.inference_mode() forbids; call it "
                           "outside inference_mode, with gradients enabled")
    if not torch.is_grad_enabled():
        raise RuntimeError(f"{what} differentiates through x, which torch.no_grad() switches off; call it "
                           "with gradients enabled (inside torch.enable_grad() to only evaluate it)")


def check_output(output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``output`` of ``x`` flattened per sample, shape (n, outputs); a ``ValueError`` naming the
    shape unless the output has one row per sample of ``x``."""
    n = x.shape[0]
    if not isinstance(output, torch.Tensor) or output.ndim == 0 or output.shape[0] != n:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"the model's output has shape {shape} for x of shape {tuple(x.shape)}; the penalties "
                         f"need one output row per sample: shape ({n},), ({n}, k) or ({n}, k1, k2, ...)")
    return output.reshape(n, -1)


def check_target_dtype(y: torch.Tensor, name: str = "y") -> None:
    """Refuse targets that are not real numbers (bool, complex), which no loss takes."""
    if y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"{name} has dtype {y.dtype}, which no loss takes: loss='mse' needs floating-point "
                         "(or integer) targets, loss='ce' integer class indices or floating-point class "
                         "probabilities")


def check_target_batch(y: object, x: torch.Tensor, name: str = "y") -> torch.Tensor:
    """``y`` as targets of the batch ``x``: a real-valued tensor with one row per row of ``x`` and, if
    floating-point, finite values."""
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{name} must be a tensor with one row per row of x, got {type(y).__name__}")
    check_target_dtype(y, name)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name} must be a tensor with one row per row of x: x has {x.shape[0]} rows but {name} "
                         f"has {y.shape[0] if y.ndim else 0} (shape {tuple(y.shape)})")
    if y.is_floating_point() and not bool(torch.isfinite(y).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf); targets must be finite")
    return y


def check_targets(output: torch.Tensor, y: torch.Tensor, loss: str, name: str = "y") -> None:
    """Refuse targets that do not fit the output (one row per sample) for ``loss``: "mse" needs one
    real target value per output value; "ce" needs class scores (n, classes, ...) and either class
    indices in 0..classes-1 of shape (n, ...) without the class dimension or class probabilities of
    the output's shape."""
    check_target_dtype(y, name)
    shapes = f"{name} has shape {tuple(y.shape)} but the model's output has shape {tuple(output.shape)}"
    if loss == "mse":
        if y.numel() != output.numel():
            raise ValueError(f"{shapes}: loss='mse' needs {output[0].numel()} target value(s) per sample, "
                             f"shape {tuple(output.shape)}")
        return
    if output.ndim < 2:
        raise ValueError(f"loss='ce' needs class scores of shape (n, classes, ...), but the model's output has "
                         f"shape {tuple(output.shape)}")
    indices = (output.shape[0], *output.shape[2:])
    if y.shape != (output.shape if y.is_floating_point() else indices):
        raise ValueError(f"{shapes}: loss='ce' needs class indices of shape {indices} or class probabilities "
                         f"of shape {tuple(output.shape)}")
    if y.is_floating_point() or y.numel() == 0:
        return
    classes = output.shape[1]
    low, high = (int(v) for v in torch.aminmax(y))
    if low < 0 or high >= classes:
        raise ValueError(f"{name} holds class index {low if low < 0 else high} but the model's output has "
                         f"{classes} classes (axis 1): loss='ce' needs class indices in 0..{classes - 1}")
    check_not_inference(y, name, ", and cross-entropy saves its class indices for backward, which "
                                 "inference tensors cannot be")


def check_not_inference(tensor: torch.Tensor, name: str, why: str) -> None:
    """Refuse ``tensor`` made under ``torch.inference_mode()`` where autograd will need it (gradients
    on, outside inference mode): torch's own error names neither the tensor nor the remedy."""
    if tensor.is_inference() and torch.is_grad_enabled() and not torch.is_inference_mode_enabled():
        raise RuntimeError(f"{name} was created under torch.inference_mode(){why}: pass {name}.clone() "
                           "made outside inference_mode")


def per_sample_loss(output: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample loss, shape (n,): squared error averaged over the sample's output values ("mse")
    or cross-entropy over the class axis 1, averaged over any further axes ("ce").

    Its batch mean equals ``F.mse_loss`` / ``F.cross_entropy`` with their default reduction.
    """
    check_choice("loss", loss, LOSSES)
    if loss == "ce":
        if not y.is_floating_point() and y.dtype != torch.long:
            y = y.long()  # F.cross_entropy takes int64 (or uint8) class indices only
        losses = F.cross_entropy(output, y, reduction="none")
        return losses if losses.ndim == 1 else losses.flatten(1).mean(dim=1)
    squared = (output - y.reshape(output.shape)).pow(2)
    return squared.reshape(output.shape[0], -1).mean(dim=1)


def _requires_grad_input(x: torch.Tensor) -> torch.Tensor:
    return x if x.requires_grad else x.detach().requires_grad_(True)


def squared_gradient(total: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """Per-sample ||d total / d x_i||_2^2 for a scalar ``total`` summed over the batch."""
    (grad,) = torch.autograd.grad(total, x, create_graph=create_graph)
    return grad.pow(2).flatten(1).sum(dim=1)


def loss_gradient_sq(
    model: Callable, x: torch.Tensor, y: torch.Tensor, loss: str, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ||grad_x loss(f(x_i), y_i)||^2 and the per-sample losses."""
    check_samples_independent(model)
    x = _requires_grad_input(x)
    output = model(x)
    check_output(output, x)
    check_targets(output, y, loss)
    losses = per_sample_loss(output, y, loss)
    return squared_gradient(losses.sum(), x, create_graph), losses


def jacobian_sq_frobenius(
    model: Callable, x: torch.Tensor, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact per-sample ||J_x f(x_i)||_F^2 (one backward pass per output) and f(x)."""
    check_samples_independent(model)
    x = _requires_grad_input(x)
    output = model(x)
    return jacobian_sq_of_output(output, x, create_graph), output


def jacobian_sq_of_output(output: torch.Tensor, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """Exact per-sample ||d output_i / d x_i||_F^2 of an ``output`` already computed from ``x``
    (which requires grad): one backward pass per output column, no second forward pass."""
    output = check_output(output, x)
    k = output.shape[1]
    total = torch.zeros(x.shape[0], dtype=output.dtype, device=output.device)
    for i in range(k):
        last = i == k - 1
        (grad,) = torch.autograd.grad(
            output[:, i].sum(), x, create_graph=create_graph, retain_graph=create_graph or not last
        )
        total = total + grad.pow(2).flatten(1).sum(dim=1)
    return total


def projected_jacobian_sq(
    model: Callable,
    x: torch.Tensor,
    n_projections: int,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
    distribution: str = DEFAULT_PROJECTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased per-sample estimate of ||J||_F^2: the mean over projections v of ||v^T J||^2.

    Any v with E[v v^T] = I is unbiased: E||v^T J||^2 = tr(J^T E[v v^T] J) = ||J||_F^2.
    ``distribution``: "gaussian" (v ~ N(0, I_k)), "rademacher" (entries +-1; the default,
    ``DEFAULT_PROJECTION``) or "sphere" (sqrt(k) times a uniform unit vector). The last two have
    no fourth-moment excess, so their variance is lower, and with one output (k = 1) they are
    exact. This is the batch mean of ||J||_F^2 itself; JacobianReg (Hoffman et al., 2019)
    reports half of it.
    """
    check_samples_independent(model)
    x = _requires_grad_input(x)
    output = model(x)
    return projected_jacobian_sq_of_output(output, x, n_projections, generator, create_graph,
                                           distribution), output


def projected_jacobian_sq_of_output(
    output: torch.Tensor,
    x: torch.Tensor,
    n_projections: int,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
    distribution: str = DEFAULT_PROJECTION,
) -> torch.Tensor:
    """The estimate of :func:`projected_jacobian_sq` for an ``output`` already computed from
    ``x`` (which requires grad): one backward pass per projection, no second forward pass."""
    check_int("n_projections", n_projections, minimum=1)
    check_choice("distribution", distribution, PROJECTIONS)
    output = check_output(output, x)
    total = torch.zeros(x.shape[0], dtype=output.dtype, device=output.device)
    for i in range(n_projections):
        v = _projection(output.shape, distribution, generator, output.dtype).to(output.device)
        last = i == n_projections - 1
        (grad,) = torch.autograd.grad(
            (output * v).sum(), x, create_graph=create_graph, retain_graph=create_graph or not last
        )
        total = total + grad.pow(2).flatten(1).sum(dim=1)
    return total / n_projections
