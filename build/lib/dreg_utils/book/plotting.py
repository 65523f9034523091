"""One seaborn theme for the whole book and the figures the notebooks show."""
from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
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
    ncols = min(3, len(families))
    nrows = -(-len(families) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat[len(families):]:
        ax.set_visible(False)
    lambdas = np.sort(runs["lam"].unique())
    for ax, family in zip(axes.flat, families):
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
    """SNR proxy (log scale) against the symbolic student's gain from the penalty, per dataset."""
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
        ax.plot(block["noise"], block["student_clean_r2_base"], "o-", label="lambda = 0")
        ax.plot(block["noise"], block["student_clean_r2_validation"], "s--",
                label="lambda chosen on validation")
        ax.set_xlabel("label noise (x std of signal)")
        ax.set_ylabel("student R2 vs clean signal")
        ax.set_title(dataset)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


METHOD_COLORS = {"base": "#7f7f7f", "dreg": "#c0392b", "igp": "#2471a3", "sn": "#239b56", "jacobian": "#8e44ad"}
METHOD_LABELS = {"base": "BASE", "dreg": "DREG", "igp": "IGPEN (loss gradient)", "sn": "SN",
                 "jacobian": "IGPEN-OUT (output gradient)"}


def _plain_log_axis(axis) -> None:
    """Log scale with plain numbers (0.5, 1, 2) instead of 5x10^-1 on ``ax.xaxis``/``ax.yaxis``."""
    axis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def _method_legend(ax: plt.Axes, **kwargs) -> None:
    """One legend entry per method, however many lines each method drew."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, **kwargs)


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
            style = dict(color=METHOD_COLORS[method], lw=1.1, alpha=0.8, label=METHOD_LABELS[method])
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
        _plain_log_axis(right.xaxis)
        _method_legend(left, loc="upper left")
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
                        marker="o", capsize=3, color=METHOD_COLORS[method], label=METHOD_LABELS[method])
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
                    color=METHOD_COLORS[r.method], capsize=2, alpha=0.85, ms=5)
        ax.annotate(r.hidden, (r.ig_p99, r.test_acc), fontsize=6, xytext=(3, 2), textcoords="offset points")
    for method, color in METHOD_COLORS.items():
        if method in set(summary["method"]):
            ax.plot([], [], "o", color=color, label=METHOD_LABELS[method])
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("p99 of ||grad_x CE|| (log; left is smoother)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, title="circles ReLU, squares poly", title_fontsize=8)
    fig.tight_layout()
    return fig


def frontier_figure(summary: pd.DataFrame) -> plt.Figure:
    """The accuracy-vs-p99 frontier of the lambda sweep: DREG and IGPEN as lines over lambda
    (labelled), BASE and SN as single points; bars are seed stds."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, rows in summary.groupby("method", sort=False):
        rows = rows.sort_values("lam")
        ax.errorbar(rows["ig_p99"], rows["test_acc"], xerr=rows["ig_p99_std"], yerr=rows["test_acc_std"],
                    marker="o", capsize=2, color=METHOD_COLORS[method], label=METHOD_LABELS[method],
                    ls="-" if len(rows) > 1 else "none")
        if method in ("dreg", "igp", "jacobian"):
            for r in rows.itertuples(index=False):
                ax.annotate(f"{r.lam:g}", (r.ig_p99, r.test_acc), fontsize=7, xytext=(3, 3),
                            textcoords="offset points", color=METHOD_COLORS[method])
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("p99 of ||grad_x CE|| (log; left is smoother)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
                    "-" if opt == "gd" else "--", color=METHOD_COLORS.get(method, "k"), lw=1.1, alpha=0.8)
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
    """Per-start normalised regret (log, clipped at ``floor``) per method, one panel per
    (optimiser, objective); ``true`` is the optimiser driven by the true gradient."""
    data = starts.assign(regret=starts["regret"].clip(lower=floor))
    order = [m for m in ["true", "base", "dreg", "igp", "sn"] if m in set(data["method"])]
    g = sns.catplot(data=data, x="method", y="regret", hue="activation", col="objective", row="optimizer",
                    kind="box", order=order, height=2.6, aspect=1.0, log_scale=True, fliersize=1.5,
                    sharey=False)
    g.set_axis_labels("", "normalised regret (log)")
    g.figure.tight_layout()
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
            ax.plot(r.grad_p99_over_mean, r.cos_p10, markers[r.activation], color=METHOD_COLORS[r.method],
                    alpha=0.8, ms=5)
        ax.set_xscale("log")
        ax.set_xlabel("p99/mean of ||grad_x s|| (log)")
        ax.set_title(objective)
    axes[0, 0].set_ylabel("p10 of cos(grad s, grad f)")
    for method, color in METHOD_COLORS.items():
        if method in set(runs["method"]):
            axes[0, -1].plot([], [], "o", color=color, label=METHOD_LABELS[method])
    axes[0, -1].legend(fontsize=8, title="circles ReLU, squares poly", title_fontsize=7)
    fig.tight_layout()
    return fig


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
                   color=METHOD_COLORS["dreg"], alpha=0.55, edgecolor="black", linewidth=0.5)
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
            ax.scatter([], [], marker=marker, color=METHOD_COLORS["dreg"], label=activation.upper())
    ax.legend(title=f"size: capacity {capacities[0]} ... {capacities[-1]}", fontsize=8, title_fontsize=7,
              loc="upper left")
    ax.set_title("one point per matched pair")
    fig.tight_layout()
    return fig


def penalty_cost_figure(penalties: pd.DataFrame) -> plt.Figure:
    """Step time of each method relative to BASE against model capacity (log y), with the
    interquartile range of the per-repetition ratios as error bars."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    capacities = penalties.drop_duplicates("hidden")["hidden"].tolist()
    x = np.arange(len(capacities))
    methods = [m for m in ("DREG", "DREG-poly", "SN", "IGP", "JAC-RP", "JAC") if m in set(penalties["method"])]
    for i, method in enumerate(methods):
        block = penalties[penalties["method"] == method].set_index("hidden").loc[capacities]
        err = np.vstack([block["ratio"] - block["ratio_q1"], block["ratio_q3"] - block["ratio"]])
        ax.errorbar(x + (i - (len(methods) - 1) / 2) * 0.04, block["ratio"], yerr=err.clip(min=0), marker="o",
                    capsize=3, label=method)
    ax.axhline(1.0, color="black", lw=1, ls="--", label="BASE (1x)")
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    ax.set_xticks(x, [f"({c.replace('-', ', ')})" for c in capacities])
    ax.set_xlabel("hidden widths (h1, h2) of the 784 -> h1 -> h2 -> 10 MLP")
    ax.set_ylabel("time per training step / BASE (ratio, log scale)")
    ax.set_title("Cost of one training step, relative to no regularisation")
    ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


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
