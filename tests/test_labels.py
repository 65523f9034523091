"""Display labels: computed columns stay snake_case; a page shows them with its own chapter's labels."""
import ast
from pathlib import Path

import pandas as pd
import pytest

from dreg_utils.book import labels
from dreg_utils.book.chapters import CHAPTER_SETTINGS
from dreg_utils.book.page import Chapter


def test_each_chapter_has_its_own_labels():
    assert list(labels.LABELS) == list(CHAPTER_SETTINGS)
    assert all(isinstance(table, dict) and table for table in labels.LABELS.values())


def test_no_column_is_given_two_labels_in_one_chapter():
    """A repeated key in a chapter's literal would silently keep only the last label."""
    source = Path(labels.__file__).read_text()
    node = next(n.value for n in ast.parse(source).body
                if isinstance(n, ast.AnnAssign) and n.target.id == "LABELS")
    assert [k.value for k in node.keys] == list(labels.LABELS)
    for chapter, table in zip(node.keys, node.values):
        keys = [k.value for k in table.keys if isinstance(k, ast.Constant)]
        assert len(keys) == len(set(keys)), (chapter.value, sorted(k for k in keys if keys.count(k) > 1))


def test_a_column_reads_the_same_on_every_page(monkeypatch):
    merged = labels.book_labels()
    for chapter, table in labels.LABELS.items():
        assert all(merged[column] == text for column, text in table.items()), chapter
    conflicting = {**labels.LABELS, "02_mnist_sweep": {**labels.LABELS["02_mnist_sweep"], "lam": "strength"}}
    monkeypatch.setattr(labels, "LABELS", conflicting)
    with pytest.raises(ValueError, match=r"column 'lam' is labelled 'lambda' by one chapter and 'strength' by "
                                         r"02_mnist_sweep; give one of them another column name"):
        labels.book_labels()


def test_show_labels_known_columns_and_leaves_the_others():
    table = pd.DataFrame({"family": ["smooth"], "p90_reduction_pct": [12.0], "lambda_ref": [1.0]})
    table.attrs["labels"] = {"lambda_ref": "lambda=0.01"}
    shown = labels.show(table, "01_synthetic_families")
    assert list(shown.columns) == ["family", "p90 reduction of the seed means % (ours)", "lambda=0.01"]
    assert list(table.columns) == ["family", "p90_reduction_pct", "lambda_ref"]  # the data is untouched
    assert list(labels.show(table).columns) == list(shown.columns)  # no chapter: the book's one label
    assert labels.label("snr_proxy") == "SNR proxy" and labels.label("unknown") == "unknown"


def test_a_page_shows_only_its_own_labels():
    table = pd.DataFrame({"p90_reduction_pct": [12.0], "accuracy_change": [-0.5], "snr_proxy": [1.0]})
    mnist = Chapter("02_mnist_sweep", None, None).show(table)
    assert list(mnist.columns) == ["p90_reduction_pct", "accuracy change (points, + = better)", "snr_proxy"]
    assert labels.label("snr_proxy", chapter="04_sr_distillation") == "SNR proxy"
    assert labels.label("snr_proxy", chapter="01_synthetic_families") == "snr_proxy"
    with pytest.raises(ValueError, match=r"^chapter='02_mnist' is not valid; choose one of \['01_synthetic_families'"):
        labels.show(table, "02_mnist")


def test_labelled_columns_are_snake_case():
    assert all(key == key.lower() and " " not in key for table in labels.LABELS.values() for key in table)
