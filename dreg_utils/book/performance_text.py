"""The performance chapter's display tables and words (notebook 06, and the speed note of
notebook 02), built from the benchmark tables that :mod:`dreg_utils.studies.performance` reads.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import claims, published
from ..published import COST_CLAIMS
from ..studies.performance import load_benchmark
from ..vocabulary import METHODS, PAPER_LABELS, PROJECTIONS, paper_cell_label
from . import scorecard
from .labels import show
from .tables import download

CHAPTER = "06_performance"
MACHINES = {"penalties": "Penalty", "sweep": "Sweep", "naive": "Naive-reference"}  # shown in "This run"
ARMS = {"floor": "floor (matrix products alone)"}  # the naive comparison's arms shown by another name


def machine_line(meta: dict) -> str:
    """One sentence naming where and when a benchmark ran."""
    device = meta["device"] if meta.get("gpu") is None else f"{meta['device']} ({meta['gpu']})"
    return (f"{meta['cpu']}, {meta['cores']} usable core(s), {meta['torch_threads']} torch thread(s), "
            f"device {device}, torch {meta['torch']}, Python {meta['python']}; measured "
            f"{meta['date']}, load average {meta['load_average_at_end']} at the end"
            + (" (a quick run: too few steps to trust)" if meta.get("quick") else ""))


def show_sources(chapter) -> None:
    """Display the chapter's "This run" table (the devices and tables of the penalty, sweep and
    naive benchmarks), their CSV downloads and the machine each ran on. ``chapter`` is the page's
    :class:`~dreg_utils.book.page.Chapter`; its ``data`` maps a benchmark to (table, machine)."""
    from IPython.display import Markdown, display  # the book extra: pages run in a kernel

    shown = {name: chapter.data[name] for name in MACHINES}
    devices = ", ".join(sorted({meta["device"] for _, meta in shown.values()}))
    display(chapter.this_run(None, device=devices + " (where the benchmarks ran; this page trains nothing)",
                             data=f"the benchmark tables in `{chapter.settings['bench_dir']}`: "
                                  + ", ".join(f"{name}.csv ({len(t)} rows)" for name, (t, _) in shown.items())))
    display(Markdown("Download: " + ", ".join(download(t, CHAPTER, name) for name, (t, _) in shown.items())))
    display(Markdown("\n\n".join(f"**{what} benchmark machine:** {machine_line(shown[name][1])}."
                                 for name, what in MACHINES.items())))


def timed_steps(penalties: pd.DataFrame) -> list[tuple[str, str]]:
    """(method key, activation) of every step the penalty benchmark timed except BASE's: those
    of its first activation (the one every method runs with) first, each activation's in the
    vocabulary's order of methods."""
    timed = set(zip(penalties["method"], penalties["activation"]))
    return [(method, activation) for activation in dict.fromkeys(penalties["activation"])
            for method in METHODS if method != "base" and (method, activation) in timed]


def step_label(penalties: pd.DataFrame, method: str, activation: str) -> str:
    """A timed step's name: the method's paper label, with the activation as the paper writes it
    (e.g. POLY_DREG) unless it is the benchmark's first."""
    first = penalties["activation"].iloc[0]
    return PAPER_LABELS[method] if activation == first else paper_cell_label(activation, method)


def _step_rows(penalties: pd.DataFrame, method: str, activation: str | None = None) -> pd.DataFrame:
    """The rows of one timed step (``activation`` None: the benchmark's first), in capacity order."""
    activation = penalties["activation"].iloc[0] if activation is None else activation
    return penalties[(penalties["method"] == method) & (penalties["activation"] == activation)]


def _ratios(penalties: pd.DataFrame, method: str) -> pd.Series:
    """``method``'s step-time ratios to BASE with the first activation, in capacity order."""
    return _step_rows(penalties, method)["ratio"]


def _cost_ratios(penalties: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series, int]:
    """The ratios the cost claims judge, DREG's, IGPEN's and the exact Jacobian penalty's, and at
    how many capacities DREG is cheaper than IGPEN."""
    dreg, igp, jac = _ratios(penalties, "dreg"), _ratios(penalties, "igp"), _ratios(penalties, "jacobian")
    return dreg, igp, jac, int((dreg.values < igp.values).sum())


def penalty_ratio_table(penalties: pd.DataFrame) -> pd.DataFrame:
    """Capacities as rows, each timed step but BASE as a column (its label over that of BASE with
    the same activation, e.g. "IGPEN / BASE", "POLY_DREG / POLY_BASE"), the median step-time
    ratio as values; BASE shown by its step time in milliseconds."""
    base = _step_rows(penalties, "base")
    table = base[["hidden", "params"]].reset_index(drop=True)
    table[f"{PAPER_LABELS['base']} ms/step"] = base["step_ms"].to_numpy()
    for method, activation in timed_steps(penalties):
        label = (f"{step_label(penalties, method, activation)} / "
                 f"{step_label(penalties, 'base', activation)}")
        table[label] = _step_rows(penalties, method, activation)["ratio"].to_numpy()
    return table


def cost_claims(penalties: pd.DataFrame) -> pd.DataFrame:
    """The papers' cost statements (:data:`published.COST_CLAIMS`) beside the range of our measured
    ratios over capacities (first activation), each method named by its paper label."""
    rows = []
    for method, claim in COST_CLAIMS.items():
        r = _ratios(penalties, method)
        if r.empty:
            continue
        rows.append({"method": PAPER_LABELS[method], "paper": claim,
                     "ours (ratio to BASE, over capacities)": f"{r.min():.2f}x to {r.max():.2f}x"})
    return pd.DataFrame(rows)


def cost_note(penalties: pd.DataFrame) -> str:
    """Markdown: the range of DREG's, IGPEN's and the exact Jacobian penalty's step-time ratios, and
    at how many capacities DREG is cheaper than IGPEN."""
    dreg, igp, jac, cheaper = _cost_ratios(penalties)
    labels = PAPER_LABELS
    return (f"{labels['dreg']} costs {dreg.min():.2f}x to {dreg.max():.2f}x a {labels['base']} step and is cheaper "
            f"than {labels['igp']} at {cheaper} of {len(dreg)} capacities ({labels['igp']}: {igp.min():.2f}x to "
            f"{igp.max():.2f}x). The exact Jacobian penalty on these 10-output models costs "
            f"{jac.min():.1f}x to {jac.max():.1f}x, of the order of the tenfold cost *Teaching the Teacher* "
            f"reports; its one-projection estimate costs about as much as {labels['igp']}. "
            "Peak memory is not measured here, so the paper's statement about the memory of double "
            "backpropagation is neither confirmed nor refuted.")


def glue_costs(penalties: pd.DataFrame) -> None:
    """Glue the cost ranges and verdicts the pages paste, and the scorecard rows ``dreg_cost`` and
    ``ttt_cost`` (verdicts by :func:`claims.dreg_cost_verdict` and :func:`claims.jacobian_cost_verdict`,
    the rules stated by :data:`claims.DREG_COST_RULE` and :data:`claims.JACOBIAN_COST_RULE`)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    dreg, igp, jac, cheaper = _cost_ratios(penalties)
    labels = PAPER_LABELS
    dreg_range, igp_range = f"{dreg.min():.2f}x to {dreg.max():.2f}x", f"{igp.min():.2f}x to {igp.max():.2f}x"
    jac_range, paper_jac = (f"{jac.min():.1f}x to {jac.max():.1f}x",
                           f"about {published.TEACHING_THE_TEACHER['teacher_overhead']:g}x")
    dreg_verdict, jac_verdict = claims.dreg_cost_verdict(dreg, igp), claims.jacobian_cost_verdict(jac)
    for name, value in (("dreg_cost", dreg_range), ("igp_cost", igp_range), ("jac_cost", jac_range),
                        ("dreg_cost_verdict", dreg_verdict), ("jac_cost_verdict", jac_verdict),
                        ("jac_cost_paper", paper_jac)):
        glue(name, value, display=False)
    scorecard.glue_row("dreg_cost", paper=f"about 1x a {labels['base']} step", ours=dreg_range, verdict=dreg_verdict,
                       details=f"{labels['dreg']} {dreg_range} a {labels['base']} step, {labels['igp']} {igp_range}; "
                               f"{labels['dreg']} cheaper than {labels['igp']} at {cheaper} of {len(dreg)} capacities. "
                               f"{claims.DREG_COST_RULE}.")
    scorecard.glue_row("ttt_cost", paper=paper_jac, ours=jac_range, verdict=jac_verdict,
                       details=f"Exact Jacobian penalty on 10-output models (784 inputs): "
                               f"{jac_range} a {labels['base']} step. {claims.JACOBIAN_COST_RULE}.")


def naive_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.performance.naive_summary` as the page shows it: labelled
    columns, the floor's row named by what it measures."""
    return show(comparison.assign(arm=comparison["arm"].replace(ARMS)))


def sweep_totals(meta: dict) -> pd.DataFrame:
    """The Table 3 sweep's wall time: extrapolated both ways, and measured where it was run."""
    rows = [{"mode": "vectorised groups (extrapolated)", "minutes": meta["vectorised_min_extrapolated"]},
            {"mode": "one run at a time (extrapolated)", "minutes": meta["sequential_min_extrapolated"]}]
    if meta.get("vectorised_min_measured") is not None:
        rows.append({"mode": "vectorised groups (measured, whole sweep)",
                     "minutes": meta["vectorised_min_measured"]})
    if meta.get("floor_min") is not None:
        rows.append({"mode": "floor: the sweep's matrix products alone", "minutes": meta["floor_min"]})
    return pd.DataFrame(rows)


def sweep_speed_note(bench_dir: str | Path | None = None) -> str:
    """Markdown for the MNIST chapter: where the Table-3 sweep benchmark saved in ``bench_dir``
    (None: the repository's) ran, its measured and extrapolated minutes against one run at a
    time and its floor."""
    _, meta = load_benchmark(bench_dir, "sweep")
    measured = meta.get("vectorised_min_measured")
    return (f"{machine_line(meta)}: the whole vectorised sweep "
            + (f"ran in **{measured:.1f} minutes** (measured with `--full`; "
               f"{meta['vectorised_over_floor_measured']:.2f} times its floor of {meta['floor_min']:.1f} minutes), "
               if measured is not None else "")
            + f"extrapolated from its step timings at {meta['vectorised_min_extrapolated']:.1f} minutes against "
            f"{meta['sequential_min_extrapolated']:.1f} minutes one run at a time (ratio "
            f"{meta['ratio_extrapolated']:.2f}). The {{doc}}`performance chapter <06_performance>` splits the time "
            "per capacity into the products, the optimizer and the rest.")


def projection_variance_table(projections: pd.DataFrame) -> pd.DataFrame:
    """Per model (rows) and distribution (columns): the measured relative variance
    Var[estimate] / ||J||_F^4 of one projection, its prediction, and the reduction against the
    Gaussian projection (0 variance with one output: shown as exact)."""
    table = projections.pivot(index=["model", "outputs"], columns="distribution",
                              values=["relative_variance", "predicted", "reduction_vs_gaussian"])
    models = list(dict.fromkeys(projections["model"]))
    table = table.reset_index().set_index("model").loc[models].reset_index()
    shown = pd.DataFrame({"model": table["model"], "outputs": table["outputs"]})
    for distribution in PROJECTIONS:
        measured = table[("relative_variance", distribution)]
        predicted = table[("predicted", distribution)]
        shown[f"{distribution} (predicted)"] = [f"{m:.3f} ({p:.3f})" for m, p in zip(measured, predicted)]
    for distribution in (d for d in PROJECTIONS if d != "gaussian"):  # reduction_vs_gaussian's reference
        reduction = table[("reduction_vs_gaussian", distribution)]
        shown[f"{distribution}: reduction"] = ["exact" if r == float("inf") else f"{r:.1f}x" for r in reduction]
    return shown
