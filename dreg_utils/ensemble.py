"""Train several CompactMLPs of one shape in one vectorised pass (seeds and methods together).

Member s has its own weights W_s^(l) (stacked along a leading member axis), its own
initialisation (that of ``CompactMLP.seeded(seed_s, ...)``), its own minibatch order
(``torch.randperm`` from a generator seeded with ``seed_s``, as in
:func:`dreg_utils.train.fit`), its own method and its own lambda. One step computes every
member's minibatch with batched products z_s = x_s W_s^T + b_s (``torch.baddbmm``) and
back-propagates the sum of the members' losses

    sum_s [ E_B l(f_s(x), y) + lam_s P_s ],

whose gradient with respect to member s's parameters is that of member s's own loss,
since the members share nothing. AdamW acts elementwise, so one optimizer over the
stacked tensors (torch's fused AdamW kernel: the same update in one pass over memory)
equals one optimizer per member. Training a group this way is therefore
:func:`dreg_utils.train.fit` run once per member, up to floating-point rounding
(tests/test_ensemble.py checks this to 1e-10 in float64 over ~200 steps).

How each method's penalty P_s is computed on the stacked parameters (DREG's gradient through
the norms in closed form, spectral normalisation as torch's ``spectral_norm``):
:mod:`dreg_utils.stacked`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .activations import ACTIVATIONS
from .jacobians import per_sample_loss
from .models import CompactMLP, spectral_norm_options
from .stacked import StackedMLP, _runs
from .train import TASKS, FitResult, guarded_epoch
from .device import resolve_device
from .validation import check_choice, check_float, check_int, check_nonempty_list
from .vocabulary import methods_for

ENSEMBLE_METHODS = methods_for("ensemble")


@dataclass(frozen=True)
class Member:
    """One model of a group: its seed (initialisation and minibatch order), method and lambda.
    A plain record: the public functions that take members check them (:func:`check_members`)."""

    seed: int
    method: str = "base"
    lam: float = 0.0


def check_members(members: Sequence[Member]) -> list[Member]:
    """``members`` as a non-empty list of :class:`Member` with seeds >= 0, methods of
    :data:`ENSEMBLE_METHODS` and finite lambdas >= 0 (each named ``members[i].field``)."""
    members = check_nonempty_list("members", members)
    for i, member in enumerate(members):
        if not isinstance(member, Member):
            raise TypeError(f"members must be Member(seed, method, lam) objects, got {member!r}")
        check_int(f"members[{i}].seed", member.seed, minimum=0)
        check_choice(f"members[{i}].method", member.method, ENSEMBLE_METHODS)
        check_float(f"members[{i}].lam", member.lam, minimum=0.0)
    return members


def build_group(members: Sequence[Member], in_features: int, hidden: Sequence[int], out_features: int, *,
                activation: str = "relu", lr: float = 1e-3, weight_decay: float = 1e-2,
                device: str | torch.device = "cpu"
                ) -> tuple[list[CompactMLP], StackedMLP, torch.optim.Optimizer]:
    """The members' seeded CompactMLPs (spectral normalisation as each SN method names it:
    :func:`dreg_utils.models.spectral_norm_options`), their StackedMLP in training mode on ``device``,
    and one fused AdamW over its parameters."""
    return _build_group(check_members(members), in_features, hidden, out_features, activation, lr,
                        weight_decay, resolve_device(device))


def _build_group(members: Sequence[Member], in_features: int, hidden: Sequence[int], out_features: int,
                 activation: str, lr: float, weight_decay: float, device: torch.device
                 ) -> tuple[list[CompactMLP], StackedMLP, torch.optim.Optimizer]:
    """:func:`build_group` for checked members and a resolved device."""
    models = [CompactMLP.seeded(m.seed, in_features, hidden, out_features, activation=activation,
                                **spectral_norm_options(m.method)) for m in members]
    net = StackedMLP(models).to(device).train()
    return models, net, torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, fused=True)


def fit_ensemble(members: Sequence[Member], x_train: torch.Tensor, y_train: torch.Tensor,
                 hidden: Sequence[int], *, activation: str = "relu", task: str = "classification",
                 out_features: int | None = None, epochs: int = 10, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-2, device: str | torch.device = "auto",
                 progress: bool = False) -> list[FitResult]:
    """Train every member together; return one :class:`FitResult` per member, in order.

    Each result's model is a ``CompactMLP`` (with spectral normalisation for the SN methods'
    members) holding that member's trained parameters; ``seconds`` is the group's wall time
    divided by the number of members. A member whose loss or parameters stop being
    finite is reported as diverged from that epoch on (its history stops there), with
    the first failing step and quantity as :func:`dreg_utils.train.fit` reports them
    (the epoch is replayed from a snapshot, then the group resumes from the epoch's
    end), while the others keep training. Every argument is checked here (:func:`train_group`
    trains from arguments checked already).
    """
    members = check_members(members)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("task", task, TASKS)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_float("lr", lr, strictly_positive=True)
    check_float("weight_decay", weight_decay, minimum=0.0)
    if x_train.ndim != 2 or x_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"x_train must be (n, d) with one row per target; got x {tuple(x_train.shape)}, "
                         f"y {tuple(y_train.shape)}")
    return train_group(members, x_train, y_train, hidden, activation=activation, task=task,
                       out_features=out_features, epochs=epochs, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, device=resolve_device(device), progress=progress)


def train_group(members: Sequence[Member], x_train: torch.Tensor, y_train: torch.Tensor,
                hidden: Sequence[int], *, activation: str, task: str, out_features: int | None, epochs: int,
                batch_size: int, lr: float, weight_decay: float, device: torch.device | str,
                progress: bool = False) -> list[FitResult]:
    """:func:`fit_ensemble` from arguments checked already (a study's settings, members built from
    them) and a resolved ``device``: nothing is checked again. ``out_features`` None: the number of
    classes, or of target columns."""
    if out_features is None:
        out_features = int(y_train.max()) + 1 if task == "classification" else \
            (1 if y_train.ndim == 1 else y_train.shape[1])
    models, net, optimizer = _build_group(members, x_train.shape[1], hidden, out_features, activation, lr,
                                          weight_decay, device)
    x_train, y_train = x_train.to(device), y_train.to(device)
    step = make_group_step(net, optimizer, members, task)
    generators = [torch.Generator().manual_seed(m.seed) for m in members]
    results = [FitResult(model) for model in models]
    params = [(f"layers.{l}.{kind}", tensor) for l, pair in enumerate(zip(net.weights, net.biases))
              for kind, tensor in zip(("weight", "bias"), pair)]
    alive = torch.ones(len(members), dtype=torch.bool)
    n = x_train.shape[0]
    n_batches = math.ceil(n / batch_size)
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc=f"{len(members)} members", disable=not progress):
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        batches = [(x_train[index], y_train[index])
                   for index in (orders[:, i:i + batch_size] for i in range(0, n, batch_size))]
        train_loss, failed, found = guarded_epoch(step, batches, net, optimizer, params,
                                                  net.finite_members, alive, epoch)
        for s in torch.nonzero(failed).flatten().tolist():
            results[s].mark_diverged(epoch, found.get(s), epoch * n_batches)
        alive &= ~failed
        for s in torch.nonzero(alive).flatten().tolist():
            results[s].history.append({"epoch": epoch, "train_task_loss": float(train_loss[s])})
    seconds = time.perf_counter() - start
    net.eval()
    for s, result in enumerate(results):
        net.copy_member_to_(s, result.model.to(device))
        result.seconds = seconds / len(members)
    return results


def make_group_step(net: StackedMLP, optimizer: torch.optim.Optimizer, members: Sequence[Member],
                    task: str = "classification") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimisation step of every member, as :func:`fit_ensemble` runs it.

    Returns ``step(xb, yb)`` for minibatches xb [S, B, d] and yb [S, B, ...] (member s
    gets row s): zero the gradients, back-propagate sum_s (task loss_s + lam_s P_s),
    add DREG's closed-form norm gradient, ``optimizer.step()``; it returns the members'
    mean task losses [S] (detached). ``benchmarks/bench_sweep.py`` times exactly this.
    """
    dev, dtype = net.weights[0].device, net.weights[0].dtype

    def lams(method: str) -> torch.Tensor | None:
        values = [m.lam if m.method == method else 0.0 for m in members]
        return torch.tensor(values, dtype=dtype, device=dev) if any(values) else None

    lam_dreg, lam_igp, lam_jacobian = lams("dreg"), lams("igp"), lams("jacobian")
    dreg_members = [s for s, m in enumerate(members) if m.method == "dreg" and m.lam > 0]
    dreg_blocks = [slice(start, stop) for start, stop in _runs(dreg_members)]  # contiguous: views
    relu = net.activation_name == "relu"
    loss_name = "ce" if task == "classification" else "mse"
    size = net.size

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        trace = net.trace(xb)
        batch = xb.shape[1]
        losses = per_sample_loss(trace.output.reshape(size * batch, -1),
                                 yb.reshape(size * batch, *yb.shape[2:]), loss_name).view(size, batch)
        task_value = losses.mean(dim=1)
        total = task_value.sum()
        if lam_igp is not None:
            total = total + (lam_igp * net.input_gradient_sq(losses, trace).mean(dim=1)).sum()
        if lam_jacobian is not None:
            total = total + (lam_jacobian * net.output_jacobian_sq(trace).mean(dim=1)).sum()
        if lam_dreg is not None and not relu:  # the path through z; the norm path comes below
            for block in dreg_blocks:
                total = total + (lam_dreg[block] * net.dreg_terms(trace, True, block)).sum()
        total.backward()
        if lam_dreg is not None:
            net.add_dreg_gradient_(trace, lam_dreg, dreg_members)
        net.add_sn_gradient_()
        optimizer.step()
        return task_value.detach()

    return step
