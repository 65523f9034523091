"""Grid runner: one row per run, a content-addressed cache, resume after interruption.

Each run's configuration (a JSON-able dict) plus the ``dreg_utils`` version is
hashed into its cache key. A finished run is written to ``<cache_dir>/<key>.json``
atomically (temporary file + ``os.replace``), so a killed sweep leaves only whole
files behind and a re-run recomputes just the configurations that have no file.
Configurations that can be trained together (e.g. the seeds of one setting,
vectorised) are handed to ``run_group`` as one list.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from . import __version__


def config_key(config: dict) -> str:
    """Stable 16-hex-digit hash of a configuration and the dreg_utils version."""
    payload = json.dumps({"config": config, "dreg_utils": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Save a tidy table as CSV atomically and return its path."""
    atomic_write_text(path, df.to_csv(index=False))
    return Path(path)


def _load_cached(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # missing, or unreadable: the run is redone


def run_grid(
    configs: list[dict],
    run_group: Callable[[list[dict]], list[dict]],
    cache_dir: str | Path,
    group_key: Callable[[dict], Hashable] | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> pd.DataFrame:
    """Run every configuration not yet cached and return all rows as a DataFrame.

    ``run_group(configs) -> results`` receives configurations with equal
    ``group_key(config)`` (each alone when ``group_key`` is None) and returns one
    result dict per configuration, in order. Rows are ``{**config, **result,
    "run_key": key, "cached": bool}``.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("run_grid got duplicate configurations; each run must be distinct")
    results: dict[str, dict] = {}
    cached: set[str] = set()
    for key in keys:
        stored = _load_cached(cache_dir / f"{key}.json")
        if stored is not None:
            results[key] = stored["result"]
            cached.add(key)
    todo: dict[Hashable, list[int]] = {}
    for i, (config, key) in enumerate(zip(configs, keys)):
        if key not in results:
            todo.setdefault(group_key(config) if group_key else i, []).append(i)
    with tqdm(total=len(configs), initial=len(cached), desc=desc, disable=not progress) as bar:
        for indices in todo.values():
            group = [configs[i] for i in indices]
            outputs = run_group(group)
            if len(outputs) != len(group):
                raise RuntimeError(f"run_group returned {len(outputs)} results for {len(group)} configs")
            for i, output in zip(indices, outputs):
                record = {"config": configs[i], "result": output, "dreg_utils": __version__}
                atomic_write_text(cache_dir / f"{keys[i]}.json",
                                  json.dumps(record, default=str))
                results[keys[i]] = output
            bar.update(len(group))
    rows = [{**c, **results[k], "run_key": k, "cached": k in cached} for c, k in zip(configs, keys)]
    return pd.DataFrame(rows)
