"""Browser test of the built book: headless Chromium opens every page of the toc.

For each page it saves a screenshot under ``_build/screenshots/`` and checks the rendered
DOM (``--dump-dom``): no traceback or error output, each notebook page has at least one
table and at least one figure whose PNG exists on disk, and internal links resolve.

The book checked is the smoke book built by ``make test`` (``_build/smoke-book/_build/html``);
set ``DREG_BOOK_HTML`` to check another build (e.g. ``_build/html``). Chromium comes from the
Debian package ``chromium`` (``make system-deps``); ``DREG_CHROMIUM`` names another binary.
The tests skip, saying why, when Chromium or the built book is missing.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dreg_utils.book.pdf import CHROMIUM_FLAGS as BOOK_CHROMIUM_FLAGS, find_chromium, toc_pages

ROOT = Path(__file__).resolve().parents[2]
BOOK_HTML = Path(os.environ.get("DREG_BOOK_HTML", ROOT / "_build" / "smoke-book" / "_build" / "html"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = [*BOOK_CHROMIUM_FLAGS, "--disable-quic", "--hide-scrollbars"]
TIMEOUT_S = 60
PAGES = toc_pages(ROOT / "_toc.yml")
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("book/executed/")]


class DomSummary(HTMLParser):
    """What the checks need from a dumped DOM: text, ids, tables, images, links, error markers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.tables = 0
        self.imgs: list[str] = []
        self.alts: dict[str, str] = {}  # img src -> alt text
        self.captions = 0
        self.hrefs: list[str] = []
        self.error_classes: list[str] = []
        self.math = 0  # elements Sphinx marks as math (raw TeX until MathJax typesets them)
        self.typeset = 0  # <mjx-container> elements MathJax produced
        self.scripts: list[str] = []
        self.cell_tags: list[set[str]] = []  # the tag_* classes of each element that has some
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "mjx-container":
            self.typeset += 1
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        classes = set((attrs.get("class") or "").split())
        if any(c.startswith("tag_") for c in classes):
            self.cell_tags.append({c for c in classes if c.startswith("tag_")})
        if "traceback" in classes or {"output", "error"} <= classes or "system-message" in classes \
                or "highlight-ipythontb" in classes or "stderr" in classes:
            self.error_classes.append(f"<{tag} class={attrs.get('class')!r}>")
        if "math" in classes:
            self.math += 1
        if tag == "table":
            self.tables += 1
        elif tag == "img" and attrs.get("src"):
            self.imgs.append(attrs["src"])
            self.alts[attrs["src"]] = (attrs.get("alt") or "").strip()
        elif tag == "figcaption":
            self.captions += 1
        elif tag == "a" and attrs.get("href") is not None:
            self.hrefs.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def run_chromium(chromium: str, args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="dreg-chromium-", ignore_cleanup_errors=True) as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, timeout=TIMEOUT_S, check=False,
        )


def render(chromium: str, page: str) -> dict:
    """Screenshot one page and dump its rendered DOM."""
    url = (BOOK_HTML / page).resolve().as_uri()
    shot = SCREENSHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")
    shot.unlink(missing_ok=True)
    shot_run = run_chromium(chromium, [f"--screenshot={shot}", "--window-size=1280,2000", url])
    # The virtual-time budget lets MathJax typeset before the DOM is dumped.
    dom_run = run_chromium(chromium, ["--virtual-time-budget=10000", "--dump-dom", url])
    summary = DomSummary()
    summary.feed(dom_run.stdout.decode("utf-8", "replace"))
    return {"page": page, "shot": shot, "shot_run": shot_run, "dom_run": dom_run, "dom": summary}


@pytest.fixture(scope="session")
def rendered() -> dict[str, dict]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium not found (install the Debian package `chromium`, "
                    "e.g. `make system-deps` as root, or set DREG_CHROMIUM)")
    missing = [p for p in PAGES if not (BOOK_HTML / p).is_file()]
    if missing:
        pytest.skip(f"built book not found at {BOOK_HTML} (missing {', '.join(missing)}); "
                    "run `make smoke-book` or `make test`")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda p: render(chromium, p), PAGES))
    return {r["page"]: r for r in results}


def _local_target(page: str, ref: str) -> tuple[Path, str] | None:
    """The file a relative href/src points to within the book, and its fragment; None if external."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith(("//", "data:", "javascript:", "mailto:")):
        return None
    if not parts.path:
        return (BOOK_HTML / page, parts.fragment)
    return ((BOOK_HTML / page).parent / unquote(parts.path), parts.fragment)


def test_index_redirects_to_intro():
    index = BOOK_HTML / "index.html"
    if not index.is_file():
        pytest.skip(f"built book not found at {BOOK_HTML}")
    assert PAGES[0] in index.read_text(), "index.html should redirect to the root page"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_screenshot(rendered, page):
    r = rendered[page]
    assert r["dom_run"].returncode == 0, r["dom_run"].stderr.decode(errors="replace")[-2000:]
    assert r["shot_run"].returncode == 0, r["shot_run"].stderr.decode(errors="replace")[-2000:]
    data = r["shot"].read_bytes() if r["shot"].is_file() else b""
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000, f"no usable screenshot {r['shot']}"
    assert r["dom"].ids, "the dumped DOM is empty"


@pytest.mark.parametrize("page", PAGES)
def test_page_shows_no_error_output(rendered, page):
    dom = rendered[page]["dom"]
    text = " ".join(dom.text)
    for marker in ("Traceback (most recent call last)", "Error in callback"):
        assert marker not in text, f"{page} shows {marker!r}"
    assert not dom.error_classes, f"{page} has error output: {dom.error_classes[:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_equations_are_typeset_offline(rendered, page):
    """MathJax comes from the book's own _static folder and typesets every equation."""
    dom = rendered[page]["dom"]
    remote = [src for src in dom.scripts if "mathjax" in src.lower() and urlsplit(src).scheme]
    assert not remote, f"{page} loads MathJax from the network: {remote}"
    assert dom.typeset >= dom.math, (f"{page}: {dom.math} equations but only {dom.typeset} "
                                     "typeset by MathJax (raw TeX is showing)")
    text = " ".join(dom.text)
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in text, f"{page} shows raw TeX {raw!r}"


def test_method_page_has_equations(rendered):
    dom = rendered["book/method.html"]["dom"]
    assert dom.math >= 10 and dom.typeset >= dom.math


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_notebook_page_has_table_and_figure(rendered, page):
    dom = rendered[page]["dom"]
    assert dom.tables >= 1, f"{page} has no <table>"
    loaded = []
    for src in dom.imgs:
        target = _local_target(page, src)
        if target is None:
            continue
        path = target[0]
        if path.suffix.lower() == ".png" and path.is_file():
            data = path.read_bytes()
            if data.startswith(PNG_MAGIC) and len(data) > 100:
                loaded.append(path)
    assert loaded, f"{page} has no figure whose PNG exists on disk (img src: {dom.imgs[:5]})"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_figures_have_alt_text_and_captions(rendered, page):
    """Every figure of a chapter carries alt text for screen readers and a visible caption."""
    dom = rendered[page]["dom"]
    figures = [src for src in dom.imgs if src.lower().endswith(".png")]
    missing = [src for src in figures if len(dom.alts.get(src, "")) < 20]
    assert not missing, f"{page}: figures without alt text: {missing[:5]}"
    assert dom.captions >= 1, f"{page} has no figure caption"


@pytest.mark.parametrize("page", PAGES)
def test_images_and_internal_links_resolve(rendered, page):
    dom = rendered[page]["dom"]
    root = BOOK_HTML.resolve()
    broken = []
    for src in dom.imgs:
        target = _local_target(page, src)
        if target is not None and not target[0].is_file():
            broken.append(f"img {src}")
    for href in dom.hrefs:
        target = _local_target(page, href)
        if target is None:
            continue
        path, fragment = target
        if path.suffix != ".html" and path != BOOK_HTML / page:
            continue  # stylesheets, sources, downloads: not pages
        resolved = path.resolve()
        if root not in resolved.parents or not resolved.is_file():
            broken.append(f"link {href}")
        elif fragment and resolved == (BOOK_HTML / page).resolve() and fragment not in dom.ids:
            broken.append(f"anchor {href}")
    assert not broken, f"{page}: unresolved {broken}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_machinery_is_folded(rendered, page):
    """Papermill's injected-parameters cell is off the page; the parameters cell, the page's list
    of knobs, is there but collapsed."""
    tags = rendered[page]["dom"].cell_tags
    assert not any("tag_injected-parameters" in t for t in tags), f"{page} shows the injected parameters"
    parameters = [t for t in tags if "tag_parameters" in t]
    assert parameters and all("tag_hide-input" in t for t in parameters), f"{page}: parameters cell not collapsed"
