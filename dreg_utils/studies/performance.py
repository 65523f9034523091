"""The performance study (notebook 06): the timing results that ``benchmarks/`` writes
(``make bench``), read back as tables.

Each benchmark of :data:`BENCHMARKS` writes, with ``--out DIR``, ``DIR/<name>.csv`` and a
``.meta.json`` beside it naming the machine, the software and the date:

* ``bench_penalties.py``: ``penalties.csv``, per capacity, method (its vocabulary key) and
  activation the median over interleaved repetitions of the paired ratio (step time / step
  time of BASE with the same activation), its interquartile range and the step time;
* ``bench_sweep.py``: ``sweep.csv``, per MNIST cell the step times of a vectorised group and
  of one run, the extrapolated training time of the 96-run Table 3 sweep both ways, and its
  floor: the sweep's matrix products alone;
* ``bench_naive.py``: ``naive.csv``, the project's sweep and a naive per-run loop on the same
  48 runs, each against its floor;
* ``bench_projections.py``: ``projections.csv``, per small model and projection distribution
  the measured and predicted relative variance of one-projection estimates of ||J||_F^2;
* ``bench_gplearn.py``: ``gplearn.csv``, per gplearn budget the seconds per fit of gplearn's
  own fit and of :func:`dreg_utils.fast_gplearn.fit`, and their ratio;
* ``bench_teachers.py``: ``teachers.csv``, the distillation study's teachers trained one at a
  time and as one vectorised group: seconds, their ratio and the largest prediction difference.

This module reads them back (:func:`load_benchmarks`) and derives the floor and naive-loop
tables; the chapter's display tables and words are in :mod:`dreg_utils.book.performance_text`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..constraints import Nullable, PathTo
from ..settings import StudySettings, knob
from ..validation import check_choice

BENCHMARKS = ("penalties", "sweep", "naive", "projections", "gplearn", "teachers")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@dataclass(frozen=True)
class PerformanceSettings(StudySettings):
    """The performance chapter (notebook 06) reads what `make bench` saved; it trains nothing,
    so every profile is the same. ``bench_dir`` None: the repository's benchmarks/results."""

    bench_dir: str | None = knob(None, Nullable(PathTo(
        "folder", exists=True, give="the folder that `make bench` writes (benchmarks/results) or None")))


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


def load_benchmarks(settings: PerformanceSettings) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Every benchmark of :data:`BENCHMARKS` in the settings' ``bench_dir``: name -> (table, machine)."""
    return {name: load_benchmark(settings.bench_dir, name) for name in BENCHMARKS}


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
    """The project's sweep and the naive per-run loop: seconds, wall / floor, and the ratio to the
    naive loop (arm "reference"), with a last row for the floor (arm "floor": the matrix products alone)."""
    table = naive.assign(ratio_to_reference=naive["seconds"]
                         / float(naive.loc[naive["arm"] == "reference", "seconds"].iloc[0]))
    floor = pd.DataFrame([{"arm": "floor", "seconds": meta["floor_s"],
                           "wall_over_floor": 1.0}])
    return pd.concat([table, floor], ignore_index=True)
