"""Execute the book's MyST notebooks with papermill: ``python -m dreg_utils.book.runner``.

Each ``notebooks/NAME.md`` is converted with jupytext, executed with papermill
(``profile`` and any ``--param NAME=VALUE`` injected into its ``parameters`` cell, the
repository root as working directory) and written to ``OUT/NAME.ipynb``, with a note
under its title saying how to re-run it.

Before any kernel starts, the runner reads each VALUE by the type its page declares for the
parameter (:mod:`dreg_utils.book.parameters`: a page's chapter is the one its
``open_chapter("NAME", globals())`` call opens, so a copied chapter is checked as the original)
and builds the page's settings from them, as the page will, and checks that its ``results_dir``
can be created and written: a bad, repeated or unknown name, a bad value, profile or notebook path
stops the run with one line on stderr and exit status 2.

A notebook executes into a temporary file that replaces ``OUT/NAME.ipynb`` only when it succeeds;
a failing one is kept as ``OUT/NAME.failed.ipynb``, named in the one-line error (exit status 1),
and the previous good output is left as it was. The wall time of each notebook
goes to ``OUT/timings.csv`` and, as a MyST table the reproducibility chapter includes, to
``OUT/timings.md``; the scorecards of the front and findings pages go to ``OUT/scorecard_*.md``
(:mod:`dreg_utils.book.scorecard`). While a notebook runs, one line shows its cell and the
progress of the sweep in its kernel (:mod:`dreg_utils.book.progress`). ``--jobs N`` runs up to N
notebooks side by side, each in its own process; a notebook that reads another's results says so
in its front matter (``dreg: needs: [...]``) and starts after it. A failing notebook stops the run
with a non-zero exit status.

    python -m dreg_utils.book.runner notebooks/01_synthetic_families.md --out /tmp/nb \\
        --profile default --param epochs=120 --param "lambdas=[0.0, 0.1]" --param activation=relu
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ..extras import require
from ..settings import PROFILES
from ..sweep import PROGRESS_ENV
from ..files import atomic_write_text, write_table
from ..validation import check_choice, check_int
from .chapters import check_page
from .parameters import check_parameters, page_chapter, parse_params, read_parameters
from .progress import CellCounter, ProgressLine
from .scorecard import write_scorecards

_RUNNER = "the book runner (python -m dreg_utils.book.runner)"
jupytext = require("jupytext", "book", _RUNNER)
nbformat = require("nbformat", "book", _RUNNER)
papermill = require("papermill", "book", _RUNNER)

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


class NotebookFailed(RuntimeError):
    """A notebook raised while it ran: one line naming it, its cell, the error and the kept copy."""


def add_rerun_note(path: Path, profile: str, name: str) -> None:
    """Append the re-run note of notebook ``name`` to ``path`` (the page's end: its answer comes
    first), and keep papermill's injected-parameters cell off the page (it still ran; the note
    says how)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell(RERUN_NOTE.format(name=name, profile=profile)))
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    atomic_write_text(path, nbformat.writes(notebook))




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
    """Execute one notebook with its progress line into a temporary file that replaces
    ``out_dir/NAME.ipynb`` only on success; return its timing row (``notebook``, ``profile``,
    ``seconds``). A failure keeps the executed notebook as ``out_dir/NAME.failed.ipynb`` and raises
    :class:`NotebookFailed`, the previous ``NAME.ipynb`` untouched."""
    unexecuted = out_dir / f".{source.stem}.input.ipynb"
    running = out_dir / f".{source.stem}.running.ipynb"
    executed = out_dir / f"{source.stem}.ipynb"
    failed = out_dir / f"{source.stem}.failed.ipynb"
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
            papermill.execute_notebook(str(unexecuted), str(running),
                                       parameters={"profile": profile, **parameters}, cwd=str(cwd),
                                       kernel_name="python3",
                                       progress_bar={"file": cells, "bar_format": "{n}/{total}"})
        add_rerun_note(running, profile, source.stem)
        os.replace(running, executed)
        failed.unlink(missing_ok=True)  # an earlier failure's copy is out of date
    except Exception as error:
        kept = running.exists()
        if kept:
            os.replace(running, failed)
        raise NotebookFailed(failure_line(source, error, failed if kept else None)) from error
    finally:
        unexecuted.unlink(missing_ok=True)
        running.unlink(missing_ok=True)  # interrupted: the previous output stays
        progress_file.unlink(missing_ok=True)
        os.environ.pop(PROGRESS_ENV, None)
    return {"notebook": source.stem, "profile": profile, "seconds": round(time.perf_counter() - start, 1)}


def failure_line(source: Path, error: Exception, kept: Path | None) -> str:
    """One line saying that ``source`` failed: its cell and error (papermill's execution error,
    else the error itself) and where its executed notebook was kept."""
    if isinstance(error, papermill.PapermillExecutionError):
        what = f"cell [{error.exec_count}] raised {error.ename}: {error.evalue}"
    else:
        what = f"{type(error).__name__}: {error}"
    where = f"; its executed notebook is {kept}" if kept else "; no executed notebook was written"
    return " ".join(f"{source.name} failed: {what}{where}".split())


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


def check_run(sources: list[Path], profile: str, cwd: Path, parameters: Mapping[str, Any] | None = None,
              jobs: int = 1, from_text: bool = False) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Everything :func:`execute` checks before any kernel starts; return each notebook's
    parameters (by file stem) and what it waits for (:func:`_schedule`).

    ``parameters`` (name -> value) go to every notebook; with ``from_text`` they are values as
    written on the command line, read per page by the type it declares (:func:`read_parameters`).
    Refused with ``ValueError`` (``FileNotFoundError`` for a missing notebook): a bad profile or
    ``jobs``, ``profile`` given as a parameter, a name that a page's ``parameters`` cell lacks, a
    value that does not read as its type, a value the settings of the page's chapter
    (:func:`page_chapter`) refuse (built here as the page builds them, in ``cwd``:
    :func:`dreg_utils.book.chapters.check_page`, which also refuses a ``results_dir`` that cannot
    be created and written)."""
    check_choice("profile", profile, PROFILES)
    check_int("jobs", jobs, minimum=1)
    parameters = dict(parameters or {})
    if "profile" in parameters:
        raise ValueError("give the profile with --profile, not as a parameter")
    missing = [str(s) for s in sources if not Path(s).is_file()]
    if missing:
        raise FileNotFoundError(f"no such notebook: {', '.join(missing)}")
    check_parameters(sources, parameters)
    pages = {}
    for source in sources:
        try:
            values = read_parameters(source, parameters) if from_text else dict(parameters)
            chapter = page_chapter(source)
            if chapter is not None:
                with contextlib.chdir(cwd):
                    check_page(chapter, profile, values)
        except (ValueError, TypeError, OSError) as error:
            raise ValueError(f"{source.name}: {error}") from error
        pages[source.stem] = values
    return pages, _schedule(sources)


def execute(sources: list[Path], out_dir: Path, profile: str, cwd: Path,
            parameters: Mapping[str, Any] | None = None, jobs: int = 1) -> pd.DataFrame:
    """Execute each notebook in ``sources`` into ``out_dir``; return their wall times.

    ``parameters`` (name -> value) go to every notebook besides ``profile``; a bad name or value
    is refused before any notebook runs
    (:func:`check_run`). A notebook that fails raises :class:`NotebookFailed` (:func:`execute_one`).
    With ``jobs`` > 1, up to ``jobs`` notebooks run side by side (a notebook waits for those it
    needs: :func:`notebook_needs`), each with plain progress lines and its kernel's threads limited
    to its share of the cores (the cores divided by ``jobs``); a sweep's worker processes run one
    thread each anyway, so this fills the cores while a notebook is starting, plotting or testing.
    """
    pages, waits = check_run(sources, profile, cwd, parameters, jobs)
    return run_checked(sources, out_dir, profile, cwd, pages, waits, jobs)


def run_checked(sources: list[Path], out_dir: Path, profile: str, cwd: Path, pages: dict[str, dict],
                waits: dict[str, list[str]], jobs: int) -> pd.DataFrame:
    """:func:`execute` after :func:`check_run`: run the notebooks with ``pages``' parameters, then
    write ``timings.csv``, ``timings.md`` and the scorecards."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    total = len(sources)
    if jobs == 1 or total == 1:
        rows = [execute_one(source, f"[{number}/{total}]", out_dir, profile, cwd, pages[source.stem])
                for number, source in enumerate(sources, 1)]
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        rows = _side_by_side(sources, waits, jobs, partial(_execute_numbered, total=total, threads=threads,
                                                    out_dir=out_dir, profile=profile, cwd=cwd,
                                                    pages=pages))
    timings = pd.DataFrame(rows)
    write_table(timings, out_dir / "timings.csv")
    atomic_write_text(out_dir / "timings.md",
                      timings_markdown(timings, profile, jobs, time.perf_counter() - start))
    write_scorecards(out_dir)
    return timings


def _execute_numbered(number: int, source: Path, *, total: int, threads: int, pages: dict[str, dict],
                      **kwargs) -> dict:
    """:func:`execute_one` in a worker process, with its parameters from ``pages``, plain progress
    lines (several at once) and its kernel limited to ``threads`` threads: two kernels whose
    OpenMP threads spin on the same cores slowed a sweep about tenfold."""
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    return execute_one(source, f"[{number}/{total}]", parameters=pages[source.stem], tty=False, **kwargs)


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


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), without the usage."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when every notebook ran, 2 (one line on stderr) for input refused
    before any kernel started, 1 (one line) when a notebook failed."""
    parser = _OneLineParser(prog="dreg_utils.book.runner", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="MyST notebooks to execute")
    parser.add_argument("--out", type=Path, required=True, help="folder for executed .ipynb files")
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter (repeatable); VALUE is read by the parameter's type: "
                             "120, 1e-3, relu, true, None, [0.0, 0.1], [\"relu\", \"poly\"]")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="working directory of the kernels")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run side by side (each waits for the notebooks it needs)")
    args = parser.parse_args(argv)
    try:
        texts = parse_params(args.param)
        pages, waits = check_run(args.notebooks, args.profile, args.cwd, texts, args.jobs, from_text=True)
    except (ValueError, TypeError, OSError) as error:
        parser.error(" ".join(str(error).split()))
    try:
        timings = run_checked(args.notebooks, args.out, args.profile, args.cwd, pages, waits, args.jobs)
    except NotebookFailed as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    print(timings.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
