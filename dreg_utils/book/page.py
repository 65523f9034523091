"""What a chapter's page opens with: one call.

``ch = open_chapter("02_mnist_sweep", globals())`` builds the page's settings from its
``parameters`` cell (checked once, by the study's settings type), finds its results folder (the
cell's ``results_dir``, else ``$DREG_RESULTS_DIR/FOLDER``), loads its data where the chapter has
one (MNIST images, the runs the statistics chapter tests, the regression datasets, the benchmark
tables) and sets the book's figure theme. The :class:`Chapter` it returns also times the page's
work, shows its "This run" table and its diverged runs, and puts its own labels on a table
(:meth:`Chapter.show`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..runs import diverged_runs
from ..settings import StudySettings
from ..studies import distillation, mnist, performance, statistics_inputs
from ..validation import check_choice
from .chapters import CHAPTER_SETTINGS, RESULTS_FOLDERS
from .labels import show
from .plotting import set_theme
from .this_run import this_run

# The data each chapter loads before its work (from its checked settings); chapters not listed
# have none of their own (they generate theirs inside their runs).
DATA: dict[str, Callable[[Any], Any]] = {
    "02_mnist_sweep": mnist.load_data,
    "03_statistical_tests": statistics_inputs.load_inputs,
    "04_sr_distillation": distillation.load_datasets,
    "06_performance": performance.load_benchmarks,
}


@dataclass
class Chapter:
    """One chapter's page: its notebook stem, checked settings, results folder (None: it writes
    none), data (None: none of its own) and the wall seconds of its timed work so far."""

    name: str
    settings: StudySettings
    results_dir: Path | None
    data: Any = None
    seconds: float | None = None

    def timed(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, its wall time added to :attr:`seconds`."""
        start = time.perf_counter()
        result = function(*args, **kwargs)
        self.seconds = (self.seconds or 0.0) + time.perf_counter() - start
        return result

    def this_run(self, runs: pd.DataFrame | None, *, data: str, device: str | None = None):
        """The page's "This run" table (:func:`dreg_utils.book.this_run.this_run`) with the wall
        time of its timed work."""
        return this_run(self.name, self.settings, runs, data=data, seconds=self.seconds, device=device)

    def show(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with this chapter's display labels (:func:`dreg_utils.book.labels.show`)."""
        return show(table, self.name)

    def show_diverged(self, runs: pd.DataFrame, keys: Sequence[str], what: str = "runs diverged") -> None:
        """Display, only when some run diverged, how many ("N {what} (excluded from every mean):")
        and one row per diverged run: ``keys``, the step, epoch and what stopped being finite."""
        diverged = diverged_runs(runs, list(keys))
        if len(diverged):
            from IPython.display import Markdown, display  # the book extra: pages run in a kernel

            display(Markdown(f"{len(diverged)} {what} (excluded from every mean):"))
            display(diverged.style.hide(axis="index"))


def open_chapter(name: str, namespace: Mapping[str, Any]) -> Chapter:
    """The page of chapter ``name`` (a notebook stem, e.g. "02_mnist_sweep") opened from
    ``namespace``, the notebook's globals after its ``parameters`` cell: settings checked by
    the chapter's settings type, results folder, data (loaded and timed) and the figure theme set."""
    check_choice("name", name, tuple(CHAPTER_SETTINGS))
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be the notebook's globals() (a mapping), got {type(namespace).__name__}")
    settings = CHAPTER_SETTINGS[name].from_notebook(namespace)
    folder = RESULTS_FOLDERS[name]
    results_dir = None if folder is None else paths.results_dir(folder, namespace.get("results_dir"))
    chapter = Chapter(name, settings, results_dir)
    if name in DATA:
        chapter.data = chapter.timed(DATA[name], settings)
    set_theme()
    return chapter
