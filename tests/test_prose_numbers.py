"""No number measured by a run is typed into a page's prose.

Every decimal, percentage, ratio ("2.0x") or duration ("34 s") in the Markdown of the chapters and
the book's pages must either be glued from the run (``{glue:text}`...```, removed before the scan),
sit in maths, code or a link, name a section ("Section 6.3"), or be a value the code defines: a
number the papers publish (:mod:`dreg_utils.published`), a threshold of the verdict rules or a
study's threshold (an upper-case module constant of :mod:`dreg_utils.claims` or
:mod:`dreg_utils.verdicts`, or one of :data:`THRESHOLDS`), or one of the few constants of
:data:`PROTOCOL` below. When such a constant changes, the prose that typed its old value fails
here instead of going stale.

Counts and shapes spelled out in words state measurements too ("four of the five families",
"all five", "in every family", "monotonically in lambda"): each phrase of :data:`COUNT_PHRASES`
must be glued (or computed by the code that words it), unless :data:`COUNT_ALLOWED` lists it on
its page as true by construction, with the reason.
"""
import ast
import importlib
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "notebooks").glob("*.md")) + sorted(
    p for p in (ROOT / "book").glob("*.md"))
CONSTANT_MODULES = ("dreg_utils.published", "dreg_utils.claims", "dreg_utils.verdicts")
# The studies' thresholds that prose may name (each a module constant).
THRESHOLDS = ("surrogate_verdicts.PREDICTS_RHO", "surrogate_verdicts.WORTH_MAX_MSE_CHANGE_PCT",
              "synthetic.COLLAPSE_FRACTION", "distillation_tables.STABLE_BASE")
# Constants typed in prose that no module defines, each with its reason.
PROTOCOL = {
    0.1307: "MNIST normalisation mean (DREG paper, Appendix A.1)",
    0.3081: "MNIST normalisation standard deviation (DREG paper, Appendix A.1)",
    60: "the distillation datasets' train share (%)", 20: "their validation and test shares (%)",
    95: "the confidence level of every interval (%)",
    0.1: "the synthetic families' label-noise standard deviation", 0.01: "its variance, the MSE floor",
    1: "the agreement of a recovered formula's terms (%)",
    0.0625: "the sign test's floor with 5 pairs, 2 * 0.5**5",
    100: "arithmetic illustration: a doubling is +100%", 50: "arithmetic illustration: a halving is -50%",
    3.11: "the oldest Python the library supports",
}
REMOVE = [re.compile(p, re.S | re.M) for p in (
    r"^```.*?^```", r"^:::+.*?$", r"\{glue[^}]*\}`[^`]*`", r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"`[^`\n]*`",
    r"\]\([^)]*\)", r"\A---\n.*?\n---\n", r"<[^>]+>", r"\{[a-z:]+\}`[^`]*`")]
NUMBER = re.compile(r"(?<![\w.\-])[−-]?(\d+(?:\.\d+)?(?:e-?\d+)?)\s*(%|x\b|×|\s?s\b| seconds| minutes)?")
_N = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+)"
_UNITS = r"(?:famil(?:y|ies)|datasets?|capacit(?:y|ies)|seeds?|variants?|protocols?|claims?|rows?|arms?)"
# Phrases that state a measured count or shape.
COUNT_PHRASES = [re.compile(p, re.I) for p in (
    rf"\b{_N} of (?:the |its |our |these |those |all )?{_N}\b",  # "four of the five", "3 of 5"
    rf"\ball {_N}\b",  # "all five"
    rf"\b(?:in|on|at|for|across) (?:every|all(?: the)?|no|none of the) {_UNITS}\b",  # "in every family"
    rf"\b(?:most|half|the majority) of (?:the )?{_UNITS}\b",  # "most of the families"
    r"\bmonoton\w*",  # "monotonically in lambda"
)]
# (page, phrase as matched, lower case): counts true by construction, each with its reason.
COUNT_ALLOWED = {
    ("01_synthetic_families.md", "two of the ten"): "the sparse family's definition: its target uses two inputs",
    ("02_mnist_sweep.md", "all 60"): "the paper profile's data: all 60,000 training images",
    ("06_performance.md", "at every capacity"): "the memory rule's definition, not its outcome",
    ("findings.md", "one of four"): "the number of verdict words",
}
SECTION = re.compile(r"(Section|Sections|Appendix|Table|Tables|Figure|Fig\.|eq\.|eqs\.|Eq\.)\s*[A-Z]?\.?$")


def _numbers_of(module: str) -> set[float]:
    """Every number literal of ``module``'s upper-case module-level constants."""
    mod = importlib.import_module(module)
    tree = ast.parse(Path(mod.__file__).read_text())
    found = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if node.__class__ in (ast.Assign, ast.AnnAssign) and names and all(n.isupper() for n in names) and node.value:
            found |= {float(c.value) for c in ast.walk(node.value)
                      if isinstance(c, ast.Constant) and isinstance(c.value, (int, float)) and not isinstance(c.value, bool)}
    return found


ALLOWED = (set().union(*(_numbers_of(m) for m in CONSTANT_MODULES)) | {float(k) for k in PROTOCOL}
           | {float(getattr(importlib.import_module(f"dreg_utils.studies.{name.split('.')[0]}"), name.split(".")[1]))
              for name in THRESHOLDS})


def allowed(value: float) -> bool:
    """Whether ``value`` (as typed) is a defined constant, a percentage of one, or a fraction of one."""
    return any(math.isclose(value, v, rel_tol=1e-9) or math.isclose(value, 100 * v, rel_tol=1e-9)
               or math.isclose(value, abs(v), rel_tol=1e-9) for v in ALLOWED)


def typed_numbers(text: str) -> list[str]:
    """The numbers of ``text`` (Markdown, code cells included) that its prose types and no rule allows."""
    for pattern in REMOVE:
        text = pattern.sub(" ", text)
    typed = []
    for match in NUMBER.finditer(text):
        digits, unit = match.group(1), match.group(2)
        if "." not in digits and not unit and "e" not in digits:
            continue  # a plain integer: a count or a label, not a measurement
        if SECTION.search(text[max(0, match.start() - 12):match.start()]):
            continue
        if not allowed(float(digits)):
            typed.append(match.group(0).strip())
    return typed


def spelled_counts(text: str) -> list[str]:
    """The phrases of ``text`` (Markdown) outside glue, code and maths that :data:`COUNT_PHRASES`
    finds, lower case."""
    for pattern in REMOVE:
        text = pattern.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    return [m.group(0).lower() for pattern in COUNT_PHRASES for m in pattern.finditer(text)]


def _prose(page: Path) -> str:
    return "\n".join(line for line in page.read_text().splitlines() if not line.startswith("#|"))


def test_the_scan_finds_typed_measurements_and_passes_glued_ones():
    prose = ("The sweep took 34 s and DREG cut p90 by 42.5% (ratio 2.37x). "
             "It cut p99 by {glue:text}`p99_cut:.1f`% in Section 6.3; the paper reports 78.9%. "
             "\n```{code-cell} ipython3\nx = 3.14\n```\n$\\lambda = 0.37$ and `lam=0.2`.")
    assert typed_numbers(prose) == ["34 s", "42.5%", "2.37x"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_measured_number_is_typed_into_prose(page):
    assert typed_numbers(_prose(page)) == [], (f"{page.name} types numbers into its prose: glue them from the run, "
                                       "or define the constant in code (see this test's docstring)")


def test_the_count_scan_finds_spelled_out_counts_and_passes_glued_ones():
    """Reproduction: chapter 07 typed "four of the five" families and chapter 01 "in every family,
    monotonically in lambda", measured counts and shapes the number scan cannot see."""
    prose = ("The penalty cuts less on four of the five families; all five fall, in every family, "
             "monotonically in $\\lambda$. Most of the datasets agree; 3 of 5 seeds do. It holds in "
             "{glue:text}`n_holding` of the {glue:text}`n_families` families, for each family it sweeps.")
    assert spelled_counts(prose) == ["four of the five", "3 of 5", "all five", "in every family",
                                     "most of the datasets", "monotonically"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_measured_count_is_spelled_out_in_prose(page):
    found = [phrase for phrase in spelled_counts(_prose(page)) if (page.name, phrase) not in COUNT_ALLOWED]
    assert found == [], (f"{page.name} spells out counts or shapes a run measures: glue them from the run, or "
                         "list them in COUNT_ALLOWED with the reason they are true by construction")


def test_every_allowed_count_is_still_on_its_page():
    pages = {page.name: page for page in PAGES}
    stale = [key for key in COUNT_ALLOWED if key[0] not in pages or key[1] not in spelled_counts(_prose(pages[key[0]]))]
    assert stale == []
