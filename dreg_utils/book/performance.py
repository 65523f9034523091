"""Reading the timing results that ``benchmarks/`` writes (``make bench``) for the book.

``bench_penalties.py --out DIR`` writes ``penalties.csv``: per capacity and method the
median over interleaved repetitions of the paired ratio (step time / step time of the
matching BASE) and its interquartile range. ``bench_sweep.py --out DIR`` writes
``sweep.csv``: per MNIST cell the step times of a vectorised group and of one run, the
extrapolated training time of the 96-run Table 3 sweep both ways, and its floor: the
sweep's matrix products alone. ``bench_naive.py --out DIR`` writes ``naive.csv``: the
project's sweep and a naive per-run loop on the same 48 runs, each against its floor.
``bench_projections.py --out DIR`` writes ``projections.csv``: per small model and projection
distribution the measured and predicted relative variance of one-projection estimates of
||J||_F^2. Each CSV has a ``.meta.json`` beside it naming the machine, the software and the date.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..settings import StudySettings
from ..claims import COST_CLAIMS
from ..validation import check_choice

BENCHMARKS = ("penalties", "sweep", "naive", "projections", "gplearn", "teachers")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@dataclass(frozen=True)
class PerformanceSettings(StudySettings):
    """The performance chapter (notebook 06) reads what `make bench` saved; it trains nothing,
    so every profile is the same. ``bench_dir`` None: the repository's benchmarks/results."""

    bench_dir: str | None = None

    def normalise(self, s: dict) -> dict:
        bench_dir = s["bench_dir"]
        if bench_dir is not None:
            if not isinstance(bench_dir, (str, Path)) or not str(bench_dir):
                raise TypeError(f"bench_dir must be a folder path or None, got {bench_dir!r}")
            if not Path(bench_dir).is_dir():
                raise FileNotFoundError(f"bench_dir={str(bench_dir)!r} is not a folder; give the folder "
                                        "that `make bench` writes (benchmarks/results) or None")
        return s


def validate(settings: Mapping) -> PerformanceSettings:
    """The settings checked and completed (see :class:`PerformanceSettings`)."""
    return PerformanceSettings.coerce(settings)


def load_benchmark(bench_dir: str | Path | None, name: str) -> tuple[pd.DataFrame, dict]:
    """The table and the machine description one benchmark saved in ``bench_dir``
    (None: the repository's ``benchmarks/results``)."""
    check_choice("name", name, BENCHMARKS)
    if bench_dir is not None and not isinstance(bench_dir, (str, Path)):
        raise TypeError(f"bench_dir must be a folder path or None, got {bench_dir!r}")
    bench_dir = DEFAULT_DIR if bench_dir is None else Path(bench_dir)
    csv, meta = bench_dir / f"{name}.csv", bench_dir / f"{name}.meta.json"
    if not csv.is_file() or not meta.is_file():
        raise FileNotFoundError(
            f"no {name} benchmark in {bench_dir} ({csv.name} and {meta.name} are needed); "
            f"run `python benchmarks/bench_{name}.py --out {bench_dir}` (or `make bench`)")
    return pd.read_csv(csv, dtype={"hidden": str}), json.loads(meta.read_text())


def machine_line(meta: dict) -> str:
    """One sentence naming where and when a benchmark ran."""
    device = meta["device"] if meta.get("gpu") is None else f"{meta['device']} ({meta['gpu']})"
    return (f"{meta['cpu']}, {meta['cores']} usable core(s), {meta['torch_threads']} torch thread(s), "
            f"device {device}, torch {meta['torch']}, Python {meta['python']}; measured "
            f"{meta['date']}, load average {meta['load_average_at_end']} at the end"
            + (" (a quick run: too few steps to trust)" if meta.get("quick") else ""))


def penalty_ratio_table(penalties: pd.DataFrame) -> pd.DataFrame:
    """Capacities as rows, methods as columns, the median step-time ratio to BASE as values
    (BASE itself shown by its step time in milliseconds)."""
    table = penalties.pivot(index=["hidden", "params"], columns="method", values="ratio")
    base_ms = penalties[penalties["method"] == "BASE"].set_index(["hidden", "params"])["step_ms"]
    order = [m for m in ("DREG", "IGP", "SN", "JAC", "JAC-RP", "DREG-poly") if m in table]
    table = table[order].rename(columns=lambda m: f"{m} / BASE" if m != "DREG-poly" else
                                "DREG-poly / BASE-poly")
    table.insert(0, "BASE ms/step", base_ms)
    capacity = penalties.drop_duplicates("hidden")["hidden"].tolist()
    return table.reset_index().set_index("hidden").loc[capacity].reset_index()


def cost_claims(penalties: pd.DataFrame) -> pd.DataFrame:
    """The papers' cost statements (:data:`claims.COST_CLAIMS`) beside the range of our measured
    ratios over capacities."""
    rows = []
    for method, claim in COST_CLAIMS.items():
        r = penalties.loc[penalties["method"] == method, "ratio"]
        if r.empty:
            continue
        rows.append({"method": method, "paper": claim,
                     "ours (ratio to BASE, over capacities)": f"{r.min():.2f}x to {r.max():.2f}x"})
    return pd.DataFrame(rows)


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


def floor_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per MNIST cell: the extrapolated training minutes of the vectorised groups, the floor
    (the matrix products alone, hot in cache) and their ratio, the number to drive down; then
    where the wall time goes, in units of the floor: the step's own products replayed alone
    (recorded layouts, a fresh operand per product), the AdamW update alone, and the rest
    (elementwise work, autograd, Python)."""
    floor = sweep["floor_train_s"]
    table = pd.DataFrame({"hidden": sweep["hidden"], "activation": sweep["activation"],
                          "vectorised_min": sweep["vectorised_train_s"] / 60, "floor_min": floor / 60,
                          "wall_over_floor": sweep["vectorised_train_s"] / floor})
    if "replay_train_s" in sweep:
        table["products_over_floor"] = sweep["replay_train_s"] / floor
        table["adamw_over_floor"] = sweep["adamw_train_s"] / floor
        table["rest_over_floor"] = (sweep["vectorised_train_s"] - sweep["replay_train_s"]
                                    - sweep["adamw_train_s"]) / floor
    return table


def naive_summary(naive: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """The project's sweep and the naive per-run loop: seconds, wall / floor, and the ratio."""
    table = naive.assign(ratio_to_reference=naive["seconds"]
                         / float(naive.loc[naive["arm"] == "reference", "seconds"].iloc[0]))
    floor = pd.DataFrame([{"arm": "floor (matrix products alone)", "seconds": meta["floor_s"],
                           "wall_over_floor": 1.0}])
    return pd.concat([table, floor], ignore_index=True)


def projection_variance_table(projections: pd.DataFrame) -> pd.DataFrame:
    """Per model (rows) and distribution (columns): the measured relative variance
    Var[estimate] / ||J||_F^4 of one projection, its prediction, and the reduction against the
    Gaussian projection (0 variance with one output: shown as exact)."""
    table = projections.pivot(index=["model", "outputs"], columns="distribution",
                              values=["relative_variance", "predicted", "reduction_vs_gaussian"])
    models = list(dict.fromkeys(projections["model"]))
    table = table.reset_index().set_index("model").loc[models].reset_index()
    shown = pd.DataFrame({"model": table["model"], "outputs": table["outputs"]})
    for distribution in ("gaussian", "rademacher", "sphere"):
        measured = table[("relative_variance", distribution)]
        predicted = table[("predicted", distribution)]
        shown[f"{distribution} (predicted)"] = [f"{m:.3f} ({p:.3f})" for m, p in zip(measured, predicted)]
    for distribution in ("rademacher", "sphere"):
        reduction = table[("reduction_vs_gaussian", distribution)]
        shown[f"{distribution}: reduction"] = ["exact" if r == float("inf") else f"{r:.1f}x" for r in reduction]
    return shown
