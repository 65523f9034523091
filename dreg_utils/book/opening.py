"""The opening of every chapter: the question in one line, this run's answer, the chapter's
verdicts beside the papers' values (its own scorecard rows) and its key figure, so that a reader
has the result on the first screen; how the run was made ("This run") and how to re-run the
page come at its end.

A chapter's notebook writes the opening right under its title (``tests/test_opening.py``
checks each one against :func:`opening_markdown`); its cells glue what the opening pastes:
:data:`ANSWER` (:func:`glue_answer`) and :data:`FIGURE` (the key figure, :func:`glue_figure`).
"""
from __future__ import annotations

from ..validation import check_choice
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTLY, VERDICTS
from .chapters import CHAPTER_SETTINGS
from .scorecard import NOT_RUN, ROWS, glue_key, glued_verdicts

ANSWER = "opening_answer"  # the glue key of a chapter's answer
FIGURE = "opening_figure"  # the glue key of a chapter's key figure
QUESTION = "**Question.**"  # how the question's line begins
# The name each chapter's key figure is cited by.
FIGURE_NAMES = {"01_synthetic_families": "fig-lambda-sweep", "02_mnist_sweep": "fig-accuracy-vs-p99",
                "03_statistical_tests": "fig-pair-ratios", "04_sr_distillation": "fig-distillation",
                "05_surrogate_optimization": "fig-regret", "06_performance": "fig-penalty-cost",
                "07_synthetic_ablation": "fig-ablation", "08_distillation_ablation": "fig-distillation-ablation",
                "09_own_model": "fig-own-model"}


def chapter_rows(chapter: str) -> list:
    """The scorecard rows whose evidence is in ``chapter`` (a notebook's file stem)."""
    check_choice("chapter", chapter, CHAPTER_SETTINGS)
    return [row for row in ROWS if row.chapter == chapter]


def verdict_table(chapter: str) -> str:
    """MyST: the list-table of ``chapter``'s own scorecard rows (claim, the paper's value, ours,
    verdict), pasted from the glue keys the chapter's cells write; empty for a chapter without rows."""
    rows = chapter_rows(chapter)
    if not rows:
        return ""
    lines = [":::{list-table}", ":header-rows: 1", ":widths: 38 18 22 22", ":class: scorecard scorecard-chapter",
             "", "* - claim", "  - paper", "  - ours", "  - verdict"]
    for row in rows:
        lines += [f"* - {row.claim}", *(f"  - {{glue:text}}`{glue_key(row.key, field)}:s`" for field in ("paper", "ours")),
                  f"  - {{glue}}`{glue_key(row.key, 'verdict')}`"]
    return "\n".join([*lines, ":::"])


def figure_directive(chapter: str, alt: str, caption: str) -> str:
    """MyST: the ``{glue:figure}`` that pastes ``chapter``'s key figure under its name."""
    return "\n".join([f"```{{glue:figure}} {FIGURE}", f":name: {FIGURE_NAMES[chapter]}", f":alt: {alt}", "",
                      caption, "```"])


def opening_markdown(chapter: str, question: str, alt: str = "", caption: str = "") -> str:
    """MyST: the opening of ``chapter`` under its title: the question, the glued answer, the
    verdict table (chapters with scorecard rows) and the key figure (chapters in
    :data:`FIGURE_NAMES`, with its ``alt`` text and ``caption``)."""
    parts = [f"{QUESTION} {question}", f"**Answer.** {{glue:md}}`{ANSWER}`"]
    if table := verdict_table(chapter):
        parts.append(table)
    if chapter in FIGURE_NAMES:
        if not alt.strip() or not caption.strip():
            raise ValueError(f"{chapter} opens with a figure: give its alt text and caption")
        parts.append(figure_directive(chapter, alt, caption))
    return "\n\n".join(parts)


def tally_sentence(chapter: str, profile: str) -> str:
    """One sentence counting the verdicts ``chapter`` glued in this kernel, e.g. "In this run
    (profile `default`), of the 6 claims below 1 holds, 4 hold partly and 1 is inconclusive".
    Refuses when a row of the chapter was not glued (the table would show a hole)."""
    rows, glued = chapter_rows(chapter), glued_verdicts()
    missing = [row.key for row in rows if row.key not in glued]
    if missing:
        raise ValueError(f"{chapter} has not glued the scorecard rows {missing}; glue them before the answer")
    words = {HOLDS: ("holds", "hold"), PARTLY: ("holds partly", "hold partly"), FAILS: ("does not hold", "do not hold"),
             INCONCLUSIVE: ("is inconclusive", "are inconclusive"), NOT_RUN: ("was not run", "were not run")}
    if len(rows) == 1:
        return f"In this run (profile `{profile}`) the claim below {words[glued[rows[0].key]][0]}"
    counts = {v: sum(glued[row.key] == v for row in rows) for v in (*VERDICTS, NOT_RUN)}
    parts = [f"{n} {words[v][n != 1]}" for v, n in counts.items() if n]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"In this run (profile `{profile}`), of the {len(rows)} claims below {listed}"


def verdict_answer(chapter: str, profile: str) -> str:
    """The answer of a chapter with scorecard rows: :func:`tally_sentence`, and links to the
    sections of the page that decide its rows and state their rules."""
    sections = dict.fromkeys(row.section for row in chapter_rows(chapter))
    links = ", ".join(f"[{section.replace('-', ' ').capitalize()}](#{section})" for section in sections)
    return (tally_sentence(chapter, profile) + "; each row gives the paper's value, ours (with its 95% interval "
            f"where there is one) and the verdict, and the section that decides it states its rule ({links}).")


def glue_answer(text: str) -> None:
    """Glue ``text`` (Markdown, at most three sentences, its numbers from this run) as the chapter's answer."""
    from IPython.display import Markdown
    from myst_nb import glue  # the book extra: pages run in a kernel

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"the answer must be a non-empty string, got {text!r}")
    glue(ANSWER, Markdown(text.strip()), display=False)


def glue_figure(figure) -> None:
    """Glue ``figure`` (a matplotlib Figure) as the chapter's key figure, pasted by its opening."""
    import matplotlib.pyplot as plt
    from myst_nb import glue  # the book extra: pages run in a kernel

    glue(FIGURE, figure, display=False)
    plt.close(figure)
