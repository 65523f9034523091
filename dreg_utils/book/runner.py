"""Execute the book's MyST notebooks with papermill: ``python -m dreg_utils.book.runner``.

Each ``notebooks/NAME.md`` is converted with jupytext, executed with papermill
(``profile`` and any ``--param NAME=VALUE`` injected into its ``parameters`` cell, the
repository root as working directory) and written to ``OUT/NAME.ipynb``, with a note
under its title saying how to re-run it. The wall time of each notebook goes to
``OUT/timings.csv`` and, as a MyST table the reproducibility chapter includes, to
``OUT/timings.md``; the scorecards of the front and findings pages go to ``OUT/scorecard_*.md``
(:mod:`dreg_utils.book.scorecard`). While a notebook runs, one line shows its cell and the
progress of the sweep in its kernel (:mod:`dreg_utils.book.progress`). A failing notebook stops
with a non-zero exit status.

    python -m dreg_utils.book.runner notebooks/01_synthetic_families.md --out /tmp/nb \\
        --profile default --param epochs=120 --param "lambdas=[0.0, 0.1]"
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import sys
import time
from pathlib import Path

import pandas as pd

from ..extras import require
from ..settings import PROFILES
from ..sweep import PROGRESS_ENV, atomic_write_text, write_table
from ..validation import check_choice
from .progress import CellCounter, ProgressLine
from .scorecard import write_scorecards

_RUNNER = "the book runner (python -m dreg_utils.book.runner)"
jupytext = require("jupytext", "book", _RUNNER)
nbformat = require("nbformat", "book", _RUNNER)
papermill = require("papermill", "book", _RUNNER)
yaml = require("yaml", "book", _RUNNER, package="pyyaml")

RERUN_NOTE = """:::{{tip}}
**Re-run this page** with other parameters (they are listed in its `parameters` cell; a
parameter left at `None` takes the profile's value):

```bash
.venv/bin/python -m dreg_utils.book.runner notebooks/{name}.md --out /tmp/{name} \\
    --profile {profile} --param NAME=VALUE
```

Finished runs are reused from the results cache. This page was executed with profile `{profile}`.
:::
"""


PLAIN_PROGRESS_EVERY_S = 15.0  # off a terminal: at most one progress line per notebook this often


class _ParamSafeLoader(yaml.SafeLoader):
    """YAML with 1.2 floats: ``1e-3`` is a number (YAML 1.1, PyYAML's default, reads a string)."""


_ParamSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def parse_param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as YAML (``3``, ``1e-3``, ``[0, 1]``, ``relu``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ValueError(f"--param {text!r} is not valid; write NAME=VALUE, e.g. epochs=120 or "
                         "'lambdas=[0.0, 0.1]'")
    return name.strip(), yaml.load(value, Loader=_ParamSafeLoader)


def add_rerun_note(path: Path, profile: str) -> None:
    """Insert the re-run note after the notebook's first (title) markdown cell, and keep
    papermill's injected-parameters cell off the page (it still ran; the note says how)."""
    notebook = nbformat.read(path, as_version=4)
    first = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown")
    note = nbformat.v4.new_markdown_cell(RERUN_NOTE.format(name=path.stem, profile=profile))
    notebook.cells.insert(first + 1, note)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    atomic_write_text(path, nbformat.writes(notebook))


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


def execute(sources: list[Path], out_dir: Path, profile: str, cwd: Path,
            parameters: dict | None = None) -> pd.DataFrame:
    """Execute each notebook in ``sources`` into ``out_dir``; return their wall times.

    ``parameters`` (name -> value) go to every notebook besides ``profile``; a name that a
    notebook's ``parameters`` cell lacks is refused before any notebook runs, and the
    notebook's own checks reject a bad value before any work is done.
    """
    check_choice("profile", profile, PROFILES)
    parameters = dict(parameters or {})
    if "profile" in parameters:
        raise ValueError("give the profile with --profile, not as a parameter")
    missing = [str(s) for s in sources if not Path(s).is_file()]
    if missing:
        raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
    check_parameters(sources, parameters)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, source in enumerate(sources, 1):
        unexecuted = out_dir / f".{source.stem}.input.ipynb"
        executed = out_dir / f"{source.stem}.ipynb"
        jupytext.write(jupytext.read(source), unexecuted)
        print(f"[{number}/{len(sources)}] executing {source} (profile={profile})", flush=True)
        start = time.perf_counter()
        progress_file = out_dir / f".{source.stem}.progress.json"
        progress_file.unlink(missing_ok=True)
        os.environ[PROGRESS_ENV] = str(progress_file.resolve())  # the kernel inherits it
        cells = CellCounter()
        try:
            with ProgressLine(f"[{number}/{len(sources)}] {source.stem}", progress_file, cells, sys.stdout,
                              quiet_s=PLAIN_PROGRESS_EVERY_S):
                papermill.execute_notebook(str(unexecuted), str(executed),
                                           parameters={"profile": profile, **parameters}, cwd=str(cwd),
                                           kernel_name="python3",
                                           progress_bar={"file": cells, "bar_format": "{n}/{total}"})
        finally:
            unexecuted.unlink(missing_ok=True)
            progress_file.unlink(missing_ok=True)
            os.environ.pop(PROGRESS_ENV, None)
        rows.append({"notebook": source.stem, "profile": profile,
                     "seconds": round(time.perf_counter() - start, 1)})
        add_rerun_note(executed, profile)
    timings = pd.DataFrame(rows)
    write_table(timings, out_dir / "timings.csv")
    atomic_write_text(out_dir / "timings.md", timings_markdown(timings, profile))
    write_scorecards(out_dir)
    return timings


def timings_markdown(timings: pd.DataFrame, profile: str) -> str:
    """The wall times as a MyST table, with the profile, the machine and the total."""
    lines = [f"Measured by the build that produced this book: profile `{profile}`, "
             f"{os.cpu_count()} CPU core(s) ({platform.machine()}, {platform.system()}), "
             "papermill wall time of each notebook (kernel start included). Runs already in the "
             "results cache are reused, so a build from an empty cache takes longer.", "",
             "| notebook | seconds |", "| --- | ---: |"]
    lines += [f"| `{row.notebook}` | {row.seconds:.1f} |" for row in timings.itertuples()]
    lines += [f"| **total** | **{timings['seconds'].sum():.1f}** |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="MyST notebooks to execute")
    parser.add_argument("--out", type=Path, required=True, help="folder for executed .ipynb files")
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter, VALUE read as YAML (repeatable)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="working directory of the kernels")
    args = parser.parse_args(argv)
    try:
        parameters = dict(parse_param(p) for p in args.param)
        check_parameters([s for s in args.notebooks if s.is_file()], parameters)
    except ValueError as error:
        parser.error(str(error))
    print(execute(args.notebooks, args.out, args.profile, args.cwd, parameters).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
