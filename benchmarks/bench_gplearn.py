#!/usr/bin/env python
"""gplearn's own fit against :func:`dreg_utils.fast_gplearn.fit`, in one process.

Both fit the same standardised training split of the distillation study's ``cost_dataset``
(Concrete, 618 x 8) with the same seeds, with the study's gplearn settings
(:data:`distillation.GP_KEYS`) at the default profile's budget (500 programs x 10 generations)
and at the paper profile's, gplearn's own (1000 x 20); ``--quick`` at the smoke profile's
(60 x 3). The two arms alternate per seed, so machine noise hits both alike; the script checks
that both found the same program (``fast_gplearn`` changes speed, not results).

    python benchmarks/bench_gplearn.py                 # the table
    python benchmarks/bench_gplearn.py --quick         # one seed, the smoke budget: checks that it runs
    python benchmarks/bench_gplearn.py --out benchmarks/results

With ``--out DIR`` the table goes to ``DIR/gplearn.csv`` (one row per budget: seconds per fit of
each arm and their ratio) and the machine to ``DIR/gplearn.meta.json``.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from dreg_utils import fast_gplearn
from dreg_utils.data.regression import load_dataset
from dreg_utils.studies.distillation import GP_KEYS, DistillationSettings
from dreg_utils.symbolic_regression import make_symbolic_regressor
from machine import describe, save_results

BUDGET_PROFILES = ("default", "paper")  # the profiles whose budgets are timed
QUICK_PROFILES = ("smoke",)  # --quick


def workload(quick: bool = False) -> tuple[str, dict[str, dict]]:
    """The dataset fitted (the first profile's ``cost_dataset``) and, per budget label such as
    "default (500 x 10)", the distillation study's gplearn settings of that profile."""
    profiles = QUICK_PROFILES if quick else BUDGET_PROFILES
    settings = [DistillationSettings.from_profile(profile) for profile in profiles]
    budgets = {f"{profile} ({s['population_size']} x {s['generations']})": {key: s[key] for key in GP_KEYS}
               for profile, s in zip(profiles, settings)}
    return settings[0]["cost_dataset"], budgets


def timed(fit, regressor, x, y) -> tuple[float, str]:
    start = time.perf_counter()
    fitted = fit(regressor, x, y)
    return time.perf_counter() - start, str(fitted._program)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, a small budget (smoke test)")
    parser.add_argument("--seeds", type=int, default=3, help="fits per arm and budget")
    parser.add_argument("--out", default=None, help="folder for gplearn.csv and gplearn.meta.json")
    args = parser.parse_args()
    dataset, budgets = workload(args.quick)
    data = load_dataset(dataset)
    seeds = range(1 if args.quick else args.seeds)
    rows = []
    for label, gp in budgets.items():
        seconds = {"gplearn": 0.0, "fast": 0.0}
        for seed in seeds:
            plain, plain_program = timed(lambda r, x, y: r.fit(x, y), make_symbolic_regressor(gp, seed),
                                         data.x_train, data.y_train)
            fast, fast_program = timed(fast_gplearn.fit, make_symbolic_regressor(gp, seed), data.x_train, data.y_train)
            if plain_program != fast_program:
                raise AssertionError(f"seed {seed}: gplearn found {plain_program}, fast_gplearn {fast_program}")
            seconds["gplearn"] += plain
            seconds["fast"] += fast
        rows.append({"budget": label, "fits_per_arm": len(seeds), "gplearn_s_per_fit": seconds["gplearn"] / len(seeds),
                     "fast_s_per_fit": seconds["fast"] / len(seeds),
                     "fast_over_gplearn": seconds["fast"] / seconds["gplearn"]})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string(index=False))
    if args.out:
        save_results(args.out, "gplearn", table, {**describe(), "quick": args.quick, "dataset": dataset,
                                                   "n_train": int(data.x_train.shape[0])})


if __name__ == "__main__":
    main()
