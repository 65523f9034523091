#!/usr/bin/env python
"""Peak memory of one training step per derivative-control method, at Table 3's capacities.

The DREG paper computes its CR-penalty in the forward pass and says this avoids the memory of
double backpropagation (IGPEN). This script measures, for BASE and every derivative penalty
(:data:`METHODS_MEASURED`: DREG, IGPEN and the exact and one-projection Jacobian penalties),
with the MNIST study's first activation (ReLU), capacities, batch size and lam of ``--profile``
(784 inputs, 10 outputs), the peak memory of the step's forward pass, penalty and backward
pass: the real step of :func:`dreg_utils.train.make_step` with an optimizer whose
update does nothing, so the weights and therefore every repeat stay the same. Per row:

* ``held_bytes``: what the step starts from: the model's parameters, buffers and gradients
  (from the previous step) and the batch;
* ``peak_bytes``: the most the step holds above that at any moment (:mod:`memory`: torch's
  allocation events summed in time order on the CPU, the allocator's peak counter on CUDA),
  the median over ``--repeats`` measurements; ``peak_min_bytes`` and ``peak_max_bytes`` show
  that they agree (the measurement is deterministic); ``net_bytes``: what a step leaves behind (0);
* ``total_bytes`` = held + peak: the step's peak memory;
* ``peak_update_bytes``: the same peak above the start for the whole step with the AdamW update.

    python benchmarks/bench_memory.py             # the table (seconds)
    python benchmarks/bench_memory.py --quick     # two capacities, two repeats: checks that it runs
    python benchmarks/bench_memory.py --device cuda   # on a GPU (the allocator's counters)
    python benchmarks/bench_memory.py --out benchmarks/results

With ``--out DIR`` the table goes to ``DIR/memory.csv`` and the machine to ``DIR/memory.meta.json``;
the performance chapter reads them.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys

import pandas as pd
import torch

from dreg_utils.models import CompactMLP
from dreg_utils.runs import hidden_label
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.train import make_step
from dreg_utils.vocabulary import LAMBDA_METHODS, METHODS, PAPER_LABELS
from machine import describe, save_results
from memory import DEVICES, peak_bytes
from workloads import CLASSES, PIXELS, add_profile_argument

MIB = 2 ** 20
METHODS_MEASURED = ("base", *LAMBDA_METHODS)  # BASE and every derivative penalty (vocabulary keys)


class NoUpdate(torch.optim.Optimizer):
    """An optimizer whose step changes nothing: the training step without its update."""

    def __init__(self, params) -> None:
        super().__init__(params, {})

    def step(self, closure=None) -> None:
        return None


def held_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: tuple[torch.Tensor, ...],
               device: str) -> int:
    """Bytes allocated before a step: on CUDA the allocator's count; on the CPU the storages of
    the model's parameters, buffers and gradients, the optimizer's state and ``tensors``, each once."""
    if device == "cuda":
        return torch.cuda.memory_allocated()
    state = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in (*model.parameters(), *model.buffers(), *grads, *state, *tensors)}
    return sum(storages.values())


def measure(settings: MNISTSettings, method: str, activation: str, hidden: tuple[int, ...], batch, repeats: int,
            device: str, seed: int) -> dict:
    """One row of the table (see the module docstring) for ``method`` at ``hidden``."""
    lam = settings["lam"] if METHODS[method].takes_lambda else 0.0
    peaks = {}
    for arm in ("step", "update"):
        model = CompactMLP.seeded(seed, PIXELS, hidden, CLASSES, activation=activation).to(device).train()
        optimizer = (NoUpdate(model.parameters()) if arm == "step" else
                     torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"]))
        step = make_step(model, optimizer, method, lam, "classification", n_projections=1,
                         generator=torch.Generator().manual_seed(seed))
        step(*batch)  # the gradients (and AdamW's state) the steps measured start from
        gc.collect()
        peaks[arm] = peak_bytes(lambda: step(*batch), device, repeats)
        if arm == "step":
            held = held_bytes(model, optimizer, batch, device)
    step_peaks = [peak for peak, _ in peaks["step"]]
    peak = int(statistics.median(step_peaks))
    return {"hidden": hidden_label(hidden), "params": CompactMLP(PIXELS, hidden, CLASSES).num_parameters(),
            "method": method, "activation": activation, "held_bytes": held, "peak_bytes": peak,
            "total_bytes": held + peak, "peak_min_bytes": min(step_peaks), "peak_max_bytes": max(step_peaks),
            "net_bytes": max(abs(net) for _, net in peaks["step"]),
            "peak_update_bytes": int(statistics.median(peak for peak, _ in peaks["update"])), "repeats": repeats}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two capacities, two repeats (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="measurements per method and capacity (default 3)")
    parser.add_argument("--device", choices=DEVICES, default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    add_profile_argument(parser)
    parser.add_argument("--out", default=None, help="folder for memory.csv and memory.meta.json")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_memory: --device cuda, but CUDA is not available on this machine")
        return 1
    repeats = args.repeats or (2 if args.quick else 3)
    settings = MNISTSettings.from_profile(args.profile)
    activation = settings["activations"][0]
    capacities = [tuple(hidden) for hidden in settings["capacities"]][:2 if args.quick else None]
    torch.set_num_threads(1)  # one thread: the same allocations in every repeat
    gen = torch.Generator().manual_seed(args.seed)
    batch = (torch.rand(settings["batch_size"], PIXELS, generator=gen).to(args.device),
             torch.randint(0, CLASSES, (settings["batch_size"],), generator=gen).to(args.device))
    print(f"bench_memory: peak memory of one training step (forward, penalty, backward), {args.device}, "
          f"batch {settings['batch_size']}, {PIXELS} -> hidden -> {CLASSES}, {activation}, lam {settings['lam']}, "
          f"{repeats} repeats")
    rows = [measure(settings, method, activation, hidden, batch, repeats, args.device, args.seed)
            for hidden in capacities for method in METHODS_MEASURED]
    table = pd.DataFrame(rows)
    shown = table.assign(label=table["method"].map(PAPER_LABELS), held_mib=table["held_bytes"] / MIB,
                         peak_mib=table["peak_bytes"] / MIB, total_mib=table["total_bytes"] / MIB)
    with pd.option_context("display.width", 140, "display.precision", 3):
        print(shown[["hidden", "label", "held_mib", "peak_mib", "total_mib", "peak_min_bytes",
                     "peak_max_bytes"]].to_string(index=False))
    deterministic = bool((table["peak_min_bytes"] == table["peak_max_bytes"]).all())
    balanced = bool((table["net_bytes"] == 0).all())
    print(f"repeats agree: {deterministic}; every step frees what it allocates: {balanced}")
    if args.out:
        meta = {**describe(args.device), "quick": args.quick, "profile": args.profile,
                "batch": settings["batch_size"], "lam": settings["lam"], "activation": activation,
                "repeats": repeats, "deterministic": deterministic, "balanced": balanced,
                "method": ("torch.profiler allocation events summed in time order" if args.device == "cpu"
                           else "torch.cuda.max_memory_allocated against memory_allocated at the start")}
        save_results(args.out, "memory", table, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
