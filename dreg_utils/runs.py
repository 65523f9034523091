"""Run tables (one row per run): labels, the seed summary every study shares, and the pairing
of two methods' runs on their keys (the paired tests of :mod:`dreg_utils.significance` take its output)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .validation import check_choice, check_nonempty_list
from .vocabulary import DIVERGENCE_COLUMNS, SUMMARY_COLUMNS, diverged, finished


def divergence_status(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys`` (in order of appearance): ``n_diverged`` and ``status``, "ok"
    when no run diverged, else "diverged (k/n)" with k of the group's n runs diverged
    (:func:`dreg_utils.vocabulary.diverged`)."""
    counts = diverged(runs).groupby([runs[k] for k in keys], sort=False).agg(["sum", "size"])
    status = ["ok" if k == 0 else f"diverged ({k}/{n})" for k, n in zip(counts["sum"], counts["size"])]
    return pd.DataFrame({"n_diverged": counts["sum"].astype(int), "status": status}, index=counts.index)


def diverged_runs(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The diverged runs, one row each: ``keys`` and the step, epoch and reason (empty if none;
    a run whose flag is missing or NaN, e.g. one without training, did not diverge)."""
    columns = [*keys, *(c for c in DIVERGENCE_COLUMNS if c in runs)]
    table = runs.loc[diverged(runs), columns].reset_index(drop=True)
    return table.astype({c: "Int64" for c in ("diverged_step", "diverged_epoch") if c in table})


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
    grouped = finished(runs).groupby(keys, sort=False)
    summary = grouped[metrics].mean()
    if std_of:
        summary = summary.join(grouped[list(std_of)].std(ddof=1).add_suffix("_std"))
    summary["n_seeds"] = grouped.size()
    status = divergence_status(runs, keys)
    summary = (status.sort_index() if sort else status).join(summary)
    summary["n_seeds"] = summary["n_seeds"].fillna(0).astype(int)
    columns = [*metrics, *(f"{m}_std" for m in std_of), *SUMMARY_COLUMNS]
    return summary[columns].reset_index()


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, np.ndarray)) else value


def pair_runs(df: pd.DataFrame, by: Sequence[str], method_col: str, a: Any, b: Any, value_col: str,
              *, return_keys: bool = False
              ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Match runs of method ``a`` and method ``b`` on the key columns ``by`` (e.g. seed, hidden,
    activation) in a tidy one-row-per-run table, and return ``(a_values, b_values)`` of
    ``value_col`` aligned pair by pair, sorted by the keys (plus the key table with
    ``return_keys=True``). A key present for only one method, or present twice for a method,
    is an error.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    by = check_nonempty_list("by", by)
    needed = [*by, method_col, value_col]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the results table; columns are {list(df.columns)}")
    if method_col in by or value_col in by:
        raise ValueError(f"by={by} must not contain method_col={method_col!r} or value_col={value_col!r}")
    methods = list(pd.unique(df[method_col]))
    check_choice("a", a, methods)
    check_choice("b", b, methods)
    if a == b:
        raise ValueError(f"a and b are both {a!r}; pair two different methods")
    sides = {}
    for name, method in (("a", a), ("b", b)):
        part = df.loc[df[method_col] == method, [*by, value_col]].copy()
        for col in by:  # list-valued keys such as hidden=[32, 16] become hashable tuples
            if part[col].dtype == object:
                part[col] = part[col].map(_hashable)
        dup = part[part.duplicated(by, keep=False)]
        if len(dup):
            keys = dup[by].drop_duplicates().head(5).to_dict("records")
            raise ValueError(f"method {method!r} has more than one run for the keys {keys}; "
                             f"add the distinguishing column to by={by}")
        sides[name] = part
    merged = sides["a"].merge(sides["b"], on=by, how="outer", suffixes=("__a", "__b"), indicator=True)
    for only, method, other in (("left_only", a, b), ("right_only", b, a)):
        lonely = merged.loc[merged["_merge"] == only, by]
        if len(lonely):
            raise ValueError(f"{len(lonely)} run(s) of {method!r} have no matching run of {other!r}, "
                             f"e.g. {lonely.head(5).to_dict('records')}")
    try:
        merged = merged.sort_values(by, kind="stable")
    except TypeError:  # unorderable key values (e.g. mixed tuples and None): keep merge order
        pass
    merged = merged.reset_index(drop=True)
    try:
        a_values = merged[f"{value_col}__a"].to_numpy(dtype=np.float64)
        b_values = merged[f"{value_col}__b"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"value_col={value_col!r} must be numeric") from None
    if return_keys:
        return a_values, b_values, merged[by]
    return a_values, b_values
