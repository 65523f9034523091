"""Notebook 09, "Use it in your own model": a plain ``nn.Sequential`` trained with each penalty.

The notebook writes its own ten-line training loop around :class:`dreg_utils.Regulariser`;
this module holds what surrounds it: the settings, the data (one synthetic family of the
DREG paper, data seed 0), the measurements of a trained model (test MSE and the tail of
||grad_x f|| on the test split), the run table and its summary, and the table of penalty
conventions (ours against JacobianReg's).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
import torch
from torch import nn

from ..data.synthetic import FAMILIES, Splits, make_family
from ..jacobians import jacobian_sq_frobenius
from ..metrics import input_gradient_norms, tail_stats
from ..penalties import dreg_penalty
from ..regulariser import Regulariser
from ..runs import seed_summary
from ..constraints import (COUNT, DEVICE, EPOCHS, MAX_COUNT, NONNEGATIVE, POSITIVE, SEEDS, WIDTH, Interval, ListOf,
                           Nullable, Options, Widths)
from ..settings import StudySettings, knob
from ..files import write_table
from ..device import resolve_device
from ..validation import check_int
from ..vocabulary import DEFAULT_PROJECTION, PROJECTIONS, REGULARISER_METHODS

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}  # the torch modules of the page's own MLP
METRICS = ("test_mse", "grad_mean", "grad_p99", "grad_max", "train_s")
INPUTS = 10  # the synthetic families' input dimension d (DREG paper, Appendix A.2)


@dataclass(frozen=True)
class OwnModelSettings(StudySettings):
    """A user's own MLP trained with each penalty (notebook 09). The papers report no such
    experiment: every value is ours; the ``paper`` profile takes the synthetic protocol's sizes
    (2,000 training and 1,000 test points, d = 10), five seeds and lambda = 1e-2 for every
    penalty (the largest strength of the DREG paper's grid, matched across methods as it matches IGP's)."""

    family: str = knob("piecewise", Options(*FAMILIES))
    activations: list[str] = knob(["relu", "tanh"], ListOf(Options(*ACTIVATIONS), unique=True))
    methods: list[str] = knob(list(REGULARISER_METHODS),
                              ListOf(Options(*REGULARISER_METHODS), unique=True, reference="none"))
    dreg_lam: float = knob(1e-2, NONNEGATIVE)
    jacobian_lam: float = knob(1e-2, NONNEGATIVE)
    igp_lam: float = knob(1e-2, NONNEGATIVE)
    n_projections: int | None = knob(1, Nullable(COUNT))  # None: the exact Jacobian penalty
    distribution: str = knob(DEFAULT_PROJECTION, Options(*PROJECTIONS))
    seeds: list[int] = knob([0, 1, 2], SEEDS)
    # two widths: the page's model is 10 -> h1 -> h2 -> 1
    hidden: list[int] = knob([64, 64], Widths(WIDTH, min_length=2, max_length=2))
    epochs: int = knob(40, EPOCHS)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(3e-3, POSITIVE)
    weight_decay: float = knob(0.0, NONNEGATIVE)
    n_train: int = knob(1000, Interval(int, 2, None, limit=MAX_COUNT))
    n_test: int = knob(1000, Interval(int, 2, None, limit=MAX_COUNT))
    noise: float = knob(0.1, NONNEGATIVE)
    device: str = knob("cpu", DEVICE)

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(seeds=[0], hidden=[16, 16], epochs=3, n_train=256, n_test=256),
        "paper": dict(seeds=[0, 1, 2, 3, 4], epochs=100, n_train=2000, device="auto"),
    }


def validate(settings: Mapping) -> OwnModelSettings:
    """The settings checked and completed (see :class:`OwnModelSettings`)."""
    return OwnModelSettings.coerce(settings)


def load_data(settings: Mapping) -> Splits:
    """The family's train and test splits (data seed 0, on the settings' device; the validation
    split holds one point, as nothing is tuned here)."""
    s = validate(settings)
    data = make_family(s.family, n_train=s.n_train, n_val=1, n_test=s.n_test, d=INPUTS, noise=s.noise, seed=0)
    device = resolve_device(s.device)
    return Splits(data.x_train.to(device), data.y_train.to(device), data.x_val, data.y_val,
                  data.x_test.to(device), data.y_test.to(device), source=data.source)


def regularisers(settings: Mapping) -> dict[str, tuple[Regulariser, float]]:
    """Each method of the settings: its :class:`Regulariser` and its strength lambda."""
    s = validate(settings)
    made = {"none": (Regulariser("none"), 0.0), "dreg": (Regulariser("dreg"), s.dreg_lam),
            "jacobian": (Regulariser("jacobian", n_projections=s.n_projections, distribution=s.distribution),
                         s.jacobian_lam),
            "igp": (Regulariser("igp", loss="mse"), s.igp_lam)}
    return {method: made[method] for method in s.methods}


def measure(model: nn.Module, data: Splits) -> dict:
    """Test MSE and the mean, p99 and max of ||grad_x f(x)|| over the test split."""
    model.eval()
    with torch.no_grad():
        mse = float(torch.nn.functional.mse_loss(model(data.x_test), data.y_test))
    tails = tail_stats(input_gradient_norms(model, data.x_test))
    model.train()
    return {"test_mse": mse, "grad_mean": tails["mean"], "grad_p99": tails["p99"], "grad_max": tails["max"]}


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation and method: seed means of every metric, the seed sd of the test MSE and of
    p99, and p99 and test MSE relative to the unregularised run of the same activation."""
    summary = seed_summary(runs, ["activation", "method", "lam"], list(METRICS), std_of=["test_mse", "grad_p99"])
    reference = summary[summary["method"] == "none"].set_index("activation")
    for metric in ("grad_p99", "test_mse"):
        summary[f"{metric}_vs_none"] = summary[metric] / summary["activation"].map(reference[metric])
    return summary


def save_runs(runs: pd.DataFrame, folder: str | Path) -> Path:
    """Write the run table (one row per activation, method and seed) atomically as runs.csv."""
    missing = sorted({"activation", "method", "seed", *METRICS} - set(runs.columns))
    if missing:
        raise ValueError(f"the run table lacks the columns {missing}")
    return write_table(runs, Path(folder) / "runs.csv")


def conventions(model: nn.Module, x: torch.Tensor, n_projections: int = 1,
                generator: torch.Generator | None = None) -> pd.DataFrame:
    """One batch's penalty values under each convention (``model``: a CompactMLP or an
    nn.Sequential of Linear layers and elementwise activations): per ``convention`` ("jacobian",
    "jacobianreg", "dreg") its ``value``, ``lambda_factor`` (its lambda for our training objective,
    in units of our lambda) and ``projections`` (random projections averaged; 0: exact).

    Ours: E_b ||J_x f(x_b)||_F^2 (exact), the CR-penalty (1/L) sum_l E_b d_l(x) (DREG eq. 5).
    JacobianReg (Hoffman et al., 2019): v uniform on the unit sphere of R^k, the estimate
    k ||v^T J||^2 averaged over the batch and the projections, then halved: written out here
    from that definition, independently of :mod:`dreg_utils.jacobians`."""
    n_projections = check_int("n_projections", n_projections, minimum=1)
    model.eval()
    exact, _ = jacobian_sq_frobenius(model, x)
    xg = x.detach().requires_grad_(True)
    out = model(xg)
    k, estimate = out.shape[1], 0.0
    for _ in range(n_projections):
        v = torch.randn(out.shape, generator=generator).to(out)
        v = v / v.norm(dim=1, keepdim=True)
        (g,) = torch.autograd.grad((out * v).sum(), xg, retain_graph=True)
        estimate += k * float(g.pow(2).sum()) / (x.shape[0] * n_projections)
    dreg = float(dreg_penalty(model, x).detach())
    model.train()
    rows = [("jacobian", float(exact.mean()), 1.0, 0), ("jacobianreg", estimate / 2, 2.0, n_projections),
            ("dreg", dreg, 1.0, 0)]
    return pd.DataFrame(rows, columns=["convention", "value", "lambda_factor", "projections"])
