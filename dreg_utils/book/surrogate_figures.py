"""Figures of the surrogate chapter (notebook 05): optimiser paths, regret, gradient agreement
against the gradient tail."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..optimisation import make_objective
from ..vocabulary import METHOD_COLOURS, METHOD_LABELS, PAPER_LABELS, methods_for


def trajectories_figure(paths: pd.DataFrame, value: Callable[[np.ndarray], np.ndarray], lower: float,
                        upper: float, title: str) -> plt.Figure:
    """Optimiser paths on a 2-d objective over contours of the true f (``value``: (n, 2) -> (n,)) at
    quantile-spaced levels:
    one panel per (activation, method); solid GD, dashed L-BFGS, dots at the starts."""
    grid = np.linspace(lower, upper, 200)
    g0, g1 = np.meshgrid(grid, grid)
    f = value(np.c_[g0.ravel(), g1.ravel()]).reshape(g0.shape)
    levels = np.quantile(f, np.linspace(0.01, 0.99, 14))
    activations, methods = list(dict.fromkeys(paths["activation"])), list(dict.fromkeys(paths["method"]))
    fig, axes = plt.subplots(len(activations), len(methods), figsize=(2.9 * len(methods), 2.8 * len(activations)),
                             squeeze=False, sharex=True, sharey=True)
    for ax, (activation, method) in zip(axes.flat, [(a, m) for a in activations for m in methods]):
        ax.contour(g0, g1, f, levels=np.unique(levels), colors="#bbbbbb", linewidths=0.7)
        block = paths[(paths["activation"] == activation) & (paths["method"] == method)]
        for (opt, _), path in block.groupby(["optimizer", "start"]):
            path = path.sort_values("step")
            ax.plot(path["x0"].clip(lower - 0.3, upper + 0.3), path["x1"].clip(lower - 0.3, upper + 0.3),
                    "-" if opt == "gd" else "--", color=METHOD_COLOURS.get(method, "k"), lw=1.1, alpha=0.8)
            ax.plot(path["x0"].iloc[0], path["x1"].iloc[0], "o", color="k", ms=3)
        ax.set_xlim(lower - 0.3, upper + 0.3)
        ax.set_ylim(lower - 0.3, upper + 0.3)
        ax.axvspan(upper, upper + 0.3, color="#f5b7b1", alpha=0.3)
        ax.axvspan(lower - 0.3, lower, color="#f5b7b1", alpha=0.3)
        ax.set_title(f"{METHOD_LABELS.get(method, method)}, {activation}", fontsize=9)
    fig.suptitle(f"{title}: solid GD, dashed L-BFGS (paths clipped 0.3 outside the box)", fontsize=10)
    fig.tight_layout()
    return fig


def regret_figure(starts: pd.DataFrame, floor: float = 1e-4) -> plt.Figure:
    """Per-start normalised regret (log, clipped at ``floor``) per method (named by its paper
    label), one panel per (optimiser, objective); ``true`` is the optimiser driven by the true gradient."""
    data = starts.assign(regret=starts["regret"].clip(lower=floor))
    order = [m for m in ["true", *methods_for("surrogate")] if m in set(data["method"])]
    g = sns.catplot(data=data, x="method", y="regret", hue="activation", col="objective", row="optimizer",
                    kind="box", order=order, height=2.6, aspect=max(1.0, len(order) / 5), log_scale=True,
                    fliersize=1.5, sharey=False)
    g.set_axis_labels("", "normalised regret (log)")
    g.set_titles("{row_name}, {col_name}")
    g.set_xticklabels([PAPER_LABELS.get(m, m) for m in order], rotation=45, ha="right")
    g.tight_layout()  # the grid's own: keeps its legend outside the panels
    return g.figure


def cosine_vs_tail_figure(runs: pd.DataFrame) -> plt.Figure:
    """p10 of the surrogate/true gradient cosine against the surrogate's p99/mean, one point
    per surrogate; circles ReLU, squares poly; one panel per objective."""
    objectives = list(dict.fromkeys(runs["objective"]))
    fig, axes = plt.subplots(1, len(objectives), figsize=(3.4 * len(objectives), 3.1), squeeze=False)
    markers = {"relu": "o", "poly": "s"}
    for ax, objective in zip(axes.flat, objectives):
        block = runs[runs["objective"] == objective]
        for r in block.itertuples(index=False):
            ax.plot(r.grad_p99_over_mean, r.cos_p10, markers[r.activation], color=METHOD_COLOURS[r.method],
                    alpha=0.8, ms=5)
        ax.set_xscale("log")
        ax.set_xlabel("p99/mean of ||grad_x s|| (log)")
        ax.set_title(objective)
    axes[0, 0].set_ylabel("p10 of cos(grad s, grad f)")
    for method, color in METHOD_COLOURS.items():
        if method in set(runs["method"]):
            axes[0, -1].plot([], [], "o", color=color, label=METHOD_LABELS[method])
    axes[0, -1].legend(fontsize=8, title="circles ReLU, squares poly", title_fontsize=7)
    fig.tight_layout()
    return fig


def objective_trajectories(trajectories: pd.DataFrame, objectives: Sequence[str], seed: int) -> list[plt.Figure]:
    """:func:`trajectories_figure` of each two-dimensional objective among ``objectives``, over
    the contours of its true value, for the surrogates trained with ``seed``."""
    figures = []
    for name in objectives:
        objective = make_objective(name)
        if objective.d != 2:
            continue
        block = trajectories[(trajectories["objective"] == name) & (trajectories["seed"] == seed)]
        figures.append(trajectories_figure(block, lambda x: objective.value(torch.as_tensor(x)).numpy(),
                                           objective.lower, objective.upper, name))
    return figures
