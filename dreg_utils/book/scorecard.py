"""The scorecard: one row per published claim the book tests, shown on the front page and on
the findings page, both generated from :data:`ROWS`.

Each chapter glues, for each of its rows, five values with :func:`glue_row`: the paper's value,
ours (the estimate with its interval, or a short phrase), the verdict as a coloured badge (one of
:data:`dreg_utils.verdicts.VERDICTS`), the rule that turned the interval into that verdict, and the
details (the full statistics). The pages paste them
with myst-nb's cross-document ``{glue}`` role, so the build fails (``-W``) when a chapter did not
glue a row, and every value on both pages comes from the executed notebooks of this build.
:func:`write_scorecards` writes the two MyST snippets that ``book/intro.md`` and
``book/findings.md`` include.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write_text
from ..validation import check_choice
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTLY, VERDICTS
from ..vocabulary import FAMILIES
from .chapters import CHAPTER_TITLES

NOT_RUN = "not run"  # a row whose chapter did not run the claim's configuration
# sphinx-design's colour of each verdict badge.
BADGE_COLOURS = {HOLDS: "success", PARTLY: "warning", FAILS: "danger", INCONCLUSIVE: "muted",
                 NOT_RUN: "light"}
EXECUTED_DOC = "/book/executed"  # where the book's executed notebooks are, from the book root
FIELDS = ("paper", "ours", "verdict", "rule", "details")


@dataclass(frozen=True)
class Row:
    """One claim of the scorecard: its glue-key stem, the claim in a few words, where the paper
    states it, the chapter that tests it and the section id on that page that holds the evidence."""
    key: str
    claim: str
    where: str
    chapter: str
    section: str = "verdict"


_DREG, _TTT = "DREG paper", "Teaching the Teacher"
_COST_SECTION = "one-training-step-method-by-method"
ROWS: tuple[Row, ...] = (
    *(Row(f"synthetic_{family}", f"DREG cuts the p90 gradient norm ({family} family)",
          f"{_DREG}, Tables 1-2", "01_synthetic_families") for family in FAMILIES),
    Row("synthetic_weight_decay", "DREG beats tuned weight decay at matched validation MSE",
        "referee's baseline (DREG paper, Tables 1-2 setting)", "01_synthetic_families",
        "against-tuned-weight-decay"),
    Row("seed_stability", "DREG makes retrained models more alike across seeds",
        f"{_DREG}, Sections 1-2 (training stability)",
        "03_statistical_tests"),
    Row("mnist_claim1", "DREG lowers p99 and p99/mean at a modest accuracy cost",
        f"{_DREG}, Section 6.3, finding 1", "03_statistical_tests"),
    Row("mnist_claim2", "DREG shrinks the tail more than the bulk", f"{_DREG}, Section 6.3, finding 2",
        "03_statistical_tests"),
    Row("mnist_claim3", "A smooth activation alone does not tame the tail",
        f"{_DREG}, Section 6.3, finding 3", "03_statistical_tests"),
    Row("mnist_claim4", "DREG is more accurate than SN; SN cuts the tail more",
        f"{_DREG}, Section 6.3, finding 4", "03_statistical_tests"),
    Row("mnist_claim5", "Tails grow with capacity; DREG lowers them at every size",
        f"{_DREG}, Section 6.3, finding 5", "03_statistical_tests"),
    Row("mnist_frontier", "DREG suppresses tails more effectively than SN and IGP (matched accuracy)",
        f"{_DREG}, Section 6.3", "02_mnist_sweep", "the-matched-effect-frontier"),
    Row("dreg_cost", "The CR-penalty costs about one first-order step", f"{_DREG}, Section 2",
        "06_performance", _COST_SECTION),
    Row("dreg_memory", "The CR-penalty avoids the memory of double backpropagation", f"{_DREG}, Section 2",
        "06_performance", "peak-memory-per-training-step"),
    Row("ttt_improvement", "A Jacobian-regularised teacher improves its symbolic student",
        f"{_TTT}, results", "04_sr_distillation"),
    Row("ttt_teacher", "The teacher keeps its accuracy under the penalty", f"{_TTT}, results",
        "04_sr_distillation"),
    Row("ttt_tree", "Tree students profit less than symbolic ones (the paper: trees gain nothing)", f"{_TTT}, results", "04_sr_distillation"),
    Row("ttt_cost", "The exact Jacobian penalty costs about 10x", f"{_TTT}, cost discussion",
        "06_performance", _COST_SECTION),
)
ROW_KEYS = tuple(row.key for row in ROWS)


def glue_key(key: str, field: str) -> str:
    """The glue name of one field of one row, e.g. ``sc_mnist_claim1_verdict``."""
    check_choice("key", key, ROW_KEYS)
    check_choice("field", field, FIELDS)
    return f"sc_{key}_{field}"


def badge_html(verdict: str) -> str:
    """A verdict as a sphinx-design badge (coloured by :data:`BADGE_COLOURS`)."""
    check_choice("verdict", verdict, BADGE_COLOURS)
    colour = BADGE_COLOURS[verdict]
    return (f'<span class="sd-sphinx-override sd-badge sd-bg-{colour} sd-bg-text-{colour} '
            f'verdict-badge">{html.escape(verdict)}</span>')


def _text(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


_GLUED: dict[str, str] = {}  # the verdict of each row glued in this kernel (a chapter's opening counts them)


def glued_verdicts() -> dict[str, str]:
    """The verdict of each row :func:`glue_row` glued in this kernel, by row key."""
    return dict(_GLUED)


def glue_row(key: str, paper: str, ours: str, verdict: str, rule: str, details: str) -> None:
    """Glue one scorecard row from a chapter (called in the chapter's kernel): ``paper`` and
    ``ours`` as short text (ours: the estimate with its interval where there is one), ``verdict``
    as a badge, ``rule`` as the sentence that decides the verdict (e.g.
    :data:`dreg_utils.verdicts.INTERVAL_RULE`), ``details`` as the full statistics."""
    from IPython.display import HTML
    from myst_nb import glue

    values = {"paper": _text("paper", paper), "ours": _text("ours", ours),
              "rule": _text("rule", rule), "details": _text("details", details)}
    for field, value in values.items():
        glue(glue_key(key, field), value, display=False)
    glue(glue_key(key, "verdict"), HTML(badge_html(verdict)), display=False)
    _GLUED[key] = verdict


def _ref(row: Row, field: str) -> str:
    return f"{{glue}}`{EXECUTED_DOC}/{row.chapter}.ipynb::{glue_key(row.key, field)}`"


def _text_ref(row: Row, field: str) -> str:
    return f"{{glue:text}}`{EXECUTED_DOC}/{row.chapter}.ipynb::{glue_key(row.key, field)}:s`"


def _evidence(row: Row) -> str:
    """A link to the section of the chapter that holds the row's evidence."""
    return f"[{CHAPTER_TITLES[row.chapter]}](/{EXECUTED_DOC.strip('/')}/{row.chapter}.ipynb#{row.section})"


def front_markdown() -> str:
    """The front page's short scorecard: claim, ours, verdict (a MyST list-table)."""
    lines = [":::{list-table}", ":header-rows: 1", ":widths: 56 26 18", ":class: scorecard scorecard-front",
             "", "* - claim", "  - ours", "  - verdict"]
    for row in ROWS:
        lines += [f"* - {row.claim}", f"  - {_text_ref(row, 'ours')}", f"  - {_ref(row, 'verdict')}"]
    return "\n".join(lines + [":::", ""])


def findings_markdown() -> str:
    """The findings page's scorecard: claim with a link to its evidence and the details in a
    dropdown, the paper's value, ours, verdict (a MyST list-table)."""
    legend = ", ".join(f"{{bdg-{BADGE_COLOURS[v]}}}`{v}`" for v in VERDICTS)
    lines = [f"Verdicts: {legend}.", "",
             "::::{list-table}", ":header-rows: 1", ":widths: 46 18 18 18", ":class: scorecard scorecard-findings",
             "", "* - claim", "  - paper", "  - ours", "  - verdict"]
    for row in ROWS:
        lines += [f"* - {row.claim}. Evidence: {_evidence(row)}.", "",
                  "    :::{dropdown} details", "    :class-container: scorecard-details",
                  f"    {_text_ref(row, 'details')}", "", f"    Rule: {_text_ref(row, 'rule')}.", "",
                  f"    Source: {row.where}.", "    :::",
                  f"  - {_text_ref(row, 'paper')}", f"  - {_text_ref(row, 'ours')}", f"  - {_ref(row, 'verdict')}"]
    return "\n".join(lines + ["::::", ""])


def write_scorecards(out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``scorecard_front.md`` and ``scorecard_findings.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    front, findings = out_dir / "scorecard_front.md", out_dir / "scorecard_findings.md"
    atomic_write_text(front, front_markdown())
    atomic_write_text(findings, findings_markdown())
    return front, findings
