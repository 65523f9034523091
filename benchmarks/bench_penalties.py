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
(median step time of BASE with the same activation in that repetition), with its
distribution-free 95% interval (:func:`dreg_utils.studies.performance.median_interval`: order
statistics of the per-repetition ratios; none with fewer than 6 repetitions). The printout names
the methods by their paper labels (:data:`dreg_utils.vocabulary.PAPER_LABELS`), a step with
another activation as the paper does (``POLY_DREG``, relative to ``POLY_BASE``, whose
absolute time is printed as well).

    python benchmarks/bench_penalties.py            # the full table (about a minute)
    python benchmarks/bench_penalties.py --quick    # a few steps: checks that it runs
    python benchmarks/bench_penalties.py --profile smoke   # the smoke profile's capacities
    python benchmarks/bench_penalties.py --out benchmarks/results   # also save the table

With ``--out DIR`` the table goes to ``DIR/penalties.csv`` (one row per capacity, method key
and activation: median ratio to BASE with that activation, its interquartile range and 95%
interval, median step time) and the machine to ``DIR/penalties.meta.json``; the performance chapter of the book
reads them and names the methods.
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

from dreg_utils.models import CompactMLP, spectral_norm_options
from dreg_utils.runs import hidden_label
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.performance import median_interval
from dreg_utils.train import make_step
from dreg_utils.verdicts import DREG_COST_LIMIT as TARGET  # the cost claim checked: DREG <= TARGET x BASE
from dreg_utils.verdicts import dreg_cost_verdict
from dreg_utils.vocabulary import METHODS, PAPER_LABELS, methods_for, paper_cell_label
from machine import available_cores, cpu_name, describe, load_average, save_results
from workloads import CLASSES, PIXELS, add_profile_argument


class Variant(NamedTuple):
    """One timed step: a method (its vocabulary key) with an activation; its ratio is to BASE
    with the same activation."""

    method: str
    activation: str

    @property
    def baseline(self) -> Variant:
        """BASE with the same activation."""
        return Variant("base", self.activation)


def workload(profile: str = "default") -> tuple[MNISTSettings, tuple[Variant, ...]]:
    """The MNIST study's settings of ``profile`` (capacities, batch size, lr, weight decay, lam)
    and the variants timed: every method ``train.fit`` runs with the study's first activation,
    then BASE and DREG with each other activation."""
    settings = MNISTSettings.from_profile(profile)
    first, *others = settings["activations"]
    variants = [Variant(m, first) for m in methods_for("fit")]
    variants += [Variant(m, activation) for activation in others for m in ("base", "dreg")]
    return settings, tuple(variants)


def printed_label(variant: Variant, first: str) -> str:
    """The variant's name in the printout: the paper label, with the activation (as the paper
    writes it, e.g. POLY_DREG) unless it is the first one."""
    if variant.activation == first:
        return PAPER_LABELS[variant.method]
    return paper_cell_label(variant.activation, variant.method)


def build_steps(settings: MNISTSettings, variants: tuple[Variant, ...], hidden: tuple[int, ...], seed: int):
    """One model, optimizer and training step per variant (same initialisation for all)."""
    steps = {}
    for variant in variants:
        method, activation = variant
        model = CompactMLP.seeded(seed, PIXELS, hidden, CLASSES, activation=activation,
                                  **spectral_norm_options(method)).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
        generator = torch.Generator().manual_seed(seed)
        lam = settings["lam"] if METHODS[method].takes_lambda else 0.0
        steps[variant] = (model, make_step(model, optimizer, method, lam, "classification",
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
    per_rep = {variant: [] for variant in steps}
    gc.collect()
    gc.disable()
    try:
        for rep in range(reps):
            order = list(steps)
            rng.shuffle(order)
            for variant in order:
                times = run_block(steps[variant][1], batches, block, rep * block)
                per_rep[variant].append(statistics.median(times))
    finally:
        gc.enable()
    finite = all(torch.isfinite(p).all() for model, _ in steps.values() for p in model.parameters())
    return per_rep, finite


def ratios(variants: tuple[Variant, ...], per_rep):
    """Median over repetitions of the paired ratio to the matching BASE, its IQR and its 95% interval."""
    out = {}
    for variant in variants:
        r = sorted(m / b for m, b in zip(per_rep[variant], per_rep[variant.baseline]))
        q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
        _, low, high = median_interval(r)
        out[variant] = (statistics.median(r), q[0], q[2], low, high)
    return out


def table(settings: MNISTSettings, variants: tuple[Variant, ...], capacities: list[tuple[int, ...]], batches,
          warmup: int, reps: int, block: int, seed: int) -> tuple[list[dict], list[str], bool]:
    """Measure every capacity, printing its row: the table's records, the IQR lines and whether
    every parameter stayed finite."""
    first = variants[0].activation
    columns = [v for v in variants if v.method != "base"]
    others = [v for v in variants if v.method == "base" and v.activation != first]
    dreg = [v for v in variants if v.method == "dreg"]
    header = (f"{'hidden':<11}{'params':>8}{PAPER_LABELS['base'] + ' ms':>9}"
              + "".join(f"{printed_label(c, first):>10}" for c in columns)
              + "".join(f"{printed_label(b, first) + ' ms':>14}" for b in others))
    print(header)
    print("-" * len(header))
    spreads, finite_all, records = [], True, []
    for hidden in capacities:
        per_rep, finite = measure(settings, variants, hidden, batches, warmup, reps, block, seed)
        finite_all &= finite
        r = ratios(variants, per_rep)
        spreads.append(f"{hidden}: " + ", ".join(f"{printed_label(v, first)} {r[v][1]:.2f}-{r[v][2]:.2f}"
                                                  for v in dreg))
        n_params = CompactMLP(PIXELS, hidden, CLASSES).num_parameters()
        step_ms = {v: 1e3 * statistics.median(per_rep[v]) for v in variants}
        print(f"{str(hidden):<11}{n_params:>8}{step_ms[Variant('base', first)]:>9.3f}"
              + "".join(f"{r[c][0]:>10.2f}" for c in columns) + "".join(f"{step_ms[b]:>14.3f}" for b in others))
        records += [{"hidden": hidden_label(hidden), "params": n_params, "method": v.method,
                     "activation": v.activation, "ratio": r[v][0], "ratio_q1": r[v][1], "ratio_q3": r[v][2],
                     "ci_low": r[v][3], "ci_high": r[v][4], "step_ms": step_ms[v]} for v in variants]
    return records, spreads, finite_all


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
          f"wd {settings['weight_decay']}, lam {lam}, {PAPER_LABELS['jacobian_rp']} 1 projection; "
          f"{warmup} warm-up steps, "
          f"{reps} interleaved repetitions x {block} steps per method")
    busy = load_average() != "n/a" and float(load_average()) > 0.5
    if busy and args.threads > 1:
        print(f"warning: the machine is busy (load average {load_average()}): with {args.threads} threads "
              "a step can stall while a thread waits for a core, so the ratios are noisy; rerun on "
              "a quiet machine, or with --threads 1")
    print()
    records, spreads, finite_all = table(settings, variants, capacities, batches, warmup, reps, block, args.seed)
    print()
    print("ratios: median over repetitions of paired per-repetition ratios, each to BASE with the "
          "same activation.")
    print("interquartile range of the per-repetition ratios:")
    for line in spreads:
        print(f"  {line}")
    if not finite_all:
        print("warning: some model's parameters became non-finite during the benchmark")
    dreg = [row for row in records if row["method"] == "dreg" and row["activation"] == variants[0].activation]
    verdict = dreg_cost_verdict([row["ratio"] for row in dreg], [row["ci_low"] for row in dreg],
                                [row["ci_high"] for row in dreg])
    print(f"target (the 95% interval of DREG's ratio below {TARGET}x BASE at every capacity): {verdict}")
    if args.out:
        meta = {**describe(), "quick": args.quick, "profile": args.profile, "batch": batch, "lam": lam,
                "lr": settings["lr"], "weight_decay": settings["weight_decay"], "warmup_steps": warmup,
                "repetitions": reps, "steps_per_block": block, "target": TARGET, "target_verdict": verdict,
                "all_parameters_finite": finite_all}
        save_results(args.out, "penalties", pd.DataFrame(records), meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
