"""The book runner's parameters: ``--param NAME=VALUE`` read by the type each page declares.

:func:`parse_params` splits the command line's ``NAME=VALUE`` texts (a name given twice is
refused). A page's chapter is the one its ``open_chapter("NAME", globals())`` call opens
(:func:`page_chapter`), whatever the file is called, so a copied chapter is read as the
original; :func:`read_parameters` reads each VALUE by the type that chapter declares for the
parameter (the field of the study's settings type, :mod:`dreg_utils.book.chapters`;
:func:`dreg_utils.settings.parse_value`: ``epochs=010``, ``1:30`` or ``0x10`` are refused, never
read as 8, 90 or 16, ``lam=1e-400`` is refused, never read as 0.0, and ``dataset=no`` is the
text "no"); a page that opens none has each value read by the type its text shows
(:func:`dreg_utils.settings.infer_value`, the same grammar, never Python's literals).
:func:`check_parameters` refuses a name that a page's ``parameters`` cell does not assign
(papermill would only warn). :mod:`dreg_utils.book.runner` calls them before any kernel starts.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..extras import require
from ..settings import parse_value
from ..validation import check_choice
from .chapters import CHAPTER_SETTINGS, parameter_types

jupytext = require("jupytext", "book", "the book runner (python -m dreg_utils.book.runner)")

# A call that opens a chapter, found by text in a cell that is not Python (a cell magic).
OPEN_CHAPTER = re.compile(r"\bopen_chapter\s*\(\s*(?:(['\"])(?P<name>[^'\"]*)\1)?")


def parse_param(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` split into the name and the value as written (each page reads the value by
    the type it declares for the parameter: :func:`read_parameters`)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ValueError(f"--param {text!r} is not valid; write NAME=VALUE, e.g. epochs=120 or "
                         "'lambdas=[0.0, 0.1]'")
    return name.strip(), value


def parse_params(texts: list[str]) -> dict[str, str]:
    """Each ``NAME=VALUE`` of the command line (:func:`parse_param`), name -> value as written; a
    name given twice is refused (neither value would silently win)."""
    values: dict[str, str] = {}
    for text in texts:
        name, value = parse_param(text)
        if name in values:
            raise ValueError(f"--param {name} is given twice ({name}={values[name]!r} and {name}={value!r}); "
                             "give each parameter once")
        values[name] = value
    return values


def read_parameters(source: Path, texts: Mapping[str, str]) -> dict:
    """``texts`` (name -> value as written) read by the types ``source``'s page declares
    (:func:`dreg_utils.book.chapters.parameter_types` of :func:`page_chapter`); a parameter
    without one, by the type its text shows (:func:`dreg_utils.settings.infer_value`)."""
    chapter = page_chapter(source)
    types = parameter_types(chapter) if chapter is not None else {}
    return {name: parse_value(name, text, types.get(name, Any)) for name, text in texts.items()}


def _without_magics(source: str) -> str:
    """A code cell's text with IPython's magics made plain Python: ``%time x = f()`` becomes
    ``x = f()``; a ``%%`` or ``!`` line becomes blank."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%%", "!")):
            line = ""
        elif stripped.startswith("%"):
            line = stripped.partition(" ")[2]
        lines.append(line)
    return "\n".join(lines)


def _opened_chapters(source: str) -> list[str | None]:
    """The chapter names that the code cell ``source`` passes to ``open_chapter`` (None for a call
    whose name is not written as text): read from its syntax tree, or from its text when the cell
    is not Python."""
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return [match["name"] for match in OPEN_CHAPTER.finditer(source)]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "open_chapter"
                                           or getattr(node.func, "attr", None) == "open_chapter"):
            first = node.args[0] if node.args else None
            named = isinstance(first, ast.Constant) and isinstance(first.value, str)
            names.append(first.value if named else None)
    return names


def page_chapter(source: Path) -> str | None:
    """The chapter whose page ``source`` is: the name its ``open_chapter("NAME", globals())`` call
    opens (kept by a copy of the page, whatever its file name); None for a page that opens none.
    Refused: a call whose name is not written as text, names that are not chapters, or two chapters."""
    names = {name for cell in jupytext.read(source).cells if cell.cell_type == "code"
             for name in _opened_chapters(cell.source)}
    if None in names:
        raise ValueError(f"{source.name} calls open_chapter without its name as text; write "
                         "open_chapter(\"NN_name\", globals())")
    for name in names:
        check_choice(f"{source.name}: open_chapter's name", name, tuple(CHAPTER_SETTINGS))
    if len(names) > 1:
        raise ValueError(f"{source.name} opens {len(names)} chapters, {sorted(names)}; a page opens one")
    return names.pop() if names else None


def parameter_names(source: Path) -> list[str]:
    """The names a notebook's ``parameters`` cell assigns (what papermill can inject)."""
    cells = [c for c in jupytext.read(source).cells
             if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError(f"{source} has no cell tagged 'parameters'")
    tree = ast.parse(cells[0].source)
    return [target.id for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


def check_parameters(sources: list[Path], parameters: dict) -> None:
    """Refuse, before any work, a parameter that some notebook in ``sources`` does not have
    (papermill would only warn and run the page with the profile's value)."""
    for source in sources:
        valid = [name for name in parameter_names(source) if name != "profile"]
        unknown = sorted(set(parameters) - set(valid))
        if unknown:
            raise ValueError(f"{source.name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are {valid}")
