"""One seaborn theme for the whole book and the figures the notebooks show."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = {"gradient": "#c0392b", "mse": "#2471a3"}


def set_theme() -> None:
    """The book's figure style: white grid, colour-blind palette, readable font sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def lambda_axis(ax: plt.Axes, lambdas: np.ndarray) -> None:
    """Symmetric-log x axis so that lambda = 0 shows beside 1e-4 ... 1e-2."""
    positive = lambdas[lambdas > 0]
    ax.set_xscale("symlog", linthresh=positive.min() if positive.size else 1e-4)
    ax.set_xlabel("DREG strength lambda (symlog)")


def lambda_sweep_figure(runs: pd.DataFrame, gradient: str = "grad_p90") -> plt.Figure:
    """Figure 1: per family, lambda against a gradient-norm statistic (red, left axis) and
    test MSE (blue, right axis); points are seeds, lines are seed means."""
    families = list(dict.fromkeys(runs["family"]))
    fig, axes = plt.subplots(1, len(families), figsize=(3.3 * len(families), 3.2), squeeze=False)
    lambdas = np.sort(runs["lam"].unique())
    for ax, family in zip(axes[0], families):
        block = runs[(runs["family"] == family) & ~runs["diverged"]]
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
