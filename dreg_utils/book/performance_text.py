"""The performance chapter's display tables and words (notebook 06, and the speed note of
notebook 02), built from the benchmark tables that :mod:`dreg_utils.studies.performance` reads:
step time, the cost verdicts with their intervals (DREG's against first-order training; the exact
Jacobian penalty's in *Teaching the Teacher*'s scalar-output setting, and on MNIST-shaped models as
an extension), and peak memory per training step.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .. import published
from ..published import COST_CLAIMS
from ..studies.performance import DEFAULT_DIR, load_benchmark, memory_saving, memory_table
from ..verdicts import (DREG_COST_LIMIT, DREG_COST_RULE, JACOBIAN_COST_RULE, MEMORY_RULE, dreg_cost_verdict,
                        interval_verdict, jacobian_cost_verdict)
from ..vocabulary import METHODS, PAPER_LABELS, PROJECTIONS, paper_cell_label
from . import scorecard
from .labels import show
from .tables import download, with_interval

CHAPTER = "06_performance"
MACHINES = {"penalties": "Penalty", "sweep": "Sweep", "naive": "Naive-reference"}  # shown in "This run"
ARMS = {"floor": "floor (matrix products alone)"}  # the naive comparison's arms shown by another name
MIB = 2 ** 20


def bench_folder(bench_dir: str | Path | None) -> str:
    """The benchmark folder as a page names it: ``bench_dir``, or the repository's
    ``benchmarks/results`` when None."""
    return str(bench_dir) if bench_dir is not None else f"{DEFAULT_DIR.parent.name}/{DEFAULT_DIR.name}"


def ratio_interval(ratio: float, low: float, high: float) -> str:
    """A step-time ratio with its 95% interval, e.g. "1.07x (95% CI 1.04x to 1.10x)"."""
    return with_interval(ratio, low, high, unit="x", digits=2, signed=False,
                         no_interval="no interval: too few repetitions")


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
                             data=f"the benchmark tables in `{bench_folder(chapter.settings['bench_dir'])}`: "
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


def penalty_ratio_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`penalty_ratio_table` as the page shows it, one column per capacity (hidden widths)
    and one row per quantity (params, BASE ms/step, each timed step's ratio), as text: params with
    thousands separators, the rest to two decimals. A row per step keeps the table as narrow as its
    capacities however many steps are timed."""
    shown = table.assign(params=[f"{n:,}" for n in table["params"]],
                         **{c: [f"{x:.2f}" for x in table[c]] for c in table.columns.drop(["hidden", "params"])})
    view = shown.set_index("hidden").T
    view.index.name = None
    return view


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
            f"{jac.min():.1f}x to {jac.max():.1f}x, one backward pass per output; its one-projection estimate "
            f"costs about as much as {labels['igp']}. These MNIST-shaped models are not the setting of *Teaching "
            "the Teacher*'s claim: the scalar-output teacher below is.")


def _interval_rows(penalties: pd.DataFrame, method: str) -> pd.DataFrame:
    """``method``'s rows (first activation) in capacity order with the interval columns, NaN where
    the table predates them."""
    rows = _step_rows(penalties, method)
    return rows.assign(ci_low=rows.get("ci_low", math.nan), ci_high=rows.get("ci_high", math.nan))


def cost_interval_table(penalties: pd.DataFrame) -> pd.DataFrame:
    """Per capacity: DREG's step-time ratio to BASE with its 95% interval and its verdict against
    :data:`verdicts.DREG_COST_LIMIT`, and the exact Jacobian penalty's (MNIST-shaped, an extension of
    *Teaching the Teacher*'s claim) with its verdict against the paper's factor."""
    dreg, jac = _interval_rows(penalties, "dreg"), _interval_rows(penalties, "jacobian")
    labels = PAPER_LABELS
    return pd.DataFrame({
        "hidden": dreg["hidden"].to_numpy(),
        f"{labels['dreg']} / {labels['base']}": [ratio_interval(r.ratio, r.ci_low, r.ci_high)
                                                 for r in dreg.itertuples()],
        f"vs {DREG_COST_LIMIT:g}x": [dreg_cost_verdict([r.ratio], [r.ci_low], [r.ci_high])
                                           for r in dreg.itertuples()],
        f"{labels['jacobian']} / {labels['base']}": [ratio_interval(r.ratio, r.ci_low, r.ci_high)
                                                     for r in jac.itertuples()],
        f"vs about {published.TEACHING_THE_TEACHER['teacher_overhead']:g}x":
            [jacobian_cost_verdict(r.ratio, r.ci_low, r.ci_high) for r in jac.itertuples()]})


def teacher_cost_table(teacher_cost: pd.DataFrame) -> pd.DataFrame:
    """The teacher's training-time ratios (``bench_teacher_cost``): per output count and penalty
    (paper label), the ratio to the unregularised teacher with its 95% interval, and for the exact
    Jacobian penalty its verdict against the paper's factor."""
    rows = teacher_cost[teacher_cost["method"] != "base"]
    return pd.DataFrame({
        "outputs": rows["outputs"].to_numpy(), "penalty": rows["method"].map(PAPER_LABELS).to_numpy(),
        "ratio to unregularised": [ratio_interval(r.ratio, r.ci_low, r.ci_high) for r in rows.itertuples()],
        f"verdict (about {published.TEACHING_THE_TEACHER['teacher_overhead']:g}x)": [
            jacobian_cost_verdict(r.ratio, r.ci_low, r.ci_high) if r.method == "jacobian" else "-"
            for r in rows.itertuples()]})


def _paper_setting(teacher_cost: pd.DataFrame) -> pd.Series:
    """The exact Jacobian penalty's row of the scalar-output teacher (the paper's setting)."""
    rows = teacher_cost[(teacher_cost["method"] == "jacobian") & (teacher_cost["outputs"] == 1)]
    if rows.empty:
        raise ValueError("the teacher-cost table has no scalar-output (outputs = 1) row of the exact Jacobian "
                         "penalty; run `python benchmarks/bench_teacher_cost.py --out benchmarks/results`")
    return rows.iloc[0]


def glue_costs(penalties: pd.DataFrame, teacher_cost: pd.DataFrame, teacher_meta: dict) -> None:
    """Glue DREG's cost verdict and limit, which the page pastes, and the scorecard rows ``dreg_cost``
    (:func:`verdicts.dreg_cost_verdict` over the capacities of ``penalties``) and ``ttt_cost``
    (:func:`verdicts.jacobian_cost_verdict` on the scalar-output teacher of ``teacher_cost``, the
    paper's setting; the MNIST-shaped models of ``penalties`` as an extension), each with its
    interval and rule."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    dreg, igp, jac, cheaper = _cost_ratios(penalties)
    labels = PAPER_LABELS
    dreg_rows, jac_rows = _interval_rows(penalties, "dreg"), _interval_rows(penalties, "jacobian")
    dreg_verdict = dreg_cost_verdict(dreg_rows["ratio"], dreg_rows["ci_low"], dreg_rows["ci_high"])
    highest = dreg_rows.loc[dreg_rows["ci_high"].fillna(dreg_rows["ratio"]).idxmax()]  # the verdict's deciding bound
    dreg_ours = (f"{ratio_interval(highest['ratio'], highest['ci_low'], highest['ci_high'])} at "
                 f"({highest['hidden'].replace('-', ', ')}), of {len(dreg_rows)} capacities the one whose interval "
                 f"reaches highest; estimates {dreg_rows['ratio'].min():.2f}x to {dreg_rows['ratio'].max():.2f}x")
    paper = _paper_setting(teacher_cost)
    jac_verdict = jacobian_cost_verdict(paper["ratio"], paper["ci_low"], paper["ci_high"])
    jac_ours = ratio_interval(paper["ratio"], paper["ci_low"], paper["ci_high"]) + ", scalar-output teacher"
    mnist_verdicts = [jacobian_cost_verdict(r.ratio, r.ci_low, r.ci_high) for r in jac_rows.itertuples()]
    paper_jac = f"about {published.TEACHING_THE_TEACHER['teacher_overhead']:g}x"
    dreg_range, igp_range = f"{dreg.min():.2f}x to {dreg.max():.2f}x", f"{igp.min():.2f}x to {igp.max():.2f}x"
    glue("dreg_cost_verdict", dreg_verdict, display=False)
    glue("dreg_cost_limit", f"{DREG_COST_LIMIT:g}", display=False)
    scorecard.glue_row("dreg_cost", paper=f"about 1x a {labels['base']} step", ours=dreg_ours, verdict=dreg_verdict,
                       rule=DREG_COST_RULE,
                       details=f"{labels['dreg']} {dreg_range} a {labels['base']} step over {len(dreg)} capacities "
                               f"(median of paired per-repetition ratios; 95% intervals from their order "
                               f"statistics), {labels['igp']} {igp_range}; {labels['dreg']} cheaper than "
                               f"{labels['igp']} at {cheaper} of {len(dreg)} capacities.")
    scorecard.glue_row("ttt_cost", paper=paper_jac, ours=jac_ours, verdict=jac_verdict,
                       rule=JACOBIAN_COST_RULE,
                       details=f"The paper's setting: a ReLU teacher (hidden widths {teacher_meta['hidden']}) with "
                               f"a scalar output on {teacher_meta['dataset']}, {teacher_meta['epochs']} epochs, "
                               f"{teacher_meta['repeats']} interleaved repeats: "
                               f"{ratio_interval(paper['ratio'], paper['ci_low'], paper['ci_high'])} the "
                               f"unregularised teacher's training time. Extension, MNIST-shaped models (784 inputs, "
                               f"10 outputs, one backward pass per output): {jac.min():.1f}x to {jac.max():.1f}x a "
                               f"{labels['base']} step; verdicts by capacity: {', '.join(mnist_verdicts)}.")


def memory_display(memory: pd.DataFrame) -> pd.DataFrame:
    """Capacities as rows, each measured method (paper label) as a column: its peak memory per
    training step in MiB and, in brackets, its ratio to BASE's at the same capacity."""
    table = memory_table(memory)
    shown = pd.DataFrame({"hidden": list(dict.fromkeys(table["hidden"]))})
    for method in dict.fromkeys(table["method"]):
        rows = table[table["method"] == method]
        shown[f"{PAPER_LABELS[method]} MiB (x BASE)"] = [f"{b / MIB:.2f} ({r:.2f}x)"
                                                         for b, r in zip(rows["total_bytes"], rows["total_ratio"])]
    return shown


def teacher_cost_note(teacher_cost: pd.DataFrame, meta: dict) -> str:
    """Markdown: the teacher protocol timed, the scalar-output verdict with its interval, and the machine."""
    paper = _paper_setting(teacher_cost)
    verdict = jacobian_cost_verdict(paper["ratio"], paper["ci_low"], paper["ci_high"])
    return (f"Teacher: ReLU, hidden widths {meta['hidden']}, on {meta['dataset']}, {meta['epochs']} epochs, batch "
            f"{meta['batch_size']}, {meta['repeats']} interleaved repeats. In the paper's setting (one output) the "
            f"exact Jacobian penalty costs {ratio_interval(paper['ratio'], paper['ci_low'], paper['ci_high'])} the "
            f"unregularised teacher's training time: **{verdict}** against the paper's about "
            f"{published.TEACHING_THE_TEACHER['teacher_overhead']:g}x.\n\n*Rule:* {JACOBIAN_COST_RULE}.\n\n"
            f"**Teacher benchmark machine:** {machine_line(meta)}.")


def glue_memory(memory: pd.DataFrame) -> None:
    """Glue the memory ratios the prose pastes and the scorecard row ``dreg_memory``: DREG's peak
    against IGPEN's at every capacity (:data:`~dreg_utils.verdicts.MEMORY_RULE`,
    :func:`verdicts.interval_verdict` of the smallest saving over capacities, its range over the
    repeats as the interval)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    table, saving = memory_table(memory), memory_saving(memory)
    labels = PAPER_LABELS
    worst = saving.loc[saving["saving"].idxmin()]
    verdict = interval_verdict(worst["saving"], worst["saving_low"], worst["saving_high"])
    ratios = {m: table.loc[table["method"] == m, "total_ratio"] for m in ("dreg", "igp")}
    ranges = {m: f"{r.min():.2f}x to {r.max():.2f}x" for m, r in ratios.items()}
    ours = (f"{worst['saving']:.0%} less than {labels['igp']} (range over repeats {worst['saving_low']:.0%} to "
            f"{worst['saving_high']:.0%}) at ({worst['hidden'].replace('-', ', ')}), the closest of "
            f"{len(saving)} capacities")
    added = {m: table.loc[table["method"] == m, "peak_ratio"] for m in ("dreg", "igp")}
    for name, value in (("memory_dreg", ranges["dreg"]), ("memory_igp", ranges["igp"]),
                        ("memory_dreg_added", f"{added['dreg'].min():.2f}x to {added['dreg'].max():.2f}x"),
                        ("memory_igp_added", f"{added['igp'].min():.1f}x to {added['igp'].max():.1f}x"),
                        ("memory_deterministic", "agree" if table["deterministic"].all() else "do not all agree"),
                        ("memory_verdict", verdict)):
        glue(name, value, display=False)
    scorecard.glue_row("dreg_memory", paper=f"{labels['igp']} (double backpropagation) O(2x) memory; "
                                            f"{labels['dreg']} comparable to first-order training",
                       ours=ours, verdict=verdict, rule=MEMORY_RULE,
                       details=f"Peak memory of one training step (forward, penalty, backward; parameters, "
                               f"gradients and batch included) relative to {labels['base']} over {len(saving)} "
                               f"capacities: {labels['dreg']} {ranges['dreg']}, {labels['igp']} {ranges['igp']}; "
                               f"{labels['dreg']} needs "
                               + ", ".join(f"{s:.0%}" for s in saving["saving"])
                               + f" less than {labels['igp']} (smallest to largest capacity).")


def jacobian_memory_line(memory: pd.DataFrame) -> str:
    """The exact and one-projection Jacobian penalties' peak memory per step against BASE's and
    IGPEN's (``memory``'s first activation, every capacity): each one's range of ratios to BASE,
    at how many capacities the exact penalty's peak lies above IGPEN's, and at how many the
    projection's equals IGPEN's, with its largest relative difference from it."""
    table = memory_table(memory)
    table = table[table["activation"] == table["activation"].iloc[0]].set_index(["hidden", "method"])
    hidden = list(dict.fromkeys(table.index.get_level_values("hidden")))
    penalties = ("jacobian", "jacobian_rp")  # the exact Jacobian penalty and its one-projection estimate
    total = {m: table.xs(m, level="method")["total_bytes"].reindex(hidden) for m in ("igp", *penalties)}
    ratio = {m: table.xs(m, level="method")["total_ratio"] for m in penalties}
    above = int((total["jacobian"] > total["igp"]).sum())
    same = int((total["jacobian_rp"] == total["igp"]).sum())
    gap = float((total["jacobian_rp"] / total["igp"] - 1).abs().max())
    n, labels = len(hidden), PAPER_LABELS
    return (f"the exact penalty needs {ratio['jacobian'].min():.2f}x to {ratio['jacobian'].max():.2f}x the peak of a "
            f"{labels['base']} step, above {labels['igp']}'s at {above} of the {n} capacities; one projection "
            f"{ratio['jacobian_rp'].min():.2f}x to {ratio['jacobian_rp'].max():.2f}x, the same peak as "
            f"{labels['igp']}'s at {same} of the {n} and within {gap:.2%} of it at every one")


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
