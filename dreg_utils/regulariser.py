"""The training-loop form of the penalties: one forward pass gives the output and the penalty.

::

    reg = Regulariser("dreg")                 # or "jacobian", "igp", "none"
    for x, y in loader:
        output, penalty = reg(model, x, y)
        loss = F.mse_loss(output, y) + lam * penalty
        optimizer.zero_grad(); loss.backward(); optimizer.step()

``output`` equals ``model(x)`` and ``penalty`` equals the functional penalty of
:mod:`dreg_utils.penalties` on the same batch; both come from one forward pass:

* ``"dreg"``: the CR-penalty of the DREG paper, (1/L) sum_l E_batch[d_l(x)] with
  d_l(x) = sum_j phi'(z_j^(l))^2 ||W_j,:^(l)||^2 (eqs. 4-5; the linear output layer has
  phi' = 1). The pre-activations z^(l) = W^(l) h^(l-1) + b^(l) (eq. 2) of the forward pass
  give both h^(l) = phi(z^(l)) and d_l, so no backward pass is needed for the penalty.
  ``model``: a :class:`~dreg_utils.models.CompactMLP` or an ``nn.Sequential`` of Linear
  layers and elementwise activations.
* ``"jacobian"``: E_batch ||J_x f(x)||_F^2 ("Teaching the Teacher"), from backward passes
  through the output already computed: one per output value of a sample (``n_projections=None``,
  exact) or one per projection v with E[v v^T] = I (unbiased; ``distribution`` "rademacher",
  the default shared with :func:`~dreg_utils.penalties.jacobian_penalty`, "gaussian" or
  "sphere").
* ``"igp"``: with targets ``y``, E_batch ||grad_x loss(f(x_i), y_i)||^2 (``loss`` "mse" or
  "ce"); without, E_batch ||J_x f(x)||_F^2 (the exact Jacobian penalty).
* ``"none"`` (also called ``"base"``): a zero penalty, so one loop serves every method.

Normalisation: the penalty is the batch mean with no factor 1/2. JacobianReg (Hoffman et al.,
2019) returns half the batch mean of its sphere-projection estimate, so its lambda is twice ours
for the same training objective. The output needs one row per sample, of shape (n,), (n, k) or
(n, k1, k2, ...); each sample's output is flattened. The input-gradient and Jacobian penalties
differentiate through ``x``: they need gradients enabled, and models whose samples interact
(batch normalisation in training mode) or that are random on every call (dropout in training
mode) are refused. Empty batches, non-finite ``x`` or ``y``, bool targets, an ``x`` of another dtype
than the model's parameters and one made under ``torch.inference_mode`` (outside it, with gradients
enabled) are refused before any work; targets that do not fit the output (class indices out of
range included) before any backward pass.
"""
from __future__ import annotations

import torch
from torch import nn

from .jacobians import (LOSSES, check_grad_enabled, check_output, check_samples_independent, check_target_batch,
                        check_targets, jacobian_sq_of_output, per_sample_loss, projected_jacobian_sq_of_output,
                        squared_gradient)
from .models import CompactMLP
from .penalties import dreg_penalty
from .sequential import check_batch, sequential_output_and_dreg_penalty
from .validation import check_choice, check_int
from .vocabulary import DEFAULT_PROJECTION, PROJECTIONS, method_key


class Regulariser:
    """Callable ``reg(model, x, y=None) -> (model(x), penalty)`` for one penalty ``method``.

    Args:
        method: "none" (or "base"), "dreg", "jacobian" or "igp" (see the module docstring); the
            attribute ``method`` holds the vocabulary's key ("base" for "none").
        n_projections: "jacobian" only: None for the exact penalty, else the number of
            random projections per sample.
        distribution: "jacobian" with projections: "rademacher" (``DEFAULT_PROJECTION``),
            "gaussian" or "sphere".
        loss: "igp" only (the one method whose penalty uses the targets): "mse" (squared error
            averaged over outputs; None, the default, means "mse") or "ce". Refused for the others.
        generator: "jacobian" with projections: the random generator of the projections.
    """

    def __init__(self, method: str, n_projections: int | None = None, distribution: str = DEFAULT_PROJECTION,
                 loss: str | None = None, generator: torch.Generator | None = None):
        self.method = method_key(method, "regulariser")
        if n_projections is not None:
            if method != "jacobian":
                raise ValueError(f"n_projections={n_projections!r} applies only to method='jacobian', "
                                 f"not method={method!r}; leave it None")
            check_int("n_projections", n_projections, minimum=1)
        self.n_projections = n_projections
        self.distribution = check_choice("distribution", distribution, PROJECTIONS)
        if self.method == "igp":
            self.loss = "mse" if loss is None else check_choice("loss", loss, LOSSES)
        elif loss is not None:
            raise ValueError(f"loss={loss!r} applies only to method='igp' (the one method whose penalty uses the "
                             f"targets y), not method={method!r}; leave it out")
        else:
            self.loss = None
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.generator = generator

    def __repr__(self) -> str:
        extra = ""
        if self.method == "jacobian" and self.n_projections:
            extra = f", n_projections={self.n_projections}, distribution={self.distribution!r}"
        elif self.loss == "ce":
            extra = ", loss='ce'"
        return f"Regulariser({self.method!r}{extra})"

    def __call__(self, model: nn.Module, x: torch.Tensor,
                 y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(model(x), penalty)`` from one forward pass; ``penalty`` is differentiable in the
        parameters. ``y`` is used by "igp" alone (the other methods check its rows and values, then
        ignore it)."""
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        x = check_batch(model, x)
        if y is not None:
            check_target_batch(y, x)
        if self.method == "base":
            output = model(x)
            return output, output.new_zeros(())
        if self.method == "dreg":
            return self._dreg(model, x)
        check_grad_enabled(f"Regulariser({self.method!r})")
        check_samples_independent(model)
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        output = model(x)
        check_output(output, x)
        if self.method == "igp" and y is not None:
            check_targets(output, y, self.loss)
            losses = per_sample_loss(output, y, self.loss)
            return output, squared_gradient(losses.sum(), x, create_graph=True).mean()
        if self.method == "jacobian" and self.n_projections is not None:
            sq = projected_jacobian_sq_of_output(output, x, self.n_projections, self.generator,
                                                 create_graph=True, distribution=self.distribution)
        else:
            sq = jacobian_sq_of_output(output, x, create_graph=True)
        return output, sq.mean()

    @staticmethod
    def _dreg(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(model, CompactMLP):
            trace = model.trace(x)
            return trace.output, dreg_penalty(model, trace=trace)
        if isinstance(model, nn.Sequential):
            return sequential_output_and_dreg_penalty(model, x)
        raise TypeError(f"method='dreg' needs a CompactMLP or an nn.Sequential of Linear layers and "
                        f"elementwise activations, got {type(model).__name__}")
