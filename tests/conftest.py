"""Shared fixtures for the dreg_utils unit tests."""
import pytest
import torch


def pytest_configure(config):
    """Single-threaded torch: the test models are tiny, and intra-op threads only
    contend for the CPU (several times slower when anything else is running)."""
    torch.set_num_threads(1)


@pytest.fixture
def float64():
    """Run a test with float64 as torch's default dtype, restoring it afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
