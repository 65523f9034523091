"""The performance study (notebook 06): the timing results that ``benchmarks/`` writes
(``make bench``), read back as tables.

Each benchmark of :data:`BENCHMARKS` writes, with ``--out DIR``, ``DIR/<name>.csv`` and a
``.meta.json`` beside it naming the machine, the software and the date:

* ``bench_penalties.py``: ``penalties.csv``, per capacity, method (its vocabulary key) and
  activation the median over interleaved repetitions of the paired ratio (step time / step
  time of BASE with the same activation), its interquartile range, its 95% interval
  (:func:`dreg_utils.intervals.median_interval`) and the step time;
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
  time and as one vectorised group: seconds, their ratio and the largest prediction difference;
* ``bench_memory.py``: ``memory.csv``, per capacity and method the peak memory of one training
  step's forward, penalty and backward: the bytes held when it starts (parameters, buffers,
  gradients, the batch), the most it adds above them, their sum, and the same with the AdamW
  update; repeated to show that the measurement is deterministic;
* ``bench_teacher_cost.py``: ``teacher_cost.csv``, the distillation study's teacher (the paper's
  setting: scalar output) and its k-output variants, per penalty the median over interleaved
  repeats of the paired ratio of training seconds to the unregularised teacher's, with its 95%
  interval (:func:`ratio_summary`).

This module reads them back (:func:`load_benchmarks`) and derives the floor, naive-loop and
memory tables and the intervals of timed ratios; the chapter's display tables and words are in
:mod:`dreg_utils.book.performance_text`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..constraints import Nullable, PathTo
from ..intervals import median_interval
from ..settings import StudySettings, knob
from ..validation import check_choice

BENCHMARKS = ("penalties", "sweep", "naive", "projections", "gplearn", "teachers", "memory", "teacher_cost")
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


def ratio_summary(timings: pd.DataFrame, keys: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Per ``keys`` and method of ``timings`` (one row per key values, method and ``repeat``, with
    ``seconds``): the median seconds, and the median over repeats of the paired ratio (seconds /
    the seconds of method "base" in the same repeat and key values) with its interval
    (:func:`dreg_utils.intervals.median_interval`): columns ``*keys, method, seconds, ratio, ci_low, ci_high, repeats``."""
    missing = [c for c in (*keys, "method", "repeat", "seconds") if c not in timings.columns]
    if missing:
        raise ValueError(f"timings lacks the columns {missing}; it has {list(timings.columns)}")
    rows = []
    for key_values, block in timings.groupby(keys, sort=False):
        key_values = key_values if isinstance(key_values, tuple) else (key_values,)
        by_method = block.pivot(index="repeat", columns="method", values="seconds")
        if "base" not in by_method:
            raise ValueError(f"timings has no method 'base' at {dict(zip(keys, key_values))}")
        for method in dict.fromkeys(block["method"]):
            ratio, low, high = median_interval(by_method[method] / by_method["base"], confidence)
            rows.append({**dict(zip(keys, key_values)), "method": method,
                         "seconds": float(by_method[method].median()), "ratio": ratio,
                         "ci_low": low, "ci_high": high, "repeats": len(by_method)})
    return pd.DataFrame(rows)


def memory_table(memory: pd.DataFrame) -> pd.DataFrame:
    """``memory.csv`` with, per row, its peak (``total_bytes``) and the peak of the step's own
    allocations (``peak_bytes``) each as a ratio to BASE's at the same capacity and activation,
    and whether the repeated measurements agreed (``deterministic``: one value per row)."""
    base = memory[memory["method"] == "base"].set_index(["hidden", "activation"])
    index = pd.MultiIndex.from_frame(memory[["hidden", "activation"]])
    return memory.assign(
        total_ratio=memory["total_bytes"].to_numpy() / base["total_bytes"].reindex(index).to_numpy(),
        peak_ratio=memory["peak_bytes"].to_numpy() / base["peak_bytes"].reindex(index).to_numpy(),
        deterministic=memory["peak_min_bytes"] == memory["peak_max_bytes"])


def memory_saving(memory: pd.DataFrame, method: str = "dreg", reference: str = "igp") -> pd.DataFrame:
    """Per capacity (``memory``'s first activation), how much less ``method`` needs at its peak
    than ``reference``: ``saving`` = 1 - total(method) / total(reference), with its range over the
    repeated measurements (``saving_low``, ``saving_high``; equal when the measurement is
    deterministic)."""
    first = memory["activation"].iloc[0]
    rows = memory[memory["activation"] == first].set_index(["hidden", "method"])
    out = []
    for hidden in dict.fromkeys(memory["hidden"]):
        a, b = rows.loc[(hidden, method)], rows.loc[(hidden, reference)]
        held_a, held_b = a["held_bytes"], b["held_bytes"]
        out.append({"hidden": hidden,
                    "saving": 1 - a["total_bytes"] / b["total_bytes"],
                    "saving_low": 1 - (held_a + a["peak_max_bytes"]) / (held_b + b["peak_min_bytes"]),
                    "saving_high": 1 - (held_a + a["peak_min_bytes"]) / (held_b + b["peak_max_bytes"])})
    return pd.DataFrame(out)
