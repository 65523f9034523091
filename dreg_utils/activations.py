"""Elementwise activations with their analytic derivatives.

The CR-penalty (DREG paper, eq. 4) needs phi'(z) at every hidden unit, so each
activation here exposes ``derivative(z)`` next to its forward map.

* ReLU: phi(z) = max(z, 0), phi'(z) = 1[z > 0] (we take phi'(0) = 0, as autograd does).
* Poly: phi(z) = c1 z + c2 z^2, phi'(z) = c1 + 2 c2 z. A degree-2 polynomial with
  c1 = 1, c2 = 0.1 by default: close to the identity near 0 (stable at
  initialisation, so it trains without NaN across the MNIST capacities) and
  non-linear enough to be a universal approximator in a composition. The
  coefficients are fixed buffers, or trainable parameters with ``trainable=True``.
* Tanh: phi(z) = tanh(z), phi'(z) = 1 - tanh(z)^2 (its CR-penalty is differentiated by
  autograd; the synthetic ablation uses it).
"""
from __future__ import annotations

import torch
from torch import nn

from .validation import check_choice, check_float
from .vocabulary import ACTIVATIONS


class ReLU(nn.Module):
    """phi(z) = max(z, 0); phi'(z) = 1[z > 0]."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.relu(z)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        return (z > 0).to(z.dtype)


class Poly(nn.Module):
    """phi(z) = c1 z + c2 z^2; phi'(z) = c1 + 2 c2 z."""

    def __init__(self, c1: float = 1.0, c2: float = 0.1, trainable: bool = False):
        super().__init__()
        coefficients = torch.tensor(
            [check_float("c1", c1), check_float("c2", c2)], dtype=torch.get_default_dtype()
        )
        if trainable:
            self.coefficients = nn.Parameter(coefficients)
        else:
            self.register_buffer("coefficients", coefficients)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c1, c2 = self.coefficients
        return z * (c1 + c2 * z)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        c1, c2 = self.coefficients
        return c1 + 2.0 * c2 * z


class Tanh(nn.Module):
    """phi(z) = tanh(z); phi'(z) = 1 - tanh(z)^2."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.tanh(z).pow(2)


def make_activation(name: str, trainable: bool = False) -> nn.Module:
    """Build the activation called ``name`` (one of ``ACTIVATIONS``); ``trainable`` applies to poly."""
    check_choice("activation", name, ACTIVATIONS)
    return {"relu": ReLU, "tanh": Tanh}.get(name, lambda: Poly(trainable=trainable))()
