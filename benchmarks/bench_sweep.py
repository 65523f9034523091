#!/usr/bin/env python
"""Wall time of the paper-protocol MNIST sweep (Table 3): vectorised groups vs one run at a time.

The protocol: 4 capacities x {relu, poly} x {BASE, DREG, IGPEN, SN} x 3 seeds = 96 runs,
each 8 epochs over 60,000 training images at batch 64 (938 steps an epoch, 7,504 a run),
then accuracy and per-sample input-gradient norms on 10,000 test images. The images are
Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (MNIST's shape); where it
is missing, random tensors of that shape (the cost of a dense step does not depend on the
pixel values). The script says which it used.

* vectorised: per (capacity, activation), BASE/DREG/SN x 3 seeds train as one group of 9
  and IGPEN x 3 seeds as one group of 3 (:func:`dreg_utils.ensemble.make_group_step`), as
  in :mod:`dreg_utils.studies.mnist`;
* sequential: each run alone with :func:`dreg_utils.train.make_step`, the step of ``fit``.

Default (about a minute): per group and per run kind, the step is timed on minibatches
gathered from the full 60,000 images, interleaved (each repetition times a block of steps
of every variant of a cell in a fresh random order, so drift and other load hit all
alike; the median over repetitions of the mean step time). Per-epoch work (permutations;
``fit`` also copies the permuted training set) and the evaluation of one model are timed
too. The sweep's wall time is then EXTRAPOLATED as
sum over runs/groups of (7,504 x step + 8 x epoch work) + 96 x evaluation, and the ratio
vectorised / sequential comes from the same process. A check then trains one real epoch
of one cell both ways (``fit_ensemble`` against ``fit`` run by run).

    python benchmarks/bench_sweep.py             # measured steps, extrapolated sweep, ratio
    python benchmarks/bench_sweep.py --full      # also run the vectorised sweep for real (~20 min)
    python benchmarks/bench_sweep.py --quick     # a few steps: checks that it runs
    python benchmarks/bench_sweep.py --threads 1 # one torch thread (a machine shared with other jobs)
    python benchmarks/bench_sweep.py --full --out benchmarks/results   # also save the results

With ``--out DIR`` the per-cell step times and extrapolated training times go to
``DIR/sweep.csv`` and the totals (extrapolated, the real-epoch check, the measured full
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
from dreg_utils.data.mnist import DEBIAN_FASHION_DIR, MNISTData, load_mnist
from dreg_utils.ensemble import Member, build_group, fit_ensemble, make_group_step
from dreg_utils.metrics import input_gradient_norms
from dreg_utils.models import CompactMLP
from dreg_utils.train import evaluate, fit, make_step
from floor import RecordProducts, evaluation_products, floor_seconds, flops, replayer, step_products
from machine import cpu_name, describe, load_average, save_results

CAPACITIES = ((32, 16), (128, 64), (256, 128), (512, 256))
ACTIVATIONS = ("relu", "poly")
METHODS = ("base", "dreg", "igp", "sn")
SEEDS = (0, 1, 2)
EPOCHS, BATCH, LR, WEIGHT_DECAY, LAM = 8, 64, 1e-3, 1e-2, 1e-2
TARGET_MINUTES = 15.0


def load_data() -> MNISTData:
    if DEBIAN_FASHION_DIR.is_dir():
        return load_mnist("fashion-mnist", source="debian")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(70_000, 784, generator=gen)
    y = torch.randint(0, 10, (70_000,), generator=gen)
    return MNISTData("random", x[:60_000], y[:60_000], x[60_000:], y[60_000:],
                     source="random MNIST-shaped tensors (dataset-fashion-mnist is not installed)")


def groups() -> list[tuple[tuple[int, int], str, list[Member]]]:
    """The 16 vectorised groups of the sweep, as mnist_study.group_key forms them."""
    out = []
    for hidden in CAPACITIES:
        for activation in ACTIVATIONS:
            out.append((hidden, activation, [Member(s, m, LAM if m == "dreg" else 0.0)
                                             for m in ("base", "dreg", "sn") for s in SEEDS]))
            out.append((hidden, activation, [Member(s, "igp", LAM) for s in SEEDS]))
    return out


def vectorised_stepper(hidden: tuple[int, int], activation: str, members: list[Member], x: torch.Tensor,
                       y: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    """Closures running one real group step on a fresh minibatch per member, the matrix
    products of that step alone (recorded from a real step, replayed on fresh operands), and
    the step's optimizer update alone (fused AdamW over the group's parameters)."""
    _, net, optimizer = build_group(members, 784, hidden, 10, activation=activation, lr=LR,
                                    weight_decay=WEIGHT_DECAY)
    step = make_group_step(net, optimizer, members)
    n, gen = x.shape[0], torch.Generator().manual_seed(1)

    def run() -> None:
        index = torch.randint(0, n, (len(members), BATCH), generator=gen)
        step(x[index], y[index])
    run()
    with RecordProducts() as recorded:
        run()
    return run, replayer(recorded.calls), optimizer.step


def sequential_stepper(hidden: tuple[int, int], activation: str, method: str, x: torch.Tensor,
                       y: torch.Tensor) -> Callable[[], None]:
    """A closure running one real fit step of a single run on a fresh minibatch."""
    model = CompactMLP.seeded(0, 784, hidden, 10, activation=activation, spectral_norm=method == "sn").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    step = make_step(model, optimizer, method, LAM if method in ("dreg", "igp") else 0.0, "classification")
    n, gen = x.shape[0], torch.Generator().manual_seed(1)

    def run() -> None:
        index = torch.randint(0, n, (BATCH,), generator=gen)
        step(x[index], y[index])
    return run


def time_block(run: Callable[[], None], steps: int) -> float:
    """Mean seconds per call over ``steps`` calls (the mean, not the median: occasional slow
    steps are part of a sweep's wall time)."""
    start = time.perf_counter()
    for _ in range(steps):
        run()
    return (time.perf_counter() - start) / steps


def epoch_overheads(x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Seconds of per-epoch work: 9 permutations (a vectorised group) and fit's permutation
    plus the copy ``x_train[order]``."""
    n = x.shape[0]
    group, single = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.stack([torch.randperm(n) for _ in range(9)])
        group.append(time.perf_counter() - start)
        start = time.perf_counter()
        order = torch.randperm(n)
        x[order]
        single.append(time.perf_counter() - start)
    return statistics.median(group), statistics.median(single)


def evaluation_seconds(data: MNISTData, hidden: tuple[int, int], activation: str) -> float:
    """Seconds to measure one model: accuracy and per-sample input-gradient norms on the test set."""
    model = CompactMLP.seeded(0, 784, hidden, 10, activation=activation).eval()
    start = time.perf_counter()
    evaluate(model, data.x_test, data.y_test, "classification")
    input_gradient_norms(model, data.x_test, data.y_test, loss="ce")
    return time.perf_counter() - start


def one_real_epoch(data: MNISTData, hidden: tuple[int, int], activation: str) -> tuple[float, float]:
    """Seconds of one real epoch of a cell's BASE/DREG/SN x 3 seeds: as one group
    (fit_ensemble) and one run at a time (fit); checks the per-step extrapolation."""
    members = groups()[[g[:2] for g in groups()].index((hidden, activation))][2]
    start = time.perf_counter()
    fit_ensemble(members, data.x_train, data.y_train, hidden, activation=activation, out_features=10,
                 epochs=1, batch_size=BATCH, lr=LR, weight_decay=WEIGHT_DECAY, device="cpu")
    vectorised = time.perf_counter() - start
    start = time.perf_counter()
    for m in members:
        model = CompactMLP.seeded(m.seed, 784, hidden, 10, activation=activation,
                                  spectral_norm=m.method == "sn")
        fit(model, data.x_train, data.y_train, task="classification", method=m.method, lam=m.lam,
            epochs=1, batch_size=BATCH, lr=LR, weight_decay=WEIGHT_DECAY, seed=m.seed, device="cpu")
    return vectorised, time.perf_counter() - start


def full_vectorised_sweep(data: MNISTData) -> float:
    """Run the vectorised sweep for real (training and measurement of all 96 runs)."""
    start = time.perf_counter()
    settings = {"epochs": EPOCHS, "batch_size": BATCH, "lr": LR, "weight_decay": WEIGHT_DECAY}
    for hidden, activation, members in groups():
        configs = [{"hidden": list(hidden), "activation": activation, "method": m.method, "lam": m.lam,
                    "seed": m.seed, **settings} for m in members]
        group_start = time.perf_counter()
        mnist_study.run_group(configs, data, device="cpu")
        print(f"  {hidden} {activation} {len(members)} members: {time.perf_counter() - group_start:.0f} s",
              flush=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps only (checks that it runs)")
    parser.add_argument("--full", action="store_true", help="also run the whole vectorised sweep")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant and repetition")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 avoids OpenMP stragglers "
                             "when other processes share the cores")
    parser.add_argument("--out", default=None, help="folder for sweep.csv and sweep.meta.json")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    steps, repeats = (3, 1) if args.quick else (args.steps, args.repeats)
    if steps < 1 or repeats < 1:
        parser.error(f"--steps and --repeats must be >= 1, got {steps} and {repeats}")
    torch.manual_seed(0)
    random.seed(0)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average at start {load_average()}")
    data = load_data()
    print(f"data: {data.describe()}")
    x, y = data.x_train, data.y_train
    steps_per_run = EPOCHS * -(-x.shape[0] // BATCH)

    vec_total = seq_total = floor_total = flop_total = replay_total = adamw_total = 0.0
    predicted: dict[tuple, tuple[float, float]] = {}
    rows = []
    for hidden in CAPACITIES:
        for activation in ACTIVATIONS:
            cell = [g for g in groups() if g[0] == hidden and g[1] == activation]
            variants = {}
            for i, (_, _, members) in enumerate(cell):
                variants[f"group{i}"], variants[f"replay{i}"], variants[f"adamw{i}"] = vectorised_stepper(
                    hidden, activation, members, x, y)
            variants.update({m: sequential_stepper(hidden, activation, m, x, y) for m in METHODS})
            for run in variants.values():  # warm-up
                run()
            samples: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(repeats):
                order = list(variants)
                random.shuffle(order)
                for key in order:
                    samples[key].append(time_block(variants[key], steps))
            step = {k: statistics.median(v) for k, v in samples.items()}
            vec = sum(step[f"group{i}"] for i in range(len(cell))) * steps_per_run
            replay = sum(step[f"replay{i}"] for i in range(len(cell))) * steps_per_run
            adamw = sum(step[f"adamw{i}"] for i in range(len(cell))) * steps_per_run
            replay_total += replay
            adamw_total += adamw
            seq = sum(step[m] for m in METHODS) * len(SEEDS) * steps_per_run
            vec_total += vec
            seq_total += seq
            products: Counter = Counter()
            for method in METHODS:
                for shape, count in step_products((784, *hidden, 10), BATCH, method).items():
                    products[shape] += count * steps_per_run * len(SEEDS)
            floor = floor_seconds(products)
            floor_total += floor
            flop_total += flops(products)
            predicted[(hidden, activation)] = (step["group0"] * steps_per_run / EPOCHS, len(SEEDS) * sum(
                step[m] for m in ("base", "dreg", "sn")) * steps_per_run / EPOCHS)
            rows.append((hidden, activation, step["group0"] * 1e3, step["group1"] * 1e3,
                         sum(step[m] for m in METHODS) / 4 * 1e3, vec, seq, floor, replay, adamw))
            print(f"{str(hidden):>10} {activation}: vectorised step {rows[-1][2]:.2f} ms (9 members) + "
                  f"{rows[-1][3]:.2f} ms (3 IGPEN); sequential step {rows[-1][4]:.2f} ms per run (mean of "
                  f"4 methods); training {vec:.0f} s vs {seq:.0f} s (extrapolated), floor {floor:.0f} s "
                  f"(vectorised / floor {vec / floor:.2f}; its products replayed alone {replay / floor:.2f}, "
                  f"AdamW alone {adamw / floor:.2f})", flush=True)

    group_epoch, single_epoch = epoch_overheads(x, 3 if args.quick else 5)
    vec_total += len(groups()) * EPOCHS * group_epoch
    seq_total += 96 * EPOCHS * single_epoch
    evaluation = sum(evaluation_seconds(data, h, a) for h in CAPACITIES for a in ACTIVATIONS) * 12
    evaluation_floor = Counter()
    for hidden in CAPACITIES:
        for shape, count in evaluation_products((784, *hidden, 10), data.x_test.shape[0]).items():
            evaluation_floor[shape] += count * len(ACTIVATIONS) * len(METHODS) * len(SEEDS)
    floor_total += floor_seconds(evaluation_floor)
    flop_total += flops(evaluation_floor)
    vec_total += evaluation
    seq_total += evaluation
    print(f"per-epoch work: {group_epoch * 1e3:.0f} ms per group, {single_epoch * 1e3:.0f} ms per run; "
          f"evaluation of all 96 runs: {evaluation:.0f} s")
    print(f"\nEXTRAPOLATED from measured steps ({steps} steps x {repeats} repetitions per variant), "
          f"96 runs x {steps_per_run:,} steps:")
    print(f"  vectorised: {vec_total / 60:.1f} min   sequential: {seq_total / 60:.1f} min   "
          f"ratio vectorised/sequential = {vec_total / seq_total:.3f} "
          f"(speed-up {seq_total / vec_total:.2f}x); target <= {TARGET_MINUTES:.0f} min: "
          f"{'met' if vec_total <= TARGET_MINUTES * 60 else 'NOT met'}")
    print(f"FLOOR (the sweep's matrix products alone, {flop_total / 1e12:.1f} TFLOP): {floor_total / 60:.1f} min; "
          f"vectorised / floor = {vec_total / floor_total:.2f}, sequential / floor = {seq_total / floor_total:.2f}")
    print(f"  of the vectorised training: its products replayed alone {replay_total / 60:.1f} min, "
          f"AdamW alone {adamw_total / 60:.1f} min, the rest (elementwise work, autograd, Python) "
          f"{(vec_total - replay_total - adamw_total) / 60:.1f} min")
    check = ((32, 16), "relu") if args.quick else ((128, 64), "relu")
    real_vec, real_seq = one_real_epoch(data, *check)
    print(f"check, one real epoch of the BASE/DREG/SN x 3 seeds of {check[0]} {check[1]}: as a group "
          f"{real_vec:.1f} s (steps predicted {predicted[check][0]:.1f} s), one by one {real_seq:.1f} s "
          f"(predicted {predicted[check][1]:.1f} s); measured ratio {real_vec / real_seq:.3f}")
    measured = None
    if args.full:
        print("\nrunning the full vectorised sweep (16 groups) ...", flush=True)
        measured = full_vectorised_sweep(data)
        print(f"MEASURED full vectorised sweep: {measured / 60:.1f} min "
              f"(extrapolation said {vec_total / 60:.1f} min); target <= {TARGET_MINUTES:.0f} min: "
              f"{'met' if measured <= TARGET_MINUTES * 60 else 'NOT met'}")
    if measured is not None:
        print(f"measured / floor = {measured / floor_total:.2f}")
    print(f"load average at end {load_average()} (other processes on this machine slow both modes)")
    if args.out:
        table = pd.DataFrame(rows, columns=["hidden", "activation", "group9_step_ms", "group3_step_ms",
                                            "single_step_ms", "vectorised_train_s", "sequential_train_s",
                                            "floor_train_s", "replay_train_s", "adamw_train_s"])
        table["hidden"] = table["hidden"].map(lambda h: "-".join(map(str, h)))
        meta = {**describe(), "quick": args.quick, "data": data.describe(), "runs": 96,
                "steps_per_run": steps_per_run, "timed_steps": steps, "repetitions": repeats,
                "epoch_work_group_s": group_epoch, "epoch_work_single_s": single_epoch,
                "evaluation_s": evaluation, "vectorised_min_extrapolated": vec_total / 60,
                "sequential_min_extrapolated": seq_total / 60, "ratio_extrapolated": vec_total / seq_total,
                "check_cell": f"{check[0]} {check[1]}", "check_epoch_vectorised_s": real_vec,
                "check_epoch_sequential_s": real_seq,
                "vectorised_min_measured": None if measured is None else measured / 60,
                "floor_min": floor_total / 60, "tflop": flop_total / 1e12,
                "replay_min": replay_total / 60, "adamw_min": adamw_total / 60,
                "vectorised_over_floor_extrapolated": vec_total / floor_total,
                "vectorised_over_floor_measured": None if measured is None else measured / floor_total,
                "target_minutes": TARGET_MINUTES}
        save_results(args.out, "sweep", table, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
