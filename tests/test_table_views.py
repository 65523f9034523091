"""Page views that keep wide tables inside the content column: what the reader sees in each cell."""
import math

import pandas as pd
import pytest

from dreg_utils.book import ablation_text, performance_text, tables


def test_penalty_ratio_view_puts_capacities_in_columns_and_one_row_per_quantity():
    table = pd.DataFrame({"hidden": ["32-16", "512-256"], "params": [25818, 535818],
                          "BASE ms/step": [0.512, 7.25], "DREG / BASE": [1.049, 1.1]})
    view = performance_text.penalty_ratio_view(table)
    assert list(view.columns) == ["32-16", "512-256"]
    assert list(view.index) == ["params", "BASE ms/step", "DREG / BASE"]
    assert view.loc["params"].tolist() == ["25,818", "535,818"]
    assert view.loc["DREG / BASE"].tolist() == ["1.05", "1.10"]


def test_gains_view_writes_each_gain_with_its_interval_in_one_cell():
    table = pd.DataFrame({"variant": ["ours", "raw_units"], "improvement_pct": [4.78, 12.0],
                          "ci_low": [-3.25, math.nan], "ci_high": [12.1, math.nan]})
    cells = ablation_text.gains_view(table)["improvement_with_interval"].tolist()
    assert cells == ["+4.8% (95% CI -3.2% to +12.1%)", "+12.0% (no interval: fewer than two seeds)"]


def test_show_focus_refuses_a_column_its_first_table_lacks():
    table = pd.DataFrame({"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match=r"columns=\['c'\] is not valid; the table has \['a', 'b'\]"):
        tables.show_focus(table, ["c"], "06_performance", "x")
    with pytest.raises(ValueError, match=r"the table has \['a_text'\]"):
        tables.show_focus(table, ["a"], "06_performance", "x", focus=pd.DataFrame({"a_text": ["1"]}))
