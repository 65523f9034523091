#!/usr/bin/env python
"""The project's MNIST sweep against a naive per-run loop, and both against the arithmetic floor.

Workload: the ReLU half of the Table-3 grid, 4 capacities x {BASE, DREG, IGPEN, SN} x 3 seeds =
48 runs, each 8 epochs at batch 64 on 5,000 training images, then accuracy and per-sample
input-gradient norms on 10,000 test images (Fashion-MNIST from the Debian package
``dataset-fashion-mnist``, MNIST's shape; random tensors of that shape where it is missing).

* reference: written here without ``dreg_utils``: a plain ``torch.nn.Sequential`` per run,
  penalties by autograd from their definitions (the CR-penalty of eq. 5 on the ReLU masks,
  E||grad_x CE||^2 by double backprop, torch's ``spectral_norm``), one model at a time;
* project: :func:`dreg_utils.studies.mnist.run_group` on the same runs, grouped as the
  study groups them;
* floor: the workload's matrix products alone (:mod:`floor`).

Both arms run in this process, one after the other (order alternating over ``--repeats``);
the result is project / reference and each arm's wall / floor.

    python benchmarks/bench_naive.py              # the workload above (about 3-4 minutes)
    python benchmarks/bench_naive.py --quick      # two small runs per arm: checks that it runs
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

from dreg_utils.data.mnist import DEBIAN_FASHION_DIR, MNISTData, load_mnist
from dreg_utils.studies import mnist as mnist_study
from floor import evaluation_products, flops, floor_seconds, step_products
from machine import cpu_name, describe, load_average, save_results

METHODS = ("base", "dreg", "igp", "sn")
LR, WEIGHT_DECAY, LAM = 1e-3, 1e-2, 1e-2
FULL = dict(capacities=((32, 16), (128, 64), (256, 128), (512, 256)), seeds=(0, 1, 2), epochs=8,
            batch=64, n_train=5_000, n_test=10_000)
QUICK = dict(capacities=((32, 16),), seeds=(0,), epochs=1, batch=64, n_train=512, n_test=512)
TARGET_RATIO = 0.35


def load_data(n_train: int, n_test: int) -> MNISTData:
    if DEBIAN_FASHION_DIR.is_dir():
        return load_mnist("fashion-mnist", source="debian", n_train=n_train, n_test=n_test)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(n_train + n_test, 784, generator=gen), torch.randint(0, 10, (n_train + n_test,), generator=gen)
    return MNISTData("random", x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                     source="random MNIST-shaped tensors (dataset-fashion-mnist is not installed)")


# ----------------------------------------------------------------------------- the reference arm

def naive_model(hidden: tuple[int, int], method: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    linears = [nn.Linear(a, b) for a, b in zip((784, *hidden), (*hidden, 10))]
    if method == "sn":
        linears = [nn.utils.parametrizations.spectral_norm(layer) for layer in linears]
    return nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])


def naive_loss(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, method: str) -> torch.Tensor:
    """Cross-entropy plus LAM times the method's penalty, by autograd."""
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
        loss = loss + LAM * total / len(linears)
    elif method == "igp":
        (g,) = torch.autograd.grad(F.cross_entropy(h, y, reduction="sum"), x, create_graph=True)
        loss = loss + LAM * g.pow(2).sum(dim=1).mean()
    return loss


def naive_measure(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray]:
    """Test accuracy (%) and the per-sample norms ||grad_x CE(f(x_i), y_i)||."""
    model.eval()
    with torch.no_grad():
        accuracy = 100.0 * float((model(x).argmax(dim=1) == y).float().mean())
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)
    return accuracy, g.norm(dim=1).numpy()


def naive_run(hidden: tuple[int, int], method: str, seed: int, data: MNISTData, epochs: int,
              batch: int) -> dict:
    model = naive_model(hidden, method, seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    generator = torch.Generator().manual_seed(seed)
    n = data.x_train.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch):
            index = order[i:i + batch]
            optimizer.zero_grad()
            naive_loss(model, data.x_train[index], data.y_train[index], method).backward()
            optimizer.step()
    accuracy, norms = naive_measure(model, data.x_test, data.y_test)
    return {"test_acc": accuracy, "ig_p99": float(np.quantile(norms, 0.99))}


# ----------------------------------------------------------------------------- the two arms and the floor

def configs(grid: dict) -> list[dict]:
    return [{"hidden": list(h), "activation": "relu", "method": m, "lam": LAM if m in ("dreg", "igp") else 0.0,
             "seed": s, "epochs": grid["epochs"], "batch_size": grid["batch"], "lr": LR,
             "weight_decay": WEIGHT_DECAY} for h in grid["capacities"] for m in METHODS for s in grid["seeds"]]


def reference_arm(grid: dict, data: MNISTData) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    rows = [naive_run(tuple(c["hidden"]), c["method"], c["seed"], data, grid["epochs"], grid["batch"])
            for c in configs(grid)]
    return time.perf_counter() - start, rows


def project_arm(grid: dict, data: MNISTData) -> tuple[float, list[dict]]:
    groups: dict = {}
    for config in configs(grid):
        groups.setdefault(mnist_study.group_key(config), []).append(config)
    start = time.perf_counter()
    rows = [row for group in groups.values() for row in mnist_study.run_group(group, data, "cpu")]
    return time.perf_counter() - start, rows


def workload_products(grid: dict, n_train: int) -> Counter:
    steps = grid["epochs"] * -(-n_train // grid["batch"])
    products: Counter = Counter()
    for config in configs(grid):
        widths = (784, *config["hidden"], 10)
        for shape, count in step_products(widths, grid["batch"], config["method"]).items():
            products[shape] += count * steps
        products.update(evaluation_products(widths, grid["n_test"]))
    return products


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid: checks that it runs")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each arm, order alternating")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=None, help="folder for naive.csv and naive.meta.json")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    grid = QUICK if args.quick else FULL
    data = load_data(grid["n_train"], grid["n_test"])
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; load average at start {load_average()}")
    print(f"data: {data.describe()}; {len(configs(grid))} runs, {grid['epochs']} epochs at batch {grid['batch']}")
    seconds: dict[str, list[float]] = {"reference": [], "project": []}
    arms = {"reference": reference_arm, "project": project_arm}
    tiny = MNISTData(data.name, data.x_train[:128], data.y_train[:128], data.x_test[:128], data.y_test[:128],
                     data.source)
    for arm in arms.values():  # warm-up: first calls of autograd, spectral_norm and the kernels
        arm(QUICK, tiny)
    results = {}
    for repeat in range(args.repeats):
        for name in (("reference", "project") if repeat % 2 == 0 else ("project", "reference")):
            wall, results[name] = arms[name](grid, data)
            seconds[name].append(wall)
            print(f"  {name}: {wall:.1f} s", flush=True)
    products = workload_products(grid, data.x_train.shape[0])
    floor = floor_seconds(products)
    wall = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = wall["project"] / wall["reference"]
    print(f"floor: {floor:.1f} s for {flops(products) / 1e12:.2f} TFLOP of matrix products "
          f"({flops(products) / floor / 1e9:.0f} GFLOP/s)")
    for name in arms:
        print(f"{name}: {wall[name]:.1f} s, wall / floor = {wall[name] / floor:.2f}")
    print(f"project / reference = {ratio:.3f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    accuracy = {n: float(np.mean([r["test_acc"] for r in rows])) for n, rows in results.items()}
    print(f"mean test accuracy: reference {accuracy['reference']:.2f}%, project {accuracy['project']:.2f}% "
          "(a sanity check: both arms train the same runs)")
    print(f"load average at end {load_average()}")
    if args.out:
        table = pd.DataFrame([{"arm": name, "seconds": wall[name], "wall_over_floor": wall[name] / floor,
                               "mean_test_acc": accuracy[name]} for name in arms])
        meta = {**describe(), "quick": args.quick, "data": data.describe(), "runs": len(configs(grid)),
                "n_train": data.n_train, "n_test": data.n_test,
                "epochs": grid["epochs"], "batch": grid["batch"], "repeats": args.repeats,
                "floor_s": floor, "tflop": flops(products) / 1e12, "ratio_project_to_reference": ratio,
                "target_ratio": TARGET_RATIO, "all_seconds": seconds}
        save_results(args.out, "naive", table, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
