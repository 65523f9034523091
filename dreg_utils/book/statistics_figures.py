"""The figure of the statistics chapter (notebook 03): claims 1 and 2 pair by pair."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..vocabulary import METHOD_COLOURS


def pair_ratio_figure(ratios: pd.DataFrame) -> plt.Figure:
    """Claims 1-2 pair by pair: DREG/BASE of the mean gradient norm (x) against DREG/BASE of its
    p99 (y), one point per matched run (circles ReLU, squares poly; larger = more capacity).
    Below 1: DREG lowered it; below the diagonal: p99 fell by a larger fraction than the mean."""
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    capacities = sorted(ratios["hidden"].unique(), key=lambda h: [int(w) for w in h.split("-")])
    sizes = {h: 25 + 25 * i for i, h in enumerate(capacities)}
    markers = {"relu": "o", "poly": "s"}
    for (activation, hidden), block in ratios.groupby(["activation", "hidden"], sort=False):
        ax.scatter(block["ig_mean"], block["ig_p99"], s=sizes[hidden], marker=markers.get(activation, "o"),
                   color=METHOD_COLOURS["dreg"], alpha=0.55, edgecolor="black", linewidth=0.5)
    high = max(1.05, float(ratios[["ig_mean", "ig_p99"]].max().max()) * 1.05)
    ax.plot([0, high], [0, high], color="grey", lw=1, ls="--")
    ax.axhline(1, color="grey", lw=0.8)
    ax.axvline(1, color="grey", lw=0.8)
    ax.set_xlim(0, high)
    ax.set_ylim(0, high)
    ax.set_xlabel("DREG / BASE: mean of ||grad_x CE||")
    ax.set_ylabel("DREG / BASE: p99 of ||grad_x CE||")
    for activation, marker in markers.items():
        if activation in set(ratios["activation"]):
            ax.scatter([], [], marker=marker, color=METHOD_COLOURS["dreg"], label=activation.upper())
    ax.legend(title=f"size: capacity {capacities[0]} ... {capacities[-1]}", fontsize=8, title_fontsize=7,
              loc="upper left")
    ax.set_title("one point per matched pair")
    fig.tight_layout()
    return fig
