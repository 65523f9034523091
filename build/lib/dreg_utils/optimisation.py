"""Known objectives on a box and the optimisers that minimise a surrogate of them.

Objectives: Rosenbrock and Rastrigin (closed-form gradients) and two of the DREG paper's
synthetic families (gradients by autograd), each on a box [lower, upper]^d with its minimum
value f*. Optimisers: gradient descent x <- x - eta grad s(x) and ``torch.optim.LBFGS`` with a
strong-Wolfe line search per start; both record every iterate so that leaving the box and
divergence (a non-finite iterate, or one more than ``DIVERGE_WIDTHS`` widths outside) are
measured per step.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .models import CompactMLP
from .validation import check_choice, check_float, check_int

OBJECTIVES = ("rosenbrock", "rastrigin", "piecewise", "smooth")
DIVERGE_WIDTHS = 10.0
RASTRIGIN_A = 1.0


@dataclass(frozen=True)
class Objective:
    """A known objective on the box [lower, upper]^d with its gradient and minimum value f*."""

    name: str
    d: int
    lower: float
    upper: float
    value: Callable[[torch.Tensor], torch.Tensor]  # (n, d) -> (n,)
    gradient: Callable[[torch.Tensor], torch.Tensor]  # (n, d) -> (n, d)
    f_star: float | None  # None: estimated by :func:`estimate_minimum`

    @property
    def width(self) -> float:
        return self.upper - self.lower


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at (1, ..., 1)."""
    a, b = x[:, :-1], x[:, 1:]
    return (100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2).sum(dim=1)


def rosenbrock_gradient(x: torch.Tensor) -> torch.Tensor:
    """df/dx_i = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) + 200 (x_i - x_{i-1}^2)."""
    a, b = x[:, :-1], x[:, 1:]
    g = torch.zeros_like(x)
    g[:, :-1] += -400.0 * a * (b - a**2) - 2.0 * (1.0 - a)
    g[:, 1:] += 200.0 * (b - a**2)
    return g


def rastrigin(x: torch.Tensor) -> torch.Tensor:
    """A mild Rastrigin: f(x) = sum_i x_i^2 + A (1 - cos(2 pi x_i)), A = 1; minimum 0 at 0,
    local minima near the other integer points."""
    return (x**2 + RASTRIGIN_A * (1.0 - torch.cos(2 * math.pi * x))).sum(dim=1)


def rastrigin_gradient(x: torch.Tensor) -> torch.Tensor:
    """df/dx_i = 2 x_i + 2 pi A sin(2 pi x_i)."""
    return 2.0 * x + 2 * math.pi * RASTRIGIN_A * torch.sin(2 * math.pi * x)


def family_function(family: str, d: int, seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """Torch re-implementation of ``data.synthetic.target_function(family, d, default_rng(seed))``
    for ``smooth`` (sum_k sin(w_k . x)) and ``piecewise`` (sum_j |x_j - tau_j|): the same draws
    from the same generator, so the values agree with the NumPy function."""
    rng = np.random.default_rng(seed)
    if family == "smooth":
        coords = torch.as_tensor(rng.choice(d, size=d, replace=False))
        w = torch.as_tensor(rng.normal(0.0, 0.5, size=(5, d)))
        return lambda x: torch.sin(x[:, coords] @ w.to(x.dtype).T).sum(dim=1)
    if family == "piecewise":
        tau = torch.as_tensor(rng.uniform(-0.5, 0.5, size=d))
        return lambda x: (x - tau.to(x.dtype)).abs().sum(dim=1)
    raise ValueError(f"family={family!r} is not valid; choose one of ['smooth', 'piecewise']")


def autograd_gradient(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """grad f by autograd (the rows of x are independent, so grad of sum f = per-row gradients)."""
    def gradient(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(xg).sum(), xg)
        return g
    return gradient


def make_objective(name: str) -> Objective:
    """The objectives of the study: Rosenbrock and Rastrigin in d = 2 on [-2, 2]^2, and the
    synthetic families ``piecewise`` (f* = 0 at tau) and ``smooth`` in d = 5 on [-1, 1]^5."""
    check_choice("objective", name, OBJECTIVES)
    if name == "rosenbrock":
        return Objective(name, 2, -2.0, 2.0, rosenbrock, rosenbrock_gradient, 0.0)
    if name == "rastrigin":
        return Objective(name, 2, -2.0, 2.0, rastrigin, rastrigin_gradient, 0.0)
    f = family_function(name, 5)
    return Objective(name, 5, -1.0, 1.0, f, autograd_gradient(f), 0.0 if name == "piecewise" else None)


def uniform(objective: Objective, n: int, seed: int) -> torch.Tensor:
    """n points uniform in the objective's box (float64), drawn from ``seed``."""
    n = check_int("n", n, minimum=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    return objective.lower + objective.width * torch.rand(n, objective.d, generator=g, dtype=torch.float64)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cos = <a_i, b_i> / (||a_i|| ||b_i||); 0 where either row is zero."""
    denom = a.norm(dim=1) * b.norm(dim=1)
    dot = (a * b).sum(dim=1)
    return torch.where(denom > 0, dot / denom.clamp_min(torch.finfo(denom.dtype).tiny), torch.zeros_like(dot))


def outside(x: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """True for the rows of x with a coordinate outside [lower, upper] (or non-finite)."""
    return ~((x >= lower) & (x <= upper)).all(dim=1)


def diverged(x: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """True for rows that are non-finite or more than ``DIVERGE_WIDTHS`` box widths outside."""
    margin = DIVERGE_WIDTHS * (upper - lower)
    return ~((x >= lower - margin) & (x <= upper + margin)).all(dim=1)


@dataclass
class Descent:
    """Outcome of one optimiser from n starts: final points, exit/divergence flags, paths."""

    final: torch.Tensor  # (n, d), the last finite iterate
    left_domain: torch.Tensor  # (n,) bool: some iterate left the box
    diverged: torch.Tensor  # (n,) bool
    paths: list[list[list[float]]]  # the first ``keep`` starts' iterates


def gradient_descent(gradient: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, step: float,
                     steps: int, lower: float, upper: float, keep: int = 0) -> Descent:
    """x_{t+1} = x_t - step * gradient(x_t) for all starts at once; a start that diverges
    is frozen at its last finite iterate."""
    check_float("step", step, strictly_positive=True)
    check_int("steps", steps, minimum=0)
    check_int("keep", keep, minimum=0)
    x = starts.clone()
    left = torch.zeros(len(x), dtype=torch.bool)
    gone = torch.zeros(len(x), dtype=torch.bool)
    paths = [[row.tolist()] for row in x[:keep]]
    for _ in range(steps):
        new = x - step * gradient(x)
        bad = diverged(new, lower, upper) & ~gone
        gone |= bad
        x = torch.where(gone[:, None], x, new)
        left |= outside(new, lower, upper)
        for path, row in zip(paths, x[:keep]):
            path.append(row.tolist())
    return Descent(x, left, gone, paths)


def lbfgs(value: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, steps: int,
          lower: float, upper: float, keep: int = 0) -> Descent:
    """``torch.optim.LBFGS`` (strong-Wolfe line search) on each start separately, ``steps``
    iterations recorded one by one; a start stops when it diverges."""
    check_int("steps", steps, minimum=0)
    check_int("keep", keep, minimum=0)
    finals, left, gone, paths = [], [], [], []
    for i, start in enumerate(starts):
        x = start.clone()[None].requires_grad_(True)
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = value(x).sum()
            loss.backward()
            return loss

        last, exited, broke, path = start.clone(), False, False, [start.tolist()]
        for _ in range(steps):
            opt.step(closure)
            now = x.detach()
            if bool(diverged(now, lower, upper)[0]):
                broke = True
                break
            exited |= bool(outside(now, lower, upper)[0])
            last = now[0].clone()
            path.append(last.tolist())
        finals.append(last)
        left.append(exited or broke)
        gone.append(broke)
        if i < keep:
            paths.append(path)
    return Descent(torch.stack(finals), torch.tensor(left), torch.tensor(gone), paths)


def surrogate_gradient(model: CompactMLP) -> Callable[[torch.Tensor], torch.Tensor]:
    """grad_x s(x) of a scalar-output model, in float64 inputs and outputs."""
    return autograd_gradient(lambda x: model(x.float())[:, 0].double())


def estimate_minimum(objective: Objective, n: int = 4096, seed: int = 12345) -> float:
    """f* if known; else the least f over n uniform points and projected true-gradient descent
    from the best 64 of them (an upper bound on f*, tight up to the descent's accuracy)."""
    if objective.f_star is not None:
        return objective.f_star
    x = uniform(objective, n, seed)
    fx = objective.value(x)
    x = x[fx.argsort()[:64]]
    step = 0.01 * objective.width**2
    for _ in range(500):
        x = (x - step * objective.gradient(x)).clamp(objective.lower, objective.upper)
    return float(min(fx.min(), objective.value(x).min()))
