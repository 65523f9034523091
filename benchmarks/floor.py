"""The arithmetic floor of a training workload: its matrix products alone, replayed at the same
shapes and counts with ``torch.mm`` into preallocated outputs.

An MLP with widths w_0 -> ... -> w_L trained at batch B runs, per step and model (m x k @ k x n):

* forward: (B, w_{l-1}, w_l) for every layer l;
* backward: the weight gradients (w_l, B, w_{l-1}) for every layer and the input gradients
  (B, w_l, w_{l-1}) for l >= 2;
* IGPEN (double backprop) runs every product of that step twice (the first backward is
  differentiated again) plus twice the input gradient of layer 1, (B, w_1, w_0), which a plain
  step never forms. (``tests/test_benchmarks.py`` checks these counts against the products
  torch dispatches in a real step.)

BASE, DREG (closed form for ReLU) and SN (matrix-vector power iteration) add no matrix
product of this size. Evaluating a model on n test images is a forward pass for the loss and
accuracy plus a forward and an input-gradient chain for the per-sample norms (3L products at
batch n). Everything else a sweep does (elementwise work, the optimizer, Python) is above the
floor, so wall / floor says how far a sweep is from what the machine's arithmetic allows.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

Shape = tuple[int, int, int]


def step_products(widths: Sequence[int], batch: int, method: str) -> Counter[Shape]:
    """The (m, k, n) matrix products of one training step of one model."""
    layers = list(zip(widths[:-1], widths[1:]))
    products: Counter[Shape] = Counter()
    for i, (fan_in, fan_out) in enumerate(layers):
        products[(batch, fan_in, fan_out)] += 1  # forward
        products[(fan_out, batch, fan_in)] += 1  # weight gradient
        if i > 0:
            products[(batch, fan_out, fan_in)] += 1  # input gradient of the layer's input
    if method == "igp":
        products = products + products
        products[(batch, widths[1], widths[0])] += 2
    return products


def evaluation_products(widths: Sequence[int], n_test: int) -> Counter[Shape]:
    """The matrix products of measuring one model on ``n_test`` images (loss and accuracy,
    per-sample input-gradient norms)."""
    products: Counter[Shape] = Counter()
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        products[(n_test, fan_in, fan_out)] += 2
        products[(n_test, fan_out, fan_in)] += 1
    return products


def seconds_per_product(shape: Shape, repeats: int = 5, min_seconds: float = 0.02) -> float:
    """Median over ``repeats`` of the mean time of ``torch.mm`` at ``shape`` (float32)."""
    m, k, n = shape
    a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
    torch.mm(a, b, out=out)
    start = time.perf_counter()
    torch.mm(a, b, out=out)
    one = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_seconds / one))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=out)
        times.append((time.perf_counter() - start) / calls)
    return sorted(times)[len(times) // 2]


def floor_seconds(products: Counter[Shape], repeats: int = 5) -> float:
    """Seconds the products take alone: count x measured time, summed over shapes."""
    return sum(count * seconds_per_product(shape, repeats) for shape, count in products.items())


def flops(products: Counter[Shape]) -> float:
    """2 m k n per product, summed."""
    return sum(2.0 * m * k * n * count for (m, k, n), count in products.items())


PRODUCT_OPS = ("mm", "addmm", "bmm", "baddbmm")


class RecordProducts(TorchDispatchMode):
    """Records every matrix product torch dispatches (``mm``, ``addmm``, ``bmm``, ``baddbmm``)
    as (op, [(shape, stride) of each tensor argument, or the argument itself])."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Callable, list]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in PRODUCT_OPS:
            self.calls.append((func, [(tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else a
                                      for a in args]))
        return func(*args, **(kwargs or {}))


def replayer(calls: list[tuple[Callable, list]]) -> Callable[[], None]:
    """A closure that issues the recorded products alone, in the recorded order, with the
    recorded shapes and memory layouts (transposed views stay transposed) on fresh operands,
    one set per call: as in a training step, the distinct weights of a group's members do not
    share the cache (``floor_seconds`` reuses one set of operands per shape)."""
    operands = [[torch.empty_strided(*a).normal_() if isinstance(a, tuple) and isinstance(a[0], tuple) else a
                 for a in args] for _, args in calls]

    def replay() -> None:
        for (func, _), args in zip(calls, operands):
            func(*args)
    return replay
