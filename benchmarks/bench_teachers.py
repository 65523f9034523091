#!/usr/bin/env python
"""The distillation study's teachers: one at a time (``train.fit``) against one vectorised group.

The teachers of one dataset and seed differ only in lambda, so the study trains them as one
group (:func:`dreg_utils.teachers.train_teachers`, the MNIST sweep's
:func:`dreg_utils.ensemble.fit_ensemble`) instead of one after another
(:func:`dreg_utils.teachers.train_teacher`, :func:`dreg_utils.train.fit`).
This script times both on the standardised split of the study's ``cost_dataset`` (Concrete)
with the teacher protocol of ``--profile`` (default: ReLU 8-100-1, 150 epochs, batch 64) for
the group the study trains (:func:`distillation.teacher_grid`: the base teacher, the
Jacobian-penalty and the CR-penalty teachers of the profile's lambda grids), in one process,
one thread, and reports the largest difference between the two paths' test predictions.

    python benchmarks/bench_teachers.py                 # the table
    python benchmarks/bench_teachers.py --quick         # 5 epochs: checks that it runs
    python benchmarks/bench_teachers.py --profile paper # the paper profile's teachers (300 epochs)
    python benchmarks/bench_teachers.py --out benchmarks/results

With ``--out DIR`` the table goes to ``DIR/teachers.csv`` and the machine to
``DIR/teachers.meta.json``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from dreg_utils.data.regression import load_dataset
from dreg_utils.studies.distillation import TEACHER_KEYS, DistillationSettings, teacher_grid
from dreg_utils.teachers import predict, train_teacher, train_teachers
from machine import describe, save_results
from workloads import add_profile_argument

QUICK_EPOCHS = 5


def workload(profile: str = "default", quick: bool = False) -> tuple[str, list[tuple[str, float]], dict]:
    """The dataset (the distillation study's ``cost_dataset``), the teachers (method, lambda) of
    one seed (:func:`distillation.teacher_grid`) and their protocol (``TEACHER_KEYS``) at
    ``profile``; ``quick``: ``QUICK_EPOCHS`` epochs."""
    settings = DistillationSettings.from_profile(profile)
    protocol = {key: settings[key] for key in TEACHER_KEYS}
    if quick:
        protocol["epochs"] = QUICK_EPOCHS
    return settings["cost_dataset"], teacher_grid(settings), protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs (smoke test)")
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for teachers.csv and teachers.meta.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset, teachers, protocol = workload(args.profile, args.quick)
    data = load_dataset(dataset)

    start = time.perf_counter()
    alone = [train_teacher(data, method, lam, 0, **protocol)[0] for method, lam in teachers]
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    group = train_teachers(data, teachers, 0, **protocol)
    group_s = time.perf_counter() - start
    difference = max(float(np.abs(predict(a, data.x_test) - predict(g.model.eval(), data.x_test)).max())
                     for a, g in zip(alone, group))
    table = pd.DataFrame([{"teachers": len(teachers), "epochs": protocol["epochs"], "one_at_a_time_s": alone_s,
                           "group_s": group_s, "group_over_one_at_a_time": group_s / alone_s,
                           "max_prediction_difference": difference}])
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string(index=False))
    if args.out:
        save_results(args.out, "teachers", table, {**describe(), "quick": args.quick, "profile": args.profile,
                                                    "dataset": dataset, "teachers": teachers})


if __name__ == "__main__":
    main()
