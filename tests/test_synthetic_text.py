"""Chapter 01's words: each verdict shown beside its interval (Table 2, the verdict note, the
scorecard rows with their rules); the weight-decay comparison's are in test_synthetic_weight_decay_text."""
import math

import myst_nb
import pandas as pd
import pytest

from dreg_utils.book import synthetic_text, tables
from dreg_utils.verdicts import INTERVAL_RULE


@pytest.fixture
def glued(monkeypatch):
    values = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: values.__setitem__(name, value))
    return values


def table2() -> pd.DataFrame:
    return pd.DataFrame({
        "family": ["sparse"], "test_mse_change_pct": [-8.1], "paper_test_mse_change_pct": [-4.12],
        "p90_reduction_pct": [4.7], "paper_p90_reduction_pct": [88.2], "proxy_reduction_pct": [30.0], "pairs": [5],
        "p90_reduction_paired_pct": [4.78], "p90_reduction_paired_low": [-3.25], "p90_reduction_paired_high": [12.1],
        "test_mse_change_paired_pct": [-8.0], "test_mse_change_paired_low": [-15.0],
        "test_mse_change_paired_high": [-0.5], "verdict": ["inconclusive"]})


def test_with_interval_signs_the_estimate_and_its_bounds():
    assert tables.with_interval(4.78, -3.25, 12.1) == "+4.8% (95% CI -3.2% to +12.1%)"
    assert tables.with_interval(4.78, math.nan, math.nan, no_interval="no interval: one pair") == (
        "+4.8% (no interval: one pair)")
    assert tables.with_interval(math.nan, math.nan, math.nan) == "not measured"
    assert tables.with_interval(1.074, 1.04, 1.1, unit="x", digits=2, signed=False, sample="21 repeats") == (
        "1.07x (95% CI 1.04x to 1.10x, 21 repeats)")


def test_table2_shows_each_verdict_beside_its_interval():
    shown = synthetic_text.table2_display(table2())
    assert list(shown.columns) == ["family", "seeds paired", "p90 reduction % (ours, paired, 95% CI)",
                                   "p90 reduction % (paper)", "test MSE change % (ours, paired, 95% CI, + = worse)",
                                   "test MSE change % (paper, + = worse)", "verdict"]
    assert shown.iloc[0].tolist()[2:] == ["+4.8% (95% CI -3.2% to +12.1%)", 88.2,
                                          "-8.0% (95% CI -15.0% to -0.5%)", -4.12, "inconclusive"]


def test_the_verdict_note_and_the_scorecard_rows_carry_the_interval_and_the_rule(glued):
    row = table2().iloc[0]
    summary = pd.DataFrame({"family": ["sparse"], "lam": [0.0], "test_mse": [0.5]})
    note = synthetic_text.verdict_note(table2(), summary, 0.01, "default")
    assert "- **sparse**: p90 reduction +4.8% (95% CI -3.2% to +12.1%) (paper +88.2%)" in note
    assert note.endswith(": inconclusive")
    synthetic_text.glue_verdict(table2(), 0.01, "default")
    assert glued["sc_synthetic_sparse_ours"] == "p90 reduction +4.8% (95% CI -3.2% to +12.1%)"
    assert glued["sc_synthetic_sparse_rule"] == synthetic_text.TABLE2_RULE
    assert INTERVAL_RULE in synthetic_text.TABLE2_RULE and "+5%" in synthetic_text.TABLE2_RULE
    assert "(5 seeds)" in glued["sc_synthetic_sparse_details"]
    assert glued["p90_sparse"] == "+4.8% (95% CI -3.2% to +12.1%)" and glued["verdict_sparse"] == "inconclusive"
    assert glued["sc_synthetic_smooth_ours"] == "not run" and "sc_synthetic_smooth_rule" in glued
    assert synthetic_text.scorecard_fields(row, 0.01, "default")["verdict"] == "inconclusive"
