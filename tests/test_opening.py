"""Every chapter opens with its answer (issue 25): the question, this run's answer, its own
verdicts beside the papers' values and its key figure, right under the title; "This run" and
the re-run note at the end."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dreg_utils.book import opening, own_model_text, scorecard, surrogate_text
from dreg_utils.book.chapters import CHAPTER_SETTINGS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(CHAPTER_SETTINGS)


def _opening(chapter: str) -> str:
    """The notebook's text from its title to its first code cell."""
    text = (NOTEBOOKS / f"{chapter}.md").read_text()
    title = re.search(r"^# .*\n", text, re.M)
    return text[title.end():text.index("```{code-cell}", title.end())]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_opens_with_question_answer_verdicts_and_figure(chapter):
    head = _opening(chapter).lstrip("\n")
    question = head.splitlines()[0]
    assert question.startswith(opening.QUESTION) and question.endswith("?"), question
    assert head.index(f"**Answer.** {{glue:md}}`{opening.ANSWER}`") < head.index(f"{{glue:figure}} {opening.FIGURE}")
    # the table holds exactly this chapter's scorecard rows, in the scorecard's words
    assert opening.verdict_table(chapter) in head
    assert head.count("* - ") == len(opening.chapter_rows(chapter)) + bool(opening.chapter_rows(chapter))
    figure = re.search(r"```\{glue:figure\} opening_figure\n:name: (\S+)\n:alt: (.+)\n\n(.+)\n```", head)
    assert figure and figure.group(1) == opening.FIGURE_NAMES[chapter], head[-600:]
    assert len(figure.group(2)) > 40 and len(figure.group(3)) > 40  # alt text and caption say something
    # the whole opening is what opening_markdown writes from that question, alt text and caption
    asked = question.removeprefix(opening.QUESTION).strip()
    assert opening.opening_markdown(chapter, asked, figure.group(2), figure.group(3)) in head


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_glues_its_answer_and_figure_once_and_ends_with_this_run(chapter):
    text = (NOTEBOOKS / f"{chapter}.md").read_text()
    assert text.count("opening.glue_answer(") == 1 and text.count("opening.glue_figure(") == 1
    last_section = text.rsplit("\n## ", 1)[1]
    assert last_section.startswith("This run\n"), last_section[:80]
    assert "display(provenance)" in last_section or "show_sources(ch)" in last_section
    before = text.rsplit("\n## ", 1)[0]
    assert "display(ch.this_run(" not in before and "show_sources(" not in before


def test_every_figure_name_and_row_belongs_to_a_chapter():
    assert set(opening.FIGURE_NAMES) == set(CHAPTER_SETTINGS)
    assert {row.chapter for row in scorecard.ROWS} <= set(CHAPTER_SETTINGS)
    with pytest.raises(ValueError, match="chapter='10_nothing' is not valid"):
        opening.chapter_rows("10_nothing")
    with pytest.raises(ValueError, match="give its alt text and caption"):
        opening.opening_markdown("01_synthetic_families", "Why?")


@pytest.fixture
def glued(monkeypatch):
    """Rows as if a chapter had glued them (no kernel needed)."""
    verdicts: dict[str, str] = {}
    monkeypatch.setattr(scorecard, "_GLUED", verdicts)
    return verdicts


def test_the_tally_counts_the_chapters_glued_verdicts(glued):
    glued.update({"ttt_improvement": "inconclusive", "ttt_teacher": "holds", "ttt_tree": "inconclusive",
                  "mnist_claim1": "does not hold"})  # another chapter's row does not count
    assert opening.tally_sentence("04_sr_distillation", "default") == (
        "In this run (profile `default`), of the 3 claims below 1 holds and 2 are inconclusive")
    glued["mnist_frontier"] = "does not hold"
    assert opening.tally_sentence("02_mnist_sweep", "smoke") == (
        "In this run (profile `smoke`) the claim below does not hold")


def test_the_tally_refuses_a_chapter_that_glued_no_rows(glued):
    glued["ttt_teacher"] = "holds"
    with pytest.raises(ValueError, match=r"has not glued the scorecard rows \['ttt_improvement', 'ttt_tree'\]"):
        opening.tally_sentence("04_sr_distillation", "default")


def test_a_chapter_without_rows_opens_without_a_table():
    assert opening.verdict_table("07_synthetic_ablation") == ""
    block = opening.opening_markdown("07_synthetic_ablation", "Which choice matters?", "a dot plot of gains",
                                     "The gain per variant.")
    assert "list-table" not in block and ":name: fig-ablation" in block


def test_the_surrogate_answer_is_its_dreg_and_sn_lines():
    lines = ["p99/mean vs GD: predicts.", "DREG vs BASE: not worth it - over 4 pairs", "IGPEN vs BASE: mixed",
             "SN, best variant: SN-HIDDEN"]
    where = " The intervals and counts behind each verdict are in the Verdict section."
    assert surrogate_text.answer(lines) == "DREG vs BASE: not worth it. SN, best variant: SN-HIDDEN." + where
    assert surrogate_text.answer(["p99/mean vs GD: predicts."]) == "p99/mean vs GD: predicts." + where


def test_the_own_model_answer_reads_the_summary():
    import pandas as pd

    summary = pd.DataFrame({"activation": ["relu", "relu", "tanh"], "method": ["none", "dreg", "dreg"],
                            "grad_p99_vs_none": [1.0, 0.5, 0.25], "test_mse_vs_none": [1.0, 1.1, 1.2]})
    settings = {"activations": ["relu", "tanh"], "profile": "smoke", "epochs": 3, "seeds": [0]}
    text = own_model_text.answer(summary, settings)
    assert "with relu, dreg 0.50x (test MSE 1.10x); with tanh, dreg 0.25x (test MSE 1.20x)" in text
    assert "profile `smoke`" in text


def test_numbers_that_round_to_zero_print_as_zero():
    """Issue 25: "-0.0%" and "-0.000" read as a sign the data do not have."""
    from dreg_utils.book import distillation_text, tables

    assert tables.with_interval(-0.001, -0.3, 0.04) == "0.0% (95% CI -0.3% to 0.0%)"
    assert tables.fixed(-0.0004, 3) == "0.000" and tables.fixed(0.0, 1, signed=True) == "0.0"
    assert tables.fixed(0.05, 1, signed=True) == "+0.1" and tables.fixed(-2.5e-17, 2) == "0.00"
    assert "undefined" in distillation_text.snr_line(float("nan"), float("nan"), 2)


def test_the_ablation_answer_names_only_what_holds():
    import pandas as pd

    from dreg_utils.book import ablation_text

    summary = pd.DataFrame({"factor": ["base", "epochs", "lam"], "value": ["-", "200", "0.1"], "families": [5, 5, 5],
                            "p90_above_zero": [5, 4, 5], "p90_holds": [5, 0, 2], "mse_negligible": [5, 5, 1]})
    assert ablation_text.synthetic_answer(summary) == (
        "Of the 3 protocols, 2 lower the p90 (95% interval above zero) in every family; 1 reach half the "
        "paper's reduction in every family (base = -), and of those 1 also keep the test-MSE change within +5% "
        "(base = -).")


def test_pdf_bookmarks_take_the_page_title(tmp_path):
    from dreg_utils.book.pdf import page_title

    page = tmp_path / "01_synthetic_families.html"
    page.write_text("<html><head><title>Synthetic families: how much? &#8212; Derivative control</title></head></html>")
    assert page_title(page) == "Synthetic families: how much?"
    page.write_text("<html><head></head></html>")
    assert page_title(page) == "01_synthetic_families"
