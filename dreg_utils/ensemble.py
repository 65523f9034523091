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

Penalties P_s per method, as in :mod:`dreg_utils.penalties`:

* ``base``: none.
* ``dreg``: the CR-penalty (1/L) sum_l sum_j E_B[phi'(z_j)^2] ||W_j||^2. Its gradient
  through the norms, (2 lam / L) m_j W_j with m_j = E_B[phi'(z_j)^2] (for ReLU the active
  fraction of unit j), is added in closed form to the DREG members' weights after the
  backward pass; for poly the path through z (phi'' != 0) is differentiated by autograd
  with the norms held constant. ReLU has no such path (phi'' = 0 almost everywhere).
* ``igp``: E_B ||grad_x l(f_s(x), y)||^2 by double backprop (the gradient of the loss).
* ``jacobian``: E_B ||J_s(x)||_F^2 = E_B sum_k ||grad_x f_s(x)_k||^2, the output gradient of
  every logit (the input-gradient penalty as the DREG paper writes it, ||grad_x f(x)||^2),
  from the Jacobian product J = W_L D_{L-1} W_{L-1} ... D_1 W_1 with D_l = diag(phi'(z_l)),
  differentiated by autograd; :func:`dreg_utils.train.fit`'s ``jacobian`` method is the same
  penalty for one model.
* ``sn``: no penalty; each weight acts as W / sigma with sigma = u^T W v, where (u, v)
  take one power-iteration step u <- W v / ||W v||, v <- W^T u / ||W^T u|| per
  training forward pass and are constants for autograd: the semantics of
  ``torch.nn.utils.parametrizations.spectral_norm`` (``n_power_iterations=1``), batched
  over the SN members, exact up to rounding. Evaluation (the exported models in eval
  mode) uses the stored (u, v) without stepping them, as torch does.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from .activations import ACTIVATIONS, make_activation
from .jacobians import per_sample_loss
from .models import CompactMLP, ForwardTrace
from .train import TASKS, FitResult, guarded_epoch
from .device import resolve_device
from .validation import check_choice, check_float, check_int, check_nonempty_list
from .vocabulary import methods_for

ENSEMBLE_METHODS = methods_for("ensemble")
_SN_EPS = 1e-12  # torch's default eps of spectral_norm


def _runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted distinct indices as maximal [start, stop) runs: [0, 1, 2, 5] -> [(0, 3), (5, 6)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(indices)):
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


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

    ``weights[l]`` holds the members' W^(l) *transposed*, shape [S, in_l, out_l], so that
    the forward product h W^T and the weight gradient h^T dz are plain batched products
    of contiguous tensors (the [S, out, in] layout costs a strided copy of every weight
    gradient). ``biases[l]`` is [S, out_l]. Spectral-norm members keep their power-
    iteration vectors in the buffers ``u<l>`` [S, out_l] and ``v<l>`` [S, in_l] (rows of
    the other members stay zero).

    Training with SN members: z = (h W^T) / sigma + b takes 1/sigma as a leaf tensor, and
    :meth:`add_sn_gradient_` must run after ``backward()`` to add the part of dL/dW that
    flows through sigma (:func:`make_group_step` does this).
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
        self._sn_members = self.sn_index.tolist()  # kept on the host: no device sync in a step
        self._sn_slices = [slice(*run) for run in _runs(self._sn_members)]  # views, not copies
        self._sn_block = self._sn_slices[0] if len(self._sn_slices) == 1 else None  # all SN members side by side
        self._inverse_sigmas: list[torch.Tensor] = []
        weights, biases = [], []
        for l, (fan_out, fan_in) in enumerate(shapes):
            w = torch.stack([_raw_weight(m.layers[l]).detach() for m in models])
            weights.append(nn.Parameter(w.transpose(1, 2).contiguous()))
            biases.append(nn.Parameter(torch.stack([m.layers[l].bias.detach() for m in models]).clone()))
            u, v = w.new_zeros(len(models), fan_out), w.new_zeros(len(models), fan_in)
            for i, model in enumerate(models):
                if model.uses_spectral_norm:
                    _, u[i], v[i] = _sn_parts(model.layers[l])
            self.register_buffer(f"u{l}", u)
            self.register_buffer(f"v{l}", v)
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)

    @property
    def size(self) -> int:
        """S, the number of members."""
        return int(self.weights[0].shape[0])

    @property
    def depth(self) -> int:
        """L, the number of linear layers."""
        return len(self.weights)

    @torch.no_grad()
    def _inverse_sigma(self, l: int) -> torch.Tensor:
        """1/sigma of layer l per member (1 for non-SN members), [S]. In training mode the SN
        members' power iteration first steps once: u <- W v / ||W v||, t = W^T u, v <- t / ||t||;
        then sigma = u^T W v = t^T v = ||t||, so the step needs no third pass over W (in eval
        mode, sigma = u^T W v from the stored vectors)."""
        idx, wt = self.sn_index, self.weights[l]
        u, v = getattr(self, f"u{l}"), getattr(self, f"v{l}")
        wt_sn = wt[idx if self._sn_block is None else self._sn_block]  # [n_sn, in, out]: W v = v^T Wt
        if self.training:
            u.index_copy_(0, idx, F.normalize(torch.bmm(v[idx].unsqueeze(1), wt_sn).squeeze(1), dim=1,
                                              eps=_SN_EPS))
            # W^T u as a row product (u^T W): about 4x faster on CPU than W^T @ u as a column
            t = torch.bmm(u[idx].unsqueeze(1), wt_sn.transpose(1, 2)).squeeze(1)
            norm = t.norm(dim=1)
            v.index_copy_(0, idx, t / norm.clamp_min(_SN_EPS)[:, None])
            sigma = norm.pow(2) / norm.clamp_min(_SN_EPS)
        else:
            sigma = (torch.bmm(v[idx].unsqueeze(1), wt_sn).squeeze(1) * u[idx]).sum(dim=1)
        return torch.ones(self.size, dtype=wt.dtype, device=wt.device).index_copy_(0, idx, 1.0 / sigma)

    def trace(self, x: torch.Tensor) -> ForwardTrace:
        """Forward pass on x of shape [S, B, in]: output [S, B, out], pre-activations
        [S, B, width] and the weights W^(l) as [S, out, in] views.

        SN members compute z = (h W^T) / sigma + b, which equals h (W / sigma)^T + b
        without forming W / sigma; ``weights`` are the raw W (DREG is never combined with SN).
        """
        has_sn = self.sn_index.numel() > 0
        track = has_sn and self.training and torch.is_grad_enabled()
        self._inverse_sigmas = []
        h, zs = x, []
        for l, (wt, b) in enumerate(zip(self.weights, self.biases)):
            if has_sn:
                inv_sigma = self._inverse_sigma(l).requires_grad_(track)
                self._inverse_sigmas.append(inv_sigma)
                z = torch.addcmul(b.unsqueeze(1), torch.bmm(h, wt), inv_sigma[:, None, None])
            else:
                z = torch.baddbmm(b.unsqueeze(1), h, wt)
            if l == self.depth - 1:
                return ForwardTrace(z, zs, [w.transpose(1, 2) for w in self.weights])
            zs.append(z)
            h = self.activation(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trace(x).output

    def input_gradient_sq(self, losses: torch.Tensor, trace: ForwardTrace) -> torch.Tensor:
        """Per member and sample, ||grad_x losses[s, i]||^2, shape [S, B], differentiable
        (double backprop).

        Autograd gives dz = d losses / dz^(1) at the first layer's pre-activations; then
        grad_x = (dz / sigma) W^(1), computed as Wt (dz / sigma)^T so that the weight
        gradient of the penalty comes out in the stored [S, in, out] layout.
        """
        z1 = trace.preactivations[0]
        (dz,) = torch.autograd.grad(losses.sum(), z1, create_graph=True)
        if self._inverse_sigmas:
            dz = dz * self._inverse_sigmas[0][:, None, None]
        return torch.bmm(self.weights[0], dz.transpose(1, 2)).pow(2).sum(dim=1)

    def output_jacobian_sq(self, trace: ForwardTrace) -> torch.Tensor:
        """Per member and sample, ||d f / d x||_F^2 over every output, shape [S, B],
        differentiable. With J = A W_1, A = W_L D_{L-1} ... W_2 D_1 built from the output back
        (one batched product per layer; SN members use W / sigma). With more inputs than first-layer
        units (MNIST), ||J||_F^2 = tr(A G A^T) with G = W_1 W_1^T: the input dimension never appears
        in a per-sample tensor; with fewer (small regression inputs), J = A W_1 itself is cheaper."""
        scales = self._inverse_sigmas or [None] * self.depth
        rows = self._scaled(self.weights[-1], scales[-1]).transpose(1, 2).unsqueeze(1)  # [S, 1, out, h]
        rows = rows.expand(-1, trace.output.shape[1], -1, -1)
        for l in range(self.depth - 2, -1, -1):
            rows = rows * self.activation.derivative(trace.preactivations[l]).unsqueeze(2)  # D_l
            if l > 0:
                rows = rows @ self._scaled(self.weights[l], scales[l]).transpose(1, 2).unsqueeze(1)
        first = self._scaled(self.weights[0], scales[0])  # [S, in, h]: W_1^T
        if first.shape[1] < first.shape[2]:
            members, batch, outputs, units = rows.shape
            jac = torch.bmm(rows.reshape(members, batch * outputs, units), first.transpose(1, 2))
            return jac.pow(2).reshape(members, batch, -1).sum(dim=2)
        gram = (first.transpose(1, 2) @ first).unsqueeze(1)  # [S, 1, h, h]
        return ((rows @ gram) * rows).sum(dim=(2, 3))

    @staticmethod
    def _scaled(wt: torch.Tensor, inv_sigma: torch.Tensor | None) -> torch.Tensor:
        return wt if inv_sigma is None else wt * inv_sigma[:, None, None]

    def dreg_terms(self, trace: ForwardTrace, detach_norms: bool = False,
                   block: slice = slice(None)) -> torch.Tensor:
        """Per member of ``block`` (default: all), the CR-penalty (1/L) sum_l E_B[d_l(x)]
        (DREG eq. 5), shape [block size]: sum_j E_B[phi'(z_j)^2] ||W_j||^2 per hidden layer
        (||W_j||^2 = column sums of Wt^2).

        ``detach_norms``: the norms ||W_j||^2 are constants for autograd, so the graph only
        carries the path through z (the norm path is added in closed form by
        :meth:`add_dreg_gradient_`, without a backward pass over the weights)."""
        def norms(wt: torch.Tensor) -> torch.Tensor:
            return (wt[block].detach() if detach_norms else wt[block]).pow(2).sum(dim=1)

        terms = [(self.activation.derivative(z[block]).pow(2).mean(dim=1) * norms(wt)).sum(dim=1)
                 for z, wt in zip(trace.preactivations, self.weights)]
        terms.append(norms(self.weights[-1]).sum(dim=1))
        return torch.stack(terms, dim=1).mean(dim=1)

    @torch.no_grad()
    def add_dreg_gradient_(self, trace: ForwardTrace, lam: torch.Tensor,
                           members: Sequence[int] | None = None) -> None:
        """Add lam_s (2/L) m_j W_j to each weight's gradient, m_j = E_B[phi'(z_j)^2] (1 for the
        output layer): the CR-penalty's gradient through the norms ||W_j||^2. For ReLU
        (phi'' = 0 a.e.; m_j is the active fraction of unit j) this is the whole gradient; other
        activations add the path through z by autograd (``dreg_terms(detach_norms=True)``).

        Only the ``members`` listed (default: all) are touched: members with lam_s = 0 would
        only add zeros, and skipping them saves a pass over their weights every step."""
        members = range(self.size) if members is None else members
        scale = (2.0 / self.depth) * lam  # [S]
        for start, stop in _runs(members):  # contiguous blocks of members: views, no copies
            s = slice(start, stop)
            for wt, z in zip(self.weights, trace.preactivations):
                m = self.activation.derivative(z[s]).pow(2).mean(dim=1)  # [block, width]
                wt.grad[s].addcmul_(wt[s], (m * scale[s, None]).unsqueeze(1))
            last = self.weights[-1]
            last.grad[s].addcmul_(last[s], scale[s, None, None])

    @torch.no_grad()
    def add_sn_gradient_(self) -> None:
        """Add the gradient that flows through sigma: with g = dL/d(1/sigma) from the last
        backward pass, dL/dW += g d(1/sigma)/dW = -g / sigma^2 u v^T (u and v constants,
        as in torch's spectral_norm)."""
        for l, inv_sigma in enumerate(self._inverse_sigmas):
            if inv_sigma.grad is None:
                continue
            coef = -inv_sigma.grad * inv_sigma.pow(2)
            u, v, grad = getattr(self, f"u{l}"), getattr(self, f"v{l}"), self.weights[l].grad
            for s in self._sn_slices:  # per block of adjacent SN members, one batched rank-1 update
                grad[s].baddbmm_((v[s] * coef[s, None]).unsqueeze(2), u[s].unsqueeze(1))

    @torch.no_grad()
    def copy_member_to_(self, i: int, model: CompactMLP) -> CompactMLP:
        """Write member i's parameters (and SN vectors) into ``model``, which has its shape."""
        for l, layer in enumerate(model.layers):
            weight = self.weights[l][i].transpose(0, 1)
            if model.uses_spectral_norm:
                original, u, v = _sn_parts(layer)
                original.copy_(weight)
                u.copy_(getattr(self, f"u{l}")[i])
                v.copy_(getattr(self, f"v{l}")[i])
            else:
                layer.weight.copy_(weight)
            layer.bias.copy_(self.biases[l][i])
        return model

    @torch.no_grad()
    def finite_members(self) -> torch.Tensor:
        """Boolean [S]: whether all of member s's parameters are finite."""
        ok = torch.ones(self.size, dtype=torch.bool, device=self.weights[0].device)
        for p in [*self.weights, *self.biases]:
            ok &= torch.isfinite(p.flatten(1)).all(dim=1)
        return ok


def build_group(members: Sequence[Member], in_features: int, hidden: Sequence[int], out_features: int, *,
                activation: str = "relu", lr: float = 1e-3, weight_decay: float = 1e-2,
                device: str | torch.device = "cpu"
                ) -> tuple[list[CompactMLP], StackedMLP, torch.optim.Optimizer]:
    """The members' seeded CompactMLPs (``spectral_norm=True`` for SN members), their
    StackedMLP in training mode on ``device``, and one fused AdamW over its parameters."""
    return _build_group(check_members(members), in_features, hidden, out_features, activation, lr,
                        weight_decay, resolve_device(device))


def _build_group(members: Sequence[Member], in_features: int, hidden: Sequence[int], out_features: int,
                 activation: str, lr: float, weight_decay: float, device: torch.device
                 ) -> tuple[list[CompactMLP], StackedMLP, torch.optim.Optimizer]:
    """:func:`build_group` for checked members and a resolved device."""
    models = [CompactMLP.seeded(m.seed, in_features, hidden, out_features, activation=activation,
                                spectral_norm=m.method == "sn") for m in members]
    net = StackedMLP(models).to(device).train()
    return models, net, torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, fused=True)


def fit_ensemble(members: Sequence[Member], x_train: torch.Tensor, y_train: torch.Tensor,
                 hidden: Sequence[int], *, activation: str = "relu", task: str = "classification",
                 out_features: int | None = None, epochs: int = 10, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-2, device: str | torch.device = "auto",
                 progress: bool = False) -> list[FitResult]:
    """Train every member together; return one :class:`FitResult` per member, in order.

    Each result's model is a ``CompactMLP`` (``spectral_norm=True`` for ``sn`` members)
    holding that member's trained parameters; ``seconds`` is the group's wall time
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
