#!/usr/bin/env python
"""Cost of one training step per derivative-control method, as ratios to BASE.

Each step is the real training step of :func:`dreg_utils.train.fit`, built by
:func:`dreg_utils.train.make_step`: zero the gradients, forward, task loss (cross-entropy)
plus lam times the penalty, backward, AdamW. The workload (:func:`workload`) is the MNIST
study's at ``--profile``: its capacities, batch size, lr, weight decay and lam; every method
``fit`` runs with the study's first activation (ReLU), and BASE and DREG with the other (the
polynomial). The input is MNIST-shaped (784 pixels in [0, 1], 10 classes, drawn at random:
the cost of a dense step does not depend on the pixel values).

Every method is measured in the same process, interleaved: each repetition runs a block
of steps of every method in a fresh random order, so drift (frequency scaling, other
load) hits all of them alike. After a warm-up, the ratio of a method to BASE is the
median over repetitions of (median step time of the method in that repetition) /
(median step time of BASE in that repetition). The ``DREG-poly`` column is relative to
BASE with the same polynomial activation (its absolute time is printed as well).

    python benchmarks/bench_penalties.py            # the full table (about a minute)
    python benchmarks/bench_penalties.py --quick    # a few steps: checks that it runs
    python benchmarks/bench_penalties.py --profile smoke   # the smoke profile's capacities
    python benchmarks/bench_penalties.py --out benchmarks/results   # also save the table

With ``--out DIR`` the table goes to ``DIR/penalties.csv`` (one row per capacity and
method: median ratio, its interquartile range, median step time) and the machine to
``DIR/penalties.meta.json``; the performance chapter of the book reads them.
"""
from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from typing import NamedTuple

import pandas as pd
import torch

from dreg_utils.models import CompactMLP
from dreg_utils.runs import hidden_label
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.train import make_step
from dreg_utils.vocabulary import METHODS, PAPER_LABELS, methods_for
from machine import available_cores, cpu_name, describe, load_average, save_results
from workloads import CLASSES, PIXELS, add_profile_argument

# The table's names where they differ from the paper labels: those of the papers' cost statements
# (dreg_utils.published.COST_CLAIMS), which the performance chapter reads.
TABLE_LABELS = {"igp": "IGP", "jacobian": "JAC"}
TARGET = 1.2  # the cost claim checked: DREG <= 1.2x BASE at every capacity, and cheaper than IGP


class Variant(NamedTuple):
    """One timed step: its table label, method, activation and the label of its BASE."""

    label: str
    method: str
    activation: str
    baseline: str


def table_label(method: str) -> str:
    """The method's name in the table: its paper label, or its name in :data:`TABLE_LABELS`."""
    return TABLE_LABELS.get(method, PAPER_LABELS[method])


def workload(profile: str = "default") -> tuple[MNISTSettings, tuple[Variant, ...]]:
    """The MNIST study's settings of ``profile`` (capacities, batch size, lr, weight decay, lam)
    and the variants timed: every method ``train.fit`` runs with the study's first activation,
    then BASE and DREG with each other activation (labelled ``<label>-<activation>``)."""
    settings = MNISTSettings.from_profile(profile)
    first, *others = settings["activations"]
    variants = [Variant(table_label(m), m, first, table_label("base")) for m in methods_for("fit")]
    for activation in others:
        variants += [Variant(f"{table_label(m)}-{activation}", m, activation, f"{table_label('base')}-{activation}")
                     for m in ("base", "dreg")]
    return settings, tuple(variants)


def build_steps(settings: MNISTSettings, variants: tuple[Variant, ...], hidden: tuple[int, ...], seed: int):
    """One model, optimizer and training step per variant (same initialisation for all)."""
    steps = {}
    for label, method, activation, _ in variants:
        model = CompactMLP.seeded(seed, PIXELS, hidden, CLASSES, activation=activation,
                                  spectral_norm=method == "sn").train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
        generator = torch.Generator().manual_seed(seed)
        lam = settings["lam"] if METHODS[method].takes_lambda else 0.0
        steps[label] = (model, make_step(model, optimizer, method, lam, "classification",
                                         n_projections=1, generator=generator))
    return steps


def run_block(step, batches, n_steps: int, offset: int) -> list[float]:
    times = []
    for i in range(n_steps):
        xb, yb = batches[(offset + i) % len(batches)]
        t0 = time.perf_counter()
        step(xb, yb)
        times.append(time.perf_counter() - t0)
    return times


def measure(settings: MNISTSettings, variants: tuple[Variant, ...], hidden, batches, warmup: int, reps: int,
            block: int, seed: int):
    """Per-variant list of per-repetition median step times (seconds), interleaved."""
    steps = build_steps(settings, variants, hidden, seed)
    rng = random.Random(seed)
    for _, step in steps.values():
        run_block(step, batches, warmup, 0)
    per_rep = {label: [] for label in steps}
    gc.collect()
    gc.disable()
    try:
        for rep in range(reps):
            order = list(steps)
            rng.shuffle(order)
            for label in order:
                times = run_block(steps[label][1], batches, block, rep * block)
                per_rep[label].append(statistics.median(times))
    finally:
        gc.enable()
    finite = all(torch.isfinite(p).all() for model, _ in steps.values() for p in model.parameters())
    return per_rep, finite


def ratios(variants: tuple[Variant, ...], per_rep):
    """Median over repetitions of the paired ratio to the matching BASE, and its IQR."""
    out = {}
    for label, _, _, base in variants:
        r = sorted(m / b for m, b in zip(per_rep[label], per_rep[base]))
        q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
        out[label] = (statistics.median(r), q[0], q[2])
    return out


def table(settings: MNISTSettings, variants: tuple[Variant, ...], capacities: list[tuple[int, ...]], batches,
          warmup: int, reps: int, block: int, seed: int) -> tuple[list[dict], list[str], bool, bool]:
    """Measure every capacity, printing its row: the table's records, the IQR lines, whether
    the target held at every capacity and whether every parameter stayed finite."""
    columns = [v.label for v in variants if v.method != "base"]
    header = (f"{'hidden':<11}{'params':>8}{'BASE ms':>9}" + "".join(f"{c:>10}" for c in columns)
              + f"{'BASE-poly ms':>14}")
    print(header)
    print("-" * len(header))
    spreads, all_ok, finite_all, records = [], True, True, []
    for hidden in capacities:
        per_rep, finite = measure(settings, variants, hidden, batches, warmup, reps, block, seed)
        finite_all &= finite
        r = ratios(variants, per_rep)
        spreads.append(f"{hidden}: DREG {r['DREG'][1]:.2f}-{r['DREG'][2]:.2f}, "
                       f"DREG-poly {r['DREG-poly'][1]:.2f}-{r['DREG-poly'][2]:.2f}")
        n_params = CompactMLP(PIXELS, hidden, CLASSES).num_parameters()
        base_ms = 1e3 * statistics.median(per_rep["BASE"])
        base_poly_ms = 1e3 * statistics.median(per_rep["BASE-poly"])
        print(f"{str(hidden):<11}{n_params:>8}{base_ms:>9.3f}"
              + "".join(f"{r[c][0]:>10.2f}" for c in columns) + f"{base_poly_ms:>14.3f}")
        all_ok &= r["DREG"][0] <= TARGET and r["DREG"][0] < r["IGP"][0]
        records += [{"hidden": hidden_label(hidden), "params": n_params, "method": label,
                     "baseline": baseline, "ratio": r[label][0], "ratio_q1": r[label][1],
                     "ratio_q3": r[label][2], "step_ms": 1e3 * statistics.median(per_rep[label])}
                    for label, _, _, baseline in variants]
    return records, spreads, all_ok, finite_all


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per method (smoke test)")
    parser.add_argument("--threads", type=int, default=available_cores(),
                        help="torch intra-op threads (default: the cores this process may use)")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions")
    parser.add_argument("--block", type=int, default=None, help="steps per method per repetition")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per method")
    parser.add_argument("--seed", type=int, default=0)
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for penalties.csv and penalties.meta.json")
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 21)
    block = args.block or (2 if args.quick else 10)
    warmup = args.warmup or (1 if args.quick else 20)
    settings, variants = workload(args.profile)
    capacities = [tuple(hidden) for hidden in settings["capacities"]][:2 if args.quick else None]
    batch, lam = settings["batch_size"], settings["lam"]

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    batches = [(torch.rand(batch, PIXELS, generator=gen),
                torch.randint(0, CLASSES, (batch,), generator=gen)) for _ in range(8)]

    print(f"bench_penalties: time per training step relative to BASE, one run"
          f"{' (--quick: too few steps to trust the numbers)' if args.quick else ''}")
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread{'s' * (threads != 1)}, {cpu_name()}, "
          f"python {platform.python_version()}, load average {load_average()}")
    print(f"batch {batch}, {PIXELS} -> hidden -> {CLASSES}, cross-entropy, AdamW lr {settings['lr']} "
          f"wd {settings['weight_decay']}, lam {lam}, JAC-RP 1 projection; {warmup} warm-up steps, "
          f"{reps} interleaved repetitions x {block} steps per method")
    busy = load_average() != "n/a" and float(load_average()) > 0.5
    if busy and args.threads > 1:
        print(f"warning: the machine is busy (load average {load_average()}): with {args.threads} threads "
              "a step can stall while a thread waits for a core, so the ratios are noisy; rerun on "
              "a quiet machine, or with --threads 1")
    print()
    records, spreads, all_ok, finite_all = table(settings, variants, capacities, batches, warmup, reps, block,
                                                 args.seed)
    print()
    print("ratios: median over repetitions of paired per-repetition ratios; DREG-poly is "
          "relative to BASE-poly.")
    print("interquartile range of the per-repetition ratios:")
    for line in spreads:
        print(f"  {line}")
    if not finite_all:
        print("warning: some model's parameters became non-finite during the benchmark")
    verdict = "not judged with --quick" if args.quick else ("met" if all_ok else "MISSED")
    print(f"target (DREG <= {TARGET}x BASE at every capacity and cheaper than IGP): {verdict}")
    if args.out:
        meta = {**describe(), "quick": args.quick, "profile": args.profile, "batch": batch, "lam": lam,
                "lr": settings["lr"], "weight_decay": settings["weight_decay"], "warmup_steps": warmup,
                "repetitions": reps, "steps_per_block": block, "target": TARGET, "target_verdict": verdict,
                "all_parameters_finite": finite_all}
        save_results(args.out, "penalties", pd.DataFrame(records), meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
