"""The chapters' pages narrate and orchestrate: each opens with its parameters cell and one call,
imports little, and keeps logic (a loop or function longer than a few lines) in dreg_utils."""
import ast
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = [f"0{n}_{name}" for n, name in enumerate(
    ("synthetic_families", "mnist_sweep", "statistical_tests", "sr_distillation", "surrogate_optimization",
     "performance", "synthetic_ablation", "distillation_ablation"), start=1)]
MAX_IMPORTS = 5
MAX_BLOCK_LINES = 10  # a loop, function or class longer than this belongs in dreg_utils
SCORECARD_GLUE = ("glue_row", "glue_verdict", "glue_verdicts", "glue_costs", "glue_figure")  # glue for other pages
BLOCKS = (ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def code_cells(chapter: str) -> list:
    return [c for c in jupytext.read(NOTEBOOKS / f"{chapter}.md").cells if c.cell_type == "code"]


def import_lines(cells: list) -> list[str]:
    """The import statements of the cells (a statement over several lines counts once)."""
    return [ast.get_source_segment(cell.source, node) for cell in cells
            for node in ast.walk(ast.parse(cell.source)) if isinstance(node, (ast.Import, ast.ImportFrom))]


def long_blocks(cells: list, limit: int = MAX_BLOCK_LINES) -> list[str]:
    """The first line of every loop, function, class or lambda that spans more than ``limit`` lines."""
    return [ast.get_source_segment(cell.source, node).splitlines()[0] for cell in cells
            for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, BLOCKS) and node.end_lineno - node.lineno + 1 > limit]


def test_the_chapters_are_the_books_notebooks():
    assert sorted(p.stem for p in NOTEBOOKS.glob("0*.md") if p.stem < "09") == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_has_at_most_five_import_lines(chapter):
    lines = import_lines(code_cells(chapter))
    assert len(lines) <= MAX_IMPORTS, f"{chapter} has {len(lines)} import lines: {lines}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_opens_with_its_parameters_then_one_call(chapter):
    first, setup = code_cells(chapter)[:2]
    assert "parameters" in first.metadata.get("tags", [])
    assert "hide-input" in setup.metadata.get("tags", []) or "remove-input" in setup.metadata.get("tags", [])
    calls = [node for node in ast.walk(ast.parse(setup.source))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open_chapter"]
    assert len(calls) == 1 and ast.literal_eval(calls[0].args[0]) == chapter
    assert ast.unparse(calls[0].args[1]) == "globals()"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_keeps_its_logic_in_dreg_utils(chapter):
    assert long_blocks(code_cells(chapter)) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_machinery_stays_hidden(chapter):
    """Cells that assert invariants or glue values for other pages (scorecard rows, the headline
    figure) are removed from the page."""
    for cell in code_cells(chapter):
        nodes = list(ast.walk(ast.parse(cell.source)))
        asserts = any(isinstance(node, ast.Assert) for node in nodes)
        scorecard = any(isinstance(node, ast.Call) and getattr(node.func, "attr", "") in SCORECARD_GLUE
                        for node in nodes)
        if asserts or scorecard:
            assert "remove-cell" in cell.metadata.get("tags", []), cell.source[:80]


def test_the_counts_see_what_they_count():
    cell = jupytext.reads("```{code-cell} ipython3\nimport time\nfrom a import (b,\n    c)\n"
                          "for i in range(3):\n" + "    pass\n" * 11 + "```\n", fmt="md:myst").cells
    assert len(import_lines(cell)) == 2 and long_blocks(cell) == ["for i in range(3):"]
