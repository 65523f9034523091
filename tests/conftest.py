"""Shared fixtures for the dreg_utils unit tests."""
import pytest
import torch

from dreg_utils.data.mnist import MNISTData


def pytest_configure(config):
    """Single-threaded torch: the test models are tiny, and intra-op threads only
    contend for the CPU (several times slower when anything else is running)."""
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _downloads_off_the_book(monkeypatch, tmp_path):
    """Tables a test shows write their CSV downloads into the test's own folder, never into the
    main book's ``book/executed/data``."""
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path / "downloads"))


@pytest.fixture
def float64():
    """Run a test with float64 as torch's default dtype, restoring it afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@pytest.fixture(scope="session")
def tiny_mnist() -> MNISTData:
    """96 training and 40 test 'images' with a learnable label (the sign pattern of 2 pixels)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(136, 784, generator=gen)
    y = ((x[:, 0] > 0).long() * 5 + (x[:, 1] > 0).long() * 3) % 10
    return MNISTData("mnist", x[:96], y[:96], x[96:], y[96:], source="random test tensors")
