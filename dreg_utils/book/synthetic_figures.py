"""The figures of the synthetic-families chapter (notebook 01): Figure 1 of the DREG paper, and
DREG against tuned weight decay."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..vocabulary import METHOD_COLOURS, finished
from .plotting import PALETTE, lambda_axis


def lambda_sweep_figure(runs: pd.DataFrame, gradient: str = "grad_p90") -> plt.Figure:
    """Figure 1: per family, lambda against a gradient-norm statistic (red, left axis) and
    test MSE (blue, right axis); points are seeds, lines are seed means."""
    families = list(dict.fromkeys(runs["family"]))
    ncols = min(3, len(families))
    nrows = -(-len(families) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat[len(families):]:
        ax.set_visible(False)
    lambdas = np.sort(runs["lam"].unique())
    for ax, family in zip(axes.flat, families):
        block = finished(runs[runs["family"] == family])
        means = block.groupby("lam")[[gradient, "test_mse"]].mean()
        ax.scatter(block["lam"], block[gradient], s=10, color=PALETTE["gradient"], alpha=0.4)
        ax.plot(means.index, means[gradient], "o-", color=PALETTE["gradient"])
        ax.set_ylabel(f"{gradient.replace('grad_', '')} of ||grad_x f||", color=PALETTE["gradient"])
        twin = ax.twinx()
        twin.scatter(block["lam"], block["test_mse"], s=10, color=PALETTE["mse"], alpha=0.4)
        twin.plot(means.index, means["test_mse"], "s--", color=PALETTE["mse"])
        twin.set_ylabel("test MSE", color=PALETTE["mse"])
        twin.grid(False)
        lambda_axis(ax, lambdas)
        ax.set_title(family)
    fig.tight_layout()
    return fig


def weight_decay_figure(comparison: pd.DataFrame) -> plt.Figure:
    """DREG's test p90 reduction against tuned weight decay per family
    (:func:`dreg_utils.studies.synthetic_weight_decay.weight_decay_comparison`): the estimate and its 95% interval
    (a single pair: the point alone), a line at zero; right of it, DREG's p90 is lower. A family with
    no pair (no seed with an eligible candidate for both methods), or no measured ratio, is marked so at zero."""
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(comparison) + 1.4))
    y = np.arange(len(comparison))[::-1]
    estimate = comparison["p90_reduction_vs_wd_pct"].to_numpy()
    spread = np.nan_to_num(np.vstack([estimate - comparison["p90_reduction_vs_wd_low"].to_numpy(),
                                      comparison["p90_reduction_vs_wd_high"].to_numpy() - estimate]))
    ax.errorbar(estimate, y, xerr=spread, fmt="o", color=METHOD_COLOURS["dreg"], capsize=3)
    ax.axvline(0.0, color="grey", linewidth=1)
    for row, unmeasured, pairs in zip(y, np.isnan(estimate), comparison["pairs"]):
        if unmeasured:
            ax.annotate("no pair: no eligible candidate" if pairs == 0 else "not measured", (0.0, row), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color="grey")
    ax.set_yticks(y, comparison["family"])
    ax.set_xlabel("DREG's test p90 reduction against tuned weight decay (%, 95% CI; + = DREG lower)")
    fig.tight_layout()
    return fig
