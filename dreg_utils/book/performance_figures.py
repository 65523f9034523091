"""Figures of the performance chapter (notebook 06): the cost of one training step per method,
its peak memory, and the training time of the MNIST sweep."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..studies.performance import memory_table
from ..vocabulary import METHOD_COLOURS, METHOD_LABELS
from .performance_text import timed_steps
from .plotting import plain_log_axis


def penalty_cost_figure(penalties: pd.DataFrame) -> plt.Figure:
    """Step time of each method relative to BASE with the same activation against model capacity
    (log y), with the interquartile range of the per-repetition ratios as error bars; each method in
    its colour and legend label, dashed with the activation named where it is not the first."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    capacities = penalties.drop_duplicates("hidden")["hidden"].tolist()
    x = np.arange(len(capacities))
    first = penalties["activation"].iloc[0]
    steps = timed_steps(penalties)
    for i, (method, activation) in enumerate(steps):
        block = penalties[(penalties["method"] == method) & (penalties["activation"] == activation)]
        block = block.set_index("hidden").loc[capacities]
        err = np.vstack([block["ratio"] - block["ratio_q1"], block["ratio_q3"] - block["ratio"]])
        ax.errorbar(x + (i - (len(steps) - 1) / 2) * 0.04, block["ratio"], yerr=err.clip(min=0), marker="o",
                    capsize=3, color=METHOD_COLOURS[method], ls="-" if activation == first else "--",
                    label=METHOD_LABELS[method] + ("" if activation == first else f", {activation}"))
    _ratio_axes(ax, x, capacities, "time per training step / BASE (ratio, log scale)",
                "Cost of one training step, relative to no regularisation")
    fig.tight_layout()
    return fig


def memory_figure(memory: pd.DataFrame) -> plt.Figure:
    """Peak memory of one training step (forward, penalty, backward) of each measured method
    relative to BASE's at the same capacity (log y), against model capacity; methods side by side
    with their own markers, so that equal peaks stay visible."""
    table = memory_table(memory)
    capacities = list(dict.fromkeys(table["hidden"]))
    x = np.arange(len(capacities))
    methods = [m for m in dict.fromkeys(table["method"]) if m != "base"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (method, marker) in enumerate(zip(methods, "osD^v<>")):
        rows = table[table["method"] == method].set_index("hidden").loc[capacities]
        ax.plot(x + (i - (len(methods) - 1) / 2) * 0.06, rows["total_ratio"], marker=marker,
                color=METHOD_COLOURS[method], label=METHOD_LABELS[method])
    _ratio_axes(ax, x, capacities, "peak memory of one step / BASE (ratio, log scale)",
                "Peak memory of one training step, relative to no regularisation")
    fig.tight_layout()
    return fig


def _ratio_axes(ax: plt.Axes, x: np.ndarray, capacities: list[str], ylabel: str, title: str) -> None:
    """A ratio-to-BASE panel over the MNIST capacities: BASE's line at 1, log y, labelled axes."""
    ax.axhline(1.0, color="black", lw=1, ls="--", label="BASE (1x)")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    ax.set_xticks(x, [f"({c.replace('-', ', ')})" for c in capacities])
    ax.set_xlabel("hidden widths (h1, h2) of the 784 -> h1 -> h2 -> 10 MLP")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def sweep_time_figure(sweep: pd.DataFrame) -> plt.Figure:
    """Extrapolated training time of each MNIST cell (12 runs): vectorised groups against
    one run at a time, in minutes."""
    long = sweep.melt(id_vars=["hidden", "activation"], value_vars=["vectorised_train_s", "sequential_train_s"],
                      var_name="mode", value_name="seconds")
    long["minutes"] = long["seconds"] / 60
    long["mode"] = long["mode"].map({"vectorised_train_s": "vectorised groups",
                                     "sequential_train_s": "one run at a time"})
    long["cell"] = "(" + long["hidden"].str.replace("-", ", ") + ") " + long["activation"]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    sns.barplot(data=long, x="cell", y="minutes", hue="mode", ax=ax)
    ax.set_xlabel("capacity and activation (12 runs each: 4 methods x 3 seeds)")
    ax.set_ylabel("training time (minutes, extrapolated)")
    ax.set_title("MNIST Table 3 sweep: training time per cell")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig
