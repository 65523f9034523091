"""Execute the book's MyST notebooks with papermill: ``python -m dreg_utils.book.runner``.

Each ``notebooks/NAME.md`` is converted with jupytext, executed with papermill
(``profile`` and any ``--param NAME=VALUE`` injected into its ``parameters`` cell, the
repository root as working directory) and written to ``OUT/NAME.ipynb``, with a note
under its title saying how to re-run it. The wall time of each notebook goes to
``OUT/timings.csv`` and, as a MyST table the reproducibility chapter includes, to
``OUT/timings.md``; the scorecards of the front and findings pages go to ``OUT/scorecard_*.md``
(:mod:`dreg_utils.book.scorecard`). While a notebook runs, one line shows its cell and the
progress of the sweep in its kernel (:mod:`dreg_utils.book.progress`). ``--jobs N`` runs up to N
notebooks side by side, each in its own process; a notebook that reads another's results says so
in its front matter (``dreg: needs: [...]``) and starts after it. A failing notebook stops the run
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
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import partial
from pathlib import Path

import pandas as pd

from ..extras import require
from ..settings import PROFILES
from ..sweep import PROGRESS_ENV, atomic_write_text, write_table
from ..validation import check_choice, check_int
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
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # a kernel's share


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


def notebook_needs(source: Path) -> list[str]:
    """The notebooks (file stems) whose results ``source`` reads: ``needs`` under ``dreg`` in
    its front matter. The runner starts it only after those that are in the same run."""
    needs = jupytext.read(source).metadata.get("dreg", {}).get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise ValueError(f"{source.name}: dreg.needs must be a list of notebook names, got {needs!r}")
    return needs


def _schedule(sources: list[Path]) -> dict[str, list[str]]:
    """Per notebook stem, the earlier notebooks of this run it must wait for; a need that names a
    later notebook of the run (a cycle, or an order the book cannot build in) is refused."""
    order = {source.stem: i for i, source in enumerate(sources)}
    waits = {}
    for i, source in enumerate(sources):
        needs = [n for n in notebook_needs(source) if n in order]
        late = [n for n in needs if order[n] >= i]
        if late:
            raise ValueError(f"{source.name} needs {late}, which come(s) after it; put them first")
        waits[source.stem] = needs
    return waits


def execute_one(source: Path, label: str, out_dir: Path, profile: str, cwd: Path, parameters: dict,
                tty: bool | None = None) -> dict:
    """Execute one notebook into ``out_dir/NAME.ipynb`` with its progress line; return its
    timing row (``notebook``, ``profile``, ``seconds``)."""
    unexecuted = out_dir / f".{source.stem}.input.ipynb"
    executed = out_dir / f"{source.stem}.ipynb"
    jupytext.write(jupytext.read(source), unexecuted)
    print(f"{label} executing {source} (profile={profile})", flush=True)
    start = time.perf_counter()
    progress_file = out_dir / f".{source.stem}.progress.json"
    progress_file.unlink(missing_ok=True)
    os.environ[PROGRESS_ENV] = str(progress_file.resolve())  # the kernel inherits it
    cells = CellCounter()
    try:
        with ProgressLine(f"{label} {source.stem}", progress_file, cells, sys.stdout,
                          quiet_s=PLAIN_PROGRESS_EVERY_S, tty=tty):
            papermill.execute_notebook(str(unexecuted), str(executed),
                                       parameters={"profile": profile, **parameters}, cwd=str(cwd),
                                       kernel_name="python3",
                                       progress_bar={"file": cells, "bar_format": "{n}/{total}"})
    finally:
        unexecuted.unlink(missing_ok=True)
        progress_file.unlink(missing_ok=True)
        os.environ.pop(PROGRESS_ENV, None)
    add_rerun_note(executed, profile)
    return {"notebook": source.stem, "profile": profile, "seconds": round(time.perf_counter() - start, 1)}


def _side_by_side(sources: list[Path], waits: dict[str, list[str]], jobs: int,
                  run: Callable[[int, Path], dict]) -> list[dict]:
    """``run(number, source)`` for every notebook, at most ``jobs`` at a time, each in its own
    process, a notebook starting once the notebooks it waits for (``waits``, :func:`_schedule`)
    have finished. A failure stops further starts; the notebooks already running finish, then
    it is raised."""
    pending = list(enumerate(sources, 1))
    running: dict[Future, str] = {}
    finished: dict[str, dict] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            for item in list(pending):
                if len(running) == jobs:
                    break
                if all(n in finished for n in waits[item[1].stem]):
                    pending.remove(item)
                    running[pool.submit(run, *item)] = item[1].stem
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                stem = running.pop(future)
                error = future.exception()
                if error is not None:
                    pending.clear()
                    wait(running)
                    raise error
                finished[stem] = future.result()
    return [finished[source.stem] for source in sources]


def execute(sources: list[Path], out_dir: Path, profile: str, cwd: Path,
            parameters: dict | None = None, jobs: int = 1) -> pd.DataFrame:
    """Execute each notebook in ``sources`` into ``out_dir``; return their wall times.

    ``parameters`` (name -> value) go to every notebook besides ``profile``; a name that a
    notebook's ``parameters`` cell lacks is refused before any notebook runs, and the
    notebook's own checks reject a bad value before any work is done. With ``jobs`` > 1, up
    to ``jobs`` notebooks run side by side (a notebook waits for those it needs:
    :func:`notebook_needs`), each with plain progress lines and its kernel's threads limited to
    its share of the cores (the cores divided by ``jobs``); a sweep's worker processes run one
    thread each anyway, so this fills the cores while a notebook is starting, plotting or testing.
    """
    check_choice("profile", profile, PROFILES)
    jobs = check_int("jobs", jobs, minimum=1)
    parameters = dict(parameters or {})
    if "profile" in parameters:
        raise ValueError("give the profile with --profile, not as a parameter")
    missing = [str(s) for s in sources if not Path(s).is_file()]
    if missing:
        raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
    check_parameters(sources, parameters)
    waits = _schedule(sources)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    total = len(sources)
    if jobs == 1 or total == 1:
        rows = [execute_one(source, f"[{number}/{total}]", out_dir, profile, cwd, parameters)
                for number, source in enumerate(sources, 1)]
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        rows = _side_by_side(sources, waits, jobs, partial(_execute_numbered, total=total, threads=threads,
                                                    out_dir=out_dir, profile=profile, cwd=cwd,
                                                    parameters=parameters))
    timings = pd.DataFrame(rows)
    write_table(timings, out_dir / "timings.csv")
    atomic_write_text(out_dir / "timings.md",
                      timings_markdown(timings, profile, jobs, time.perf_counter() - start))
    write_scorecards(out_dir)
    return timings


def _execute_numbered(number: int, source: Path, *, total: int, threads: int, **kwargs) -> dict:
    """:func:`execute_one` in a worker process, with plain progress lines (several at once) and
    its kernel limited to ``threads`` threads: two kernels whose OpenMP threads spin on the same
    cores slowed a sweep about tenfold."""
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    return execute_one(source, f"[{number}/{total}]", tty=False, **kwargs)


def timings_markdown(timings: pd.DataFrame, profile: str, jobs: int = 1, wall: float | None = None) -> str:
    """The wall times as a MyST table, with the profile, the machine and the total (the sum of
    the notebooks' times, and the build's own wall time when notebooks ran side by side)."""
    side = (f" Up to {jobs} notebooks ran side by side, so their times overlap: the notebooks took "
            f"{wall:.1f} s of wall time in all." if jobs > 1 and wall is not None else "")
    lines = [f"Measured by the build that produced this book: profile `{profile}`, "
             f"{os.cpu_count()} CPU core(s) ({platform.machine()}, {platform.system()}), "
             "papermill wall time of each notebook (kernel start included). Runs already in the "
             "results cache are reused, so a build from an empty cache takes longer." + side, "",
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
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run side by side (each waits for the notebooks it needs)")
    args = parser.parse_args(argv)
    try:
        parameters = dict(parse_param(p) for p in args.param)
        check_parameters([s for s in args.notebooks if s.is_file()], parameters)
    except ValueError as error:
        parser.error(str(error))
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs} must be at least 1")
    print(execute(args.notebooks, args.out, args.profile, args.cwd, parameters, args.jobs).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
