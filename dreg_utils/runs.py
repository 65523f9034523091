"""Run tables (one row per run): labels and the seed summary every study shares."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .train import divergence_status


def hidden_label(hidden: Sequence[int]) -> str:
    """Hidden widths as one label: ``[64, 32]`` -> ``"64-32"``."""
    return "-".join(map(str, hidden))


def label_hidden(runs: pd.DataFrame) -> pd.DataFrame:
    """The run table with its ``hidden`` lists written as labels (in place; returned)."""
    runs["hidden"] = runs["hidden"].map(hidden_label)
    return runs


def seed_summary(runs: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str], *,
                 std_of: Sequence[str] = (), sort: bool = False) -> pd.DataFrame:
    """Per group of ``keys``: the mean over its finished runs (the seeds) of every metric, the
    seed standard deviation (ddof = 1) of each metric in ``std_of`` as ``<metric>_std``,
    ``n_seeds`` (finished runs), ``n_diverged`` and ``status`` ("ok" or "diverged (k/n)").

    Runs whose ``diverged`` flag is True never enter a mean; a group whose runs all diverged
    keeps its row, with NaN metrics. Groups are in order of appearance, or sorted by ``keys``.
    """
    keys, metrics = list(keys), list(metrics)
    flags = runs["diverged"].eq(True) if "diverged" in runs else pd.Series(False, index=runs.index)
    ok = runs[~flags]
    grouped = ok.groupby(keys, sort=False)
    summary = grouped[metrics].mean()
    if std_of:
        summary = summary.join(grouped[list(std_of)].std(ddof=1).add_suffix("_std"))
    summary["n_seeds"] = grouped.size()
    status = divergence_status(runs.assign(diverged=flags), keys)
    summary = (status.sort_index() if sort else status).join(summary)
    summary["n_seeds"] = summary["n_seeds"].fillna(0).astype(int)
    columns = [*metrics, *(f"{m}_std" for m in std_of), "n_seeds", "n_diverged", "status"]
    return summary[columns].reset_index()
