"""Figures of the MNIST chapter (notebook 02): the distribution of the per-sample gradient norms,
tail against capacity, accuracy against p99, the matched-effect frontier and the front page's
headline figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd

from ..vocabulary import LAMBDA_METHODS
from ..vocabulary import METHOD_COLOURS, METHOD_LABELS
from .plotting import method_legend, plain_log_axis


def ig_ecdf_figure(quantiles: pd.DataFrame, runs: pd.DataFrame, hidden: str) -> plt.Figure:
    """Distribution of the per-sample norms g_i = ||grad_x CE(f(x_i), y_i)|| at one capacity:
    per activation (rows), the ECDF on a log x axis (left) and its tail, P(g > t) on log-log
    axes (right), down to 1/n_test. One line per run, coloured by method. ``quantiles`` has
    run_key, level, ig_norm; ``runs`` has run_key, hidden, activation, method, n_test."""
    table = quantiles.merge(runs[["run_key", "hidden", "activation", "method", "n_test"]], on="run_key")
    table = table[table["hidden"] == hidden]
    activations = list(dict.fromkeys(table["activation"]))
    fig, axes = plt.subplots(len(activations), 2, figsize=(9.5, 3.2 * len(activations)), squeeze=False)
    for (left, right), activation in zip(axes, activations):
        block = table[table["activation"] == activation]
        for (method, _), run in block.groupby(["method", "run_key"], sort=False):
            style = dict(color=METHOD_COLOURS[method], lw=1.1, alpha=0.8, label=METHOD_LABELS[method])
            norms = run["ig_norm"].clip(lower=1e-8)
            left.plot(norms, run["level"], **style)
            tail = run[1 - run["level"] >= 1 / run["n_test"]]
            right.plot(tail["ig_norm"], 1 - tail["level"], **style)
        left.set_xscale("log")
        left.set_ylabel("fraction of test samples")
        left.set_title(f"{activation.upper()}, hidden {hidden}: ECDF")
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlim(left=max(1e-3, float(block["ig_norm"].quantile(0.5))))
        right.set_ylabel("P(g > t)")
        right.set_title("the tail")
        plain_log_axis(right.xaxis)
        method_legend(left, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("g = ||grad_x CE(f(x), y)|| per test sample (log)")
    fig.tight_layout()
    return fig


def tail_vs_capacity_figure(summary: pd.DataFrame) -> plt.Figure:
    """p99/mean (ratio of seed means; bars: seed std of the per-run ratios) against the number
    of parameters, one line per method, one panel per activation."""
    activations = list(dict.fromkeys(summary["activation"]))
    fig, axes = plt.subplots(1, len(activations), figsize=(4.6 * len(activations), 3.4),
                             squeeze=False, sharey=True)
    capacities = summary.drop_duplicates("hidden").sort_values("n_params")
    for ax, activation in zip(axes[0], activations):
        block = summary[summary["activation"] == activation]
        for method, rows in block.groupby("method", sort=False):
            rows = rows.sort_values("n_params")
            ax.errorbar(rows["n_params"], rows["ig_p99_over_mean"], yerr=rows["ig_p99_over_mean_std"],
                        marker="o", capsize=3, color=METHOD_COLOURS[method], label=METHOD_LABELS[method])
        ax.set_xscale("log")
        ax.set_xticks(capacities["n_params"], [f"{h}\n{n / 1e3:.0f}k" for h, n in
                                               zip(capacities["hidden"], capacities["n_params"])])
        ax.xaxis.set_minor_locator(mticker.NullLocator())
        ax.set_xlabel("hidden widths and parameters (log)")
        ax.set_title(activation.upper())
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("p99 / mean of ||grad_x CE||")
    fig.tight_layout()
    return fig


def accuracy_vs_p99_figure(summary: pd.DataFrame) -> plt.Figure:
    """Test accuracy against p99 of the input-gradient norms, one point per (capacity,
    activation, method) with seed-std bars; circles ReLU, squares poly."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    markers = {"relu": "o", "poly": "s"}
    for r in summary.itertuples(index=False):
        ax.errorbar(r.ig_p99, r.test_acc, xerr=r.ig_p99_std, yerr=r.test_acc_std, marker=markers[r.activation],
                    color=METHOD_COLOURS[r.method], capsize=2, alpha=0.85, ms=5)
        ax.annotate(r.hidden, (r.ig_p99, r.test_acc), fontsize=6, xytext=(3, 2), textcoords="offset points")
    for method, color in METHOD_COLOURS.items():
        if method in set(summary["method"]):
            ax.plot([], [], "o", color=color, label=METHOD_LABELS[method])
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("p99 of ||grad_x CE|| (log; left is smoother)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, title="circles ReLU, squares poly", title_fontsize=8)
    fig.tight_layout()
    return fig


def headline_figure(summary: pd.DataFrame) -> plt.Figure:
    """The book's main result in one picture: test accuracy against the p99 of the input-gradient
    norms, one line per method through the capacities (smallest to largest, end points labelled),
    one panel per activation; points are seed means."""
    activations = list(dict.fromkeys(summary["activation"]))
    fig, axes = plt.subplots(1, len(activations), figsize=(4.6 * len(activations), 3.9),
                             squeeze=False, sharey=True)
    for ax, activation in zip(axes[0], activations):
        block = summary[summary["activation"] == activation]
        for method, rows in block.groupby("method", sort=False):
            rows = rows.sort_values("n_params").dropna(subset=["ig_p99", "test_acc"])
            ax.plot(rows["ig_p99"], rows["test_acc"], marker="o", ms=5, color=METHOD_COLOURS[method],
                    label=METHOD_LABELS[method])
            for r in (rows.iloc[[0, -1]] if len(rows) > 1 else rows).itertuples(index=False):
                ax.annotate(r.hidden, (r.ig_p99, r.test_acc), fontsize=7, xytext=(3, 3),
                            textcoords="offset points", color=METHOD_COLOURS[method])
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        ax.set_xlabel("p99 of ||grad_x CE|| (log; left is smoother)")
        ax.set_title(activation.upper())
    axes[0][0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def frontier_figure(summary: pd.DataFrame, weight_decay: float) -> plt.Figure:
    """The accuracy-vs-p99 frontier (:func:`dreg_utils.studies.mnist_frontier.frontier_summary`: all test
    images), one panel per capacity: each penalty at ``weight_decay`` as a line over lambda
    (labelled), SN and BASE as single points, and BASE over its weight decays as a dashed line
    (labelled "wd ..."); bars are seed stds."""
    cells = list(dict.fromkeys(zip(summary["hidden"], summary["activation"])))
    fig, axes = plt.subplots(1, len(cells), figsize=(5.2 * len(cells), 4.2), squeeze=False, sharey=True)
    for ax, (hidden, activation) in zip(axes[0], cells):
        cell = summary[(summary["hidden"] == hidden) & (summary["activation"] == activation)]
        at_default = cell[cell["weight_decay"] == weight_decay]
        lines = [(method, rows.sort_values("lam"), "lam", "-", METHOD_LABELS[method])
                 for method, rows in at_default.groupby("method", sort=False)]
        base = cell[cell["method"] == "base"].sort_values("weight_decay")
        if len(base) > 1:
            lines.append(("base", base, "weight_decay", "--", f"{METHOD_LABELS['base']}, weight decay varied"))
        for method, rows, setting, style, label in lines:
            ax.errorbar(rows["ig_p99"], rows["test_acc"], xerr=rows["ig_p99_std"], yerr=rows["test_acc_std"],
                        marker="o", capsize=2, color=METHOD_COLOURS[method], label=label,
                        ls=style if len(rows) > 1 else "none")
            if method in LAMBDA_METHODS or setting == "weight_decay":
                prefix = "wd " if setting == "weight_decay" else ""
                for r in rows.itertuples(index=False):
                    ax.annotate(f"{prefix}{getattr(r, setting):g}", (r.ig_p99, r.test_acc), fontsize=7,
                                xytext=(3, 3), textcoords="offset points", color=METHOD_COLOURS[method])
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        ax.set_xlabel("p99 of ||grad_x CE|| (log; left is smoother)")
        ax.set_title(f"{activation.upper()}, hidden {hidden}")
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
