"""Where results are written: ``$DREG_RESULTS_DIR`` if set, else ``results/`` in the working directory."""
from __future__ import annotations

import os
from pathlib import Path


def results_dir(name: str, override: str | os.PathLike | None = None) -> Path:
    """The results folder of one study, e.g. ``results_dir("synthetic")``; a notebook's
    ``results_dir`` parameter, when not None, is checked and used instead."""
    if override is None:
        return Path(os.environ.get("DREG_RESULTS_DIR", "results")) / name
    if not isinstance(override, (str, os.PathLike)):
        raise TypeError(f"results_dir must be a folder path or None, got {override!r}")
    if str(override) == "":
        raise ValueError("results_dir='' is not valid; give a folder path, or None for the default")
    if Path(override).exists() and not Path(override).is_dir():
        raise ValueError(f"results_dir={str(override)!r} is a file; give a folder (it is created if missing)")
    return Path(override)
