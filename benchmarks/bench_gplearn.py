#!/usr/bin/env python
"""gplearn's own fit against :func:`dreg_utils.fast_gplearn.fit`, in one process.

Both fit the same standardised Concrete training split (618 x 8) with the same seeds, at the
default profile's budget (500 programs x 10 generations) and at gplearn's own, the paper
profile's (1000 x 20). The two arms alternate per seed, so machine noise hits both alike; the
script checks that both found the same program (``fast_gplearn`` changes speed, not results).

    python benchmarks/bench_gplearn.py                 # the table
    python benchmarks/bench_gplearn.py --quick         # one seed, small budgets: checks that it runs
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
from dreg_utils.symbolic_regression import GP_DEFAULTS, make_symbolic_regressor
from machine import describe, save_results

BUDGETS = {"default (500 x 10)": (500, 10), "paper (1000 x 20)": (1000, 20)}
QUICK_BUDGETS = {"quick (100 x 3)": (100, 3)}


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
    data = load_dataset("concrete")
    seeds = range(1 if args.quick else args.seeds)
    rows = []
    for label, (population, generations) in (QUICK_BUDGETS if args.quick else BUDGETS).items():
        gp = {**GP_DEFAULTS, "population_size": population, "generations": generations}
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
        save_results(args.out, "gplearn", table, {**describe(), "quick": args.quick, "dataset": "concrete",
                                                   "n_train": int(data.x_train.shape[0])})


if __name__ == "__main__":
    main()
