"""What a teacher's penalty costs (notebook 04, and ``benchmarks/bench_teacher_cost.py`` for the
performance chapter): training seconds of each penalty against the unregularised teacher,
measured in one run so that only ratios are read."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from ..data.regression import load_dataset
from ..models import CompactMLP
from ..schema import FINITE, INTEGER, TEXT, ResultSchema, list_of, record_of
from ..sweep import run_grid
from ..files import write_table
from ..threads import single_threaded
from ..train import fit
from ..vocabulary import methods_for
from .distillation import validate

COST_METHODS = methods_for("teacher")  # every penalty a teacher can train with
STUDY_VERSION = "3"  # in the cache key; bump when teacher_cost changes what it returns
# What the one run's result holds, exactly (rows: see teacher_cost); a cached record is checked against it.
RESULT_SCHEMA = ResultSchema(always={"rows": list_of(record_of({"outputs": INTEGER, "method": TEXT, "seconds": FINITE,
                                                                 "ratio_to_base": FINITE})),
                                     "wall_seconds": FINITE})


def teacher_timings(dataset: str, hidden: list[int], epochs: int, batch_size: int,
                    outputs: list[int], repeats: int, lam: float = 0.01) -> list[dict]:
    """Training seconds of the teacher with each penalty (:data:`COST_METHODS`, BASE unregularised),
    one row per number of outputs, repeat and method (``outputs``, ``repeat``, ``method``,
    ``seconds``): in each repeat every method trains once from the same initialisation, on the
    same data and epochs, one after the other (interleaved), on one CPU thread.

    With k outputs the exact Jacobian penalty needs k backward passes per step; the random-
    projection estimate (one projection) needs one, whatever k is. The target is y repeated
    k times (only the timing matters).
    """
    data = load_dataset(dataset)
    x = torch.as_tensor(data.x_train, dtype=torch.float32)
    y = torch.as_tensor(data.y_train, dtype=torch.float32).reshape(-1, 1)
    rows = []
    for k in outputs:
        for repeat in range(repeats):
            for method in COST_METHODS:
                model = CompactMLP.seeded(repeat, x.shape[1], hidden, k, activation="relu")
                with single_threaded():
                    result = fit(model, x, y.repeat(1, k), method=method,
                                 lam=0.0 if method == "base" else lam, epochs=epochs,
                                 batch_size=batch_size, seed=repeat, device="cpu", n_projections=1)
                rows.append({"outputs": k, "repeat": repeat, "method": method, "seconds": result.seconds})
    return rows


def teacher_cost(dataset: str, hidden: list[int], epochs: int, batch_size: int,
                 outputs: list[int], repeats: int, lam: float = 0.01) -> list[dict]:
    """Training seconds of each teacher penalty against the unregularised teacher, measured in
    one run (:func:`teacher_timings`): per number of outputs and method the median of the
    ``repeats`` fits, and its ratio to the median of the unregularised teacher's."""
    timings = teacher_timings(dataset, hidden, epochs, batch_size, outputs, repeats, lam)
    rows = []
    for k in outputs:
        seconds = {m: [r["seconds"] for r in timings if r["outputs"] == k and r["method"] == m]
                   for m in COST_METHODS}
        base = statistics.median(seconds["base"])
        for method in COST_METHODS:
            median = statistics.median(seconds[method])
            rows.append({"outputs": k, "method": method, "seconds": median,
                         "ratio_to_base": median / base})
    return rows


def run_cost(settings: dict, results_dir: str | Path, progress: bool = False) -> pd.DataFrame:
    """:func:`teacher_cost` as one cached run (all ratios come from the same run)."""
    settings = validate(settings)
    config = {"study": "teacher_cost", "dataset": settings["cost_dataset"], "hidden": settings["hidden"],
              "epochs": settings["cost_epochs"], "batch_size": settings["batch_size"],
              "outputs": settings["cost_outputs"], "repeats": settings["cost_repeats"]}
    start = time.perf_counter()
    frame = run_grid([config], lambda group: [{"rows": teacher_cost(
        group[0]["dataset"], group[0]["hidden"], group[0]["epochs"], group[0]["batch_size"],
        group[0]["outputs"], group[0]["repeats"]), "wall_seconds": time.perf_counter() - start}],
        Path(results_dir) / "cache", progress=progress, desc="teacher cost", version=STUDY_VERSION,
        schema=RESULT_SCHEMA)
    table = pd.DataFrame(frame["rows"].iloc[0])
    write_table(table, Path(results_dir) / "teacher_cost.csv")
    return table
