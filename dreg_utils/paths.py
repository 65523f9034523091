"""Where results are written: ``$DREG_RESULTS_DIR`` if set, else ``results/`` in the working directory."""
from __future__ import annotations

import os
from pathlib import Path


def results_dir(name: str) -> Path:
    """The results folder of one study, e.g. ``results_dir("synthetic")``."""
    return Path(os.environ.get("DREG_RESULTS_DIR", "results")) / name
