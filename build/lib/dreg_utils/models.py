"""The compact multilayer perceptron studied in the DREG paper (Section 4.2, Appendix A.3).

Layer l computes z^(l) = W^(l) h^(l-1) + b^(l) (eq. 2) and h^(l) = phi(z^(l)) for the
hidden layers; the output layer is linear. A forward pass can also return the
pre-activations z^(l) and the weights it used, which is all the CR-penalty needs
(forward-mode sensitivity, no double backprop).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .activations import make_activation
from .validation import check_bool, check_hidden, check_int


class ForwardTrace(NamedTuple):
    """Output of a traced forward pass."""

    output: torch.Tensor
    preactivations: list[torch.Tensor]  # z^(1..L-1), one per hidden layer, each (batch, width)
    weights: list[torch.Tensor]  # W^(1..L) as used in this pass (spectral-normalised if SN)


class CompactMLP(nn.Module):
    """MLP ``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``.

    Args:
        in_features: input dimension d.
        hidden: widths of the hidden layers, e.g. ``(32, 16)``.
        out_features: output dimension (1 for regression, 10 for MNIST).
        activation: ``"relu"`` or ``"poly"`` (see :mod:`dreg_utils.activations`).
        spectral_norm: wrap every linear layer in
            ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al., 2018).
        trainable_poly: make the polynomial coefficients trainable parameters.
    """

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] | list[int],
        out_features: int,
        activation: str = "relu",
        spectral_norm: bool = False,
        trainable_poly: bool = False,
    ):
        super().__init__()
        widths = (check_int("in_features", in_features, 1), *check_hidden("hidden", hidden),
                  check_int("out_features", out_features, 1))
        self.in_features = widths[0]
        self.activation_name = activation
        self.uses_spectral_norm = check_bool("spectral_norm", spectral_norm)
        check_bool("trainable_poly", trainable_poly)
        layers = [nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(widths[:-1], widths[1:])]
        if spectral_norm:  # wrapped after every weight is drawn: the power-iteration vectors
            layers = [_spectral_norm(layer) for layer in layers]  # shift no layer's initial weights
        self.layers = nn.ModuleList(layers)
        self.activations = nn.ModuleList(
            make_activation(activation, trainable=trainable_poly) for _ in widths[1:-1]
        )

    @classmethod
    def seeded(cls, seed: int, *args, **kwargs) -> "CompactMLP":
        """Build the model with its initialisation drawn from ``seed`` (global RNG untouched)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_int("seed", seed, minimum=0))
            return cls(*args, **kwargs)

    @property
    def depth(self) -> int:
        """L, the number of linear layers (hidden layers + output layer)."""
        return len(self.layers)

    def trace(self, x: torch.Tensor) -> ForwardTrace:
        """Forward pass that also returns pre-activations and the weights used."""
        h = x
        zs, ws = [], []
        for layer, act in zip(self.layers[:-1], self.activations):
            w = layer.weight
            z = nn.functional.linear(h, w, layer.bias)
            h = act(z)
            zs.append(z)
            ws.append(w)
        last = self.layers[-1]
        w = last.weight
        ws.append(w)
        return ForwardTrace(nn.functional.linear(h, w, last.bias), zs, ws)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer, act in zip(self.layers[:-1], self.activations):
            h = act(layer(h))
        return self.layers[-1](h)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def n_parameters(hidden: str | list[int], in_features: int = 784, out_features: int = 10) -> int:
    """Weights and biases of the MLP in -> hidden -> out (hidden as [32, 16] or "32-16"):
    sum_l (fan_in + 1) fan_out; the defaults are MNIST's 784 pixels and 10 classes."""
    widths = [in_features, *(map(int, hidden.split("-")) if isinstance(hidden, str) else hidden), out_features]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def check_input(model: nn.Module, x: Any, name: str = "x") -> torch.Tensor:
    """``x`` as a model input: a 2-D floating-point tensor of finite values with one column per
    input feature of ``model`` (checked when the model has ``in_features``, as CompactMLP does)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or not x.is_floating_point():
        raise ValueError(f"{name} must be a 2-D floating-point tensor (samples, features), "
                         f"got shape {tuple(x.shape)} and dtype {x.dtype}")
    expected = getattr(model, "in_features", None)
    if expected is not None and x.shape[1] != expected:
        raise ValueError(f"{name} has {x.shape[1]} features (shape {tuple(x.shape)}) but the model "
                         f"takes in_features={expected}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x
