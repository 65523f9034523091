"""The five synthetic function families of the DREG paper (Appendix A.2).

Inputs are x ~ U(-1, 1)^d. Each family draws its function from ``seed`` and
then draws the train/validation/test inputs and the label noise from the same
generator, so one seed fixes the whole dataset:

* ``smooth``: y = sum_{k=1..5} sin(w_k . x), w_k ~ N(0, 0.5^2 I_d)  (low frequency).
* ``piecewise``: y = sum_{j=1..d} |x_j - tau_j|, tau_j ~ U(-0.5, 0.5)  (kinks).
* ``sparse``: the smooth construction on 20% of the coordinates (d_eff = 2 for d = 10),
  with w_k ~ N(0, I) on those coordinates; the other 80% are irrelevant.
* ``oscillatory``: the smooth construction with w_k ~ N(0, 5^2 I_d)  (high frequency).
* ``entangled``: a random tanh MLP d -> 32 -> 32 -> 1 with weights N(0, 4 / fan_in)
  (dense non-linear interactions).

The clean signal is centred and scaled to unit variance with the training split's
statistics; then Gaussian label noise of standard deviation ``noise`` is added, so
the irreducible test MSE is noise^2 for every family.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_choice, check_float, check_int
from ..vocabulary import FAMILIES


@dataclass(frozen=True)
class Splits:
    """Train/validation/test tensors (float32, y of shape (n, 1)) and a description."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str


def _sum_of_sines(rng: np.random.Generator, d: int, active: int, scale: float):
    coords = rng.choice(d, size=active, replace=False)
    w = rng.normal(0.0, scale, size=(5, active))
    return lambda x: np.sin(x[:, coords] @ w.T).sum(axis=1)


def _piecewise(rng: np.random.Generator, d: int):
    tau = rng.uniform(-0.5, 0.5, size=d)
    return lambda x: np.abs(x - tau).sum(axis=1)


def _entangled(rng: np.random.Generator, d: int):
    sizes = (d, 32, 32, 1)
    weights = [rng.normal(0.0, 2.0 / np.sqrt(a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]

    def f(x):
        h = x
        for w in weights[:-1]:
            h = np.tanh(h @ w)
        return (h @ weights[-1])[:, 0]

    return f


def target_function(family: str, d: int, rng: np.random.Generator):
    """Draw the clean target function of ``family`` in dimension ``d`` from ``rng``."""
    check_choice("family", family, FAMILIES)
    if family == "smooth":
        return _sum_of_sines(rng, d, d, 0.5)
    if family == "oscillatory":
        return _sum_of_sines(rng, d, d, 5.0)
    if family == "sparse":
        return _sum_of_sines(rng, d, max(1, round(0.2 * d)), 1.0)
    if family == "piecewise":
        return _piecewise(rng, d)
    return _entangled(rng, d)


def make_family(family: str, n_train: int = 2000, n_val: int = 500, n_test: int = 1000,
                d: int = 10, noise: float = 0.1, seed: int = 0) -> Splits:
    """Generate one synthetic family's splits (defaults: the paper's sizes)."""
    check_choice("family", family, FAMILIES)
    n_train, n_val, n_test = (check_int(n, v, 1) for n, v in
                              (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)))
    d = check_int("d", d, minimum=1)
    noise = check_float("noise", noise, minimum=0.0)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    f = target_function(family, d, rng)
    x = rng.uniform(-1.0, 1.0, size=(n_train + n_val + n_test, d))
    clean = f(x)
    mu, sd = clean[:n_train].mean(), clean[:n_train].std()
    y = (clean - mu) / sd + noise * rng.normal(size=clean.shape)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    a, b = n_train, n_train + n_val
    return Splits(xt[:a], yt[:a], xt[a:b], yt[a:b], xt[b:], yt[b:],
                  source=f"synthetic/{family} (d={d}, noise={noise}, seed={seed})")
