"""Thread limiting for tiny models, whose extra threads cost more than they bring."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch, OpenMP (e.g. gradient boosting) and BLAS on one thread inside the block.

    The models are tiny, so extra threads do not pay; with other processes on the cores,
    spinning OpenMP threads slowed a 0.2 s boosting fit to 14 s in a Jupyter kernel.
    Parallelism comes from running independent runs in separate processes instead.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)
