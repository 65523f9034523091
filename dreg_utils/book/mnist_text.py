"""The MNIST chapter's words and display tables (notebook 02): Table 3 in the paper's layout, the
output-Jacobian norm beside the loss gradient, the data note, the matched-effect frontier (its
tables with intervals, its verdict and scorecard row), Table 3 at the paper's scale and the
verdict."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..claims import MODEST_ACCURACY_COST
from ..data.mnist import split_halves
from ..studies import mnist
from ..studies.mnist import HALVES_SEED, MNISTSettings
from ..studies.mnist_frontier import CLAIM_ARMS, MIN_SEEDS, WEIGHT_DECAY_ARM
from ..verdicts import DIRECTION_RULE, VERDICTS
from ..vocabulary import LAMBDA_METHODS, PAPER_LABELS
from . import scorecard
from .labels import TABLE3_LABELS
from .statistics_text import findings
from .tables import compare, download, plus_minus, with_interval

FOCUS_METRICS = ["test_acc", "ig_p99", "ig_p99_over_mean"]  # Table 3's central quantities
# Table 3's headings and ours for the output-Jacobian norm, which the paper does not report.
METRIC_LABELS = {**TABLE3_LABELS, "oj_mean": "‖J‖F Mean", "oj_p99": "‖J‖F p99"}
JACOBIAN_METRICS = ["ig_mean", "ig_p99", "oj_mean", "oj_p99"]
# Each arm of the frontier by its name on the page: a method's paper label, or the weight-decay arm.
ARM_LABELS = {**PAPER_LABELS, WEIGHT_DECAY_ARM: f"{PAPER_LABELS['base']}, tuned weight decay"}


def table3_layout(tidy: pd.DataFrame) -> pd.DataFrame:
    """Table 3's layout: rows (capacity, method) in the paper's order, and per metric the
    columns ours and paper ("mean ± std" over seeds) and Δ = ours - paper. A cell whose
    runs all diverged shows the status ("diverged (n/n)") in place of our value."""
    records: dict[tuple[str, str], dict] = {}
    for r in tidy.itertuples(index=False):
        digits = 2 if r.metric in ("test_acc", "ig_p99_over_mean") else 3
        label = METRIC_LABELS[r.metric]
        row = records.setdefault((r.capacity, r.method), {})
        all_diverged = np.isnan(r.ours) and getattr(r, "status", "ok") != "ok"
        row[(label, "ours")] = r.status if all_diverged else plus_minus(r.ours, r.ours_std, decimals=digits)
        row[(label, "paper")] = plus_minus(r.paper, r.paper_std, decimals=digits)
        row[(label, "Δ")] = "-" if np.isnan(r.difference) else f"{r.difference:+.{digits}f}"
    capacities = list(dict.fromkeys(tidy["capacity"]))
    order = sorted(records, key=lambda key: (capacities.index(key[0]), key[1]))
    wide = pd.DataFrame([records[key] for key in order],
                        index=pd.MultiIndex.from_tuples(order, names=["capacity", "method"]))
    wide.columns = pd.MultiIndex.from_tuples(wide.columns)
    return wide


def focus_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Table 3's central quantities, ours beside the paper's (:func:`dreg_utils.book.tables.compare`)."""
    return compare(tidy, FOCUS_METRICS, TABLE3_LABELS, keys=["capacity", "method"])


def data_note(data) -> str:
    """Markdown: whether ``data`` (an :class:`~dreg_utils.data.mnist.MNISTData`) is the paper's."""
    if data.name == "mnist" and data.n_train == 60_000 and data.n_test == 10_000:
        return "This is the paper's data: the full MNIST training and test sets."
    return ("**Not the paper's data** (the paper trains on all 60,000 MNIST images and tests on "
            "10,000): compare directions and ratios with Table 3, not absolute values.")


def jacobian_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Ours only, per (capacity, method): the mean and p99 of the loss-gradient norms g_i beside
    those of the output-Jacobian norms ||J_f(x_i)||_F, each "mean ± std" over seeds (std to two
    significant digits, as in Table 3's focus table: four such columns fit a laptop's column)."""
    block = tidy[tidy["metric"].isin(JACOBIAN_METRICS)]
    cells = {(r.capacity, r.method, METRIC_LABELS[r.metric]): plus_minus(r.ours, r.ours_std)
             for r in block.itertuples(index=False)}
    wide = pd.Series(cells).unstack()
    wide.index.names = ["capacity", "method"]
    return wide[[METRIC_LABELS[m] for m in JACOBIAN_METRICS]]


def _settings(chosen: pd.DataFrame) -> str:
    """The settings chosen for one arm's held-out seeds (:func:`~dreg_utils.studies.mnist_frontier.frontier_choices`
    rows), e.g. "λ = 0.1 (every seed)", "wd per seed: 0.1, 0, –" (–: none within budget), "per seed: on, –, on"
    (a method without a lambda)."""
    first = chosen.iloc[0]
    column, name = (("weight_decay", "wd") if first["arm"] == WEIGHT_DECAY_ARM
                    else ("lam", "λ") if first["method"] in LAMBDA_METHODS else ("lam", ""))
    values = ["–" if np.isnan(v) else (f"{v:g}" if name else "on") for v in chosen.sort_values("seed")[column]]
    if set(values) == {"–"}:
        return "none within budget"
    if len(set(values)) == 1:
        return f"{name} = {values[0]} (every seed)" if name else "on (every seed)"
    return f"{name + ' ' if name else ''}per seed: {', '.join(values)}"


def frontier_view(table: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.mnist_frontier.frontier_table` as the page shows it: per capacity and arm
    (by its label), the settings chosen for each held-out seed on the other seeds' validation half
    (``choices``: :func:`~dreg_utils.studies.mnist_frontier.frontier_choices`), and on the held-out
    half the accuracy change and p99 reduction against BASE with their 95% intervals."""
    records = table.to_dict("records")
    settings = [_settings(choices[(choices["hidden"] == r["hidden"]) & (choices["activation"] == r["activation"])
                                  & (choices["arm"] == r["arm"])]) for r in records]
    view = pd.DataFrame({
        "capacity": table["hidden"], "arm": table["arm"].map(ARM_LABELS), "chosen_setting": settings,
        "settings_tried": table["settings_tried"], "n_pairs": table["n_pairs"],
        "accuracy_with_interval": [with_interval(r["accuracy_change"], r["accuracy_ci_low"], r["accuracy_ci_high"],
                                                 unit="", digits=2, missing="-") for r in records],
        "p99_with_interval": [_p99_reduction(r) for r in records]})
    view.attrs["labels"] = {"chosen_setting": "setting (chosen on the other seeds)", "n_pairs": "seeds paired",
                            "accuracy_with_interval": "accuracy change vs BASE (points, + = better)",
                            "p99_with_interval": "p99 reduction vs BASE %"}
    return view


def _p99_reduction(row) -> str:
    """A frontier row's p99 reduction against BASE with its interval."""
    return with_interval(row["p99_reduction_pct"], row["p99_ci_low"], row["p99_ci_high"], missing="-")


def _ratio_change(row) -> str:
    """DREG's p99 against an arm's as a change in percent with its interval (negative: DREG lower)."""
    return with_interval(100 * (row["p99_ratio"] - 1), 100 * (row["ratio_ci_low"] - 1),
                         100 * (row["ratio_ci_high"] - 1), missing="-")


def comparisons_view(comparisons: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.mnist_frontier.frontier_comparisons` as the page shows it: per arm, DREG's
    held-out p99 against the arm's (change %, 95% CI), the pairs behind it and the verdict; the arms
    the paper's sentence names first, then those beyond the paper."""
    ordered = comparisons.sort_values("in_claim", ascending=False, kind="stable")
    view = pd.DataFrame({
        "versus": ordered["arm"].map(ARM_LABELS),
        "in_claim": ordered["in_claim"].map({True: "the paper's sentence", False: "beyond the paper"}),
        "n_pairs": ordered["n_pairs"],
        "dreg_p99_vs_arm": ordered.apply(_ratio_change, axis=1), "verdict": ordered["verdict"]})
    view.attrs["labels"] = {"versus": "DREG versus", "in_claim": "comparison", "n_pairs": "pairs",
                            "dreg_p99_vs_arm": "DREG's p99 against it (%, − = DREG lower)"}
    return view.reset_index(drop=True)


def frontier_rule() -> str:
    """The sentence that decides the frontier's verdict (the scorecard's rule)."""
    named = " and ".join(ARM_LABELS[a] for a in CLAIM_ARMS)
    return (f"Leave one seed out: each seed's setting of each arm is the one with the lowest p99 within "
            f"{MODEST_ACCURACY_COST:g} point of BASE's accuracy on a validation half of the test images, over the "
            f"OTHER seeds' runs, and is measured on that seed's held-out half (with fewer than {MIN_SEEDS} seeds "
            f"nothing is chosen). Against each arm the paper names ({named}), the 95% t-interval of the mean "
            f"paired log ratio of DREG's p99 to the arm's, pooled over capacities and seeds, decides: "
            f"{DIRECTION_RULE}. The claim holds when it holds against both, partly when it holds against one and "
            "does not hold against the other, does not hold when it does not hold against one and holds against "
            "neither, and is inconclusive otherwise; the arms beyond the paper (the SN variants, IGPEN-OUT, "
            "tuned weight decay) are shown and do not enter")


def _against(comparisons: pd.DataFrame) -> str:
    """E.g. "vs SN -19.0% (95% CI -38.0% to +5.0%): inconclusive; vs IGPEN ..."."""
    return "; ".join(f"vs {ARM_LABELS[r['arm']]} {_ratio_change(r)}: {r['verdict']}"
                     for r in comparisons.to_dict("records"))


def frontier_note(table: pd.DataFrame, comparisons: pd.DataFrame, verdict: str) -> str:
    """Markdown: the frontier's verdict on the paper's sentence and the intervals behind it (with
    too few seeds to leave one out, that it cannot be decided)."""
    if table.empty or table["n_seeds"].max() < MIN_SEEDS:
        return (f"**{verdict}**: choosing each seed's setting on the other seeds needs at least {MIN_SEEDS} "
                "frontier seeds, and this run has fewer: no setting is chosen and no comparison can be decided.")
    claim, beyond = comparisons[comparisons["in_claim"]], comparisons[~comparisons["in_claim"]]
    own = "; ".join(f"{r['hidden']}: p99 reduction {_p99_reduction(r)}"
                    for r in table[table["arm"] == "dreg"].to_dict("records"))
    text = (f"**{verdict}**: DREG's held-out p99 relative to the arms the paper names (− = DREG lower), each "
            f"seed at the setting chosen on the other seeds: {_against(claim)}. DREG against BASE: "
            f"{own or 'no DREG run'}.")
    if not beyond.empty:
        text += f" Beyond the paper (these do not enter the verdict): {_against(beyond)}."
    return text


def glue_frontier(table: pd.DataFrame, comparisons: pd.DataFrame, verdict: str, data) -> None:
    """Glue the frontier's scorecard row (``mnist_frontier``) and the values its section's prose
    reads: ``frontier_verdict``, ``frontier_halves`` (the two halves' sizes) and ``frontier_capacities``."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    validation, held_out = split_halves(data.y_test, HALVES_SEED)
    details = (frontier_note(table, comparisons, verdict).replace("**", "")
               + f" Halves of the test images: {len(validation):,} for validation, {len(held_out):,} held out "
                 f"(class-stratified, seed {HALVES_SEED}).")
    scorecard.glue_row("mnist_frontier", paper="DREG's tails lighter than SN's and IGP's (no number given)",
                       ours="DREG's p99 " + _against(comparisons[comparisons["in_claim"]]), verdict=verdict,
                       rule=frontier_rule(), details=details)
    glue("frontier_verdict", verdict, display=False)
    glue("frontier_halves", f"{len(validation):,} and {len(held_out):,}", display=False)
    glue("frontier_capacities", ", ".join(dict.fromkeys(table["hidden"])), display=False)


def _show_paper_scale(settings: MNISTSettings, name: str, results_dir: Path) -> str:
    """Run (or reuse) Table 3 on all images of dataset ``name`` and display it: the sizes and time,
    the focus table against the paper's MNIST values, its download and the five findings."""
    from IPython.display import Markdown, display  # the book extra: pages run in a kernel

    scale_settings = mnist.paper_scale_settings(settings, name)
    data = mnist.load_data(scale_settings)
    start = time.perf_counter()
    runs = mnist.run_sweep(scale_settings, data, results_dir / name)
    seconds = time.perf_counter() - start
    tidy = mnist.table3(mnist.summarize(runs))
    focus = focus_table(tidy).rename(columns={"paper": "paper (MNIST)"}, level=1)
    verdicts = findings(runs)
    display(Markdown(f"**{data.describe()}**: {len(runs)} runs "
                     f"({int(runs['cached'].sum())} from the cache), {seconds / 60:.1f} min."))
    display(focus.style.set_table_attributes('class="dreg-focus"'))
    display(Markdown("Download: " + download(tidy, "02_mnist_sweep", f"table3_{name}", f"table3_{name}.csv")))
    display(verdicts.style.hide(axis="index").set_properties(**{"text-align": "left"}))
    held = verdicts["verdict"].eq("holds").sum()
    return f"{data.name}, {data.n_train:,}/{data.n_test:,} images: {held} of {len(verdicts)} findings hold"


def show_paper_scale(settings: MNISTSettings, results_dir: Path) -> str:
    """Table 3 once more on each of ``settings``' ``paper_scale_datasets`` with all its images
    (displayed), or a note that the profile runs none; returns the line the page glues."""
    lines = [_show_paper_scale(settings, name, results_dir) for name in settings["paper_scale_datasets"]]
    if not lines:
        from IPython.display import Markdown, display  # the book extra: pages run in a kernel

        display(Markdown(f"The `{settings['profile']}` profile runs no dataset at full size here "
                         "(`paper_scale_datasets = []`); `make book PROFILE=paper` runs Fashion-MNIST's "
                         "60,000/10,000 images (about 13 minutes on two CPU cores)."))
    return "; ".join(lines) or "not run by this build's profile"


def tally(verdicts: pd.DataFrame) -> str:
    """How many findings got each verdict, e.g. "holds 3, partly 1, does not hold 0, inconclusive 1"."""
    held = verdicts["verdict"].value_counts()
    return ", ".join(f"{v} {held.get(v, 0)}" for v in VERDICTS)


def verdict_note(verdicts: pd.DataFrame, settings: MNISTSettings, data) -> str:
    """Markdown: the profile, data and lambda, one bullet per finding (paper, ours, verdict), the tally."""
    lines = [f"- **Finding {r.finding}** ({r.paper}): ours: {r.ours} → **{r.verdict}**"
             for r in verdicts.itertuples()]
    return (f"Under the `{settings['profile']}` profile on {data.name} ({data.n_train:,} training / "
            f"{data.n_test:,} test images, source: {data.source.split(';')[0]}), with "
            f"$\\lambda = {settings['lam']:g}$ for DREG and IGPEN:\n\n" + "\n".join(lines)
            + f"\n\nTally: {tally(verdicts)}.")
