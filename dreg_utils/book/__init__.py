"""Book support: the notebook runner and everything a page presents (see README's layout).

A page opens with ``from dreg_utils.book import open_chapter, show, ...``: :func:`open_chapter`
(:mod:`dreg_utils.book.page`) and :func:`show` (:mod:`dreg_utils.book.labels`) are imported on
first use, so that the runner, the PDF and the constraints commands do not load every study.
"""
from __future__ import annotations

from typing import Any

_LAZY = {"open_chapter": "page", "show": "labels"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
