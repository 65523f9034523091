"""The versions the book was built with, as a pip constraints file.

``python -m dreg_utils.book.constraints [--out constraints.txt]`` (``make constraints``) writes
``name==version`` for every package of pyproject.toml's core dependencies and optional groups
that this environment has installed (in the order pyproject lists them), plus the book's Sphinx stack, read from the installed
distributions' metadata (what ``pip freeze`` reports for them). A local build tag such as
``+cpu`` is kept in a comment, so the pin installs from any index:
``pip install -c constraints.txt -e ".[book,test]"``.
"""
from __future__ import annotations

import argparse
import platform
import re
from importlib import metadata
from pathlib import Path

from ..files import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]  # the repository, for the default output path
BOOK_STACK = ("sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "nbclient", "jupyter-cache")


def _name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0]).strip().lower()


def listed_packages() -> list[str]:
    """dreg_utils' core dependencies and every optional group's packages (from the installed
    package's metadata, i.e. pyproject.toml), then the book's Sphinx stack."""
    names = [_name(r) for r in metadata.requires("dreg_utils") or []]
    return list(dict.fromkeys([*names, *BOOK_STACK]))


def constraints_text(packages: list[str]) -> str:
    """One ``name==version`` line per installed package (missing ones are listed as comments)."""
    lines = [f"# Versions the book was built with (python {platform.python_version()}, "
             f"{platform.system()} {platform.machine()}); written by python -m dreg_utils.book.constraints."]
    for name in packages:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            lines.append(f"# {name}: not installed in this environment")
            continue
        public, _, local = version.partition("+")
        lines.append(f"{name}=={public}" + (f"  # built as {version}" if local else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args(argv)
    atomic_write_text(args.out, constraints_text(listed_packages()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
