"""The scorecard registry and the MyST it generates for the front and findings pages."""
import base64
import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from dreg_utils.book import chapters, plotting, scorecard
from dreg_utils.verdicts import VERDICTS

GLUE = re.compile(r"\{glue(?::text)?\}`/book/executed/(\w+)\.ipynb::(sc_\w+?)(?::s)?`")


def table_rows(markdown: str) -> list[str]:
    """The body rows of a MyST list-table: each starts with '* - '; the first is the header."""
    return markdown.split("\n* - ")[2:]


@pytest.mark.parametrize("verdict, colour", [("holds", "success"), ("partly", "warning"),
                                             ("does not hold", "danger"), ("inconclusive", "muted")])
def test_each_verdict_is_a_badge_of_its_colour(verdict, colour):
    html = scorecard.badge_html(verdict)
    assert f"sd-bg-{colour}" in html and "sd-badge" in html and f">{verdict}</span>" in html


def test_every_verdict_has_a_badge_and_others_are_refused():
    assert set(VERDICTS) <= set(scorecard.BADGE_COLOURS)
    with pytest.raises(ValueError, match="verdict.*'holds'"):
        scorecard.badge_html("mostly")


def test_glue_keys_name_known_rows_and_fields():
    assert scorecard.glue_key("mnist_claim1", "verdict") == "sc_mnist_claim1_verdict"
    with pytest.raises(ValueError, match="key"):
        scorecard.glue_key("mnist_claim9", "ours")
    with pytest.raises(ValueError, match="field"):
        scorecard.glue_key("mnist_claim1", "p_value")


def test_rows_are_distinct_and_point_at_chapters_that_exist():
    assert len(set(scorecard.ROW_KEYS)) == len(scorecard.ROWS) >= 15
    from pathlib import Path
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    assert all((notebooks / f"{row.chapter}.md").is_file() for row in scorecard.ROWS)
    assert {row.chapter for row in scorecard.ROWS} <= set(chapters.CHAPTER_TITLES)


def test_front_scorecard_has_one_row_per_claim_with_ours_and_a_badge():
    rows = table_rows(scorecard.front_markdown())
    assert len(rows) == len(scorecard.ROWS)
    for text, row in zip(rows, scorecard.ROWS):
        assert text.startswith(row.claim)
        assert GLUE.findall(text) == [(row.chapter, f"sc_{row.key}_ours"), (row.chapter, f"sc_{row.key}_verdict")]
        assert f"{{glue}}`/book/executed/{row.chapter}.ipynb::sc_{row.key}_verdict`" in text  # html badge


def test_findings_scorecard_has_paper_ours_badge_details_and_evidence():
    markdown = scorecard.findings_markdown()
    assert all(f"{{bdg-{scorecard.BADGE_COLOURS[v]}}}`{v}`" in markdown.split("\n")[0] for v in VERDICTS)  # legend
    rows = table_rows(markdown)
    assert len(rows) == len(scorecard.ROWS)
    for text, row in zip(rows, scorecard.ROWS):
        fields = [key.rsplit("_", 1)[1] for _, key in GLUE.findall(text)]
        assert fields == ["details", "rule", "paper", "ours", "verdict"]  # details and rule in the dropdown
        assert ":::{dropdown} details" in text and row.where in text
        assert f"(/book/executed/{row.chapter}.ipynb#{row.section})" in text


def test_glue_row_refuses_an_empty_value():
    with pytest.raises(ValueError, match="ours"):
        scorecard.glue_row("mnist_claim1", "24/24", " ", "holds", "a rule", "details")


def test_figure_html_embeds_the_png_with_alt_text_and_caption():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    html = plotting.figure_html(fig, alt="a rising line <test>", caption="Caption & more")
    plt.close(fig)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.format == "PNG" and image.width > 100
    assert 'alt="a rising line &lt;test&gt;"' in html and "<figcaption>Caption &amp; more</figcaption>" in html
    with pytest.raises(ValueError, match="alt"):
        plotting.figure_html(fig, alt="", caption="c")


def test_write_scorecards_writes_both_snippets(tmp_path):
    front, findings = scorecard.write_scorecards(tmp_path)
    assert front.read_text() == scorecard.front_markdown()
    assert findings.read_text() == scorecard.findings_markdown()
