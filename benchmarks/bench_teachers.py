#!/usr/bin/env python
"""The distillation study's teachers: one at a time (``train.fit``) against one vectorised group.

The teachers of one dataset and seed differ only in lambda, so the study trains them as one
group (:func:`dreg_utils.symbolic_regression.train_teachers`, the MNIST sweep's
:func:`dreg_utils.ensemble.fit_ensemble`) instead of one after another
(:func:`dreg_utils.symbolic_regression.train_teacher`, :func:`dreg_utils.train.fit`).
This script times both on the standardised Concrete split at the default profile's
protocol (ReLU 8-100-1, 150 epochs, batch 64) for the group the study trains (the base
teacher, the Jacobian-penalty and the CR-penalty teachers of the default lambda grids), in one
process, one thread, and reports the largest difference between the two paths' test predictions.

    python benchmarks/bench_teachers.py                 # the table
    python benchmarks/bench_teachers.py --quick         # 5 epochs: checks that it runs
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
from dreg_utils.studies.distillation import DistillationSettings, teacher_grid
from dreg_utils.symbolic_regression import predict, train_teacher, train_teachers
from machine import describe, save_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs (smoke test)")
    parser.add_argument("--out", default=None, help="folder for teachers.csv and teachers.meta.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = DistillationSettings.from_profile("default")
    epochs = 5 if args.quick else settings["epochs"]
    data = load_dataset("concrete")
    teachers = teacher_grid(settings)
    protocol = dict(hidden=settings["hidden"], epochs=epochs, batch_size=settings["batch_size"],
                    lr=settings["lr"], weight_decay=settings["weight_decay"])

    start = time.perf_counter()
    alone = [train_teacher(data, method, lam, 0, **protocol)[0] for method, lam in teachers]
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    group = train_teachers(data, teachers, 0, **protocol)
    group_s = time.perf_counter() - start
    difference = max(float(np.abs(predict(a, data.x_test) - predict(g.model.eval(), data.x_test)).max())
                     for a, g in zip(alone, group))
    table = pd.DataFrame([{"teachers": len(teachers), "epochs": epochs, "one_at_a_time_s": alone_s,
                           "group_s": group_s, "group_over_one_at_a_time": group_s / alone_s,
                           "max_prediction_difference": difference}])
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string(index=False))
    if args.out:
        save_results(args.out, "teachers", table, {**describe(), "quick": args.quick, "dataset": "concrete",
                                                    "teachers": teachers})


if __name__ == "__main__":
    main()
