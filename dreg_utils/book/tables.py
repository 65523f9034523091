"""Tables a reader takes in at a glance: numbers to their significant digits, "mean ± sd" kept
on one line, a focus table of a few metrics beside the paper's, the complete table folded
away, and any table offered as a CSV download of the built book.

Downloads are written under :func:`downloads_dir` (``book/executed/data/NOTEBOOK/``, beside
the executed notebooks; ``$DREG_DOWNLOADS_DIR`` overrides the folder) and linked by a path
relative to the executed notebook, which MyST turns into a download that Sphinx copies into
``_build/html/_downloads``.
"""
from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler

from ..files import write_table
from ..validation import check_int
from .labels import show

NBSP = "\u00a0"  # keeps "91.70 ± 0.79" on one line
MISSING = "-"
DOWNLOADS = Path("book") / "executed" / "data"


def significant(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits, in plain notation for magnitudes
    from 1e-3 to 1e6 (``91.7``, ``0.0123``, ``12300``) and in scientific notation outside."""
    check_int("digits", digits, minimum=1)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (bool, int)) or not isinstance(value, float):
        return str(value)  # counts, labels and flags as they are
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -3 or exponent >= 6:
        return f"{value:.{digits - 1}e}"
    rounded = round(value, digits - 1 - exponent)
    exponent = math.floor(math.log10(abs(rounded))) if rounded else exponent  # 99.96 -> 100.0
    return f"{rounded:.{max(digits - 1 - exponent, 0)}f}"


def formatted(value: float, fmt: str) -> str:
    """``value`` in the format ``fmt`` (e.g. "+.3g"); a value that rounds to zero prints with no
    sign ("0.0", never "-0.0" or "+0.0")."""
    text = f"{value:{fmt}}"
    return text.lstrip("+-") if float(text) == 0 else text


def fixed(value: float, digits: int, signed: bool = False) -> str:
    """``value`` to ``digits`` decimal places, "+" before a positive one when ``signed``, zero
    unsigned (:func:`formatted`)."""
    return formatted(value, f"{'+' if signed else ''}.{digits}f")


def with_interval(estimate: float, low: float, high: float, *, unit: str = "%", digits: int = 1,
                  signed: bool = True, sample: str = "", no_interval: str = "no interval",
                  missing: str = "not measured") -> str:
    """An estimate with its 95% interval, e.g. "+4.8% (95% CI -3.3% to +12.1%, 5 seeds)" (``sample``
    after the bounds when given); "+4.8% (no interval)" (``no_interval`` says why) when a bound is
    NaN; ``missing`` without an estimate. ``signed``: a "+" before positive values."""
    if math.isnan(estimate):
        return missing
    shown = fixed(estimate, digits, signed) + unit
    if math.isnan(low) or math.isnan(high):
        return f"{shown} ({no_interval})"
    bounds = (fixed(bound, digits, signed) + unit for bound in (low, high))
    return f"{shown} (95% CI {' to '.join(bounds)}{', ' + sample if sample else ''})"


def plus_minus(mean: float, sd: float, digits: int = 2, decimals: int | None = None) -> str:
    """"mean ± sd" joined by non-breaking spaces (``91.70 ± 0.79``): sd to ``digits`` significant
    digits and the mean to the same decimal place, the mean alone when sd is missing or 0; with
    ``decimals``, both to that many decimal places and the mean alone when sd is missing."""
    check_int("digits", digits, minimum=1)
    if mean is None or math.isnan(mean):
        return MISSING
    if decimals is not None:
        check_int("decimals", decimals, minimum=0)
        if sd is None or math.isnan(sd):
            return f"{mean:.{decimals}f}"
    elif sd is None or math.isnan(sd) or sd == 0:
        return significant(mean, digits + 1)
    else:
        decimals = max(digits - 1 - math.floor(math.log10(abs(sd))), 0)
    return f"{mean:.{decimals}f}{NBSP}±{NBSP}{sd:.{decimals}f}"


def as_published(mean: float, sd: float | None = None) -> str:
    """A paper's "mean ± sd" with the decimals it was printed with (the shortest decimal form of
    the stored numbers, so 96.33 and 0.09 read "96.33 ± 0.09"; trailing zeros are not stored),
    written by :func:`plus_minus`."""
    def printed_decimals(value: float | None) -> int:  # the digits after the point of its shortest form
        text = "" if value is None or math.isnan(value) else repr(float(value))
        return 0 if "e" in text else len(text.partition(".")[2].rstrip("0"))

    return plus_minus(mean, sd, decimals=max(printed_decimals(mean), printed_decimals(sd)))


def styled(table: pd.DataFrame, digits: int = 3, index: bool = False) -> Styler:
    """``table`` with its display labels and every number to ``digits`` significant digits
    (missing values as "-"), the index hidden unless ``index``."""
    check_int("digits", digits, minimum=1)
    style = show(table).style.format(lambda v: significant(v, digits) if isinstance(v, (int, float)) else
                                     (MISSING if v is None else str(v)))
    if not index:
        style = style.hide(axis="index")
    return style


def compare(tidy: pd.DataFrame, metrics: Sequence[str], labels: dict[str, str], keys: Sequence[str],
            digits: int = 2) -> pd.DataFrame:
    """Ours beside the paper's for ``metrics``: one row per ``keys``, per metric the columns
    (label, "ours") and (label, "paper") as "mean ± sd" (ours by :func:`plus_minus`, the
    paper's with its printed decimals by :func:`as_published`).

    ``tidy`` has one row per (keys..., metric) with columns ``ours``, ``ours_std``, ``paper``
    and ``paper_std`` (a missing std shows the mean alone; a missing mean shows "-").
    """
    needed = {*keys, "metric", "ours", "ours_std", "paper", "paper_std"}
    missing = sorted(needed - set(tidy.columns))
    if missing:
        raise ValueError(f"compare needs the columns {sorted(needed)}; the table lacks {missing}")
    unknown = [m for m in metrics if m not in set(tidy["metric"])]
    if unknown or not metrics:
        raise ValueError(f"metrics={list(metrics)!r} is not valid; the table has {sorted(set(tidy['metric']))}")
    rows: dict[tuple, dict] = {}
    for r in tidy[tidy["metric"].isin(metrics)].itertuples(index=False):
        key = tuple(getattr(r, k) for k in keys)
        row = rows.setdefault(key, {})
        row[(labels.get(r.metric, r.metric), "ours")] = plus_minus(r.ours, r.ours_std, digits)
        row[(labels.get(r.metric, r.metric), "paper")] = as_published(r.paper, r.paper_std)
    columns = pd.MultiIndex.from_tuples([(labels.get(m, m), side) for m in metrics for side in ("ours", "paper")])
    wide = pd.DataFrame(list(rows.values()), index=pd.MultiIndex.from_tuples(list(rows), names=list(keys)))
    return wide.reindex(columns=columns)


def _html(content: pd.DataFrame | Styler) -> str:
    """The HTML of a table, shown with :func:`styled` unless it is already styled."""
    return (content if isinstance(content, Styler) else styled(content)).to_html()


def folded(content: pd.DataFrame | Styler, summary: str) -> str:
    """HTML of a collapsed block (a dropdown the reader opens) holding ``content``, a table
    shown with :func:`styled` unless it is already styled."""
    return (f'<details class="sd-sphinx-override sd-dropdown sd-card sd-mb-3 dreg-folded">'
            f'<summary class="sd-summary-title sd-card-header">{html.escape(summary)}</summary>'
            f'<div class="sd-summary-content sd-card-body dreg-scroll">{_html(content)}</div></details>')


def scrolled(content: pd.DataFrame | Styler) -> str:
    """HTML of ``content`` (styled with :func:`styled` unless it already is) in an outlined
    container that scrolls sideways when the table is wider than the column, e.g. a grid whose
    columns grow with a profile's lambda grid."""
    return f'<div class="dreg-scroll">{_html(content)}</div>'


def downloads_dir(notebook: str) -> Path:
    """The folder of ``notebook``'s CSV downloads: ``$DREG_DOWNLOADS_DIR/NOTEBOOK`` if set, else
    ``book/executed/data/NOTEBOOK`` (relative to the working directory, the repository root)."""
    if not notebook or "/" in notebook or notebook.startswith("."):
        raise ValueError(f"notebook={notebook!r} is not valid; give the notebook's stem, e.g. '02_mnist_sweep'")
    return Path(os.environ.get("DREG_DOWNLOADS_DIR", DOWNLOADS)) / notebook


def download(table: pd.DataFrame, notebook: str, name: str, text: str | None = None) -> str:
    """Write ``table`` (its data columns, not the display labels) to ``NAME.csv`` among
    ``notebook``'s downloads and return a MyST download link to it, relative to the executed
    notebook (``[text](data/NOTEBOOK/NAME.csv)``)."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name={name!r} is not valid; use letters, digits, '_' and '-' (it names a CSV file)")
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError(f"download of {name!r} needs a non-empty DataFrame, got {type(table).__name__}")
    write_table(table, downloads_dir(notebook) / f"{name}.csv")
    return f"[{text or name + '.csv'}](data/{notebook}/{name}.csv)"


def show_focus(table: pd.DataFrame, columns: Sequence[str], notebook: str, name: str,
               style: Callable[[pd.DataFrame], Styler] = styled, focus: pd.DataFrame | None = None) -> None:
    """Display the ``columns`` of ``table`` that a reader needs first, then the complete table
    in a collapsed block, then the complete table as ``NAME.csv`` (see :func:`download`).
    ``focus``: the rows of ``table`` as the reader sees them first, with columns of its own (e.g.
    an estimate and its interval in one cell), from which ``columns`` are taken."""
    first = table if focus is None else focus
    missing = [c for c in columns if c not in first.columns]
    if missing or not columns:
        raise ValueError(f"columns={list(columns)!r} is not valid; the table has {list(first.columns)}")
    from IPython.display import HTML, Markdown, display  # the book extra: pages run in a kernel

    display(style(first[list(columns)]))
    display(HTML(folded(style(table), f"All {len(table.columns)} columns of this table")))
    display(Markdown("Download: " + download(table, notebook, name)))
