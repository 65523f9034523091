"""The compact multilayer perceptron studied in the DREG paper (Section 4.2, Appendix A.3).

Layer l computes z^(l) = W^(l) h^(l-1) + b^(l) (eq. 2) and h^(l) = phi(z^(l)) for the
hidden layers; the output layer is linear. A forward pass can also return the
pre-activations z^(l) and the weights it used, which is all the CR-penalty needs
(forward-mode sensitivity, no double backprop).

Spectral normalisation (:data:`~dreg_utils.vocabulary.SN_MODES`) replaces a layer's W by
W / sigma(W), sigma the top singular value estimated by one power-iteration step per training
forward pass (``torch.nn.utils.parametrizations.spectral_norm``): on every layer ("all"), on the
hidden layers only ("hidden": the output layer is free), or on every layer with the output layer's
weight multiplied by a learnable scalar exp(s) ("scaled": s = ``output_log_scale`` starts at 0, so
the network starts as "all"; the network's Lipschitz bound is exp(s) instead of 1).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .activations import make_activation
from .validation import check_bool, check_choice, check_hidden, check_int
from .vocabulary import METHODS, SN_MODES


class ForwardTrace(NamedTuple):
    """Output of a traced forward pass."""

    output: torch.Tensor
    preactivations: list[torch.Tensor]  # z^(1..L-1), one per hidden layer, each (batch, width)
    weights: list[torch.Tensor]  # W^(1..L) as used in this pass (spectral-normalised and scaled if SN)


class CompactMLP(nn.Module):
    """MLP ``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``.

    Args:
        in_features: input dimension d.
        hidden: widths of the hidden layers, e.g. ``(32, 16)``.
        out_features: output dimension (1 for regression, 10 for MNIST).
        activation: ``"relu"`` or ``"poly"`` (see :mod:`dreg_utils.activations`).
        spectral_norm: wrap linear layers in
            ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al., 2018).
        sn_mode: which layers, with ``spectral_norm``: "all", "hidden" or "scaled" (every layer and
            a learnable output scale exp(``output_log_scale``)); see the module docstring.
        trainable_poly: make the polynomial coefficients trainable parameters.

    ``sn_mode`` is the mode in use (None without spectral normalisation); ``output_log_scale`` the
    scalar parameter s of "scaled" (None otherwise).
    """

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] | list[int],
        out_features: int,
        activation: str = "relu",
        spectral_norm: bool = False,
        trainable_poly: bool = False,
        sn_mode: str = "all",
    ):
        super().__init__()
        widths = (check_int("in_features", in_features, 1), *check_hidden("hidden", hidden),
                  check_int("out_features", out_features, 1))
        self.in_features = widths[0]
        self.activation_name = activation
        self.uses_spectral_norm = check_bool("spectral_norm", spectral_norm)
        check_bool("trainable_poly", trainable_poly)
        check_choice("sn_mode", sn_mode, SN_MODES)
        if not spectral_norm and sn_mode != "all":
            raise ValueError(f"sn_mode={sn_mode!r} needs spectral_norm=True")
        self.sn_mode = sn_mode if spectral_norm else None
        layers = [nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(widths[:-1], widths[1:])]
        if spectral_norm:  # wrapped after every weight is drawn: the power-iteration vectors
            last = len(layers) - 1  # shift no layer's initial weights
            layers = [layer if l == last and sn_mode == "hidden" else _spectral_norm(layer)
                      for l, layer in enumerate(layers)]
        self.layers = nn.ModuleList(layers)
        self.output_log_scale = nn.Parameter(torch.zeros(())) if self.sn_mode == "scaled" else None
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
        w = self._output_weight()
        ws.append(w)
        return ForwardTrace(nn.functional.linear(h, w, self.layers[-1].bias), zs, ws)

    def _output_weight(self) -> torch.Tensor:
        """The output layer's weight as a forward pass uses it: times exp(s) when "scaled"."""
        w = self.layers[-1].weight
        return w if self.output_log_scale is None else w * self.output_log_scale.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer, act in zip(self.layers[:-1], self.activations):
            h = act(layer(h))
        if self.output_log_scale is None:
            return self.layers[-1](h)
        return nn.functional.linear(h, self._output_weight(), self.layers[-1].bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def spectral_norm_options(method: str) -> dict[str, Any]:
    """The CompactMLP keywords of ``method``'s spectral normalisation (a key or alias of the
    vocabulary): ``{"spectral_norm": True, "sn_mode": ...}`` for an SN method, else
    ``{"spectral_norm": False}``."""
    if method not in _SN_MODE_OF:
        check_choice("method", method, _SN_MODE_OF)  # raises, naming the methods
    mode = _SN_MODE_OF[method]
    return {"spectral_norm": False} if mode is None else {"spectral_norm": True, "sn_mode": mode}


# Every method key and alias -> its SN mode (None: no spectral normalisation).
_SN_MODE_OF = {name: m.sn_mode for key, m in METHODS.items() for name in (key, *m.aliases)}


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
