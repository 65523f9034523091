"""Files written atomically: a reader sees the old file or the whole new one, never a part."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def current_umask() -> int:
    """The process's umask (from /proc where it can be read without setting it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # elsewhere: set a strict one for an instant, then restore it
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one; the
    file's mode is 0o666 less the umask, as ``open`` would create it. Whatever was at ``path``
    is replaced (a link or a FIFO itself, never what it leads to), except a directory:
    ``IsADirectoryError`` naming it."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"cannot write {path}: it is a directory (move or remove it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0o600 would hide results from a group
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Save a tidy table as CSV atomically and return its path."""
    atomic_write_text(path, df.to_csv(index=False))
    return Path(path)
