"""The runs the statistics chapter (notebook 03) tests: the MNIST chapter's and the synthetic
chapter's run tables under the same profile, read from their default results when those hold the
profile's grid, else produced by each chapter's cached sweep (:func:`statistics.load_or_run`)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import paths
from . import mnist, synthetic
from .statistics import StatisticsSettings, load_or_run, mnist_grid, synthetic_grid


@dataclass(frozen=True)
class Inputs:
    """The run tables the chapter tests, each with a sentence saying where it came from and the
    settings of the chapter that produced it."""

    mnist: pd.DataFrame
    mnist_origin: str
    mnist_settings: mnist.MNISTSettings
    synthetic: pd.DataFrame
    synthetic_origin: str
    synthetic_settings: synthetic.SyntheticSettings


def _run_mnist(settings: mnist.MNISTSettings) -> pd.DataFrame:
    """The MNIST chapter's cached sweep under ``settings``, on its data."""
    return mnist.run_sweep(settings, mnist.load_data(settings), paths.results_dir("mnist"), progress=False)


def load_inputs(settings: StatisticsSettings) -> Inputs:
    """The MNIST and synthetic runs of ``settings``' profile: the tables ``mnist_runs`` and
    ``synthetic_runs`` name when given, else those at their chapters' default results folders when
    they hold the profile's grid, else the chapters' cached sweeps (training only what is new)."""
    mnist_settings = mnist.MNISTSettings.from_profile(settings.profile)
    synthetic_settings = synthetic.SyntheticSettings.from_profile(settings.profile)
    runs, mnist_origin = load_or_run(settings["mnist_runs"], paths.results_dir("mnist") / "runs.csv",
                                     *mnist_grid(mnist_settings), lambda: _run_mnist(mnist_settings))
    synthetic_runs, synthetic_origin = load_or_run(
        settings["synthetic_runs"], paths.results_dir("synthetic") / "runs.csv", *synthetic_grid(synthetic_settings),
        lambda: synthetic.run_sweep(synthetic_settings, paths.results_dir("synthetic"), progress=False))
    return Inputs(runs, mnist_origin, mnist_settings, synthetic_runs, synthetic_origin, synthetic_settings)
