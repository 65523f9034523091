"""What machine a benchmark ran on (CPU model, usable cores, load, accelerator), and where
its results go: ``<out>/<name>.csv`` plus ``<out>/<name>.meta.json``, both written atomically."""
from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import pandas as pd
import torch

from dreg_utils.files import atomic_write_text, write_table


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return "%.2f" % os.getloadavg()[0]
    except (AttributeError, OSError):  # not Unix
        return "n/a"


def describe(device: str = "cpu") -> dict:
    """The facts a reader needs to interpret a timing: hardware, software, load, date."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_name(), "cores": available_cores(), "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch": torch.__version__, "python": platform.python_version(),
        "load_average_at_end": load_average(),
    }


def save_results(out_dir: str | Path, name: str, table: pd.DataFrame, meta: dict) -> Path:
    """Write ``table`` to ``out_dir/name.csv`` and ``meta`` (with :func:`describe`'s
    facts) to ``out_dir/name.meta.json``; return the CSV path."""
    out_dir = Path(out_dir)
    path = write_table(table, out_dir / f"{name}.csv")
    atomic_write_text(out_dir / f"{name}.meta.json", json.dumps(meta, indent=2) + "\n")
    print(f"results: {path} and {name}.meta.json")
    return path
