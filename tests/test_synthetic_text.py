"""Chapter 01's words: each verdict shown beside its interval (Table 2, the verdict note, the
scorecard rows with their rules) and the comparison with tuned weight decay."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import myst_nb  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dreg_utils.book import synthetic_figures, synthetic_text, tables  # noqa: E402
from dreg_utils.studies import synthetic as study  # noqa: E402
from dreg_utils.studies import synthetic_weight_decay as wd_study  # noqa: E402
from dreg_utils.verdicts import INTERVAL_RULE  # noqa: E402


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


def comparison() -> tuple[pd.DataFrame, pd.DataFrame]:
    choices = pd.DataFrame({"family": ["smooth"] * 3 + ["oscillatory"] * 3, "seed": [0, 1, 2] * 2,
                            "dreg_setting": [0.01, 0.03, 0.01, 0.3, 0.3, 0.1], "wd_setting": [1.0, 0.1, 1.0, 0, 0, 0],
                            "dreg_grad_p90": [0.5, 0.6, 0.45, 1.1, 0.8, 1.0], "wd_grad_p90": [1.0, 1.1, 1.0, 1.0, 1.0, 1.05],
                            "dreg_test_mse": [1.0] * 6, "wd_test_mse": [1.0] * 6,
                            "dreg_collapsed": [False, False, False, True, True, False], "wd_collapsed": [False] * 6})
    return wd_study.weight_decay_comparison(choices), choices


def test_the_weight_decay_table_note_and_scorecard_row(glued):
    table, choices = comparison()
    shown = synthetic_text.weight_decay_display(table, choices)
    assert shown["DREG's lambda per seed"].tolist() == ["0.01 0.03 0.01", "0.3 0.3 0.1"]
    assert shown["weight decay per seed"].tolist() == ["1 0.1 1", "0 0 0"]
    assert shown["verdict"].tolist() == ["holds", "inconclusive"]
    assert shown["note"].tolist() == ["", "DREG's chosen model collapsed to a near-constant in 2/3 seeds"]
    assert shown.iloc[0]["DREG's p90 reduction vs tuned weight decay % (95% CI)"] == "+50.3% (95% CI +36.9% to +60.9%)"
    verdict = wd_study.weight_decay_verdict(table)
    note = synthetic_text.weight_decay_note(table, verdict)
    assert note.startswith("DREG's test p90 lower than tuned weight decay's in 1/2 families, higher in 0/2") \
        and "**partly**" in note
    settings = study.SyntheticSettings.from_profile("default")
    synthetic_text.glue_weight_decay(table, verdict, settings, "default")
    assert glued["sc_synthetic_weight_decay_paper"] == "not in the paper"
    assert glued["sc_synthetic_weight_decay_ours"] == \
        "p90 lower than tuned weight decay's in 1/2 families, higher in 0/2 (95% intervals)"
    assert glued["sc_synthetic_weight_decay_rule"] == synthetic_text.WEIGHT_DECAY_RULE
    details = glued["sc_synthetic_weight_decay_details"]
    assert "validation split" in details and "0, 0.001, 0.01, 0.1, 1" in details
    assert "smooth +50.3% (95% CI +36.9% to +60.9%): holds" in details
    assert "oscillatory " in details and "collapsed to a near-constant in 2/3 seeds)" in details


def test_the_weight_decay_figure_draws_one_interval_per_family():
    table, _ = comparison()
    fig = synthetic_figures.weight_decay_figure(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["smooth", "oscillatory"]
    bars = ax.containers[0].lines[2][0]  # the interval segments of the one errorbar
    assert len(bars.get_segments()) == 2
    plt.close(fig)
