"""The peak-memory measurement of benchmarks/memory.py on calls whose peak is known by hand, the
bytes a step starts from counted independently, and bench_memory.py's table."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from memory import peak_bytes, peak_of_events  # noqa: E402

FLOAT = 4  # bytes of a float32


def test_peak_of_events_is_the_largest_running_sum_in_order():
    assert peak_of_events([100, 50, -100, 30, -80]) == (150, 0)
    assert peak_of_events([-40, 30, 5]) == (0, -5)  # a free first: the start is the floor
    assert peak_of_events([]) == (0, 0)


def test_the_peak_of_a_matrix_product_is_its_output():
    a, b = torch.randn(64, 784), torch.randn(784, 128)
    assert peak_bytes(lambda: torch.mm(a, b), repeats=2) == [(64 * 128 * FLOAT, 0)] * 2


def test_the_peak_follows_allocations_and_frees_in_time_order():
    def call():
        first = torch.empty(1000)
        second = torch.empty(3000)
        del first
        third = torch.empty(500)
        return second, third

    # 1000 + 3000 floats at once; after the free of the first, 3000 + 500 < 4000
    assert peak_bytes(call) == [((1000 + 3000) * FLOAT, 0)]


def test_a_free_of_what_the_previous_call_allocated_is_counted():
    """The profiler reports the free of a block only if a profiler saw it allocated: the warm-up
    call makes what a measured call frees (the previous call's block) visible."""
    holder = [torch.empty(1000)]

    def call():
        holder[0] = torch.empty(2000)  # the new block is allocated while the old one is still held

    # above the start (which holds the old block): the new block, then the old one's free brings it
    # back to 0; without the warm-up the first call's free would go unseen (net +8000)
    assert peak_bytes(call, repeats=2) == [(2000 * FLOAT, 0)] * 2


@pytest.mark.parametrize("device, repeats, message", [
    ("tpu", 1, r"device='tpu' is not valid; choose one of \['cpu', 'cuda'\]"),
    ("cpu", 0, "repeats must be a positive integer, got 0")])
def test_peak_bytes_refuses_bad_arguments(device, repeats, message):
    with pytest.raises(ValueError, match=message):
        peak_bytes(lambda: None, device, repeats)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_cuda_peak_of_two_blocks_held_at_once():
    def call():
        first = torch.empty(1024, device="cuda")  # 4 KiB: a multiple of the allocator's 512-byte blocks
        second = torch.empty(2048, device="cuda")
        return first, second

    assert peak_bytes(call, "cuda", repeats=2) == [(3072 * FLOAT, 0)] * 2


def test_held_bytes_counts_parameters_gradients_and_the_batch_once():
    from bench_memory import NoUpdate, held_bytes

    from dreg_utils.models import CompactMLP

    model = CompactMLP.seeded(0, 784, (32, 16), 10)
    x, y = torch.rand(8, 784), torch.randint(0, 10, (8,))
    optimizer = NoUpdate(model.parameters())
    torch.nn.functional.cross_entropy(model(x), y).backward()
    weights = (784 + 1) * 32 + (32 + 1) * 16 + (16 + 1) * 10  # by hand: weights and biases
    expected = 2 * weights * FLOAT + x.numel() * FLOAT + y.numel() * 8  # parameters, gradients, batch
    assert held_bytes(model, optimizer, (x, y, x), "cpu") == expected  # x passed twice, counted once


def test_no_update_leaves_the_weights_as_they_were():
    from bench_memory import NoUpdate

    from dreg_utils.models import CompactMLP
    from dreg_utils.train import make_step

    model = CompactMLP.seeded(0, 784, (32, 16), 10)
    before = [p.detach().clone() for p in model.parameters()]
    make_step(model, NoUpdate(model.parameters()), "igp", 0.1, "classification")(
        torch.rand(8, 784), torch.randint(0, 10, (8,)))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
def test_bench_memory_quick_saves_a_deterministic_table(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_memory.py"), "--quick", "--out",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "repeats agree: True; every step frees what it allocates: True" in done.stdout
    saved = pd.read_csv(tmp_path / "memory.csv")
    assert list(saved["hidden"].unique()) == ["32-16", "128-64"]
    from dreg_utils.vocabulary import LAMBDA_METHODS

    assert list(saved["method"].unique()) == ["base", *LAMBDA_METHODS]  # BASE, DREG, IGPEN, IGPEN-OUT, JAC-RP
    assert (saved["total_bytes"] == saved["held_bytes"] + saved["peak_bytes"]).all()
    assert (saved["peak_min_bytes"] == saved["peak_max_bytes"]).all() and (saved["net_bytes"] == 0).all()
    meta = json.loads((tmp_path / "memory.meta.json").read_text())
    assert meta["quick"] is True and meta["deterministic"] is True and meta["repeats"] == 2
