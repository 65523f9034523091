"""Figures of the two ablation chapters (notebooks 07 and 08): each variant's effect with its
95% interval against the paper's number."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .plotting import PALETTE


def ablation_figure(table: pd.DataFrame) -> plt.Figure:
    """Per family (panels): each variant's mean p90 reduction over seeds with its 95% interval
    (dots and bars), the paper's reduction (dashed line) and our base protocol's (grey band)."""
    families = list(dict.fromkeys(table["family"]))
    labels = list(dict.fromkeys(table["factor"] + " = " + table["value"]))
    fig, axes = plt.subplots(1, len(families), figsize=(2.6 * len(families), 0.35 * len(labels) + 1.4),
                             sharey=True, squeeze=False)
    for ax, family in zip(axes[0], families):
        block = table[table["family"] == family].assign(label=lambda b: b["factor"] + " = " + b["value"])
        y = [labels.index(label) for label in block["label"]]
        reduction = block["per_seed_p90_reduction_pct"]
        errors = [reduction - block["ci_low"], block["ci_high"] - reduction]
        ax.errorbar(reduction, y, xerr=np.nan_to_num(errors), fmt="o",
                    color=PALETTE["gradient"], ecolor="0.6", capsize=2)
        ax.axvline(block["paper_p90_reduction_pct"].iloc[0], color="k", ls="--", lw=1, label="paper")
        ax.axvspan(*sorted((0.0, float(block.loc[block["factor"] == "base", "per_seed_p90_reduction_pct"].iloc[0]))),
                   color="0.85", zorder=0)
        ax.set_title(family)
        ax.set_xlabel("p90 reduction (%)")
    axes[0][0].set_yticks(range(len(labels)), labels)
    axes[0][0].invert_yaxis()
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig



def distillation_ablation_figure(table: pd.DataFrame) -> plt.Figure:
    """Per dataset (panels): each variant's mean relative gain of the student's R^2 over seeds
    with its 95% interval, and the paper's gain (dashed line, often off the right edge)."""
    datasets = list(dict.fromkeys(table["dataset"]))
    variants = list(dict.fromkeys(table["variant"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(4.5, 3.2 * len(datasets)), 0.45 * len(variants) + 1.6),
                             sharey=True, squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        block = table[table["dataset"] == dataset]
        y = [variants.index(v) for v in block["variant"]]
        errors = [block["improvement_pct"] - block["ci_low"], block["ci_high"] - block["improvement_pct"]]
        ax.errorbar(block["improvement_pct"], y, xerr=np.nan_to_num(errors), fmt="o", color=PALETTE["mse"],
                    ecolor="0.6", capsize=2)
        paper = float(block["paper_improvement_pct"].iloc[0])
        ax.axvline(0.0, color="0.5", lw=0.8)
        ax.axvline(paper, color="k", ls="--", lw=1, label=f"paper (+{paper:.0f}%)")
        ax.set_title(dataset)
        ax.set_xlabel("student R2 gain (%)")
        ax.legend(loc="lower right", fontsize=8)
    axes[0][0].set_yticks(range(len(variants)), variants)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return fig
