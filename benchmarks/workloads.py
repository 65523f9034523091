"""The benchmarks' workloads, read from the studies' settings: the MNIST sweep's runs and
vectorised groups as :mod:`dreg_utils.studies.mnist` forms them, and the images they train on.
No study's protocol value is typed in ``benchmarks/``; what a benchmark adds (its own sizes,
its ``--quick`` cuts, its targets) is named in its script.

The MNIST study trains on MNIST, whose full files are not on every machine; the benchmarks
train on Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (MNIST's shape and
sizes) or, where it is missing, on random tensors of that shape: the cost of a dense step does
not depend on the pixel values. Each script says which it used.
"""
from __future__ import annotations

import argparse

import torch

from dreg_utils.data.mnist import DEBIAN_FASHION_DIR, MNISTData
from dreg_utils.ensemble import Member
from dreg_utils.settings import PROFILES
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies.mnist import MNISTSettings

PIXELS, CLASSES = 784, 10  # an MNIST image, flattened, and its classes
SPLIT_SIZES = (60_000, 10_000)  # training and test images of MNIST and of Fashion-MNIST

Group = tuple[tuple[int, ...], str, list[dict]]


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """``--profile``: the studies' profile whose settings make the workload."""
    parser.add_argument("--profile", choices=PROFILES, default="default",
                        help="the studies' profile whose settings make the workload (default: default, "
                             "the workload of the tables in benchmarks/results)")


def mnist_settings(profile: str, **changes) -> MNISTSettings:
    """The MNIST study's settings of ``profile`` with ``changes``, on the benchmarks' images
    (Fashion-MNIST from the Debian package, all of them unless ``changes`` say otherwise)."""
    return MNISTSettings.from_profile(profile).replace(dataset="fashion-mnist", source="debian",
                                                       paper_scale_datasets=[], **changes)


def load_images(settings: MNISTSettings) -> MNISTData:
    """The images ``settings`` name (:func:`mnist_settings`), or seeded random tensors of their
    shape and of the settings' sizes where the Debian package is not installed."""
    if DEBIAN_FASHION_DIR.is_dir():
        return mnist_study.load_data(settings)
    n_train, n_test = settings["n_train"] or SPLIT_SIZES[0], settings["n_test"] or SPLIT_SIZES[1]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_test, PIXELS, generator=gen)
    y = torch.randint(0, CLASSES, (n_train + n_test,), generator=gen)
    return MNISTData("random", x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                     source="random MNIST-shaped tensors (dataset-fashion-mnist is not installed)")


def mnist_groups(settings: MNISTSettings, data: MNISTData) -> list[Group]:
    """Table 3's runs of ``settings`` (:func:`mnist.make_configs`) in the study's vectorised
    groups (:func:`mnist.group_key`), in the study's order: (hidden, activation, configs)."""
    groups: dict = {}
    for config in mnist_study.make_configs(settings, data):
        groups.setdefault(mnist_study.group_key(config), []).append(config)
    return [(tuple(configs[0]["hidden"]), configs[0]["activation"], configs) for configs in groups.values()]


def members(configs: list[dict]) -> list[Member]:
    """The vectorised members (seed, method, lambda) of a group's run configurations."""
    return [Member(c["seed"], c["method"], c["lam"]) for c in configs]
