#!/usr/bin/env python
"""The project's MNIST sweep against a naive per-run loop, and both against the arithmetic floor.

Workload (:func:`workload`): the ReLU half of the MNIST study's Table-3 grid at ``--profile``
(the reference is written for ReLU) on at most 5,000 training images; at the default profile
4 capacities x {BASE, DREG, IGPEN, SN} x 3 seeds = 48 runs, each 8 epochs at batch 64, then
accuracy and per-sample input-gradient norms on 10,000 test images (the images of
:func:`workloads.load_images`: Fashion-MNIST, MNIST's shape, or random tensors of that shape).

* reference: written here without ``dreg_utils``: a plain ``torch.nn.Sequential`` per run,
  penalties by autograd from their definitions (the CR-penalty of eq. 5 on the ReLU masks,
  E||grad_x CE||^2 by double backprop, torch's ``spectral_norm``), one model at a time;
* project: :func:`dreg_utils.studies.mnist.run_group` on the same runs, grouped as the
  study groups them;
* floor: the workload's matrix products alone (:mod:`floor`).

Both arms run in this process, one after the other (order alternating over ``--repeats``);
the result is project / reference and each arm's wall / floor.

    python benchmarks/bench_naive.py              # the workload above (about 3-4 minutes)
    python benchmarks/bench_naive.py --quick      # one capacity and seed, one epoch: checks that it runs
    python benchmarks/bench_naive.py --profile smoke   # the smoke profile's grid
    python benchmarks/bench_naive.py --out benchmarks/results   # also save naive.csv / .meta.json
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from dreg_utils.data.mnist import MNISTData
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies.mnist import MNISTSettings
from floor import evaluation_products, flops, floor_seconds, step_products
from machine import cpu_name, describe, load_average, save_results
from workloads import CLASSES, PIXELS, add_profile_argument, load_images, mnist_groups, mnist_settings

MAX_TRAIN = 5_000  # training images at most (the study takes all): the naive loop stays at minutes
QUICK_IMAGES = 512  # --quick: images of each split at most
TARGET_RATIO = 0.35


def workload(profile: str = "default", quick: bool = False) -> MNISTSettings:
    """The runs both arms train: the MNIST study's settings of ``profile`` with ReLU only and at
    most ``MAX_TRAIN`` training images; ``quick``: its first capacity and seed, one epoch and at
    most ``QUICK_IMAGES`` images of each split."""
    study = MNISTSettings.from_profile(profile)
    n_train = min(MAX_TRAIN, study["n_train"] or MAX_TRAIN)
    if not quick:
        return mnist_settings(profile, activations=["relu"], n_train=n_train)
    return mnist_settings(profile, activations=["relu"], n_train=min(QUICK_IMAGES, n_train),
                          n_test=min(QUICK_IMAGES, study["n_test"] or QUICK_IMAGES),
                          capacities=study["capacities"][:1], seeds=study["seeds"][:1], epochs=1)


# ----------------------------------------------------------------------------- the reference arm

def naive_model(hidden: tuple[int, int], method: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    linears = [nn.Linear(a, b) for a, b in zip((PIXELS, *hidden), (*hidden, CLASSES))]
    if method == "sn":
        linears = [nn.utils.parametrizations.spectral_norm(layer) for layer in linears]
    return nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])


def naive_loss(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, method: str, lam: float) -> torch.Tensor:
    """Cross-entropy plus ``lam`` times the method's penalty, by autograd."""
    if method == "igp":
        x = x.requires_grad_(True)
    h, pre = x, []
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            pre.append(h)
    loss = F.cross_entropy(h, y)
    if method == "dreg":  # (1/L) [sum_l E sum_j 1[z_j > 0] ||W_j||^2 + ||W_L||^2] (eq. 5, ReLU)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        total = linears[-1].weight.pow(2).sum()
        for layer, z in zip(linears[:-1], pre[:-1]):
            total = total + ((z > 0).float() @ layer.weight.pow(2).sum(dim=1)).mean()
        loss = loss + lam * total / len(linears)
    elif method == "igp":
        (g,) = torch.autograd.grad(F.cross_entropy(h, y, reduction="sum"), x, create_graph=True)
        loss = loss + lam * g.pow(2).sum(dim=1).mean()
    return loss


def naive_measure(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray]:
    """Test accuracy (%) and the per-sample norms ||grad_x CE(f(x_i), y_i)||."""
    model.eval()
    with torch.no_grad():
        accuracy = 100.0 * float((model(x).argmax(dim=1) == y).float().mean())
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    return accuracy, g.norm(dim=1).numpy()


def naive_run(config: dict, data: MNISTData) -> dict:
    """Train the run ``config`` (a configuration of :func:`mnist.make_configs`) and measure it."""
    model = naive_model(tuple(config["hidden"]), config["method"], config["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    generator = torch.Generator().manual_seed(config["seed"])
    n, batch = data.x_train.shape[0], config["batch_size"]
    for _ in range(config["epochs"]):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch):
            index = order[i:i + batch]
            optimizer.zero_grad()
            naive_loss(model, data.x_train[index], data.y_train[index], config["method"], config["lam"]).backward()
            optimizer.step()
    accuracy, norms = naive_measure(model, data.x_test, data.y_test)
    return {"test_acc": accuracy, "ig_p99": float(np.quantile(norms, 0.99))}


# ----------------------------------------------------------------------------- the two arms and the floor

def reference_arm(settings: MNISTSettings, data: MNISTData) -> tuple[float, list[dict]]:
    configs = mnist_study.make_configs(settings, data)
    start = time.perf_counter()
    rows = [naive_run(config, data) for config in configs]
    return time.perf_counter() - start, rows


def project_arm(settings: MNISTSettings, data: MNISTData) -> tuple[float, list[dict]]:
    groups = mnist_groups(settings, data)
    start = time.perf_counter()
    rows = [row for _, _, configs in groups for row in mnist_study.run_group(configs, data, "cpu")]
    return time.perf_counter() - start, rows


def workload_products(settings: MNISTSettings, data: MNISTData) -> Counter:
    products: Counter = Counter()
    for config in mnist_study.make_configs(settings, data):
        widths = (PIXELS, *config["hidden"], CLASSES)
        steps = config["epochs"] * -(-data.n_train // config["batch_size"])
        for shape, count in step_products(widths, config["batch_size"], config["method"]).items():
            products[shape] += count * steps
        products.update(evaluation_products(widths, data.n_test))
    return products


ARMS = {"reference": reference_arm, "project": project_arm}


def time_arms(settings: MNISTSettings, warm_up: MNISTSettings, data: MNISTData,
              repeats: int) -> tuple[dict[str, list[float]], dict[str, list[dict]]]:
    """Each arm's seconds over ``repeats`` runs (order alternating) after a warm-up on the
    ``warm_up`` grid and 128 images, and each arm's rows (its last run)."""
    tiny = MNISTData(data.name, data.x_train[:128], data.y_train[:128], data.x_test[:128], data.y_test[:128],
                     data.source)
    for arm in ARMS.values():  # warm-up: first calls of autograd, spectral_norm and the kernels
        arm(warm_up, tiny)
    seconds: dict[str, list[float]] = {"reference": [], "project": []}
    results = {}
    for repeat in range(repeats):
        for name in (("reference", "project") if repeat % 2 == 0 else ("project", "reference")):
            wall, results[name] = ARMS[name](settings, data)
            seconds[name].append(wall)
            print(f"  {name}: {wall:.1f} s", flush=True)
    return seconds, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid: checks that it runs")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each arm, order alternating")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for naive.csv and naive.meta.json")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    settings = workload(args.profile, args.quick)
    data = load_images(settings)
    runs = len(mnist_study.make_configs(settings, data))
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average at start {load_average()}")
    print(f"data: {data.describe()}; {runs} runs, {settings['epochs']} epochs at batch {settings['batch_size']}")
    seconds, results = time_arms(settings, workload(args.profile, quick=True), data, args.repeats)
    products = workload_products(settings, data)
    floor = floor_seconds(products)
    wall = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = wall["project"] / wall["reference"]
    print(f"floor: {floor:.1f} s for {flops(products) / 1e12:.2f} TFLOP of matrix products "
          f"({flops(products) / floor / 1e9:.0f} GFLOP/s)")
    for name in ARMS:
        print(f"{name}: {wall[name]:.1f} s, wall / floor = {wall[name] / floor:.2f}")
    print(f"project / reference = {ratio:.3f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    accuracy = {n: float(np.mean([r["test_acc"] for r in rows])) for n, rows in results.items()}
    print(f"mean test accuracy: reference {accuracy['reference']:.2f}%, project {accuracy['project']:.2f}% "
          "(a sanity check: both arms train the same runs)")
    print(f"load average at end {load_average()}")
    if args.out:
        table = pd.DataFrame([{"arm": name, "seconds": wall[name], "wall_over_floor": wall[name] / floor,
                               "mean_test_acc": accuracy[name]} for name in ARMS])
        meta = {**describe(), "quick": args.quick, "profile": args.profile, "data": data.describe(), "runs": runs,
                "n_train": data.n_train, "n_test": data.n_test,
                "epochs": settings["epochs"], "batch": settings["batch_size"], "repeats": args.repeats,
                "floor_s": floor, "tflop": flops(products) / 1e12, "ratio_project_to_reference": ratio,
                "target_ratio": TARGET_RATIO, "all_seconds": seconds}
        save_results(args.out, "naive", table, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
