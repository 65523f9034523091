"""The MNIST chapter's words and display tables (notebook 02): Table 3 in the paper's layout, the
data note, the frontier's reading, Table 3 at the paper's scale and the verdict."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..claims import VERDICTS
from ..studies import mnist
from ..studies.mnist import MNISTSettings
from ..vocabulary import PAPER_LABELS
from .labels import TABLE3_LABELS
from .statistics_text import findings
from .tables import compare, download, plus_minus

FOCUS_METRICS = ["test_acc", "ig_p99", "ig_p99_over_mean"]  # Table 3's central quantities


def table3_layout(tidy: pd.DataFrame) -> pd.DataFrame:
    """Table 3's layout: rows (capacity, method) in the paper's order, and per metric the
    columns ours and paper ("mean ± std" over seeds) and Δ = ours - paper. A cell whose
    runs all diverged shows the status ("diverged (n/n)") in place of our value."""
    records: dict[tuple[str, str], dict] = {}
    for r in tidy.itertuples(index=False):
        digits = 2 if r.metric in ("test_acc", "ig_p99_over_mean") else 3
        label = TABLE3_LABELS[r.metric]
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


def frontier_view(best: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.mnist.frontier_table` as the page shows it: each method by its
    paper label (DREG, IGPEN, SN, IGPEN-OUT)."""
    return best.assign(method=best["method"].map(PAPER_LABELS))


def frontier_note(best: pd.DataFrame) -> str:
    """Markdown: which method buys the most p99 reduction within the accuracy budget of
    :func:`dreg_utils.studies.mnist.frontier_table` (methods by key), and what the others reach."""
    ranked = best.dropna(subset=["p99_reduction_pct"]).sort_values("p99_reduction_pct", ascending=False)
    if ranked.empty:
        return "No setting of any method lowers p99 while staying within one point of BASE."

    def setting(r) -> str:
        return "" if r.method == "sn" else f" at λ = {r.lam:g}"

    top = ranked.iloc[0]
    others = "; ".join(f"{PAPER_LABELS[r.method]} {r['p99_reduction_pct']:.0f}%{setting(r)}"
                       for _, r in ranked.iloc[1:].iterrows())
    return (f"Within one point of BASE's accuracy, **{PAPER_LABELS[top.method]}** buys the most tail suppression: "
            f"p99 {top['p99_reduction_pct']:.0f}% lower{setting(top)} "
            f"({top['accuracy_change']:+.2f} points of accuracy)"
            + (f"; the others reach {others}." if others else "."))


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
