"""Execute the book's MyST notebooks with papermill: ``python -m dreg_utils.notebooks``.

Each ``notebooks/NAME.md`` is converted with jupytext, executed with papermill
(``profile`` injected into its ``parameters`` cell, the repository root as working
directory) and written to ``OUT/NAME.ipynb``; the wall time of each notebook goes
to ``OUT/timings.csv`` and, as a MyST table the reproducibility chapter includes, to
``OUT/timings.md``. A failing notebook stops with a non-zero exit status.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import jupytext
import pandas as pd
import papermill

from .profiles import PROFILES
from .sweep import atomic_write_text, write_table
from .validation import check_choice


def execute(sources: list[Path], out_dir: Path, profile: str, cwd: Path) -> pd.DataFrame:
    """Execute each notebook in ``sources`` into ``out_dir``; return their wall times."""
    check_choice("profile", profile, PROFILES)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in sources:
        unexecuted = out_dir / f".{source.stem}.input.ipynb"
        jupytext.write(jupytext.read(source), unexecuted)
        print(f"executing {source} (profile={profile})", flush=True)
        start = time.perf_counter()
        papermill.execute_notebook(str(unexecuted), str(out_dir / f"{source.stem}.ipynb"),
                                   parameters={"profile": profile}, cwd=str(cwd),
                                   kernel_name="python3", progress_bar=True)
        unexecuted.unlink()
        rows.append({"notebook": source.stem, "profile": profile,
                     "seconds": round(time.perf_counter() - start, 1)})
    timings = pd.DataFrame(rows)
    write_table(timings, out_dir / "timings.csv")
    atomic_write_text(out_dir / "timings.md", timings_markdown(timings, profile))
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
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="working directory of the kernels")
    args = parser.parse_args(argv)
    print(execute(args.notebooks, args.out, args.profile, args.cwd).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
