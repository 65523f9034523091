"""The "This run" table near the top of every chapter: what produced the page's numbers.

Every value is read from the objects the page computed with (its settings, its run table,
its data and its clock), never typed by hand: profile, data source and sizes, device,
seeds, runs reused from the cache against runs trained, wall time, the run table as a CSV
download, and the commands that re-run the page.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..settings import StudySettings
from ..device import resolve_device
from ..validation import check_choice
from .chapters import CHAPTER_SETTINGS
from .tables import download, significant

if TYPE_CHECKING:
    from IPython.display import Markdown

TITLE = "This run"


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def run_count(runs: pd.DataFrame) -> str:
    """"N runs: C reused from the cache, T trained" (from the run table's ``cached`` column)."""
    if "cached" not in runs:
        return f"{len(runs)} rows"
    cached = int(runs["cached"].astype(bool).sum())
    return f"{len(runs)} runs: {cached} reused from the cache, {len(runs) - cached} trained"


def this_run(notebook: str, settings: StudySettings, runs: pd.DataFrame | None, *, data: str,
             seconds: float | None = None, device: str | None = None) -> Markdown:
    """The page's "This run" table.

    ``notebook`` is the chapter's stem (a key of :data:`CHAPTER_SETTINGS`) and ``settings``
    its study's settings; ``runs`` the page's run table (offered as ``runs.csv``; None when
    the page trains nothing); ``data`` names the data source and sizes; ``seconds`` is the
    wall time of the page's work; ``device`` overrides the settings' device (for pages
    without one, e.g. CPU-only studies or benchmarks measured elsewhere).
    """
    check_choice("notebook", notebook, tuple(CHAPTER_SETTINGS))
    expected = CHAPTER_SETTINGS[notebook]
    if not isinstance(settings, expected):
        raise TypeError(f"settings of {notebook} must be {expected.__name__}, got {type(settings).__name__}")
    if device is None:
        if "device" not in settings:
            raise ValueError(f"{type(settings).__name__} has no device knob; pass device= (e.g. 'cpu')")
        device = str(resolve_device(settings["device"]))
    profile = settings["profile"]
    rows = [("profile", f"`{profile}`"), ("data", data), ("device", device)]
    if "seeds" in settings:
        rows.append(("seeds", ", ".join(map(str, settings["seeds"]))))
    if runs is not None:
        rows.append(("runs", run_count(runs)))
    if seconds is not None:
        rows.append(("wall time", f"{significant(float(seconds), 2)} s"))
    if runs is not None:
        rows.append(("data behind the tables", download(runs, notebook, "runs", "runs.csv (one row per run)")))
    rows.append(("re-run this page", f"`python -m dreg_utils.book.runner notebooks/{notebook}.md "
                                     f"--out /tmp/{notebook} --profile {profile} --param NAME=VALUE`"))
    rows.append(("re-run the book", f"`make book PROFILE={profile}`"))
    lines = [f"| {TITLE} | |", "| --- | --- |"] + [f"| {name} | {_cell(value)} |" for name, value in rows]
    from IPython.display import Markdown  # the book extra: pages run in a kernel

    return Markdown("\n".join(lines))
