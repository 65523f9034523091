"""Studies return data; the book presents it: no module under dreg_utils/studies builds HTML,
Markdown or LaTeX in its string literals (docstrings aside), writes sentences for a page, or draws.

A sentence is a string literal longer than ``SENTENCE_CHARS`` characters with a space in it;
messages to a person at a terminal are exempt (raise statements and assert messages, print,
logging and warnings calls, argparse help, and the descriptions of a valid value that refusals
quote). Shorter prose (a label, a note of a few words) is not caught: the scan is a tripwire for
verdicts and conclusions built in a study, not a proof that none is there. Nor does a study format a
number into words (an f-string with a format spec such as ``:.2f`` and a space in its text): it
returns the number, and the book words it."""
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


SENTENCE_CHARS = 60  # a longer literal with a space in it reads as prose
MESSAGE_CALLS = {"print", "warn", "debug", "info", "warning", "error", "exception", "critical",
                 "Kind"}  # Kind(description, check): the kind of value a cache record's field must hold
MESSAGE_KEYWORDS = {"help", "description", "prog", "give", "what"}  # argparse; a constraint's valid values
COMMAND_LINES = {"code_fingerprints.py"}  # make test's check of the studies' code, not a study: it prints


def messages(tree: ast.AST) -> set[int]:
    """ids of the nodes inside messages to a person at a terminal (see the module docstring)."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) or (isinstance(node, ast.Assert) and node.msg):
            roots.append(node)
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            quoted = [k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS]
            roots += [node] if name in MESSAGE_CALLS else quoted
    return {id(inner) for root in roots for inner in ast.walk(root)}


def sentences_in(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``source`` longer than ``SENTENCE_CHARS`` (an
    f-string's replacement field counts one) with a space in it, outside docstrings and messages."""
    tree = ast.parse(source)
    skip = docstrings(tree) | messages(tree)
    inner = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found = []
    for node in ast.walk(tree):
        text = None if id(node) in skip or id(node) in inner else literal_text(node)
        if text is not None and len(text) > SENTENCE_CHARS and " " in text:
            found.append((node.lineno, text.replace(HOLE, "{}")))
    return found


@pytest.mark.parametrize("path", [p for p in sorted(STUDIES.glob("*.py")) if p.name not in COMMAND_LINES],
                         ids=lambda p: p.name)
def test_no_study_writes_sentences(path):
    """Neither sentences nor numbers formatted into words: a study returns the numbers."""
    hits = sorted(sentences_in(path.read_text()) + formatted_phrases(path.read_text()))
    assert not hits, "build these in the chapter's dreg_utils/book module:\n" + "\n".join(
        f"{path.name}:{line}: {text!r}" for line, text in hits)


@pytest.mark.parametrize("snippet", [
    'f"On {dataset}, the variant closest to the paper\'s +{paper:.0f}% is {variant}: {gain:+.0f}% (95% interval"',
    'lines.append(f"{method.upper()} vs BASE: lower regret under both optimisers in {both}/{n} cells, "\n'
    '             f"higher under both in {worse}/{n}")',
    'return "No variant comes within fifteen points of the paper\'s reductions at that test MSE."',
])
def test_the_scan_finds_sentences(snippet):
    assert len(sentences_in(f"{snippet}\n")) == 1


@pytest.mark.parametrize("snippet", [
    'raise ValueError(f"paper_scale_datasets={d} repeats dataset={x!r}, which already runs with all its images")',
    'assert ok, f"every run of the grid must have finished before its summary is taken: {bad}"',
    'log.warning(f"cache record {path} is unreadable and is recomputed now, because: {reason}")',
    'print(f"recorded {n} studies ({m} modules) in {path}, each with its STUDY_VERSION")',
    'Nullable(PathTo("file", give="the runs.csv that a sweep wrote, or None to use (or create) the default"))',
    'STORED = Kind("sympy.srepr text of a formula over the inputs z_<name> (read_srepr)", check)',
    '"""A docstring: a sentence of more than sixty characters, which says what the module does."""',
    'COLUMNS = "ig_p99_over_mean,ig_p99,ig_mean,test_acc,train_loss,train_seconds,group_size"',
    'SEED_VARIANCE = "seed variance of test MSE, per family: lambda / lambda=0"',
])
def test_the_scan_leaves_messages_and_data_alone(snippet):
    assert sentences_in(f"{snippet}\n") == []


def formatted_phrases(source: str) -> list[tuple[int, str]]:
    """(line, text) of every f-string in ``source`` that formats a value (a format spec such as
    ``:.2f`` or ``:g``) into words (its literal text has a space), outside docstrings and messages.
    A key such as ``f"{method}_{lam:g}"`` has no space and is data."""
    tree = ast.parse(source)
    skip = docstrings(tree) | messages(tree)
    return [(node.lineno, literal_text(node).replace(HOLE, "{}")) for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr) and id(node) not in skip
            and any(isinstance(v, ast.FormattedValue) and v.format_spec is not None for v in node.values)
            and " " in "".join(v.value for v in node.values if isinstance(v, ast.Constant))]


@pytest.mark.parametrize("snippet, found", [
    ('note = "; ".join(f"{act.upper()}_BASE {m:.2f} at {caps[0]}" for act in acts)', 1),
    ('label = f"lambda={lam:g} / lambda=0: {metric}"', 1),
    ('rows.append({"teacher": f"best lambda = {best:g}"})', 1),
    ('key = f"{r.method}_{float(r.lam):g}"', 0),  # a key: no space
    ('label = f"DREG vs BASE at {hidden}"', 0),  # no number formatted
    ('raise ValueError(f"lambda={lam:g} is not in the table")', 0),  # a message
])
def test_the_scan_finds_numbers_formatted_into_words(snippet, found):
    assert len(formatted_phrases(f"{snippet}\n")) == found


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
