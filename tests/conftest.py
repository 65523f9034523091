"""Shared fixtures for the dreg_utils unit tests."""
import pytest
import torch


@pytest.fixture
def float64():
    """Run a test with float64 as torch's default dtype, restoring it afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
