"""One training loop for every method: AdamW, minibatches, validation, seeding, NaN guard.

The NaN guard costs no synchronisation per step: each epoch ends with one check of the
epoch's summed loss and of the parameters; only when it fails is the epoch replayed from
a snapshot taken at its start, one synchronised step at a time, to name the first step
(global optimizer step, counted from 1) and the quantity that stopped being finite: the
training loss, the gradient of a parameter, or the parameters after the update
(:func:`locate_divergence`).

Methods (the loss minimised on each minibatch B, task loss l = MSE or cross-entropy):

* ``base``: E_B[l].
* ``dreg``: E_B[l] + lam * CR (DREG eq. 5, :func:`dreg_utils.penalties.dreg_penalty`).
* ``igp``: E_B[l] + lam * E_B ||grad_x l(f(x), y)||^2 by double backprop.
* ``jacobian``: E_B[l] + lam * E_B ||J_x f||_F^2, exact ("Teaching the Teacher").
* ``jacobian_rp``: the same with ``n_projections`` random projections (unbiased), drawn from
  :data:`~dreg_utils.vocabulary.FIT_PROJECTION` (Gaussian).
* ``sn``, ``sn_hidden``, ``sn_scaled``: E_B[l] on a model built with the method's spectral
  normalisation (:func:`dreg_utils.models.spectral_norm_options`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm import tqdm

from .jacobians import jacobian_sq_frobenius, loss_gradient_sq, projected_jacobian_sq
from .models import CompactMLP, check_input, spectral_norm_options
from .activations import Poly, ReLU
from .device import resolve_device
from .penalties import dreg_forward, dreg_penalty
from .validation import check_choice, check_float, check_int
from .vocabulary import FIT_PROJECTION, methods_for

METHODS = methods_for("fit")
TASKS = ("regression", "classification")


@dataclass
class FitResult:
    """What :func:`fit` returns. ``diverged`` runs carry the step, epoch and reason
    instead of NaN metrics."""

    model: CompactMLP
    history: list[dict] = field(default_factory=list)
    diverged: bool = False
    diverged_reason: str | None = None
    diverged_epoch: int | None = None
    diverged_step: int | None = None
    seconds: float = 0.0

    def divergence(self) -> dict:
        """The result row's divergence columns: diverged, diverged_step, diverged_epoch,
        diverged_reason (None where the run finished)."""
        return {"diverged": self.diverged, "diverged_step": self.diverged_step,
                "diverged_epoch": self.diverged_epoch, "diverged_reason": self.diverged_reason}

    def mark_diverged(self, epoch: int, found: tuple[int, str] | None, last_step: int) -> None:
        """Record divergence in ``epoch``: ``found`` = (step, reason) from
        :func:`locate_divergence`, or None when its replay did not reproduce the failure."""
        self.diverged, self.diverged_epoch = True, epoch
        self.diverged_step, self.diverged_reason = found or (
            last_step, f"non-finite training loss or parameters by step {last_step} (epoch {epoch}); "
                       "a replay of the epoch did not reproduce the failing step")


def parameter_name(name: str) -> str:
    """A parameter's name as a CompactMLP layer names it (``layers.0.weight``), also for
    spectral-norm layers, whose trained tensor torch calls ``parametrizations.weight.original``."""
    return name.replace(".parametrizations.weight.original", ".weight")


def _copy(value: object) -> object:
    """A copy of nested dicts and lists whose tensors are cloned (faster than deepcopy)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def save_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Copies of the model's and the optimizer's state (for a replay of one epoch)."""
    return _copy(model.state_dict()), _copy(optimizer.state_dict())


def load_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: tuple[dict, dict]) -> None:
    """Restore a :func:`save_state` copy in place (each copy may be loaded once)."""
    model.load_state_dict(state[0])
    optimizer.load_state_dict(state[1])


def locate_divergence(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                      params: list[tuple[str, torch.Tensor]], pending: torch.Tensor, first_step: int,
                      epoch: int) -> dict[int, tuple[int, str]]:
    """Replay an epoch step by step and name, per member, the first non-finite quantity.

    Call it with the model and optimizer restored to the epoch's start. ``step`` is the
    training step (:func:`make_step`, or a group step returning one loss per member);
    ``params`` are (name, tensor) pairs whose leading dimension indexes the members when
    there are several (one model: ``pending`` has one entry); ``pending`` (bool, one per
    member) marks the members to locate. After each step, in this order: the member's
    training loss, the gradient of each parameter (as the step left it, penalty included),
    and the parameters after the optimizer update. Synchronises every step, so callers run
    it only after an epoch's check failed. Returns {member: (global step, reason)} for the
    members found; the replay stops once all are.
    """
    pending = pending.clone()
    size = pending.numel()
    found: dict[int, tuple[int, str]] = {}

    def finite(t: torch.Tensor) -> torch.Tensor:
        return torch.isfinite(t.detach().reshape(size, -1)).all(dim=1).cpu()

    for k, (xb, yb) in enumerate(batches, start=first_step):
        loss = step(xb, yb)
        where = f"at step {k} (epoch {epoch})"
        checks = [(finite(loss), f"non-finite training loss {where}")]
        checks += [(finite(p.grad), f"non-finite gradient of {name} {where}")
                   for name, p in params if p.grad is not None]
        checks.append((torch.stack([finite(p) for _, p in params]).all(dim=0),
                       f"non-finite parameters after the update {where}, with a finite loss and "
                       "finite gradients"))
        for ok, reason in checks:
            for s in torch.nonzero(pending & ~ok).flatten().tolist():
                found[s] = (k, reason)
                pending[s] = False
        if not pending.any():
            break
    return found


def guarded_epoch(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  batches: list[tuple[torch.Tensor, torch.Tensor]], module: torch.nn.Module,
                  optimizer: torch.optim.Optimizer, params: list[tuple[str, torch.Tensor]],
                  finite_members: Callable[[], torch.Tensor], alive: torch.Tensor, epoch: int,
                  generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, dict[int, tuple[int, str]]]:
    """One epoch of ``step`` over ``batches`` with one finiteness check at its end.

    ``step`` returns the task loss of each member (one entry for one model); the epoch's
    loss of a member is the batch-size-weighted mean. A member alive at the start whose
    loss or parameters (``finite_members()``, bool per member) stopped being finite has
    failed: the epoch is replayed from its start (the same batches and, if given, the same
    ``generator`` draws) to name the first failing step and quantity
    (:func:`locate_divergence`); the model is then left as the epoch ended. Returns the
    losses [S] (on the CPU), the failed mask [S] and {member: (step, reason)}.
    """
    state = save_state(module, optimizer)
    generator_state = None if generator is None else generator.get_state()
    running, rows = 0.0, 0  # summed on the step's device: no host sync inside the epoch
    for xb, yb in batches:
        running = running + step(xb, yb) * xb.shape[-2]
        rows += xb.shape[-2]
    train_loss = torch.as_tensor(running).reshape(-1).cpu().double() / rows
    failed = alive & ~(torch.isfinite(train_loss) & finite_members().cpu())
    found: dict[int, tuple[int, str]] = {}
    if failed.any():
        end = save_state(module, optimizer)
        load_state(module, optimizer, state)
        if generator is not None:
            generator.set_state(generator_state)
        n_batches = len(batches)
        found = locate_divergence(step, batches, params, failed, (epoch - 1) * n_batches + 1, epoch)
        load_state(module, optimizer, end)
    return train_loss, failed, found


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
    if model.sn_mode != spectral_norm_options(method).get("sn_mode"):
        raise ValueError(f"method={method!r} with spectral_norm={model.uses_spectral_norm} (sn_mode="
                         f"{model.sn_mode!r}): build the model with CompactMLP(..., "
                         f"**spectral_norm_options({method!r}))")


def make_step(model: CompactMLP, optimizer: torch.optim.Optimizer, method: str = "base",
              lam: float = 0.0, task: str = "regression", *, n_projections: int = 1,
              generator: torch.Generator | None = None
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimisation step of ``method`` on a minibatch, as :func:`fit` runs it.

    Returns ``step(xb, yb)``, which zeroes the gradients, computes the task loss plus
    ``lam`` times the method's penalty, back-propagates, calls ``optimizer.step()`` and
    returns the minibatch's mean task loss (detached). ``generator`` draws the projections of
    ``jacobian_rp``. This function checks its arguments and builds the step by :func:`_step`;
    :func:`fit`, which checks the same arguments before any work, builds its step there too, so
    ``benchmarks/bench_penalties.py`` times what training runs.

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
    return _step(model, optimizer, method, lam, task, n_projections, generator)


def _step(model: CompactMLP, optimizer: torch.optim.Optimizer, method: str, lam: float, task: str,
          n_projections: int, generator: torch.Generator | None
          ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """:func:`make_step` of arguments checked already."""
    loss_name = "ce" if task == "classification" else "mse"
    zero_grad, opt_step = optimizer.zero_grad, optimizer.step

    if method == "dreg" and all(isinstance(a, (ReLU, Poly)) for a in model.activations):
        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            zero_grad(set_to_none=True)
            output, finish = dreg_forward(model, xb, lam)
            task_value = task_loss(output, yb, task)
            task_value.backward()
            finish()
            opt_step()
            return task_value.detach()
        return step

    def objective(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(task loss, task loss + lam * penalty) of the minibatch, by autograd."""
        if method == "dreg":  # activations without a closed form, e.g. tanh
            trace = model.trace(xb)
            task_value = task_loss(trace.output, yb, task)
            return task_value, task_value + lam * dreg_penalty(model, trace=trace)
        if method == "igp":
            sq, losses = loss_gradient_sq(model, xb, yb, loss_name, create_graph=True)
            task_value = losses.mean()
            return task_value, task_value + lam * sq.mean()
        if method in ("jacobian", "jacobian_rp"):
            sq, out = (jacobian_sq_frobenius(model, xb, create_graph=True) if method == "jacobian" else
                       projected_jacobian_sq(model, xb, n_projections, generator, create_graph=True,
                                             distribution=FIT_PROJECTION))
            task_value = task_loss(out, yb, task)
            return task_value, task_value + lam * sq.mean()
        task_value = task_loss(model(xb), yb, task)  # base and the SN methods
        return task_value, task_value

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        zero_grad(set_to_none=True)
        task_value, total = objective(xb, yb)
        total.backward()
        opt_step()
        return task_value.detach()
    return step


def checked_targets(model: CompactMLP, x: torch.Tensor, y: torch.Tensor, task: str,
                    name: str = "y_train") -> torch.Tensor:
    """``y`` as training needs it, with one row per row of ``x``: for regression (n, k) with k
    the model's outputs, a (n,) target of a one-output model read as (n, 1); for
    classification (n,) class indices. Any other shape is refused, naming both shapes (torch
    would broadcast (n,) against (n, 1) into an (n, n) loss and train to a constant)."""
    x_name = name.replace("y", "x", 1)  # y_train -> x_train
    if not isinstance(y, torch.Tensor) or y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name} must be a tensor with one row per row of {x_name} ({x.shape[0]}), "
                         f"got {getattr(y, 'shape', type(y).__name__)}")
    if y.is_floating_point() and not bool(torch.isfinite(y).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf); targets must be finite")
    outputs = model.layers[-1].out_features
    if task == "classification":
        if y.ndim != 1:
            raise ValueError(f"{name} must hold one class index per row, shape ({x.shape[0]},), "
                             f"got shape {tuple(y.shape)}")
        return y
    if y.ndim == 1 and outputs == 1:
        return y.unsqueeze(1)
    if tuple(y.shape[1:]) != (outputs,):
        raise ValueError(f"{name} has shape {tuple(y.shape)} but the model has {outputs} output(s): "
                         f"regression targets must have shape ({x.shape[0]}, {outputs})")
    return y


def _check_data(model: CompactMLP, x_train: torch.Tensor, y_train: torch.Tensor,
                x_val: torch.Tensor | None, y_val: torch.Tensor | None,
                task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Inputs the model accepts (at least one row each); the targets checked
    (:func:`checked_targets`) and returned."""
    for name, x in (("x_train", x_train), ("x_val", x_val)):
        if x is not None and check_input(model, x, name).shape[0] == 0:
            raise ValueError(f"{name} has no rows (shape {tuple(x.shape)}); give at least one sample")
    y_train = checked_targets(model, x_train, y_train, task, "y_train")
    if (x_val is None) != (y_val is None):
        raise ValueError("give x_val and y_val together, or neither")
    if x_val is not None:
        y_val = checked_targets(model, x_val, y_val, task, "y_val")
    return y_train, y_val


def fit(model: CompactMLP, x_train: torch.Tensor, y_train: torch.Tensor,
        x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None, *,
        task: str = "regression", method: str = "base", lam: float = 0.0, epochs: int = 10,
        batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2, seed: int = 0,
        device: str | torch.device = "auto", n_projections: int = 1,
        progress: bool = False) -> FitResult:
    """Train ``model`` in place with AdamW and return a :class:`FitResult`.

    The minibatch order is drawn from ``seed``; seed the model's initialisation
    yourself (``CompactMLP.seeded``). Training stops at the first epoch whose loss
    or parameters are not finite and reports the run as diverged, with the first
    failing step and quantity (:func:`locate_divergence`).
    """
    check_choice("task", task, TASKS)
    _check_method(model, method)
    lam = check_float("lam", lam, minimum=0.0)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_float("lr", lr, strictly_positive=True)
    check_float("weight_decay", weight_decay, minimum=0.0)
    check_int("n_projections", n_projections, minimum=1)
    y_train, y_val = _check_data(model, x_train, y_train, x_val, y_val, task)
    dev = resolve_device(device)
    model.to(dev).train()
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    if x_val is not None:
        x_val, y_val = x_val.to(dev), y_val.to(dev)
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    step = _step(model, optimizer, method, lam, task, n_projections, generator)
    result = FitResult(model)
    params = [(parameter_name(name), p) for name, p in model.named_parameters()]
    start = time.perf_counter()
    n = x_train.shape[0]
    n_batches = math.ceil(n / batch_size)

    def all_finite() -> torch.Tensor:
        return torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all().reshape(1)

    for epoch in tqdm(range(1, epochs + 1), desc=f"{method} training", disable=not progress):
        order = torch.randperm(n, generator=generator).to(dev)
        xs, ys = x_train[order], y_train[order]
        batches = [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, n, batch_size)]
        loss, failed, found = guarded_epoch(step, batches, model, optimizer, params, all_finite,
                                            torch.ones(1, dtype=torch.bool), epoch, generator)
        if failed.any():
            result.mark_diverged(epoch, found.get(0), epoch * n_batches)
            break
        row = {"epoch": epoch, "train_task_loss": float(loss)}
        if x_val is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, x_val, y_val, task).items()})
        result.history.append(row)
    result.seconds = time.perf_counter() - start
    return result
