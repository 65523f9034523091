"""Sensitivity diagnostics: per-sample input-gradient norms and their tails (DREG paper, Sec. 5)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from .jacobians import LOSSES, jacobian_sq_frobenius, loss_gradient_sq
from .models import check_input
from .validation import check_choice, check_float, check_int

TAIL_STATS = ("mean", "p90", "p95", "p99", "max", "p99_over_mean")


@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Measure in eval mode (spectral norm's power iteration must not move between passes)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def input_gradient_norms(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                         loss: str = "ce", batch_size: int = 2048) -> torch.Tensor:
    """Per-sample input-gradient norms, shape (n,).

    Without ``y``: ||J_x f(x_i)||_F (= ||grad_x f(x_i)||_2 for a scalar output).
    With ``y``: ||grad_x loss(f(x_i), y_i)||_2 with ``loss`` "ce" or "mse".
    Measured in eval mode (the model's mode is restored afterwards).
    """
    check_choice("loss", loss, LOSSES)
    check_int("batch_size", batch_size, minimum=1)
    check_input(model, x)
    if y is not None and (not isinstance(y, torch.Tensor) or y.shape[0] != x.shape[0]):
        raise ValueError(f"y must be a tensor with one row per row of x ({x.shape[0]}), got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    norms = []
    with _eval_mode(model):
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            if y is None:
                sq, _ = jacobian_sq_frobenius(model, xb)
            else:
                sq, _ = loss_gradient_sq(model, xb, y[start:start + batch_size], loss)
            norms.append(sq.detach().sqrt())
    return torch.cat(norms)


def nonfinite_metric(values: Mapping[str, float | torch.Tensor | np.ndarray]) -> str | None:
    """The divergence reason ``"metric <name> is not finite"`` for the first of ``values``
    (scalars or arrays) holding a NaN or an infinity; None when every value is finite."""
    for name, value in values.items():
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        if not np.isfinite(np.asarray(array, dtype=np.float64)).all():
            return f"metric {name} is not finite"
    return None


def tail_stats(norms: torch.Tensor | np.ndarray | Sequence[float]) -> dict[str, float]:
    """Mean, p90, p95, p99, max and the tail-heaviness ratio p99/mean of a sample of norms."""
    values = np.asarray(norms.detach().cpu() if isinstance(norms, torch.Tensor) else norms,
                        dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("tail_stats needs at least one value, got an empty array")
    if not np.all(np.isfinite(values)):
        raise ValueError("tail_stats got non-finite values (NaN or inf)")
    mean = float(values.mean())
    p90, p95, p99 = (float(q) for q in np.percentile(values, [90, 95, 99]))
    return {"mean": mean, "p90": p90, "p95": p95, "p99": p99, "max": float(values.max()),
            "p99_over_mean": p99 / mean if mean > 0 else float("nan")}


def local_linearity_error(model: torch.nn.Module, x: torch.Tensor, eps: float = 0.01,
                          seed: int = 0) -> float:
    """mean_i |f(x_i + eps v_i) - f(x_i) - eps grad f(x_i) . v_i| for random unit v_i.

    The first-order Taylor residual of a scalar-output model at scale ``eps``
    (DREG paper, Appendix A.2). Directions are uniform on the sphere, seeded.
    Measured in eval mode, so spectral norm's power iteration does not move between passes.
    """
    check_float("eps", eps, strictly_positive=True)
    check_input(model, x)
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    v = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    v = v / v.norm(dim=1, keepdim=True)
    xg = x.detach().requires_grad_(True)
    with _eval_mode(model):
        fx = model(xg)
        if fx.shape[1] != 1:
            raise ValueError(f"local_linearity_error needs a scalar-output model, got {fx.shape[1]} outputs")
        (grad,) = torch.autograd.grad(fx.sum(), xg)
        with torch.no_grad():
            residual = model(x + eps * v) - fx - eps * (grad * v).sum(dim=1, keepdim=True)
    return float(residual.abs().mean())


def seed_stability(values: Sequence[float]) -> float:
    """Training (seed) stability: the sample standard deviation across seeds (ddof=1)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        raise ValueError(f"seed_stability needs values from at least 2 seeds, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"seed_stability got non-finite values (NaN or inf): {values.tolist()}")
    return float(values.std(ddof=1))
