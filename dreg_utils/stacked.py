"""S CompactMLPs of one shape with their parameters stacked along a leading member axis
(:class:`StackedMLP`): the vectorised group's forward pass, its penalties and their gradients, and
each member written back into a CompactMLP. :mod:`dreg_utils.ensemble` trains it.

Member s has its own weights W_s^(l) (stacked along the member axis); one forward pass computes
every member's minibatch with batched products z_s = x_s W_s^T + b_s (``torch.baddbmm``).

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
* ``sn`` and its variants (:data:`~dreg_utils.vocabulary.SN_MODES`): no penalty; each
  constrained weight acts as W / sigma with sigma = u^T W v, where (u, v) take one
  power-iteration step u <- W v / ||W v||, v <- W^T u / ||W^T u|| per training forward pass
  and are constants for autograd: the semantics of
  ``torch.nn.utils.parametrizations.spectral_norm`` (``n_power_iterations=1``), batched over
  the members that constrain the layer, exact up to rounding. ``sn`` and ``sn_scaled``
  constrain every layer, ``sn_hidden`` the hidden layers only; ``sn_scaled`` multiplies its
  output layer's weight by exp(s_s), s_s its learnable log-scale (``log_scales``).
  Evaluation (the exported models in eval mode) uses the stored (u, v) without stepping
  them, as torch does.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .activations import make_activation
from .models import CompactMLP, ForwardTrace
from .validation import check_nonempty_list

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
    the members that do not constrain layer l stay zero); ``sn_index`` lists the members
    with spectral normalisation on any layer. ``log_scales`` [S] (a parameter only when a
    member is "scaled") holds each scaled member's s, and stays 0 for the others.

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
        # per layer l, the members that constrain it: on the host (no device sync in a step), as
        # blocks of adjacent members (views, not copies) and as the index buffer ``sn_index<l>``
        self._sn_members = [[i for i, m in enumerate(models) if hasattr(m.layers[l], "parametrizations")]
                            for l in range(len(shapes))]
        self._sn_slices = [[slice(*run) for run in _runs(members)] for members in self._sn_members]
        self._inverse_sigmas: list[torch.Tensor | None] = []  # per layer, the leaves 1/sigma [S]
        self._factors: list[torch.Tensor | None] = []  # per layer, what multiplies h W^T [S]
        weights, biases = [], []
        for l, (fan_out, fan_in) in enumerate(shapes):
            w = torch.stack([_raw_weight(m.layers[l]).detach() for m in models])
            weights.append(nn.Parameter(w.transpose(1, 2).contiguous()))
            biases.append(nn.Parameter(torch.stack([m.layers[l].bias.detach() for m in models]).clone()))
            u, v = w.new_zeros(len(models), fan_out), w.new_zeros(len(models), fan_in)
            for i in self._sn_members[l]:
                _, u[i], v[i] = _sn_parts(models[i].layers[l])
            self.register_buffer(f"u{l}", u)
            self.register_buffer(f"v{l}", v)
            self.register_buffer(f"sn_index{l}", torch.tensor(self._sn_members[l], dtype=torch.long),
                                 persistent=False)
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)
        scaled = [m.output_log_scale is not None for m in models]
        self.register_buffer("scaled", torch.tensor(scaled), persistent=False)
        self.log_scales = None
        if any(scaled):
            zero = weights[-1].new_zeros(())
            self.log_scales = nn.Parameter(torch.stack(
                [zero if m.output_log_scale is None else m.output_log_scale.detach() for m in models]))

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
        """1/sigma of layer l per member (1 for the members that do not constrain it), [S]. In
        training mode the constraining members' power iteration first steps once:
        u <- W v / ||W v||, t = W^T u, v <- t / ||t||; then sigma = u^T W v = t^T v = ||t||, so the
        step needs no third pass over W (in eval mode, sigma = u^T W v from the stored vectors)."""
        idx, wt = getattr(self, f"sn_index{l}"), self.weights[l]
        u, v = getattr(self, f"u{l}"), getattr(self, f"v{l}")
        block = self._sn_slices[l][0] if len(self._sn_slices[l]) == 1 else idx  # side by side: a view
        wt_sn = wt[block]  # [n_sn, in, out]: W v = v^T Wt
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

    def _output_scales(self) -> torch.Tensor:
        """exp(s) for the scaled members and exactly 1 for the others, [S], differentiable in s."""
        return torch.where(self.scaled, self.log_scales.exp(), torch.ones_like(self.log_scales))

    def trace(self, x: torch.Tensor) -> ForwardTrace:
        """Forward pass on x of shape [S, B, in]: output [S, B, out], pre-activations
        [S, B, width] and the weights W^(l) as [S, out, in] views.

        Where a member constrains layer l, it computes z = (h W^T) / sigma + b, which equals
        h (W / sigma)^T + b without forming W / sigma (a scaled member's output layer:
        z = (h W^T) exp(s) / sigma + b); ``weights`` are the raw W (DREG is never combined with SN).
        """
        track = self.training and torch.is_grad_enabled()
        self._inverse_sigmas, self._factors = [], []
        h, zs = x, []
        for l, (wt, b) in enumerate(zip(self.weights, self.biases)):
            inv_sigma = factor = None
            if self._sn_members[l]:
                inv_sigma = factor = self._inverse_sigma(l).requires_grad_(track)
            if l == self.depth - 1 and self.log_scales is not None:
                factor = self._output_scales() * inv_sigma
            self._inverse_sigmas.append(inv_sigma)
            self._factors.append(factor)
            if factor is None:
                z = torch.baddbmm(b.unsqueeze(1), h, wt)
            else:
                z = torch.addcmul(b.unsqueeze(1), torch.bmm(h, wt), factor[:, None, None])
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
        if self._factors[0] is not None:
            dz = dz * self._factors[0][:, None, None]
        return torch.bmm(self.weights[0], dz.transpose(1, 2)).pow(2).sum(dim=1)

    def output_jacobian_sq(self, trace: ForwardTrace) -> torch.Tensor:
        """Per member and sample, ||d f / d x||_F^2 over every output, shape [S, B],
        differentiable. With J = A W_1, A = W_L D_{L-1} ... W_2 D_1 built from the output back
        (one batched product per layer; SN members use W / sigma, a scaled member's output layer
        W_L exp(s) / sigma). With more inputs than first-layer units (MNIST), ||J||_F^2 = tr(A G A^T)
        with G = W_1 W_1^T: the input dimension never appears in a per-sample tensor; with fewer
        (small regression inputs), J = A W_1 itself is cheaper."""
        scales = self._factors
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
            if inv_sigma is None or inv_sigma.grad is None:
                continue
            coef = -inv_sigma.grad * inv_sigma.pow(2)
            u, v, grad = getattr(self, f"u{l}"), getattr(self, f"v{l}"), self.weights[l].grad
            for s in self._sn_slices[l]:  # per block of adjacent members, one batched rank-1 update
                grad[s].baddbmm_((v[s] * coef[s, None]).unsqueeze(2), u[s].unsqueeze(1))

    @torch.no_grad()
    def copy_member_to_(self, i: int, model: CompactMLP) -> CompactMLP:
        """Write member i's parameters (and SN vectors) into ``model``, which has its shape."""
        for l, layer in enumerate(model.layers):
            weight = self.weights[l][i].transpose(0, 1)
            if hasattr(layer, "parametrizations"):
                original, u, v = _sn_parts(layer)
                original.copy_(weight)
                u.copy_(getattr(self, f"u{l}")[i])
                v.copy_(getattr(self, f"v{l}")[i])
            else:
                layer.weight.copy_(weight)
            layer.bias.copy_(self.biases[l][i])
        if model.output_log_scale is not None:
            model.output_log_scale.copy_(self.log_scales[i])
        return model

    @torch.no_grad()
    def finite_members(self) -> torch.Tensor:
        """Boolean [S]: whether all of member s's parameters are finite."""
        ok = torch.ones(self.size, dtype=torch.bool, device=self.weights[0].device)
        for p in [*self.weights, *self.biases]:
            ok &= torch.isfinite(p.flatten(1)).all(dim=1)
        if self.log_scales is not None:
            ok &= torch.isfinite(self.log_scales)
        return ok
