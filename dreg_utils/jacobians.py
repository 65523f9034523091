"""Per-sample input derivatives by reverse-mode autograd.

Every sample of an MLP batch depends only on its own input, so the gradient of a
*sum* over the batch with respect to the batch of inputs holds each sample's own
gradient in its row. A layer that couples the samples of a batch (batch normalisation in
training mode) breaks this, so every function here refuses such a model. These helpers return per-sample squared norms; with
``create_graph=True`` they stay differentiable in the parameters (double backprop),
which is what the input-gradient and Jacobian penalties train through.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from .validation import check_choice, check_int

LOSSES = ("mse", "ce")
PROJECTIONS = ("gaussian", "rademacher", "sphere")


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
    """Refuse a model whose output for one sample depends on the others in its batch."""
    if not isinstance(model, torch.nn.Module):
        return
    coupled = [name or type(m).__name__ for name, m in model.named_modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]
    if coupled:
        raise ValueError(f"{type(model).__name__} has batch normalisation in training mode ({coupled}): it "
                         "couples the samples of a batch, so per-sample input derivatives would be wrong; "
                         "call model.eval() (running statistics) or remove the layer")


def per_sample_loss(output: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample loss: squared error averaged over outputs ("mse") or cross-entropy ("ce").

    Its batch mean equals ``F.mse_loss`` / ``F.cross_entropy`` with their default reduction.
    """
    check_choice("loss", loss, LOSSES)
    if loss == "ce":
        return F.cross_entropy(output, y, reduction="none")
    return (output - y.reshape(output.shape)).pow(2).mean(dim=1)


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
    losses = per_sample_loss(model(x), y, loss)
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
    distribution: str = "gaussian",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased per-sample estimate of ||J||_F^2: the mean over projections v of ||v^T J||^2.

    Any v with E[v v^T] = I is unbiased: E||v^T J||^2 = tr(J^T E[v v^T] J) = ||J||_F^2.
    ``distribution``: "gaussian" (v ~ N(0, I_k), the default), "rademacher" (entries +-1) or
    "sphere" (sqrt(k) times a uniform unit vector). The last two have no fourth-moment excess,
    so their variance is lower, and with one output (k = 1) they are exact. This is the batch
    mean of ||J||_F^2 itself; JacobianReg (Hoffman et al., 2019) reports half of it.
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
    distribution: str = "gaussian",
) -> torch.Tensor:
    """The estimate of :func:`projected_jacobian_sq` for an ``output`` already computed from
    ``x`` (which requires grad): one backward pass per projection, no second forward pass."""
    check_int("n_projections", n_projections, minimum=1)
    check_choice("distribution", distribution, PROJECTIONS)
    total = torch.zeros(x.shape[0], dtype=output.dtype, device=output.device)
    for i in range(n_projections):
        v = _projection(output.shape, distribution, generator, output.dtype).to(output.device)
        last = i == n_projections - 1
        (grad,) = torch.autograd.grad(
            (output * v).sum(), x, create_graph=create_graph, retain_graph=create_graph or not last
        )
        total = total + grad.pow(2).flatten(1).sum(dim=1)
    return total / n_projections
