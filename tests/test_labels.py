"""Display labels: computed columns stay snake_case; a page shows them with their labels."""
import ast
from pathlib import Path

import pandas as pd

from dreg_utils.book import labels


def test_no_column_is_given_two_labels():
    """A repeated key in the LABELS literal would silently keep only the last label."""
    source = Path(labels.__file__).read_text()
    node = next(n.value for n in ast.parse(source).body
                if isinstance(n, ast.Assign) and n.targets[0].id == "LABELS")
    keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_show_labels_known_columns_and_leaves_the_others():
    table = pd.DataFrame({"family": ["smooth"], "p90_reduction_pct": [12.0], "lambda_ref": [1.0]})
    table.attrs["labels"] = {"lambda_ref": "lambda=0.01"}
    shown = labels.show(table)
    assert list(shown.columns) == ["family", "p90 reduction % (ours)", "lambda=0.01"]
    assert list(table.columns) == ["family", "p90_reduction_pct", "lambda_ref"]  # the data is untouched
    assert labels.label("snr_proxy") == "SNR proxy" and labels.label("unknown") == "unknown"


def test_labelled_columns_are_snake_case():
    assert all(key == key.lower() and " " not in key for key in labels.LABELS)
