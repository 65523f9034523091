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


def distillation_figure(summary: pd.DataFrame) -> plt.Figure:
    """Figure 2 of "Teaching the Teacher": per dataset, test R^2 of the Jacobian-regularised
    teacher and of its symbolic and tree students against lambda; DREG-teacher students as
    crosses; dotted lines: the symbolic regressor and gradient boosting fitted on y."""
    datasets = list(dict.fromkeys(summary["dataset"]))
    cols = min(4, len(datasets))
    rows = -(-len(datasets) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False)
    colours = sns.color_palette("colorblind", 5)
    for ax, dataset in zip(axes.flat, datasets):
        block = summary[summary["dataset"] == dataset]
        jac = block[block["method"].isin(("base", "jacobian"))].astype({"lam": float}).sort_values("lam")
        dreg = block[block["method"] == "dreg"].astype({"lam": float})
        ctrl = block[block["kind"] == "direct"].iloc[0]
        ax.plot(jac["lam"], jac["teacher_test_r2"], "o-", color=colours[0], label="teacher")
        ax.plot(jac["lam"], jac["gp_test_r2"], "s-", color=colours[1], label="symbolic student")
        ax.plot(jac["lam"], jac["tree_test_r2"], "^--", color=colours[2], label="tree student")
        ax.plot(dreg["lam"], dreg["gp_test_r2"], "x", ms=8, mew=2, color=colours[3],
                label="symbolic student, DREG teacher")
        ax.axhline(ctrl["gp_test_r2"], ls=":", color=colours[1], label="symbolic on y")
        ax.axhline(ctrl["boost_test_r2"], ls=":", color=colours[4], label="boosting on y")
        lambda_axis(ax, jac["lam"].to_numpy())
        ax.set_xlabel("lambda (symlog)")
        ax.set_ylabel("test R2")
        ax.set_ylim(max(-0.2, ax.get_ylim()[0]), 1.02)
        ax.set_title(dataset)
    for ax in axes.flat[len(datasets):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, frameon=False, bbox_to_anchor=(0.5, -0.04))
    fig.tight_layout()
    return fig


def snr_benefit_figure(table: pd.DataFrame) -> plt.Figure:
    """SNR proxy (log scale) against the symbolic student's gain from the penalty, per dataset."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.scatter(table["SNR proxy"], table["gain (R2 points)"], color=PALETTE["gradient"])
    for _, row in table.iterrows():
        ax.annotate(row["dataset"], (row["SNR proxy"], row["gain (R2 points)"]), fontsize=8,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.axvline(2.0, ls=":", color="grey")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("SNR proxy Var(y) / Var(linear residuals)")
    ax.set_ylabel("student test R2 gain, best lambda - lambda=0")
    fig.tight_layout()
    return fig


def noise_figure(noise: pd.DataFrame) -> plt.Figure:
    """Per ground-truth formula: the symbolic student's R^2 against the clean signal versus the
    label-noise level, from the lambda = 0 teacher and from the validation-chosen lambda."""
    datasets = list(dict.fromkeys(noise["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets), 3.0), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        block = noise[noise["dataset"] == dataset].sort_values("noise")
        ax.plot(block["noise"], block["student clean R2 (lambda=0)"], "o-", label="lambda = 0")
        ax.plot(block["noise"], block["student clean R2 (validation lambda)"], "s--",
                label="lambda chosen on validation")
        ax.set_xlabel("label noise (x std of signal)")
        ax.set_ylabel("student R2 vs clean signal")
        ax.set_title(dataset)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
