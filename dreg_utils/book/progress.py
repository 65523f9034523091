"""One progress line per notebook while the runner executes it: the notebook's cell counter
(papermill) and the progress of the sweep running inside its kernel, read from the file that
:func:`dreg_utils.sweep.report_progress` keeps up to date, with an estimate of the time left.

On a terminal the line is rewritten in place (``\\r``); otherwise (a log file, CI) a plain line is
printed when the sweep or the cell moves on, at most every ``quiet_s`` seconds, and once at the end.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path
from typing import TextIO

from ..validation import check_float

_CELLS = re.compile(r"(\d+)/(\d+)")


def read_progress(path: str | Path) -> dict | None:
    """The sweep progress recorded at ``path``; None when there is none (yet) or it is unreadable."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    needed = ("desc", "done", "total", "cached", "trained")
    return record if isinstance(record, dict) and all(k in record for k in needed) else None


def format_duration(seconds: float) -> str:
    """Seconds as ``42s``, ``3m05s`` or ``1h02m``."""
    seconds = int(round(max(seconds, 0.0)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_line(label: str, cells: tuple[int, int] | None, sweep: dict | None, elapsed: float) -> str:
    """E.g. ``[2/8] 02_mnist_sweep | cell 7/18 | mnist runs 24/48 (16 cached, 8 trained),
    ~3m10s left | 1m02s``: the sweep's name, runs done / total, and the time left."""
    parts = [label]
    if cells is not None:
        parts.append(f"cell {cells[0]}/{cells[1]}")
    if sweep is not None:
        text = (f"{sweep['desc']} {sweep['done']}/{sweep['total']} "
                f"({sweep['cached']} cached, {sweep['trained']} trained)")
        if sweep["done"] < sweep["total"]:
            eta = sweep.get("eta_s")
            text += ", time left unknown" if eta is None else f", ~{format_duration(eta)} left"
        parts.append(text)
    parts.append(format_duration(elapsed))
    return " | ".join(parts)


class CellCounter:
    """A file-like target for papermill's tqdm bar (``bar_format="{n}/{total}"``): it keeps the
    last ``done/total`` cell count written to it instead of printing it."""

    def __init__(self) -> None:
        self.cells: tuple[int, int] | None = None

    def write(self, text: str) -> int:
        found = _CELLS.findall(text)
        if found:
            self.cells = (int(found[-1][0]), int(found[-1][1]))
        return len(text)

    def flush(self) -> None:
        pass


class ProgressLine:
    """A background thread that shows one notebook's progress line on ``stream`` every
    ``interval_s`` seconds until the ``with`` block ends, then finishes the line."""

    def __init__(self, label: str, progress_file: str | Path, cells: CellCounter, stream: TextIO,
                 interval_s: float = 1.0, quiet_s: float = 15.0, tty: bool | None = None) -> None:
        self.label, self.progress_file, self.cells, self.stream = label, Path(progress_file), cells, stream
        self.interval_s = check_float("interval_s", interval_s, strictly_positive=True)
        self.quiet_s = check_float("quiet_s", quiet_s, minimum=0.0)
        self.tty = stream.isatty() if tty is None else tty
        self.started = time.perf_counter()
        self._state: tuple | None = None  # what a plain line last showed (cell, sweep, runs done)
        self._last_plain = -float("inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def line(self) -> tuple[str, tuple]:
        """The current line and the state it shows (cell, sweep name, runs done)."""
        sweep = read_progress(self.progress_file)
        state = (self.cells.cells, None if sweep is None else (sweep["desc"], sweep["done"]))
        return format_line(self.label, self.cells.cells, sweep, time.perf_counter() - self.started), state

    def poll(self, final: bool = False) -> str | None:
        """Show the line now if it is due; return what was written (None: nothing)."""
        text, state = self.line()
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            out = "\r" + text[:width].ljust(width) + ("\n" if final else "")
        else:
            now = time.perf_counter()
            due = state != self._state and now - self._last_plain >= self.quiet_s
            if not (final or due):
                return None
            self._state, self._last_plain = state, now
            out = text + "\n"
        self.stream.write(out)
        self.stream.flush()
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def __enter__(self) -> ProgressLine:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll(final=True)
