"""Peak memory of a call: the most bytes it holds allocated at once above what was allocated
when it started, on the CPU or on a CUDA device.

CPU: torch's CPU allocator reports every allocation and free to ``torch.profiler``
(``profile_memory=True``); :func:`peak_of_events` sums their sizes in time order (frees
negative) and keeps the largest running sum. The profiler reports the free of a block only if
the block was allocated while some profiler ran, so :func:`peak_bytes` first runs the call once
under the profiler (a warm-up whose numbers are dropped): what a step frees was allocated by the
step before it. CUDA: the caching allocator's own counters
(``torch.cuda.reset_peak_memory_stats`` / ``max_memory_allocated`` against
``memory_allocated`` at the start). Either way only tensor memory counts (torch's allocator),
not Python objects or a library's private scratch space.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.profiler import ProfilerActivity, profile

DEVICES = ("cpu", "cuda")


def peak_of_events(sizes: Iterable[int]) -> tuple[int, int]:
    """(peak, net) of a sequence of allocation sizes in time order, frees negative: the largest
    running sum (0 if it never rises above the start) and the final sum."""
    running = peak = 0
    for size in sizes:
        running += int(size)
        peak = max(peak, running)
    return peak, running


def _cpu_events(call: Callable[[], object]) -> list[int]:
    """The sizes of the CPU allocations (+) and frees (-) made during ``call()``, in time order."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    events = [(event.start_ns(), index, event.nbytes())
              for index, event in enumerate(prof.profiler.kineto_results.events())
              if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU]
    return [size for _, _, size in sorted(events)]


def _cuda_peak(call: Callable[[], object]) -> tuple[int, int]:
    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    call()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - start, torch.cuda.memory_allocated() - start


def peak_bytes(call: Callable[[], object], device: str = "cpu", repeats: int = 1) -> list[tuple[int, int]]:
    """(peak, net) bytes of each of ``repeats`` calls of ``call()`` on ``device`` after one
    warm-up call: the most allocated at once above the start, and what is still allocated at
    the end (0 for a call that frees what it allocates)."""
    if device not in DEVICES:
        raise ValueError(f"device={device!r} is not valid; choose one of {list(DEVICES)}")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if device == "cuda":
        call()
        return [_cuda_peak(call) for _ in range(repeats)]
    _cpu_events(call)
    return [peak_of_events(_cpu_events(call)) for _ in range(repeats)]
