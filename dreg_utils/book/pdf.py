"""One PDF of the built book: ``python -m dreg_utils.book.pdf`` (``make pdf``).

Headless Chromium prints each page of the table of contents (``_toc.yml``, in its order) of the
built HTML book to PDF, after giving MathJax time to typeset; pypdf joins the pages into one
file with a bookmark per page. Chromium comes from the Debian package ``chromium``
(``make system-deps``); ``DREG_CHROMIUM`` names another binary. Without Chromium the command
fails (exit status 2), unless ``--skip-without-chromium`` (``make test``'s PDF step) makes it
say so in one line and exit 0.

    python -m dreg_utils.book.pdf --html _build/html --out _build/pdf/book.pdf
"""
from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..extras import require

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage")
PRINT_TIMEOUT_S = 120
MATHJAX_BUDGET_MS = 10_000  # virtual time for MathJax to typeset before printing
CHROMIUM_MISSING = ("headless Chromium not found: install the Debian package `chromium` "
                    "(make system-deps, as root) or set DREG_CHROMIUM")


def find_chromium() -> str | None:
    """The Chromium binary: ``$DREG_CHROMIUM`` when set, else the first of the usual names on PATH."""
    explicit = os.environ.get("DREG_CHROMIUM")
    if explicit:
        return shutil.which(explicit)
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((found for found in map(shutil.which, names) if found), None)


def _pypdf():
    return require("pypdf", "book", "make pdf (joining the printed pages)")


def toc_pages(toc_file: str | Path) -> list[str]:
    """The pages of a Jupyter Book ``_toc.yml`` as html paths relative to the html root, root first."""
    yaml = require("yaml", "book", "reading the table of contents", package="pyyaml")
    toc = yaml.safe_load(Path(toc_file).read_text())
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{toc_file} is not a Jupyter Book table of contents (no 'root' entry)")
    files = [toc["root"], *(entry["file"] for entry in toc.get("chapters", []))]
    for part in toc.get("parts", []):
        files.extend(entry["file"] for entry in part.get("chapters", []))
    return [f"{file}.html" for file in files]


def page_title(page: Path) -> str:
    """The title a reader knows ``page`` by: its html ``<title>`` without the book's title after
    the em dash (the root page, whose title is the book's, keeps it); the file's stem without one."""
    found = re.search(r"<title>(.*?)</title>", page.read_text(errors="replace"), re.S)
    if not found:
        return page.stem
    title = html.unescape(found.group(1)).strip()
    own = title.rsplit(" \u2014 ", 1)[0].strip()
    return own or title


def print_page(chromium: str, page: Path, out: Path) -> Path:
    """Print one html ``page`` to the PDF ``out`` with headless Chromium; raise when it fails."""
    with tempfile.TemporaryDirectory(prefix="dreg-pdf-", ignore_cleanup_errors=True) as profile:
        run = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                              f"--virtual-time-budget={MATHJAX_BUDGET_MS}", f"--print-to-pdf={out}",
                              page.resolve().as_uri()],
                             capture_output=True, timeout=PRINT_TIMEOUT_S, check=False)
    if run.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {page} (exit status {run.returncode}): "
                           f"{run.stderr.decode(errors='replace')[-1000:]}")
    return out


def build_pdf(html_dir: str | Path, out: str | Path, toc_file: str | Path = "_toc.yml",
              chromium: str | None = None, workers: int = 2) -> Path:
    """Print every page of the built book in ``html_dir`` (order of ``toc_file``) and join them
    into the PDF ``out``, one bookmark per page (:func:`page_title`); return ``out``."""
    pypdf = _pypdf()
    html_dir, out = Path(html_dir), Path(out)
    pages = toc_pages(toc_file)
    missing = [p for p in pages if not (html_dir / p).is_file()]
    if missing:
        raise FileNotFoundError(f"the built book at {html_dir} lacks {', '.join(missing)}; build it first "
                                "(make book)")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(CHROMIUM_MISSING)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dreg-pdf-pages-") as tmp:
        targets = [Path(tmp) / f"{i:03d}.pdf" for i in range(len(pages))]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(lambda pair: print_page(chromium, html_dir / pair[0], pair[1]), zip(pages, targets)))
        writer = pypdf.PdfWriter()
        for page, target in zip(pages, targets):
            start = len(writer.pages)
            writer.append(pypdf.PdfReader(target))
            writer.add_outline_item(title=page_title(html_dir / page), page_number=start)
        partial = out.with_name(f".{out.name}.tmp")
        with open(partial, "wb") as handle:
            writer.write(handle)
        os.replace(partial, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"), help="the built html book")
    parser.add_argument("--out", type=Path, default=Path("_build/pdf/book.pdf"), help="the PDF to write")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"), help="the book's table of contents")
    parser.add_argument("--skip-without-chromium", action="store_true",
                        help="without headless Chromium, say so in one line and exit 0 instead of failing")
    args = parser.parse_args(argv)
    if args.skip_without_chromium and find_chromium() is None:
        print(f"pdf: skipped ({CHROMIUM_MISSING})")
        return 0
    try:
        path = build_pdf(args.html, args.out, args.toc)
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        parser.exit(2, f"make pdf: {error}\n")
    print(f"pdf: {path} ({len(_pypdf().PdfReader(path).pages)} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
