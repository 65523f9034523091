"""Train several CompactMLPs of one shape in one vectorised pass (seeds and methods together).

Member s has its own weights W_s^(l) (stacked into one tensor of shape [S, out, in]),
its own initialisation (that of ``CompactMLP.seeded(seed_s, ...)``), its own minibatch
order (``torch.randperm`` from a generator seeded with ``seed_s``, as in
:func:`dreg_utils.train.fit`), its own method and its own lambda. One step computes
every member's minibatch with batched products ``z_s = x_s W_s^T + b_s``
(``torch.baddbmm``) and back-propagates the sum of the members' losses

    sum_s [ E_B l(f_s(x), y) + lam_s P_s ],

whose gradient with respect to member s's parameters is that of member s's own loss,
since the members share nothing. AdamW acts elementwise, so one optimizer over the
stacked tensors equals one optimizer per member. Training a group this way is
therefore :func:`dreg_utils.train.fit` run once per member, up to floating-point rounding
(tests/test_ensemble.py checks this in float64).

Penalties P_s per method, as in :mod:`dreg_utils.penalties`:

* ``base``: none.
* ``dreg``: the CR-penalty (1/L) sum_l sum_j E_B[phi'(z_j)^2] ||W_j||^2. For ReLU its
  gradient (2 lam / L) a_j W_j (a_j = active fraction of unit j) is added in closed
  form after the backward pass; for poly it is differentiated by autograd.
* ``igp``: E_B ||grad_x l(f_s(x), y)||^2 by double backprop.
* ``sn``: no penalty; each weight is used as W / sigma with sigma = u^T W v, where
  (u, v) take one power-iteration step u <- W v / ||W v||, v <- W^T u / ||W^T u||
  per training forward pass and are constants for autograd: the semantics of
  ``torch.nn.utils.parametrizations.spectral_norm`` with ``n_power_iterations=1``,
  batched over the SN members. Evaluation (the exported models in eval mode) uses
  the stored (u, v) without stepping them, as torch does.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from .activations import ACTIVATIONS, make_activation
from .jacobians import per_sample_loss
from .models import CompactMLP, ForwardTrace
from .train import TASKS, FitResult, resolve_device
from .validation import check_choice, check_float, check_int, check_nonempty_list

ENSEMBLE_METHODS = ("base", "dreg", "igp", "sn")
_SN_EPS = 1e-12  # torch's default eps of spectral_norm


@dataclass(frozen=True)
class Member:
    """One model of a group: its seed (initialisation and minibatch order), method and lambda."""

    seed: int
    method: str = "base"
    lam: float = 0.0

    def __post_init__(self) -> None:
        check_int("seed", self.seed, minimum=0)
        check_choice("method", self.method, ENSEMBLE_METHODS)
        check_float("lam", self.lam, minimum=0.0)


def _sn_parts(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(original weight, u, v) of a linear layer wrapped in torch's spectral_norm."""
    parametrization = layer.parametrizations.weight
    return parametrization.original, parametrization[0]._u, parametrization[0]._v


def _raw_weight(layer: nn.Module) -> torch.Tensor:
    """The trained weight tensor of a layer; reading ``layer.weight`` of an SN layer in
    training mode would step its power iteration."""
    return _sn_parts(layer)[0] if hasattr(layer, "parametrizations") else layer.weight


class StackedMLP(nn.Module):
    """S CompactMLPs of equal widths and activation, with parameters stacked along dim 0.

    ``weights[l]`` has shape [S, out_l, in_l] and ``biases[l]`` [S, out_l]; members
    flagged in ``spectral_norm`` also keep power-iteration vectors ``u[l]`` [S, out_l]
    and ``v[l]`` [S, in_l] (unused rows of the other members stay zero).
    """

    def __init__(self, models: Sequence[CompactMLP]):
        super().__init__()
        models = check_nonempty_list("models", models)
        first = models[0]
        shapes = [tuple(_raw_weight(layer).shape) for layer in first.layers]
        for i, model in enumerate(models):
            if model.activation_name != first.activation_name or \
                    [tuple(_raw_weight(layer).shape) for layer in model.layers] != shapes:
                raise ValueError(f"models[{i}] differs from models[0] in layer shapes or activation; "
                                 "a StackedMLP needs members of one architecture")
            if any(True for a in model.activations for _ in a.parameters()):
                raise ValueError("StackedMLP does not support trainable polynomial coefficients")
        self.activation_name = first.activation_name
        self.activation = make_activation(first.activation_name)
        if self.activation_name == "poly":  # the members' (fixed) coefficients
            self.activation.coefficients.copy_(first.activations[0].coefficients)
        sn = torch.tensor([m.uses_spectral_norm for m in models])
        self.register_buffer("sn_index", torch.nonzero(sn).flatten())
        weights, biases, us, vs = [], [], [], []
        for l in range(first.depth):
            w, u, v = [], [], []
            for model in models:
                layer = model.layers[l]
                if model.uses_spectral_norm:
                    original, u_l, v_l = _sn_parts(layer)
                    w.append(original.detach())
                    u.append(u_l)
                    v.append(v_l)
                else:
                    w.append(layer.weight.detach())
                    u.append(torch.zeros(layer.weight.shape[0], dtype=layer.weight.dtype))
                    v.append(torch.zeros(layer.weight.shape[1], dtype=layer.weight.dtype))
            weights.append(nn.Parameter(torch.stack(w).clone()))
            biases.append(nn.Parameter(torch.stack([m.layers[l].bias.detach() for m in models]).clone()))
            us.append(torch.stack(u).clone())
            vs.append(torch.stack(v).clone())
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)
        for l, (u, v) in enumerate(zip(us, vs)):
            self.register_buffer(f"u{l}", u)
            self.register_buffer(f"v{l}", v)

    @property
    def size(self) -> int:
        """S, the number of members."""
        return int(self.weights[0].shape[0])

    @property
    def depth(self) -> int:
        """L, the number of linear layers."""
        return len(self.weights)

    def effective_weights(self) -> list[torch.Tensor]:
        """W^(l) as the forward pass uses them: W / sigma for SN members, W otherwise.

        In training mode each call steps the SN members' power iteration once.
        """
        if self.sn_index.numel() == 0:
            return list(self.weights)
        idx = self.sn_index
        out = []
        for l, w in enumerate(self.weights):
            u, v = getattr(self, f"u{l}"), getattr(self, f"v{l}")
            w_sn = w[idx]
            if self.training:
                with torch.no_grad():
                    u_new = F.normalize(torch.bmm(w_sn, v[idx].unsqueeze(2)).squeeze(2), dim=1, eps=_SN_EPS)
                    v_new = F.normalize(torch.bmm(u_new.unsqueeze(1), w_sn).squeeze(1), dim=1, eps=_SN_EPS)
                    u.index_copy_(0, idx, u_new)
                    v.index_copy_(0, idx, v_new)
            sigma = (u[idx] * torch.bmm(w_sn, v[idx].unsqueeze(2)).squeeze(2)).sum(dim=1)
            scale = torch.ones(self.size, dtype=w.dtype, device=w.device).index_copy(0, idx, sigma)
            out.append(w / scale[:, None, None])
        return out

    def trace(self, x: torch.Tensor) -> ForwardTrace:
        """Forward pass on x of shape [S, B, in]; output [S, B, out], pre-activations [S, B, width]."""
        ws = self.effective_weights()
        h, zs = x, []
        for w, b in zip(ws[:-1], self.biases[:-1]):
            z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            zs.append(z)
            h = self.activation(z)
        out = torch.baddbmm(self.biases[-1].unsqueeze(1), h, ws[-1].transpose(1, 2))
        return ForwardTrace(out, zs, ws)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trace(x).output

    def dreg_terms(self, trace: ForwardTrace) -> torch.Tensor:
        """Per member, the CR-penalty (1/L) sum_l E_B[d_l(x)] (DREG eq. 5), shape [S]."""
        terms = [(self.activation.derivative(z).pow(2).mean(dim=1) * w.pow(2).sum(dim=2)).sum(dim=1)
                 for z, w in zip(trace.preactivations, trace.weights)]
        terms.append(trace.weights[-1].pow(2).sum(dim=(1, 2)))
        return torch.stack(terms, dim=1).mean(dim=1)

    @torch.no_grad()
    def add_relu_dreg_gradient_(self, trace: ForwardTrace, lam: torch.Tensor) -> None:
        """Add lam_s (2/L) a_j W_j to each weight's gradient: the CR-penalty's gradient for ReLU."""
        scale = (2.0 / self.depth) * lam  # [S]
        for w, z in zip(self.weights, trace.preactivations):
            active = (z > 0).sum(dim=1, dtype=z.dtype) / z.shape[1]  # [S, width]
            w.grad.addcmul_(w, (active * scale[:, None]).unsqueeze(2))
        last = self.weights[-1]
        last.grad.addcmul_(last, scale[:, None, None])

    @torch.no_grad()
    def copy_member_to_(self, i: int, model: CompactMLP) -> CompactMLP:
        """Write member i's parameters (and SN vectors) into ``model``, which has its shape."""
        for l, layer in enumerate(model.layers):
            if model.uses_spectral_norm:
                original, u, v = _sn_parts(layer)
                original.copy_(self.weights[l][i])
                u.copy_(getattr(self, f"u{l}")[i])
                v.copy_(getattr(self, f"v{l}")[i])
            else:
                layer.weight.copy_(self.weights[l][i])
            layer.bias.copy_(self.biases[l][i])
        return model

    @torch.no_grad()
    def finite_members(self) -> torch.Tensor:
        """Boolean [S]: whether all of member s's parameters are finite."""
        ok = torch.ones(self.size, dtype=torch.bool, device=self.weights[0].device)
        for p in [*self.weights, *self.biases]:
            ok &= torch.isfinite(p.flatten(1)).all(dim=1)
        return ok


def fit_ensemble(members: Sequence[Member], x_train: torch.Tensor, y_train: torch.Tensor,
                 hidden: Sequence[int], *, activation: str = "relu", task: str = "classification",
                 out_features: int | None = None, epochs: int = 10, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-2, device: str | torch.device = "auto",
                 progress: bool = False) -> list[FitResult]:
    """Train every member together; return one :class:`FitResult` per member, in order.

    Each result's model is a ``CompactMLP`` (``spectral_norm=True`` for ``sn`` members)
    holding that member's trained parameters; ``seconds`` is the group's wall time
    divided by the number of members. A member whose loss or parameters stop being
    finite is reported as diverged from that epoch on (its history stops there) while
    the others keep training.
    """
    members = [m if isinstance(m, Member) else Member(*m) for m in check_nonempty_list("members", members)]
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("task", task, TASKS)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_float("lr", lr, strictly_positive=True)
    check_float("weight_decay", weight_decay, minimum=0.0)
    if x_train.ndim != 2 or x_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"x_train must be (n, d) with one row per target; got x {tuple(x_train.shape)}, "
                         f"y {tuple(y_train.shape)}")
    if out_features is None:
        out_features = int(y_train.max()) + 1 if task == "classification" else \
            (1 if y_train.ndim == 1 else y_train.shape[1])
    dev = resolve_device(device)
    models = [CompactMLP.seeded(m.seed, x_train.shape[1], hidden, out_features, activation=activation,
                                spectral_norm=m.method == "sn") for m in members]
    net = StackedMLP(models).to(dev).train()
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    step = _make_step(net, optimizer, members, task)
    generators = [torch.Generator().manual_seed(m.seed) for m in members]
    results = [FitResult(model) for model in models]
    alive = torch.ones(len(members), dtype=torch.bool)
    n = x_train.shape[0]
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc=f"{len(members)} members", disable=not progress):
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(dev)
        running = torch.zeros(len(members), dtype=x_train.dtype, device=dev)
        for i in range(0, n, batch_size):
            index = orders[:, i:i + batch_size]
            running += step(x_train[index], y_train[index]) * index.shape[1]
        train_loss = (running / n).cpu()
        finite = torch.isfinite(train_loss) & net.finite_members().cpu()
        for s in torch.nonzero(alive & ~finite).flatten().tolist():
            results[s].diverged, results[s].diverged_epoch = True, epoch
            results[s].diverged_reason = f"non-finite training loss or parameters in epoch {epoch}"
        alive &= finite
        for s in torch.nonzero(alive).flatten().tolist():
            results[s].history.append({"epoch": epoch, "train_task_loss": float(train_loss[s])})
    seconds = time.perf_counter() - start
    net.eval()
    for s, result in enumerate(results):
        net.copy_member_to_(s, result.model.to(dev))
        result.seconds = seconds / len(members)
    return results


def _make_step(net: StackedMLP, optimizer: torch.optim.Optimizer, members: Sequence[Member], task: str):
    """step(xb [S, B, d], yb [S, B, ...]) -> per-member mean task loss [S] (detached)."""
    dev, dtype = net.weights[0].device, net.weights[0].dtype

    def lams(method: str) -> torch.Tensor | None:
        values = [m.lam if m.method == method else 0.0 for m in members]
        return torch.tensor(values, dtype=dtype, device=dev) if any(values) else None

    lam_dreg, lam_igp = lams("dreg"), lams("igp")
    relu = net.activation_name == "relu"
    loss_name = "ce" if task == "classification" else "mse"
    size = net.size

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        if lam_igp is not None:
            xb = xb.requires_grad_(True)
        trace = net.trace(xb)
        batch = xb.shape[1]
        losses = per_sample_loss(trace.output.reshape(size * batch, -1),
                                 yb.reshape(size * batch, *yb.shape[2:]), loss_name).view(size, batch)
        task_value = losses.mean(dim=1)
        total = task_value.sum()
        if lam_igp is not None:
            (grad,) = torch.autograd.grad(losses.sum(), xb, create_graph=True)
            total = total + (lam_igp * grad.pow(2).sum(dim=2).mean(dim=1)).sum()
        if lam_dreg is not None and not relu:
            total = total + (lam_dreg * net.dreg_terms(trace)).sum()
        total.backward()
        if lam_dreg is not None and relu:
            net.add_relu_dreg_gradient_(trace, lam_dreg)
        optimizer.step()
        return task_value.detach()

    return step
