"""Table formatting, folded tables, CSV downloads and the "This run" table of the chapters."""
import ast
import math
from pathlib import Path

import pandas as pd
import pytest

from dreg_utils.book import tables
from dreg_utils.book.labels import TABLE3_LABELS, label
from dreg_utils.book.this_run import this_run
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.synthetic import SyntheticSettings

NBSP = "\u00a0"
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value, digits, text", [
    (91.7034, 3, "91.7"), (0.012345, 3, "0.0123"), (12345.6, 3, "12300"), (99.96, 3, "100"),
    (-0.5, 2, "-0.50"), (1.0e-5, 3, "1.00e-05"), (2.5e7, 2, "2.5e+07"), (0.0, 3, "0"),
    (float("nan"), 3, "-"), (7, 3, "7"), (True, 3, "True"), ("relu", 3, "relu"),
])
def test_significant_keeps_the_digits_asked_for(value, digits, text):
    assert tables.significant(value, digits) == text


def test_significant_rounds_to_the_value_it_prints():
    for value in (0.0123456, 3.14159, 271.828, 0.99951):
        text = tables.significant(value, 3)
        digits = text.lstrip("-0.").replace(".", "")
        assert len(digits) == 3, text
        assert math.isclose(float(text), value, rel_tol=5e-3), (text, value)


def test_plus_minus_is_one_line_with_the_mean_to_the_sd_decimal():
    assert tables.plus_minus(91.7034, 0.7912) == f"91.70{NBSP}±{NBSP}0.79"
    assert tables.plus_minus(1.2345, 0.0123) == f"1.234{NBSP}±{NBSP}0.012"
    assert tables.plus_minus(1234.0, 56.0) == f"1234{NBSP}±{NBSP}56"
    assert tables.plus_minus(5.0, float("nan")) == "5.00"  # no spread: the mean alone
    assert tables.plus_minus(float("nan"), 1.0) == "-"
    assert " " not in tables.plus_minus(91.7, 0.79)  # no breaking space anywhere


def test_bad_digits_are_refused_by_name():
    with pytest.raises(ValueError, match="digits"):
        tables.significant(1.0, 0)


def tidy_table3() -> pd.DataFrame:
    rows = []
    for method, acc, p99 in (("BASE", 91.7, 2.5), ("DREG", 90.1, 1.25)):
        for metric, ours, paper in (("test_acc", acc, 96.9), ("ig_p99", p99, float("nan")),
                                    ("ig_mean", 0.5, 0.4)):
            rows.append({"capacity": "32, 16", "method": method, "metric": metric, "ours": ours,
                         "ours_std": 0.12, "paper": paper, "paper_std": 0.3})
    return pd.DataFrame(rows)


def test_compare_puts_ours_beside_the_papers_for_the_chosen_metrics():
    focus = tables.compare(tidy_table3(), ["test_acc", "ig_p99"], TABLE3_LABELS, keys=["capacity", "method"])
    assert list(focus.columns) == [("Test Acc (%)", "ours"), ("Test Acc (%)", "paper"),
                                   ("IG p99", "ours"), ("IG p99", "paper")]
    assert list(focus.index) == [("32, 16", "BASE"), ("32, 16", "DREG")]
    assert focus.loc[("32, 16", "DREG"), ("Test Acc (%)", "ours")] == f"90.10{NBSP}±{NBSP}0.12"
    assert focus.loc[("32, 16", "BASE"), ("IG p99", "paper")] == "-"  # the paper has no value
    assert focus.loc[("32, 16", "DREG"), ("Test Acc (%)", "paper")] == f"96.9{NBSP}±{NBSP}0.3"  # as printed


def test_as_published_keeps_the_papers_decimals():
    assert tables.as_published(96.33, 0.09) == f"96.33{NBSP}±{NBSP}0.09"
    assert tables.as_published(17.79, 1.5) == f"17.79{NBSP}±{NBSP}1.50"  # the finer of the two
    assert tables.as_published(515.0) == "515"
    assert tables.as_published(float("nan"), 0.1) == "-"
    assert tables.as_published(None, 0.2) == "-" and tables.as_published(96.05, float("nan")) == "96.05"
    assert tables.as_published(1.0, 0.0) == f"1{NBSP}±{NBSP}0"  # a printed zero sd is kept


def test_mean_plus_minus_sd_is_written_by_one_function():
    """Only plus_minus joins a mean and an sd; as_published chooses the paper's decimals and calls it."""
    writers = set()
    for path in sorted((ROOT / "dreg_utils").rglob("*.py")):
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, ast.FunctionDef) and any(
                    isinstance(node, ast.JoinedStr) and any(isinstance(part, ast.Constant) and "±" in part.value
                                                            for part in node.values)
                    for node in ast.walk(function)):
                writers.add(f"{path.relative_to(ROOT)}:{function.name}")
    assert writers == {"dreg_utils/book/tables.py:plus_minus"}


def test_compare_refuses_unknown_metrics_and_missing_columns():
    with pytest.raises(ValueError, match="ig_max"):
        tables.compare(tidy_table3(), ["ig_max"], TABLE3_LABELS, keys=["capacity", "method"])
    with pytest.raises(ValueError, match="paper_std"):
        tables.compare(tidy_table3().drop(columns="paper_std"), ["test_acc"], TABLE3_LABELS,
                       keys=["capacity", "method"])


def test_folded_is_a_collapsed_block_holding_the_whole_table():
    table = pd.DataFrame({"family": ["smooth"], "p90_reduction_pct": [12.345], "lam": [0.01]})
    html = tables.folded(table, "All <columns>")
    assert html.startswith("<details") and "<details open" not in html
    assert "<summary" in html and "All &lt;columns&gt;" in html
    assert label("p90_reduction_pct") in html and "12.3" in html and "12.345" not in html


def test_scrolled_wraps_the_table_in_the_outlined_scroll_container():
    table = pd.DataFrame({"family": ["smooth"], "p90_reduction_pct": [12.345]})
    html = tables.scrolled(table)
    assert html.startswith('<div class="dreg-scroll">') and html.endswith("</div>")
    assert label("p90_reduction_pct") in html and "12.3" in html  # styled like every table
    assert "0.500" in tables.scrolled(pd.DataFrame({"x": [0.5]}).style.format(precision=3))  # a Styler as given


def test_download_writes_the_data_and_links_it_beside_the_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    table = pd.DataFrame({"family": ["smooth", "sparse"], "p90_reduction_pct": [12.345, -1.0]})
    link = tables.download(table, "01_synthetic_families", "table2", "Table 2")
    assert link == "[Table 2](data/01_synthetic_families/table2.csv)"
    assert pd.read_csv(tmp_path / "01_synthetic_families" / "table2.csv").equals(table)  # data, not labels


@pytest.mark.parametrize("notebook, name", [("../x", "t"), ("", "t"), ("01_synthetic_families", "a b"),
                                            ("01_synthetic_families", "../t")])
def test_download_refuses_paths_that_leave_the_folder(tmp_path, monkeypatch, notebook, name):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="not valid"):
        tables.download(pd.DataFrame({"a": [1]}), notebook, name)


def test_download_refuses_an_empty_table(tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="non-empty"):
        tables.download(pd.DataFrame(), "01_synthetic_families", "t")


def rows_of(markdown: str) -> dict[str, str]:
    lines = markdown.splitlines()
    assert lines[0].startswith("| This run |") and set(lines[1]) <= set("|- ")
    return {cells[0]: cells[1] for cells in (
        [c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:])}


def test_this_run_reads_its_values_from_the_settings_and_the_run_table(tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    settings = MNISTSettings.from_profile("smoke", device="cpu")
    runs = pd.DataFrame({"seed": [0, 1, 2], "cached": [True, False, True], "test_acc": [90.0, 91.0, 92.0]})
    rows = rows_of(this_run("02_mnist_sweep", settings, runs, data="mnist: 400/100", seconds=12.34).data)
    assert rows["profile"] == "`smoke`"
    assert rows["data"] == "mnist: 400/100"
    assert rows["device"] == "cpu"
    assert rows["seeds"] == ", ".join(map(str, settings["seeds"]))
    assert rows["runs"] == "3 runs: 2 reused from the cache, 1 trained"
    assert rows["wall time"] == "12 s"
    assert "data/02_mnist_sweep/runs.csv" in rows["data behind the tables"]
    assert pd.read_csv(tmp_path / "02_mnist_sweep" / "runs.csv").equals(runs)
    assert "notebooks/02_mnist_sweep.md" in rows["re-run this page"] and "--profile smoke" in rows["re-run this page"]
    assert rows["re-run the book"] == "`make book PROFILE=smoke`"


def test_this_run_refuses_the_wrong_settings_or_notebook():
    settings = SyntheticSettings.from_profile("smoke")
    with pytest.raises(TypeError, match="MNISTSettings"):
        this_run("02_mnist_sweep", settings, None, data="x")
    with pytest.raises(ValueError, match="notebook"):
        this_run("99_nothing", settings, None, data="x")


def test_this_run_without_runs_offers_no_run_table(tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    rows = rows_of(this_run("01_synthetic_families", SyntheticSettings.from_profile("smoke"), None,
                            data="five families", device="cpu (elsewhere)").data)
    assert rows["device"] == "cpu (elsewhere)" and "runs" not in rows and "data behind the tables" not in rows
    assert not any(tmp_path.iterdir())
