"""Figures of the distillation chapter (notebook 04): Figure 2 of "Teaching the Teacher", the
SNR proxy against the gain, and the label-noise sweep."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from .plotting import PALETTE, lambda_axis


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
        lams = jac["lam"].to_numpy()
        lambda_axis(ax, lams)
        if (lams > 0).any():  # lambda = 0 at the left edge, the largest lambda inside the frame
            ax.set_xlim(-0.3 * lams[lams > 0].min(), 2 * lams.max())
        ax.set_xlabel("lambda (symlog)")
        ax.set_ylabel("test_r2")
        ax.set_ylim(max(-0.2, ax.get_ylim()[0]), 1.02)
        ax.set_title(dataset)
    for ax in axes.flat[len(datasets):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, frameon=False, bbox_to_anchor=(0.5, -0.04))
    fig.tight_layout()
    return fig


def snr_benefit_figure(table: pd.DataFrame) -> plt.Figure:
    """SNR proxy (log scale) against the symbolic student's gain from the penalty at the
    validation-chosen lambda, per dataset."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.scatter(table["snr_proxy"], table["gain_r2"], color=PALETTE["gradient"])
    ordered = table.sort_values("snr_proxy").reset_index(drop=True)
    for i, row in ordered.iterrows():  # alternate label offsets so neighbours do not overlap
        ax.annotate(row["dataset"], (row["snr_proxy"], row["gain_r2"]), fontsize=8,
                    xytext=(4, 8 if i % 2 else -11), textcoords="offset points")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(mticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    lo, hi = table["snr_proxy"].min(), table["snr_proxy"].max()
    ax.set_xticks([t for t in (1, 2, 3, 5, 10, 20, 50, 100, 200) if lo / 1.5 <= t <= hi * 1.5])
    ax.axvline(2.0, ls=":", color="grey")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("SNR proxy Var(y) / Var(linear residuals)")
    ax.set_ylabel("student test R2 gain,\nvalidation lambda - lambda=0")
    fig.tight_layout()
    return fig


def noise_figure(noise: pd.DataFrame) -> plt.Figure:
    """Per ground-truth formula: the symbolic student's R^2 against the clean signal versus the
    label-noise level, from the lambda = 0 teacher, from the validation-chosen lambda and, dotted,
    GP fitted to the noisy y without a teacher."""
    datasets = list(dict.fromkeys(noise["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets), 3.0), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        block = noise[noise["dataset"] == dataset].sort_values("noise")
        ax.plot(block["noise"], block["student_clean_r2_base"], "o-", label="lambda = 0")
        ax.plot(block["noise"], block["student_clean_r2_validation"], "s--",
                label="lambda chosen on validation")
        ax.plot(block["noise"], block["gp_on_y_clean_r2"], "^:", color="grey", label="GP on y (no teacher)")
        ax.set_xlabel("label noise (x std of signal)")
        ax.set_ylabel("student R2 vs clean signal")
        ax.set_title(dataset)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
