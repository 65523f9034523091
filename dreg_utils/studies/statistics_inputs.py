"""The runs the statistics chapter (notebook 03) tests: the MNIST chapter's and the synthetic
chapter's run tables under the same profile, read from their default results when those hold the
profile's grid, else produced by each chapter's cached sweep (:func:`load_or_run`), each with
where it came from (:class:`Origin`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import paths
from . import mnist, synthetic
from .statistics import StatisticsSettings, mnist_grid, read_runs, synthetic_grid

N_RUNS = "n_runs"  # the "column" of a mismatch in the number of rows


@dataclass(frozen=True)
class Mismatch:
    """One way a runs table differs from the expected grid: the values of ``column`` found and
    expected, each sorted (``found`` None: the table has no such column), or for ``column``
    :data:`N_RUNS` the numbers of rows."""

    column: str
    found: list | int | None
    expected: list | int


@dataclass(frozen=True)
class Origin:
    """Where a runs table came from: ``path`` read (``ran`` False), or the study's cached sweep
    (``ran``), run because ``path`` does not exist or holds another grid. ``mismatches``: how
    the table at ``path`` differs from the profile's grid (:func:`grid_mismatch`)."""

    path: str
    ran: bool
    mismatches: tuple[Mismatch, ...] = ()


def grid_mismatch(runs: pd.DataFrame, grid: dict[str, list], n_runs: int) -> list[Mismatch]:
    """How a runs table differs from the expected grid (empty when it matches): per column the
    values it has against those expected, and its row count against ``n_runs``."""
    problems = []
    for col, values in grid.items():
        if col not in runs.columns:
            problems.append(Mismatch(col, None, sorted(values, key=str)))
            continue
        have, want = set(runs[col].tolist()), set(values)
        if have != want:
            problems.append(Mismatch(col, sorted(have, key=str), sorted(want, key=str)))
    if len(runs) != n_runs:
        problems.append(Mismatch(N_RUNS, len(runs), n_runs))
    return problems


def load_or_run(path: str | Path | None, default_path: str | Path, grid: dict[str, list], n_runs: int,
                run: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, Origin]:
    """The runs to analyse and where they came from.

    A given ``path`` is read as it is (a grid other than the profile's is reported, not
    refused). Otherwise ``default_path`` is read if it holds exactly the profile's grid, and
    else ``run()`` (the study's cached sweep) produces the table.
    """
    if path is not None:
        runs = read_runs(path)
        return runs, Origin(str(path), ran=False, mismatches=tuple(grid_mismatch(runs, grid, n_runs)))
    default_path = Path(default_path)
    if default_path.is_file():
        runs = read_runs(default_path)
        problems = tuple(grid_mismatch(runs, grid, n_runs))
        if not problems:
            return runs, Origin(str(default_path), ran=False)
    else:
        problems = ()
    return run(), Origin(str(default_path), ran=True, mismatches=problems)


@dataclass(frozen=True)
class Inputs:
    """The run tables the chapter tests, each with where it came from and the settings of the
    chapter that produced it."""

    mnist: pd.DataFrame
    mnist_origin: Origin
    mnist_settings: mnist.MNISTSettings
    synthetic: pd.DataFrame
    synthetic_origin: Origin
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
