"""One training loop for every method: AdamW, minibatches, validation, seeding, NaN guard.

Methods (the loss minimised on each minibatch B, task loss l = MSE or cross-entropy):

* ``base``: E_B[l].
* ``dreg``: E_B[l] + lam * CR (DREG eq. 5, :func:`dreg_utils.penalties.dreg_penalty`).
* ``igp``: E_B[l] + lam * E_B ||grad_x l(f(x), y)||^2 by double backprop.
* ``jacobian``: E_B[l] + lam * E_B ||J_x f||_F^2, exact ("Teaching the Teacher").
* ``jacobian_rp``: the same with ``n_projections`` random projections (unbiased).
* ``sn``: E_B[l] on a model built with ``spectral_norm=True``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm import tqdm

from .jacobians import jacobian_sq_frobenius, loss_gradient_sq, projected_jacobian_sq
from .models import CompactMLP
from .penalties import dreg_forward
from .validation import check_choice, check_float, check_int

METHODS = ("base", "dreg", "igp", "sn", "jacobian", "jacobian_rp")
TASKS = ("regression", "classification")
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; ``"cpu"``/``"cuda[:n]"`` force one."""
    if isinstance(device, torch.device):
        return device
    name = str(device)
    kind = name.split(":")[0]
    check_choice("device", kind, DEVICES)
    if ":" in name and kind != "cuda":
        raise ValueError(f"device={device!r} is not valid; an index goes only with 'cuda', e.g. 'cuda:0'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(name)


@dataclass
class FitResult:
    """What :func:`fit` returns. ``diverged`` runs carry the reason instead of NaN metrics."""

    model: CompactMLP
    history: list[dict] = field(default_factory=list)
    diverged: bool = False
    diverged_reason: str | None = None
    diverged_epoch: int | None = None
    seconds: float = 0.0


def task_loss(output: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """Mean-squared error for regression, cross-entropy for classification."""
    if task == "classification":
        return F.cross_entropy(output, y)
    return F.mse_loss(output, y)


@torch.no_grad()
def evaluate(model: CompactMLP, x: torch.Tensor, y: torch.Tensor, task: str,
             batch_size: int = 4096) -> dict[str, float]:
    """Mean task loss (and accuracy for classification) over a dataset."""
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        out = model(x[start:start + batch_size])
        yb = y[start:start + batch_size]
        total += float(task_loss(out, yb, task)) * out.shape[0]
        if task == "classification":
            correct += int((out.argmax(dim=1) == yb).sum())
    model.train(was_training)
    result = {"loss": total / x.shape[0]}
    if task == "classification":
        result["accuracy"] = correct / x.shape[0]
    return result


def _check_method(model: CompactMLP, method: str) -> None:
    check_choice("method", method, METHODS)
    if (method == "sn") != model.uses_spectral_norm:
        raise ValueError(f"method={method!r} with spectral_norm={model.uses_spectral_norm}: build the "
                         "model with CompactMLP(..., spectral_norm=True) exactly when method='sn'")


def make_step(model: CompactMLP, optimizer: torch.optim.Optimizer, method: str = "base",
              lam: float = 0.0, task: str = "regression", *, n_projections: int = 1,
              generator: torch.Generator | None = None
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimisation step of ``method`` on a minibatch, as :func:`fit` runs it.

    Returns ``step(xb, yb)``, which zeroes the gradients, computes the task loss plus
    ``lam`` times the method's penalty, back-propagates, calls ``optimizer.step()`` and
    returns the minibatch's mean task loss (detached). :func:`fit` calls exactly this
    function, so ``benchmarks/bench_penalties.py`` times what training runs.
    ``generator`` draws the projections of ``jacobian_rp``.

    DREG never builds an autograd graph for the CR-penalty
    (:func:`dreg_utils.penalties.dreg_forward`): its derivative with respect to the
    weights is added in closed form after the backward pass, and for poly its derivative
    with respect to each pre-activation is added inside the activation's analytic
    backward. The gradient equals that of ``task_loss + lam * dreg_penalty`` up to
    rounding.
    """
    check_choice("task", task, TASKS)
    _check_method(model, method)
    lam = check_float("lam", lam, minimum=0.0)
    check_int("n_projections", n_projections, minimum=1)
    loss_name = "ce" if task == "classification" else "mse"
    zero_grad, opt_step = optimizer.zero_grad, optimizer.step

    if method == "dreg":
        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            zero_grad(set_to_none=True)
            output, finish = dreg_forward(model, xb, lam)
            task_value = task_loss(output, yb, task)
            task_value.backward()
            finish()
            opt_step()
            return task_value.detach()
    elif method == "igp":
        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            zero_grad(set_to_none=True)
            sq, losses = loss_gradient_sq(model, xb, yb, loss_name, create_graph=True)
            task_value = losses.mean()
            (task_value + lam * sq.mean()).backward()
            opt_step()
            return task_value.detach()
    elif method in ("jacobian", "jacobian_rp"):
        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            zero_grad(set_to_none=True)
            if method == "jacobian":
                sq, out = jacobian_sq_frobenius(model, xb, create_graph=True)
            else:
                sq, out = projected_jacobian_sq(model, xb, n_projections, generator,
                                                create_graph=True)
            task_value = task_loss(out, yb, task)
            (task_value + lam * sq.mean()).backward()
            opt_step()
            return task_value.detach()
    else:  # base, sn
        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            zero_grad(set_to_none=True)
            task_value = task_loss(model(xb), yb, task)
            task_value.backward()
            opt_step()
            return task_value.detach()
    return step


def fit(model: CompactMLP, x_train: torch.Tensor, y_train: torch.Tensor,
        x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, *,
        task: str = "regression", method: str = "base", lam: float = 0.0, epochs: int = 10,
        batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2, seed: int = 0,
        device: str | torch.device = "auto", n_projections: int = 1,
        progress: bool = False) -> FitResult:
    """Train ``model`` in place with AdamW and return a :class:`FitResult`.

    The minibatch order is drawn from ``seed``; seed the model's initialisation
    yourself (``CompactMLP.seeded``). Training stops at the first epoch whose loss
    or parameters are not finite and reports the run as diverged.
    """
    check_choice("task", task, TASKS)
    _check_method(model, method)
    lam = check_float("lam", lam, minimum=0.0)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_float("lr", lr, strictly_positive=True)
    check_float("weight_decay", weight_decay, minimum=0.0)
    check_int("n_projections", n_projections, minimum=1)
    if x_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"x_train has {x_train.shape[0]} rows but y_train has {y_train.shape[0]}")
    dev = resolve_device(device)
    model.to(dev).train()
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    if x_val is not None:
        x_val, y_val = x_val.to(dev), y_val.to(dev)
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    step = make_step(model, optimizer, method, lam, task, n_projections=n_projections,
                     generator=generator)
    result = FitResult(model)
    start = time.perf_counter()
    n = x_train.shape[0]
    for epoch in tqdm(range(1, epochs + 1), desc=f"{method} training", disable=not progress):
        order = torch.randperm(n, generator=generator).to(dev)
        xs, ys = x_train[order], y_train[order]
        running = torch.zeros((), device=dev)
        for i in range(0, n, batch_size):
            xb, yb = xs[i:i + batch_size], ys[i:i + batch_size]
            running += step(xb, yb) * xb.shape[0]
        train_loss = float(running) / n
        if not math.isfinite(train_loss) or not all(torch.isfinite(p).all() for p in model.parameters()):
            result.diverged, result.diverged_epoch = True, epoch
            result.diverged_reason = f"non-finite training loss or parameters in epoch {epoch}"
            break
        row = {"epoch": epoch, "train_task_loss": train_loss}
        if x_val is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, x_val, y_val, task).items()})
        result.history.append(row)
    result.seconds = time.perf_counter() - start
    return result
