"""The book as a reader sees it, measured in the browser at a laptop's and a phone's size.

Headless Chromium (driven over the DevTools protocol, :mod:`cdp`) opens every page of the toc
at 1280x800 and at 390x844, saves a full-page screenshot of each under
``_build/screenshots/`` (``PAGE-WIDTHxHEIGHT.png``) and measures the rendered layout:

* nothing in the content column is wider than the column, unless it is marked full width or
  sits inside a scroll container that fits the column; at the laptop size a table may
  only scroll in a deliberate scroll container (class ``dreg-scroll``, outlined on the page);
* no code cell that holds assertions, and no papermill injected-parameters cell, is on a page;
* no formula scrolls in a box of its own, is cut at the column's edge or is scaled below 70% of the text;
* every chapter opens with its answer: its first verdict badge or figure lies on the first screen;
* every chapter shows its "This run" table last (its provenance follows its results);
* every CSV download link of a chapter resolves to a non-empty file, and every chapter has one.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cdp import Browser
from test_book_browser import BOOK_HTML, CHROMIUM_FLAGS, NOTEBOOK_PAGES, PAGES, SCREENSHOTS, find_chromium

SIZES = [(1280, 800), (390, 844)]
DELIBERATE_SCROLL = "dreg-scroll"

# Measures the page: elements wider than the content column (outermost first), the cells on the
# page and their sources, the tables in order with their first header cell, and the CSV links.
MEASURE = r"""
(() => {
  const column = document.querySelector("article.bd-article");
  if (!column) return {error: "no article.bd-article on the page"};
  const box = column.getBoundingClientRect(), style = getComputedStyle(column);
  const left = box.left + parseFloat(style.paddingLeft) - 1, right = box.right - parseFloat(style.paddingRight) + 1;
  const visuallyHidden = (el) => { const s = getComputedStyle(el);
    return s.visibility === "hidden" || s.clip === "rect(1px, 1px, 1px, 1px)" || s.clipPath.startsWith("inset(50%")
      || el.closest("mjx-assistive-mml") !== null; };
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== column; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX, r = p.getBoundingClientRect();
      if ((overflow === "auto" || overflow === "scroll") && r.width > 0 && r.left >= left && r.right <= right)
        return p;
    }
    return null;
  };
  const describe = (el) => ({tag: el.tagName.toLowerCase(), cls: String(el.className || "").slice(0, 80),
    width: Math.round(el.getBoundingClientRect().width), text: (el.innerText || "").trim().slice(0, 80)});
  const unscrolled = [], scrolled_tables = [];
  for (const el of column.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || (r.left >= left && r.right <= right)) continue;
    if (el.closest(".full-width, .tag_full-width") || visuallyHidden(el)) continue;
    const closed = el.closest("details:not([open])");
    if (closed && !el.closest("summary")) continue;  // inside a collapsed block: not on screen
    const s = scroller(el);
    if (s) {
      if (el.tagName === "TABLE") scrolled_tables.push({...describe(el), deliberate: el.closest(".dreg-scroll") !== null});
      continue;
    }
    if (unscrolled.some(u => u.el.contains(el))) continue;
    unscrolled.push({el, info: describe(el)});
  }
  const cells = [...column.querySelectorAll("div.cell")].map(c => ({
    tags: [...c.classList].filter(x => x.startsWith("tag_")),
    source: (c.querySelector(".cell_input pre") || {textContent: ""}).textContent,
    output: [...c.querySelectorAll(".cell_output")].map(o => o.innerText).join("\n")}));
  const tables = [...column.querySelectorAll("table")].map(t => {
    const first = t.querySelector("th, td");
    return {first: first ? first.textContent.trim() : "", visible: t.getBoundingClientRect().height > 0,
            headers: [...t.querySelectorAll("thead th")].map(h => h.textContent.trim())};
  });
  // formulas that scroll (content wider than their box) or are cut (their box past the column's edge)
  const formulas = [...column.querySelectorAll("mjx-container")].filter(m => {
    const r = m.getBoundingClientRect(), overflow = getComputedStyle(m).overflowX;
    const boxed = overflow !== "visible" && m.scrollWidth > m.clientWidth + 1;  // a scroll box, or clipped
    // scaled to fit (dreg-math.js) below 70% of the text's size: too small to read
    const tiny = m.style.fontSize !== "" && parseFloat(getComputedStyle(m).fontSize) < 0.7 * parseFloat(style.fontSize);
    return r.width > 0 && (boxed || tiny || r.right > right + 1);
  }).map(m => ({display: m.getAttribute("display") === "true", width: m.scrollWidth, box: m.clientWidth,
                font: getComputedStyle(m).fontSize,
                text: (m.querySelector("mjx-assistive-mml") || m).textContent.trim().slice(0, 60)}));
  // verdict badges cut by their cell or broken mid-word (more lines than words)
  const badges = [...column.querySelectorAll("td .verdict-badge")].filter(b => {
    const r = b.getBoundingClientRect(), cell = b.closest("td").getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(b);
    const lines = new Set([...range.getClientRects()].map(x => Math.round(x.top))).size;
    return r.width > 0 && (r.right > cell.right + 1 || b.scrollWidth > b.clientWidth + 1
                           || lines > b.textContent.trim().split(/\s+/).length);
  }).map(b => b.textContent.trim());
  // the answer: the first verdict badge or figure image of the article, in page coordinates
  const answer = column.querySelector(".verdict-badge, figure img");
  const answer_top = answer ? Math.round(answer.getBoundingClientRect().top + window.scrollY) : null;
  const csv = [...column.querySelectorAll("a[href]")].map(a => a.getAttribute("href"))
    .filter(h => urlPath(h).toLowerCase().endsWith(".csv"));
  function urlPath(h) { return h.split("#")[0].split("?")[0]; }
  return {column: Math.round(right - left - 2), unscrolled: unscrolled.map(u => u.info), scrolled_tables,
          cells, tables, csv, answer_top, screen: window.innerHeight, formulas, badges};
})()
"""


def shot_name(page: str, width: int, height: int) -> Path:
    return SCREENSHOTS / f"{page.replace('/', '__').removesuffix('.html')}-{width}x{height}.png"


@pytest.fixture(scope="module")
def layouts() -> dict[tuple[str, int], dict]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium not found (install the Debian package `chromium` or set DREG_CHROMIUM)")
    missing = [p for p in PAGES if not (BOOK_HTML / p).is_file()]
    if missing:
        pytest.skip(f"built book not found at {BOOK_HTML} (missing {', '.join(missing)})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    measured = {}
    with Browser(chromium, CHROMIUM_FLAGS) as browser:
        for page in PAGES:
            for width, height in SIZES:
                tab = browser.page((BOOK_HTML / page).resolve().as_uri(), width, height)
                try:
                    result = tab.evaluate(MEASURE)
                    shot = shot_name(page, width, height)
                    tab.screenshot(shot)
                    result["shot"] = shot
                finally:
                    tab.close()
                measured[(page, width)] = result
    return measured


CASES = [(page, width) for page in PAGES for width, _ in SIZES]
CHAPTER_CASES = [(page, width) for page in NOTEBOOK_PAGES for width, _ in SIZES]


def case_id(case) -> str:
    return f"{case[0].removesuffix('.html').split('/')[-1]}-{case[1]}px"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_screenshot_of_the_whole_page(layouts, case):
    shot = layouts[case]["shot"]
    data = shot.read_bytes() if shot.is_file() else b""
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, f"no usable screenshot {shot}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_everything_fits_the_content_column(layouts, case):
    result = layouts[case]
    assert "error" not in result, result.get("error")
    assert result["column"] > 300, f"content column only {result['column']} px wide"
    assert not result["unscrolled"], (f"{case_id(case)}: wider than the {result['column']}-px column and "
                                      f"not in a scroll container: {result['unscrolled'][:5]}")
    if case[1] >= 1000:  # on a laptop a table fits, or scrolls only where the page says so
        hidden = [t for t in result["scrolled_tables"] if not t["deliberate"]]
        assert not hidden, f"{case_id(case)}: tables wider than the {result['column']}-px column: {hidden[:5]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_no_formula_scrolls_or_is_cut(layouts, case):
    """Inline and display maths fit their line: no scroll box (a scrollbar in browsers that show
    them, and in the PDF), no formula past the column's edge."""
    formulas = layouts[case]["formulas"]
    assert not formulas, f"{case_id(case)}: {len(formulas)} formulas scroll or are cut: {formulas[:4]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_verdict_badges_fit_their_cells(layouts, case):
    """A verdict badge is read whole: not cut by its table cell, no word broken across lines."""
    badges = layouts[case]["badges"]
    assert not badges, f"{case_id(case)}: {len(badges)} verdict badges cut or broken: {badges[:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_table_headers_are_words_not_column_names(layouts, page):
    """A reader sees "p99/mean |grad|", not ``grad_p99_over_mean``: no snake_case header, except the
    vocabulary's own names shown as values (datasets, methods)."""
    import re

    from dreg_utils import vocabulary

    names = {*vocabulary.REGRESSION_DATASETS, *vocabulary.METHODS, *vocabulary.IMAGE_DATASETS}
    headers = {h for t in layouts[(page, SIZES[0][0])]["tables"] for h in t["headers"]}
    raw = sorted(h for h in headers if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", h) and h not in names)
    assert not raw, f"{page} shows column names as headers: {raw}"


MACHINERY = ("glue(", "display(HTML(", "<div class=", "display(Markdown(")  # page plumbing, not the lesson


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_no_visible_code_cell_shows_page_plumbing(layouts, page):
    """Code in view (not folded) is the lesson; gluing values and wrapping HTML is not."""
    cells = layouts[(page, SIZES[0][0])]["cells"]
    shown = [c["source"][:100] for c in cells if c["source"] and "tag_hide-input" not in c["tags"]
             and any(m in c["source"] for m in MACHINERY)]
    assert not shown, f"{page}: {len(shown)} visible code cells show page plumbing: {shown[:4]}"


RAW_OUTPUT = {"None": r"\bNone\b", "NaN": r"\bnan\b|\bNaN\b", "negative zero": r"[-−]0(\.0+)?(%|\b)(?![.\d])",
              "floating-point noise": r"\d[eE]-1[5-9]\b"}


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_outputs_print_no_raw_values(layouts, page):
    """What a cell prints reads as numbers: no None, NaN, negative zero or 1e-17."""
    import re

    text = "\n".join(c["output"] for c in layouts[(page, SIZES[0][0])]["cells"])
    found = {name: sorted(set(m.group(0) for m in re.finditer(pattern, text)))[:3]
             for name, pattern in RAW_OUTPUT.items() if re.search(pattern, text)}
    context = {name: [text[max(0, m.start() - 50):m.end() + 20].replace("\n", " ")
                      for m in list(re.finditer(pattern, text))[:2]] for name, pattern in RAW_OUTPUT.items()}
    assert not found, f"{page} prints {found}: {[context[n] for n in found]}"


@pytest.mark.parametrize("page", PAGES)
def test_no_injected_parameters_or_assertion_cell_on_the_page(layouts, page):
    cells = layouts[(page, SIZES[0][0])]["cells"]
    injected = [c for c in cells if "tag_injected-parameters" in c["tags"]]
    assert not injected, f"{page} shows papermill's injected parameters"
    checks = [c["source"][:120] for c in cells
              if any(line.lstrip().startswith("assert ") for line in c["source"].splitlines())]
    assert not checks, f"{page} shows assertion cells: {checks}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_this_run_closes_the_chapter(layouts, page):
    tables = [t for t in layouts[(page, SIZES[0][0])]["tables"] if t["visible"]]
    firsts = [t["first"] for t in tables]
    assert "This run" in firsts, f"{page} has no 'This run' table (tables start with {firsts[:5]})"
    after = firsts[firsts.index("This run") + 1:]
    assert not after, f"{page}: tables follow 'This run' ({after[:5]}); the page's provenance comes last"


@pytest.mark.parametrize("case", CHAPTER_CASES, ids=case_id)
def test_the_answer_is_on_the_first_screen(layouts, case):
    """A chapter's first verdict badge or figure lies within the first screen (issue 25)."""
    result = layouts[case]
    assert result["answer_top"] is not None, f"{case_id(case)}: no verdict badge or figure on the page"
    assert result["answer_top"] < result["screen"], (
        f"{case_id(case)}: the first verdict badge or figure starts {result['answer_top']} px down, below the "
        f"first {result['screen']}-px screen")


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_csv_downloads_resolve_to_data(layouts, page):
    links = layouts[(page, SIZES[0][0])]["csv"]
    assert links, f"{page} offers no CSV download"
    for href in links:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc, f"{page}: CSV link {href} leaves the book"
        path = ((BOOK_HTML / page).parent / unquote(parts.path)).resolve()
        assert BOOK_HTML.resolve() in path.parents, f"{page}: CSV link {href} leaves the book"
        assert path.is_file() and path.stat().st_size > 0, f"{page}: CSV link {href} does not resolve to data"
        header = path.read_text().splitlines()[0]
        assert "," in header and len(path.read_text().splitlines()) >= 2, f"{page}: {href} holds no table"
