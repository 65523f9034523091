"""Studies return data; the book presents it: no module under dreg_utils/studies builds HTML,
Markdown or LaTeX in its string literals (docstrings aside), and no study draws."""
import ast
import re
from pathlib import Path

import pytest

STUDIES = Path(__file__).resolve().parents[1] / "dreg_utils" / "studies"
HOLE = "\x00"  # stands for an f-string's {...}
MARKUP = {
    "HTML tag": re.compile(r"</?(div|span|br|p|a|b|i|em|strong|code|pre|table|tr|td|th|img|figure|figcaption"
                           r"|details|summary|sup|sub|ul|ol|li|h[1-6])(\s[^<>]*)?/?>", re.I),
    "Markdown bold": re.compile(r"\*\*[^*\s\d(]"),
    "Markdown table rule": re.compile(r"\|\s*:?-{3,}"),
    "Markdown code fence": re.compile(r"```"),
    "Markdown heading": re.compile(r"(^|\n)#{1,6} "),
    "Markdown link": re.compile(r"\]\((?!\s)[^)\s]+\)"),
    "MyST role or directive": re.compile(r"\{(glue|doc|ref|cite|numref|eq|math|bdg)[^}]*\}`|:::"),
    "LaTeX display math": re.compile(r"\$\$"),
    "LaTeX inline math": re.compile(r"\$[^$\s][^$]*\$"),
    "LaTeX command": re.compile(r"\\(frac|hat|tilde|lambda|alpha|mathbb|mathrm|mathcal|qquad|quad|sum|sqrt|cdot"
                                r"|left|right|text|operatorname|partial|nabla)(?![a-z])"),
}


def literal_text(node: ast.AST) -> str | None:
    """The text of a string literal or f-string (each replacement field as HOLE); None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
    return None


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and its functions."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            found.add(id(body[0].value))
    return found


def markup_in(source: str) -> list[tuple[int, str, str]]:
    """(line, kind, text) of every string literal in ``source`` that builds markup."""
    tree = ast.parse(source)
    skip, hits = docstrings(tree), []
    inner = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inner:
            continue
        text = literal_text(node)
        if text is None:
            continue
        hits += [(node.lineno, kind, text) for kind, pattern in MARKUP.items() if pattern.search(text)]
    return hits


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.py")), ids=lambda p: p.name)
def test_no_study_builds_html_markdown_or_latex(path):
    hits = markup_in(path.read_text())
    assert not hits, "\n".join(f"{path.name}:{line}: {kind} in {text!r}" for line, kind, text in hits)


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.py")), ids=lambda p: p.name)
def test_no_study_draws(path):
    imported = {alias.name for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(ast.parse(path.read_text()))
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.split(".")[0] in ("matplotlib", "seaborn", "IPython", "myst_nb")}


@pytest.mark.parametrize("snippet, kind", [
    ('f"**{name}**, teacher at {t}"', "Markdown bold"),
    ('"<div class=\\"dreg-scroll\\">"', "HTML tag"),
    ('f"{a}<br>{b}"', "HTML tag"),
    ('"| a | b |\\n|---|---|"', "Markdown table rule"),
    ('rf"\\hat y = {latex}"', "LaTeX command"),
    ('"$$x$$"', "LaTeX display math"),
    ('f"at $\\\\lambda = {lam:g}$"', "LaTeX inline math"),
    ('"[runs.csv](data/02/runs.csv)"', "Markdown link"),
    ('"```python"', "Markdown code fence"),
    ('"{doc}`the chapter <06_performance>`"', "MyST role or directive"),
])
def test_the_scan_finds_markup(snippet, kind):
    assert kind in {found for _, found, _ in markup_in(f"x = {snippet}\n")}


@pytest.mark.parametrize("snippet", [
    '"x0**2 + sin(x1); x0 in [-2, 2]"', '"0.5**n"', '"p99/mean"', '"a|b"', '"ig_p99_over_mean"',
    'r"^(\\d+)-(\\d+)$"', '"diverged (n/n)"', '"lambda=0"', '"mean ± sd"', '"<="', '"2 ** k"',
    '"""A docstring with **bold**, $x$ and <div>."""',
])
def test_the_scan_leaves_data_alone(snippet):
    assert markup_in(f"{snippet}\n") == []
