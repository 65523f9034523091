#!/usr/bin/env python
"""Variance of the one-projection estimates of ||J||_F^2, per projection distribution.

For one sample with input Jacobian J (k outputs) and A = J J^T, one projection v with
E[v v^T] = I gives the unbiased estimate ||v^T J||^2 = v^T A v of tr(A) = ||J||_F^2. Its
variance, relative to ||J||_F^4:

* Gaussian v ~ N(0, I_k):          2 ||A||_F^2 / tr(A)^2
* Rademacher v (entries +-1):      2 (||A||_F^2 - sum_k A_kk^2) / tr(A)^2
* sphere v = sqrt(k) u, u uniform: 2 (k ||A||_F^2 - tr(A)^2) / ((k + 2) tr(A)^2)

(the last two are 0 for k = 1: exact). This script draws many single projections through
:func:`dreg_utils.jacobians.projected_jacobian_sq` on small float64 MLPs (``CompactMLP``), measures each
sample's variance over the draws relative to its exact ||J||_F^4 (by
``jacobian_sq_frobenius``), averages over the batch, and puts the formulas beside it.

    python benchmarks/bench_projections.py                 # the table (seconds)
    python benchmarks/bench_projections.py --quick         # fewer draws: checks that it runs
    python benchmarks/bench_projections.py --out benchmarks/results

With ``--out DIR`` the table goes to ``DIR/projections.csv`` (one row per model and
distribution: measured and predicted relative variance, the variance reduction factor against
the Gaussian projection) and the machine to ``DIR/projections.meta.json``; the performance
chapter reads them.
"""
from __future__ import annotations

import argparse

import pandas as pd
import torch
from torch import nn

from dreg_utils.jacobians import jacobian_sq_frobenius, projected_jacobian_sq
from dreg_utils.models import CompactMLP
from dreg_utils.vocabulary import PROJECTIONS
from machine import describe, save_results

# (label, input dimension, hidden widths, outputs, activation): small probes, no study's models
MODELS = (("10-64-4 tanh", 10, (64,), 4, "tanh"), ("10-64-64-10 relu", 10, (64, 64), 10, "relu"),
          ("784-128-64-10 relu", 784, (128, 64), 10, "relu"), ("10-64-1 tanh", 10, (64,), 1, "tanh"))
BATCH = 32


def predicted_relative_variance(jac: torch.Tensor, distribution: str) -> torch.Tensor:
    """Per sample, Var[v^T A v] / tr(A)^2 for A = J J^T (jac: (batch, k, d)), from the formulas above."""
    a = jac @ jac.transpose(1, 2)
    k = a.shape[1]
    trace = a.diagonal(dim1=1, dim2=2).sum(dim=1)
    frob = a.pow(2).sum(dim=(1, 2))
    if distribution == "gaussian":
        variance = 2 * frob
    elif distribution == "rademacher":
        variance = 2 * (frob - a.diagonal(dim1=1, dim2=2).pow(2).sum(dim=1))
    else:
        variance = 2 * (k * frob - trace.pow(2)) / (k + 2)
    return variance / trace.pow(2)


def measure(label: str, model: nn.Module, x: torch.Tensor, draws: int, seed: int) -> list[dict]:
    exact, _ = jacobian_sq_frobenius(model, x)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x).detach()
    rows = []
    for distribution in PROJECTIONS:
        generator = torch.Generator().manual_seed(seed)
        estimates = torch.stack([projected_jacobian_sq(model, x, 1, generator, distribution=distribution)[0].detach()
                                 for _ in range(draws)])  # (draws, batch)
        rows.append({"model": label, "outputs": jac.shape[1], "distribution": distribution,
                     "relative_variance": float((estimates.var(dim=0) / exact.detach().pow(2)).mean()),
                     "predicted": float(predicted_relative_variance(jac, distribution).mean()),
                     "relative_bias": float(((estimates.mean(dim=0) - exact.detach()) / exact.detach()).mean()),
                     "draws": draws, "samples": x.shape[0]})
    gaussian = rows[0]["relative_variance"]
    for row in rows:
        row["reduction_vs_gaussian"] = gaussian / row["relative_variance"] if row["relative_variance"] > 0 \
            else float("inf")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few draws (smoke test)")
    parser.add_argument("--draws", type=int, default=None, help="single projections per sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for projections.csv and projections.meta.json")
    args = parser.parse_args()
    draws = args.draws or (50 if args.quick else 4000)
    torch.set_num_threads(1)
    rows = []
    for label, inputs, hidden, outputs, activation in MODELS:
        model = CompactMLP.seeded(args.seed, inputs, hidden, outputs, activation=activation).double()
        x = torch.randn(BATCH, inputs, generator=torch.Generator().manual_seed(args.seed), dtype=torch.float64)
        rows += measure(label, model, x, draws, args.seed)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 120, "display.precision", 4):
        print(table.to_string(index=False))
    if args.out:
        save_results(args.out, "projections", table, {**describe(), "quick": args.quick, "draws": draws,
                                                       "batch": BATCH, "dtype": "float64"})


if __name__ == "__main__":
    main()
