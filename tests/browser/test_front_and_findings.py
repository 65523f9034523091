"""Browser test of the front page, the findings page and the PDF of the built book.

Headless Chromium renders the front page (its headline figure and its scorecard) and the
findings page (verdict badges and dropdowns) at a laptop's and a phone's width; the PDF that
``make pdf`` printed from the same book has non-blank first pages. Screenshots go to
``_build/screenshots/``. The book is the smoke book of ``make test`` unless ``DREG_BOOK_HTML``
names another; ``DREG_BOOK_PDF`` names another PDF. Skips, saying why, without Chromium or the book.
"""
from __future__ import annotations

import base64
import io
import os
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreg_utils.book.pdf import CHROMIUM_FLAGS, find_chromium
from dreg_utils.book.scorecard import BADGE_COLOURS, ROWS

ROOT = Path(__file__).resolve().parents[2]
BOOK_HTML = Path(os.environ.get("DREG_BOOK_HTML", ROOT / "_build" / "smoke-book" / "_build" / "html"))
BOOK_PDF = Path(os.environ.get("DREG_BOOK_PDF", BOOK_HTML.parent / "pdf" / "book.pdf"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
FRONT, FINDINGS = "book/intro.html", "book/findings.html"
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
PDF_PAGES_CHECKED = 3


def pixel_spread(image: Image.Image) -> tuple[float, float]:
    """(standard deviation of the grey levels, share of pixels darker than near-white): a blank
    page has both near 0."""
    grey = np.asarray(image.convert("L"), dtype=float)
    return float(grey.std()), float((grey < 235).mean())


class Page(HTMLParser):
    """What the checks need from a dumped DOM: the headline figure, the scorecard tables (rows,
    and the badges in each row) and the dropdowns."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figure_imgs: list[dict] = []
        self.tables: list[list[list[str]]] = []  # per scorecard table, per body row, its badge texts
        self.dropdowns = 0
        self.dropdown_text: list[str] = []
        self._in_figure = self._in_table = self._in_body = self._in_badge = self._in_dropdown = 0
        self._badge = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        if tag == "figure" and "headline-figure" in classes:
            self._in_figure = 1
        if tag == "img" and self._in_figure:
            self.figure_imgs.append(attrs)
        if tag == "table" and "scorecard" in classes:
            self._in_table = 1
            self.tables.append([])
        if tag == "tbody" and self._in_table:
            self._in_body = 1
        if tag == "tr" and self._in_body:
            self.tables[-1].append([])
        if tag == "span" and "sd-badge" in classes and self._in_body:
            self._in_badge, self._badge = 1, ""
        if tag == "details" and "sd-dropdown" in classes:
            self.dropdowns += 1
            self._in_dropdown = 1
            self.dropdown_text.append("")

    def handle_endtag(self, tag):
        if tag == "figure":
            self._in_figure = 0
        if tag == "table":
            self._in_table = self._in_body = 0
        if tag == "span" and self._in_badge:
            self.tables[-1][-1].append(self._badge.strip())
            self._in_badge = 0
        if tag == "details":
            self._in_dropdown = 0

    def handle_data(self, data):
        if self._in_badge:
            self._badge += data
        if self._in_dropdown:
            self.dropdown_text[-1] += data


def chromium_run(chromium: str, args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="dreg-chromium-", ignore_cleanup_errors=True) as profile:
        return subprocess.run([chromium, *CHROMIUM_FLAGS, "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                              capture_output=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("headless Chromium not found (install the Debian package `chromium`, or set DREG_CHROMIUM)")
    missing = [p for p in (FRONT, FINDINGS) if not (BOOK_HTML / p).is_file()]
    if missing:
        pytest.skip(f"built book not found at {BOOK_HTML} (missing {', '.join(missing)}); run `make test`")
    return found


@pytest.fixture(scope="module")
def dom(chromium) -> dict[str, Page]:
    pages = {}
    for page in (FRONT, FINDINGS):
        run = chromium_run(chromium, ["--virtual-time-budget=10000", "--dump-dom", (BOOK_HTML / page).resolve().as_uri()])
        assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
        parsed = Page()
        parsed.feed(run.stdout.decode("utf-8", "replace"))
        pages[page] = parsed
    return pages


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", [FRONT, FINDINGS])
def test_screenshot_is_not_blank(chromium, page, size):
    width, height = SIZES[size]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{page.replace('/', '__').removesuffix('.html')}-{width}.png"
    shot.unlink(missing_ok=True)
    run = chromium_run(chromium, [f"--screenshot={shot}", f"--window-size={width},{height}",
                                  "--virtual-time-budget=5000", (BOOK_HTML / page).resolve().as_uri()])
    assert run.returncode == 0 and shot.is_file(), run.stderr.decode(errors="replace")[-2000:]
    spread, inked = pixel_spread(Image.open(shot))
    assert spread > 10 and inked > 0.01, f"{shot} looks blank (grey std {spread:.1f}, inked {inked:.1%})"


def test_front_page_shows_the_headline_figure(dom):
    imgs = dom[FRONT].figure_imgs
    assert len(imgs) == 1, f"expected one headline figure, found {len(imgs)}"
    src, alt = imgs[0].get("src", ""), imgs[0].get("alt", "")
    assert len(alt) >= 20, f"the headline figure has no alt text: {alt!r}"
    assert src.startswith("data:image/png;base64,"), src[:60]
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert image.width >= 600, f"headline figure only {image.width} px wide"
    spread, inked = pixel_spread(image)
    assert spread > 10 and inked > 0.02, f"the headline figure looks blank (std {spread:.1f}, inked {inked:.1%})"


@pytest.mark.parametrize("page", [FRONT, FINDINGS])
def test_scorecard_has_one_row_per_claim_each_with_a_verdict_badge(dom, page):
    tables = dom[page].tables
    assert len(tables) == 1, f"{page}: expected one scorecard table, found {len(tables)}"
    rows = tables[0]
    assert len(rows) == len(ROWS), f"{page}: {len(rows)} rows for {len(ROWS)} claims"
    bad = [(row.key, badges) for row, badges in zip(ROWS, rows)
           if len(badges) != 1 or badges[0] not in BADGE_COLOURS]
    assert not bad, f"{page}: rows without exactly one verdict badge: {bad}"


def test_findings_page_has_a_dropdown_with_details_per_claim(dom):
    page = dom[FINDINGS]
    assert page.dropdowns == len(ROWS), f"{page.dropdowns} dropdowns for {len(ROWS)} claims"
    empty = [row.key for row, text in zip(ROWS, page.dropdown_text) if len(text.split()) < 8]
    assert not empty, f"dropdowns without details: {empty}"


def test_first_pages_of_the_pdf_are_not_blank():
    if not BOOK_PDF.is_file():
        pytest.skip(f"no PDF at {BOOK_PDF}; run `make pdf` (make test does)")
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(str(BOOK_PDF))
    assert len(document) >= 10, f"{BOOK_PDF} has only {len(document)} pages"
    for index in range(PDF_PAGES_CHECKED):
        image = document[index].render(scale=1).to_pil()
        spread, inked = pixel_spread(image)
        assert spread > 5 and inked > 0.005, (f"page {index + 1} of {BOOK_PDF} looks blank "
                                              f"(grey std {spread:.1f}, inked {inked:.1%})")


def test_pdf_bookmarks_name_each_chapter_by_its_title():
    """Issue 25: bookmarks read "Synthetic families: ...", not "01_synthetic_families"."""
    if not BOOK_PDF.is_file():
        pytest.skip(f"no PDF at {BOOK_PDF}; run `make pdf` (make test does)")
    pypdf = pytest.importorskip("pypdf")
    titles = [item.title for item in pypdf.PdfReader(str(BOOK_PDF)).outline]
    assert len(titles) >= 10 and not [t for t in titles if "_" in t or t.endswith(".html")], titles
    assert titles[0] == "Derivative control of compact neural networks" and "Findings at a glance" in titles
