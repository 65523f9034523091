#!/usr/bin/env python
"""The paper-scale MNIST sweep (Table 3: 96 runs, 8 epochs over 60,000 images at batch 64, then
accuracy and input-gradient norms on 10,000) trained for real on a CUDA GPU, group by group as
:mod:`dreg_utils.studies.mnist` groups it, and timed against its arithmetic floor on that GPU.
The workload is ``bench_sweep.py``'s (the MNIST study's settings of ``--profile``; the numbers
above are the default profile's).

Without CUDA it says so and exits without writing anything (``make bench`` runs it everywhere).

    python benchmarks/bench_gpu.py                        # the whole sweep on cuda:0
    python benchmarks/bench_gpu.py --quick                # one small group, one epoch: checks that it runs
    python benchmarks/bench_gpu.py --profile smoke        # the smoke profile's sweep
    python benchmarks/bench_gpu.py --out benchmarks/results   # also save gpu.csv / gpu.meta.json
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import pandas as pd
import torch

from bench_sweep import workload
from dreg_utils.data.mnist import MNISTData
from dreg_utils.runs import hidden_label
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies.mnist import MNISTSettings
from floor import evaluation_products, flops, step_products
from machine import describe, save_results
from workloads import CLASSES, PIXELS, Group, add_profile_argument, load_images, mnist_groups

TARGET_SECONDS = 60.0


def gpu_floor_seconds(products: Counter, repeats: int = 5) -> float:
    """The products alone on the GPU (CUDA events around ``torch.mm``), summed over shapes."""
    total = 0.0
    for (m, k, n), count in products.items():
        a, b = torch.randn(m, k, device="cuda"), torch.randn(k, n, device="cuda")
        out = torch.empty(m, n, device="cuda")
        torch.mm(a, b, out=out)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            torch.mm(a, b, out=out)
        end.record()
        torch.cuda.synchronize()
        total += count * start.elapsed_time(end) / 1e3 / repeats
    return total


def chosen_groups(settings: MNISTSettings, quick: bool, data: MNISTData) -> list[Group]:
    """The groups this script trains: all of the sweep's (:func:`bench_sweep.workload`) or, with
    ``quick``, its first group for one epoch."""
    if quick:
        return mnist_groups(settings.replace(epochs=1), data)[:1]
    return mnist_groups(settings, data)


def train_groups(groups: list[Group], data: MNISTData) -> tuple[list[dict], Counter]:
    """Train and measure each group on the GPU (:func:`mnist.run_group`); its wall time per group
    and the matrix products of the whole workload."""
    rows, products = [], Counter()
    for hidden, activation, configs in groups:
        group_start = time.perf_counter()
        mnist_study.run_group(configs, data, device="cuda")
        torch.cuda.synchronize()
        rows.append({"hidden": hidden_label(hidden), "activation": activation, "members": len(configs),
                     "seconds": time.perf_counter() - group_start})
        print(f"  {hidden} {activation} {len(configs)} members: {rows[-1]['seconds']:.1f} s", flush=True)
        widths = (PIXELS, *hidden, CLASSES)
        for c in configs:
            steps = c["epochs"] * -(-data.n_train // c["batch_size"])
            for shape, count in step_products(widths, c["batch_size"], c["method"]).items():
                products[shape] += count * steps
            products.update(evaluation_products(widths, data.n_test))
    return rows, products


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small group, one epoch")
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for gpu.csv and gpu.meta.json")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu: CUDA is not available on this machine; nothing measured, nothing written")
        return 0
    settings = workload(args.profile)
    data = load_images(settings)
    chosen = chosen_groups(settings, args.quick, data)
    data = MNISTData(data.name, data.x_train.cuda(), data.y_train.cuda(), data.x_test.cuda(), data.y_test.cuda(),
                     data.source)
    epochs = chosen[0][2][0]["epochs"]
    print(f"GPU: {torch.cuda.get_device_name(0)}; data: {data.describe()}; {len(chosen)} groups, {epochs} epochs")
    torch.cuda.synchronize()
    start = time.perf_counter()
    rows, products = train_groups(chosen, data)
    wall = time.perf_counter() - start
    floor = gpu_floor_seconds(products)
    print(f"sweep: {wall:.1f} s (target <= {TARGET_SECONDS:.0f} s: {'met' if wall <= TARGET_SECONDS else 'NOT met'}); "
          f"floor {floor:.1f} s for {flops(products) / 1e12:.1f} TFLOP; wall / floor = {wall / floor:.2f}")
    if args.out:
        meta = {**describe("cuda"), "quick": args.quick, "profile": args.profile, "data": data.describe(),
                "epochs": epochs, "wall_s": wall, "floor_s": floor, "tflop": flops(products) / 1e12,
                "target_s": TARGET_SECONDS}
        save_results(args.out, "gpu", pd.DataFrame(rows), meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
