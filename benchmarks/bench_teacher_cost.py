#!/usr/bin/env python
"""What each teacher penalty costs in *Teaching the Teacher*'s own setting: a ReLU teacher with
one hidden layer of 100 units and a scalar output, trained on a tabular regression dataset.

The teacher protocol is the distillation study's at ``--profile`` (its ``cost_dataset``, Concrete;
``hidden``; ``batch_size``; ``cost_epochs``), timed by the study's own
:func:`dreg_utils.studies.teacher_cost.teacher_timings`: in each repeat every penalty trains the
teacher once from the same initialisation, one after the other, on one thread. Besides the scalar
output of the paper (1), it times the study's other output counts (``cost_outputs``), where the
exact penalty needs one backward pass per output. Per output count and penalty the table holds
the median over repeats of the paired ratio (training seconds / the unregularised teacher's in
the same repeat) and its distribution-free 95% interval
(:func:`dreg_utils.studies.performance.ratio_summary`).

    python benchmarks/bench_teacher_cost.py            # the table (about a minute)
    python benchmarks/bench_teacher_cost.py --quick    # two repeats of two epochs: checks that it runs
    python benchmarks/bench_teacher_cost.py --out benchmarks/results

With ``--out DIR`` the table goes to ``DIR/teacher_cost.csv`` and the machine to
``DIR/teacher_cost.meta.json``; the performance chapter reads them.
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.studies.performance import ratio_summary
from dreg_utils.studies.teacher_cost import teacher_timings
from dreg_utils.vocabulary import PAPER_LABELS
from machine import describe, save_results
from workloads import add_profile_argument

REPEATS, QUICK_REPEATS, QUICK_EPOCHS = 21, 2, 2  # this benchmark's own sizes
PAPER_OUTPUTS = 1  # the paper's teachers are scalar regressors


def workload(profile: str = "default", quick: bool = False) -> dict:
    """The teacher protocol timed: the distillation study's ``cost_dataset``, ``hidden``,
    ``batch_size``, ``cost_epochs`` and output counts (the paper's scalar output first)."""
    settings = DistillationSettings.from_profile(profile)
    outputs = [PAPER_OUTPUTS, *(k for k in settings["cost_outputs"] if k != PAPER_OUTPUTS)]
    return {"dataset": settings["cost_dataset"], "hidden": list(settings["hidden"]),
            "epochs": QUICK_EPOCHS if quick else settings["cost_epochs"],
            "batch_size": settings["batch_size"], "outputs": outputs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two repeats of two epochs (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help=f"interleaved repeats (default {REPEATS})")
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for teacher_cost.csv and teacher_cost.meta.json")
    args = parser.parse_args(argv)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else REPEATS)
    protocol = workload(args.profile, args.quick)
    print(f"bench_teacher_cost: {protocol['dataset']}, ReLU teacher {protocol['hidden']}, "
          f"{protocol['epochs']} epochs, batch {protocol['batch_size']}, outputs {protocol['outputs']}, "
          f"{repeats} interleaved repeats, one thread")
    timings = pd.DataFrame(teacher_timings(repeats=repeats, **protocol))
    table = ratio_summary(timings, ["outputs"])
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.assign(method=table["method"].map(PAPER_LABELS)).to_string(index=False))
    if args.out:
        save_results(args.out, "teacher_cost", table, {**describe(), "torch_threads": 1, "quick": args.quick,
                                                        "profile": args.profile, "repeats": repeats, **protocol})
    return 0


if __name__ == "__main__":
    sys.exit(main())
