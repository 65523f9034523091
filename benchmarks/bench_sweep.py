#!/usr/bin/env python
"""Wall time of the paper-protocol MNIST sweep (Table 3): vectorised groups vs one run at a time.

The workload is the MNIST study's (:class:`~dreg_utils.studies.mnist.MNISTSettings` of
``--profile``, read by :mod:`workloads`): at the default profile 4 capacities x {relu, poly}
x {BASE, DREG, IGPEN, SN} x 3 seeds = 96 runs, each 8 epochs over 60,000 training images at
batch 64 (938 steps an epoch, 7,504 a run), then accuracy and per-sample input-gradient
norms on 10,000 test images, on the images of :func:`workloads.load_images` (Fashion-MNIST,
MNIST's shape, or random tensors of that shape; the script says which it used).

* vectorised: the study's groups (:func:`workloads.mnist_groups`): per (capacity,
  activation), BASE/DREG/SN x 3 seeds as one group of 9 and IGPEN x 3 seeds as one group
  of 3 (:func:`dreg_utils.ensemble.make_group_step`);
* sequential: each run alone with :func:`dreg_utils.train.make_step`, the step of ``fit``.

Default (about a minute): per group and per run kind, the step is timed on minibatches
gathered from the full 60,000 images, interleaved (each repetition times a block of steps
of every variant of a cell in a fresh random order, so drift and other load hit all
alike; the median over repetitions of the mean step time). Per-epoch work (permutations;
``fit`` also copies the permuted training set) and the evaluation of one model are timed
too. The sweep's wall time is then EXTRAPOLATED as
sum over runs/groups of (steps x step + epochs x epoch work) + runs x evaluation, and the
ratio vectorised / sequential comes from the same process. A check then trains one real
epoch of the BASE/DREG/SN group of the study's frontier cell (the last of ``frontier_capacities``,
``frontier_activation``; with ``--quick`` the first group) both ways (``fit_ensemble``
against ``fit`` run by run).

    python benchmarks/bench_sweep.py             # measured steps, extrapolated sweep, ratio
    python benchmarks/bench_sweep.py --full      # also run the vectorised sweep for real (~20 min)
    python benchmarks/bench_sweep.py --quick     # a few steps: checks that it runs
    python benchmarks/bench_sweep.py --threads 1 # one torch thread (a machine shared with other jobs)
    python benchmarks/bench_sweep.py --profile smoke   # the smoke profile's sweep
    python benchmarks/bench_sweep.py --full --out benchmarks/results   # also save the results

With ``--out DIR`` the per-cell step times (``group9_step_ms``, ``group3_step_ms``: the
cell's first and second group, of 9 and 3 members at the default profile) and extrapolated
training times go to ``DIR/sweep.csv`` and the totals (extrapolated, the real-epoch check, the measured full
sweep with ``--full``) and the machine to ``DIR/sweep.meta.json``.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable

import pandas as pd
import torch

from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.data.mnist import MNISTData
from dreg_utils.ensemble import build_group, fit_ensemble, make_group_step
from dreg_utils.metrics import input_gradient_norms
from dreg_utils.models import CompactMLP
from dreg_utils.runs import hidden_label
from dreg_utils.train import evaluate, fit, make_step
from dreg_utils.vocabulary import PAPER_LABELS
from floor import RecordProducts, evaluation_products, floor_seconds, flops, replayer, step_products
from machine import cpu_name, describe, load_average, save_results
from workloads import (CLASSES, PIXELS, Group, add_profile_argument, load_images, members, mnist_groups,
                       mnist_settings)

TARGET_MINUTES = 15.0


def workload(profile: str = "default") -> MNISTSettings:
    """The sweep this script times: the MNIST study's settings of ``profile``, all images."""
    return mnist_settings(profile)


def vectorised_stepper(group: Group, x: torch.Tensor,
                       y: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    """Closures running one real step of the group on a fresh minibatch per member, the matrix
    products of that step alone (recorded from a real step, replayed on fresh operands), and
    the step's optimizer update alone (fused AdamW over the group's parameters)."""
    hidden, activation, configs = group
    first, group_members = configs[0], members(configs)
    _, net, optimizer = build_group(group_members, PIXELS, hidden, CLASSES, activation=activation,
                                    lr=first["lr"], weight_decay=first["weight_decay"])
    step = make_group_step(net, optimizer, group_members)
    n, gen = x.shape[0], torch.Generator().manual_seed(1)

    def run() -> None:
        index = torch.randint(0, n, (len(configs), first["batch_size"]), generator=gen)
        step(x[index], y[index])
    run()
    with RecordProducts() as recorded:
        run()
    return run, replayer(recorded.calls), optimizer.step


def sequential_stepper(config: dict, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """A closure running one real fit step of the run ``config`` alone on a fresh minibatch."""
    model = CompactMLP.seeded(config["seed"], PIXELS, config["hidden"], CLASSES, activation=config["activation"],
                              spectral_norm=config["method"] == "sn").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    step = make_step(model, optimizer, config["method"], config["lam"], "classification")
    n, gen = x.shape[0], torch.Generator().manual_seed(1)

    def run() -> None:
        index = torch.randint(0, n, (config["batch_size"],), generator=gen)
        step(x[index], y[index])
    return run


def time_block(run: Callable[[], None], steps: int) -> float:
    """Mean seconds per call over ``steps`` calls (the mean, not the median: occasional slow
    steps are part of a sweep's wall time)."""
    start = time.perf_counter()
    for _ in range(steps):
        run()
    return (time.perf_counter() - start) / steps


def time_cell(cell: list[Group], methods: list[str], x: torch.Tensor, y: torch.Tensor, steps: int,
              repeats: int) -> dict[str, float]:
    """Seconds per step of every variant of one (capacity, activation) cell: each group's step
    (``group<i>``), its products replayed alone (``replay<i>``) and its AdamW update alone
    (``adamw<i>``), and the first run of each method alone (the method's key); the median over
    ``repeats`` repetitions, each timing ``steps`` steps of every variant in a fresh random order."""
    variants = {}
    for i, group in enumerate(cell):
        variants[f"group{i}"], variants[f"replay{i}"], variants[f"adamw{i}"] = vectorised_stepper(group, x, y)
    runs = [config for _, _, configs in cell for config in configs]
    variants.update({m: sequential_stepper(next(c for c in runs if c["method"] == m), x, y) for m in methods})
    for run in variants.values():  # warm-up
        run()
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        order = list(variants)
        random.shuffle(order)
        for key in order:
            samples[key].append(time_block(variants[key], steps))
    return {k: statistics.median(v) for k, v in samples.items()}


def epoch_overheads(x: torch.Tensor, group_size: int, repeats: int) -> tuple[float, float]:
    """Seconds of per-epoch work: ``group_size`` permutations (a vectorised group) and fit's
    permutation plus the copy ``x_train[order]``."""
    n = x.shape[0]
    group, single = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.stack([torch.randperm(n) for _ in range(group_size)])
        group.append(time.perf_counter() - start)
        start = time.perf_counter()
        order = torch.randperm(n)
        x[order]
        single.append(time.perf_counter() - start)
    return statistics.median(group), statistics.median(single)


def evaluation_seconds(data: MNISTData, hidden: tuple[int, ...], activation: str) -> float:
    """Seconds to measure one model: accuracy and per-sample input-gradient norms on the test set."""
    model = CompactMLP.seeded(0, PIXELS, hidden, CLASSES, activation=activation).eval()
    start = time.perf_counter()
    evaluate(model, data.x_test, data.y_test, "classification")
    input_gradient_norms(model, data.x_test, data.y_test, loss="ce")
    return time.perf_counter() - start


def one_real_epoch(data: MNISTData, group: Group) -> tuple[float, float]:
    """Seconds of one real epoch of a group's runs: together (fit_ensemble) and one run at a
    time (fit); checks the per-step extrapolation."""
    hidden, activation, configs = group
    training = {"epochs": 1, "batch_size": configs[0]["batch_size"], "lr": configs[0]["lr"],
                "weight_decay": configs[0]["weight_decay"], "device": "cpu"}
    start = time.perf_counter()
    fit_ensemble(members(configs), data.x_train, data.y_train, hidden, activation=activation,
                 out_features=CLASSES, **training)
    vectorised = time.perf_counter() - start
    start = time.perf_counter()
    for c in configs:
        model = CompactMLP.seeded(c["seed"], PIXELS, hidden, CLASSES, activation=activation,
                                  spectral_norm=c["method"] == "sn")
        fit(model, data.x_train, data.y_train, task="classification", method=c["method"], lam=c["lam"],
            seed=c["seed"], **training)
    return vectorised, time.perf_counter() - start


def check_group(settings: MNISTSettings, groups: list[Group]) -> Group:
    """The group whose real epoch checks the extrapolation: the first of the study's frontier
    cell (the last of ``frontier_capacities``, ``frontier_activation``)."""
    cell = (tuple(settings["frontier_capacities"][-1]), settings["frontier_activation"])
    for group in groups:
        if group[:2] == cell:
            return group
    raise ValueError(f"the frontier cell {cell} is not in the sweep's grid {[g[:2] for g in groups]}")


def group_label(configs: list[dict]) -> str:
    """The methods (paper labels) and the number of seeds of a group's runs, e.g. "BASE/DREG/SN x 3 seeds"."""
    methods = dict.fromkeys(PAPER_LABELS[c["method"]] for c in configs)
    return f"{'/'.join(methods)} x {len({c['seed'] for c in configs})} seeds"


def full_vectorised_sweep(data: MNISTData, groups: list[Group]) -> float:
    """Run the vectorised sweep for real (training and measurement of every run)."""
    start = time.perf_counter()
    for hidden, activation, configs in groups:
        group_start = time.perf_counter()
        mnist_study.run_group(configs, data, device="cpu")
        print(f"  {hidden} {activation} {len(configs)} members: {time.perf_counter() - group_start:.0f} s",
              flush=True)
    return time.perf_counter() - start


def extrapolate_training(settings: MNISTSettings, groups: list[Group], x: torch.Tensor, y: torch.Tensor,
                         steps: int, repeats: int) -> tuple[list[tuple], dict[str, float], dict[tuple, tuple]]:
    """Per cell: its steps timed (:func:`time_cell`), its training extrapolated both ways and
    its floor. Returns the table's rows, the totals in seconds and, per cell, the predicted
    seconds of one epoch of its first group, together and one run at a time."""
    methods, epochs = settings["methods"], settings["epochs"]
    steps_per_run = epochs * -(-x.shape[0] // settings["batch_size"])
    totals = dict.fromkeys(("vectorised", "sequential", "floor", "flop", "replay", "adamw"), 0.0)
    predicted, rows = {}, []
    for hidden, activation in dict.fromkeys(g[:2] for g in groups):
        cell = [g for g in groups if g[:2] == (hidden, activation)]
        runs = [config for _, _, configs in cell for config in configs]
        step = time_cell(cell, methods, x, y, steps, repeats)
        vec, replay, adamw = (sum(step[f"{kind}{i}"] for i in range(len(cell))) * steps_per_run
                              for kind in ("group", "replay", "adamw"))
        seq = sum(step[c["method"]] for c in runs) * steps_per_run
        products: Counter = Counter()
        for config in runs:
            for shape, count in step_products((PIXELS, *hidden, CLASSES), config["batch_size"],
                                              config["method"]).items():
                products[shape] += count * steps_per_run
        floor = floor_seconds(products)
        for key, value in zip(totals, (vec, seq, floor, flops(products), replay, adamw)):
            totals[key] += value
        predicted[(hidden, activation)] = (step["group0"] * steps_per_run / epochs, sum(
            step[c["method"]] for c in cell[0][2]) * steps_per_run / epochs)
        rows.append((hidden, activation, step["group0"] * 1e3, step["group1"] * 1e3,
                     statistics.mean(step[m] for m in methods) * 1e3, vec, seq, floor, replay, adamw))
        print(f"{str(hidden):>10} {activation}: vectorised step {rows[-1][2]:.2f} ms ({len(cell[0][2])} members) + "
              f"{rows[-1][3]:.2f} ms ({len(cell[1][2])} {PAPER_LABELS[cell[1][2][0]['method']]}); sequential "
              f"step {rows[-1][4]:.2f} ms per run (mean of {len(methods)} methods); training {vec:.0f} s vs "
              f"{seq:.0f} s (extrapolated), floor {floor:.0f} s (vectorised / floor {vec / floor:.2f}; its "
              f"products replayed alone {replay / floor:.2f}, AdamW alone {adamw / floor:.2f})", flush=True)
    return rows, totals, predicted


def add_evaluation(data: MNISTData, groups: list[Group], totals: dict[str, float]) -> float:
    """Add the measurement of every run to ``totals`` (both modes, the floor and its FLOPs);
    return its seconds."""
    evaluation, products = 0.0, Counter()
    for hidden, _, configs in groups:
        for shape, count in evaluation_products((PIXELS, *hidden, CLASSES), data.n_test).items():
            products[shape] += count * len(configs)
    for (hidden, activation), runs in Counter(g[:2] for g in groups for _ in g[2]).items():
        evaluation += evaluation_seconds(data, hidden, activation) * runs
    totals["floor"] += floor_seconds(products)
    totals["flop"] += flops(products)
    totals["vectorised"] += evaluation
    totals["sequential"] += evaluation
    return evaluation


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked; sets torch's threads; ``steps`` and ``repeats`` as timed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps only (checks that it runs)")
    parser.add_argument("--full", action="store_true", help="also run the whole vectorised sweep")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant and repetition")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 avoids OpenMP stragglers "
                             "when other processes share the cores")
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for sweep.csv and sweep.meta.json")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.quick:
        args.steps, args.repeats = 3, 1
    if args.steps < 1 or args.repeats < 1:
        parser.error(f"--steps and --repeats must be >= 1, got {args.steps} and {args.repeats}")
    return args


def print_extrapolation(totals: dict[str, float], runs: int, steps_per_run: int, args: argparse.Namespace) -> None:
    """The extrapolated sweep both ways, against the target and the floor."""
    vec, seq, floor = totals["vectorised"], totals["sequential"], totals["floor"]
    print(f"\nEXTRAPOLATED from measured steps ({args.steps} steps x {args.repeats} repetitions per variant), "
          f"{runs} runs x {steps_per_run:,} steps:")
    print(f"  vectorised: {vec / 60:.1f} min   sequential: {seq / 60:.1f} min   "
          f"ratio vectorised/sequential = {vec / seq:.3f} "
          f"(speed-up {seq / vec:.2f}x); target <= {TARGET_MINUTES:.0f} min: "
          f"{'met' if vec <= TARGET_MINUTES * 60 else 'NOT met'}")
    print(f"FLOOR (the sweep's matrix products alone, {totals['flop'] / 1e12:.1f} TFLOP): {floor / 60:.1f} min; "
          f"vectorised / floor = {vec / floor:.2f}, sequential / floor = {seq / floor:.2f}")
    print(f"  of the vectorised training: its products replayed alone {totals['replay'] / 60:.1f} min, "
          f"AdamW alone {totals['adamw'] / 60:.1f} min, the rest (elementwise work, autograd, Python) "
          f"{(vec - totals['replay'] - totals['adamw']) / 60:.1f} min")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    steps, repeats = args.steps, args.repeats
    torch.manual_seed(0)
    random.seed(0)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average at start {load_average()}")
    settings = workload(args.profile)
    data = load_images(settings)
    print(f"data: {data.describe()}")
    groups = mnist_groups(settings, data)
    runs, epochs = sum(len(configs) for _, _, configs in groups), settings["epochs"]
    steps_per_run = epochs * -(-data.n_train // settings["batch_size"])
    rows, totals, predicted = extrapolate_training(settings, groups, data.x_train, data.y_train, steps, repeats)
    group_epoch, single_epoch = epoch_overheads(data.x_train, len(groups[0][2]), 3 if args.quick else 5)
    totals["vectorised"] += len(groups) * epochs * group_epoch
    totals["sequential"] += runs * epochs * single_epoch
    evaluation = add_evaluation(data, groups, totals)
    vec_total, seq_total, floor_total = totals["vectorised"], totals["sequential"], totals["floor"]
    print(f"per-epoch work: {group_epoch * 1e3:.0f} ms per group, {single_epoch * 1e3:.0f} ms per run; "
          f"evaluation of all {runs} runs: {evaluation:.0f} s")
    print_extrapolation(totals, runs, steps_per_run, args)
    check = groups[0] if args.quick else check_group(settings, groups)
    real_vec, real_seq = one_real_epoch(data, check)
    print(f"check, one real epoch of the {group_label(check[2])} of {check[0]} {check[1]}: as a group "
          f"{real_vec:.1f} s (steps predicted {predicted[check[:2]][0]:.1f} s), one by one {real_seq:.1f} s "
          f"(predicted {predicted[check[:2]][1]:.1f} s); measured ratio {real_vec / real_seq:.3f}")
    measured = None
    if args.full:
        print(f"\nrunning the full vectorised sweep ({len(groups)} groups) ...", flush=True)
        measured = full_vectorised_sweep(data, groups)
        print(f"MEASURED full vectorised sweep: {measured / 60:.1f} min "
              f"(extrapolation said {vec_total / 60:.1f} min); target <= {TARGET_MINUTES:.0f} min: "
              f"{'met' if measured <= TARGET_MINUTES * 60 else 'NOT met'}")
        print(f"measured / floor = {measured / floor_total:.2f}")
    print(f"load average at end {load_average()} (other processes on this machine slow both modes)")
    if args.out:
        table = pd.DataFrame(rows, columns=["hidden", "activation", "group9_step_ms", "group3_step_ms",
                                            "single_step_ms", "vectorised_train_s", "sequential_train_s",
                                            "floor_train_s", "replay_train_s", "adamw_train_s"])
        table["hidden"] = table["hidden"].map(hidden_label)
        meta = {**describe(), "quick": args.quick, "profile": args.profile, "data": data.describe(), "runs": runs,
                "steps_per_run": steps_per_run, "timed_steps": steps, "repetitions": repeats,
                "epoch_work_group_s": group_epoch, "epoch_work_single_s": single_epoch,
                "evaluation_s": evaluation, "vectorised_min_extrapolated": vec_total / 60,
                "sequential_min_extrapolated": seq_total / 60, "ratio_extrapolated": vec_total / seq_total,
                "check_cell": f"{check[0]} {check[1]}", "check_epoch_vectorised_s": real_vec,
                "check_epoch_sequential_s": real_seq,
                "vectorised_min_measured": None if measured is None else measured / 60,
                "floor_min": floor_total / 60, "tflop": totals["flop"] / 1e12,
                "replay_min": totals["replay"] / 60, "adamw_min": totals["adamw"] / 60,
                "vectorised_over_floor_extrapolated": vec_total / floor_total,
                "vectorised_over_floor_measured": None if measured is None else measured / floor_total,
                "target_minutes": TARGET_MINUTES}
        save_results(args.out, "sweep", table, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
