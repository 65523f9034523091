"""Chapter 01's words on DREG against tuned weight decay: the table as shown (settings per seed, the
intervals, the note on BASE not fitting and on seeds without an eligible candidate), the note under
it, the scorecard row with its rule, and the figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import myst_nb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dreg_utils.book import synthetic_figures, synthetic_text  # noqa: E402
from dreg_utils.studies import synthetic as study  # noqa: E402
from dreg_utils.studies import synthetic_weight_decay as wd_study  # noqa: E402
from dreg_utils.verdicts import DIRECTION_RULE  # noqa: E402


@pytest.fixture
def glued(monkeypatch):
    values = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: values.__setitem__(name, value))
    return values


def comparison() -> tuple[pd.DataFrame, pd.DataFrame]:
    """smooth: DREG's p90 about half of tuned weight decay's in 3 seeds; oscillatory: BASE no better
    than a constant in every seed and no candidate eligible (as the default book measured it)."""
    nan = np.nan
    choices = pd.DataFrame({"family": ["smooth"] * 3 + ["oscillatory"] * 3, "seed": [0, 1, 2] * 2,
                            "base_fits": [True] * 3 + [False] * 3,
                            "dreg_setting": [0.01, 0.03, 0.01, nan, nan, nan],
                            "wd_setting": [1.0, 0.1, 1.0, nan, nan, nan],
                            "dreg_grad_p90": [0.5, 0.6, 0.45, nan, nan, nan],
                            "wd_grad_p90": [1.0, 1.1, 1.0, nan, nan, nan],
                            "dreg_test_mse": [1.0] * 3 + [nan] * 3, "wd_test_mse": [1.0] * 3 + [nan] * 3,
                            "dreg_collapsed": [0, 0, 0, 9, 9, 9], "wd_collapsed": [0, 0, 0, 5, 5, 5]})
    return wd_study.weight_decay_comparison(choices), choices


def test_the_weight_decay_table_says_where_base_does_not_fit_and_nothing_was_eligible():
    table, choices = comparison()
    shown = synthetic_text.weight_decay_display(table, choices)
    assert shown["DREG's lambda per seed"].tolist() == ["0.01 0.03 0.01", "– – –"]
    assert shown["weight decay per seed"].tolist() == ["1 0.1 1", "– – –"]
    assert shown["verdict"].tolist() == ["holds", "inconclusive"]
    assert shown["note"].tolist() == ["", "BASE no better than a constant in 3/3 seeds; no eligible candidate "
                                          "(every one collapsed or too inaccurate): DREG in 3/3 seeds, weight decay "
                                          "in 3/3 seeds"]
    assert shown.iloc[0]["DREG's p90 reduction vs tuned weight decay % (95% CI)"] == "+50.3% (95% CI +36.9% to +60.9%)"
    assert shown.iloc[1]["DREG's p90 reduction vs tuned weight decay % (95% CI)"] == "not measured"


def test_the_note_says_base_does_not_fit_oscillatory_and_why_it_is_inconclusive():
    """Finding 3 of review 24: the text says that BASE does not fit oscillatory."""
    table, _ = comparison()
    verdict = wd_study.weight_decay_verdict(table)
    note = synthetic_text.weight_decay_note(table, verdict)
    assert note.startswith("DREG's test p90 lower than tuned weight decay's in 1/2 families, higher in 0/2") \
        and "**partly**" in note
    assert ("BASE does not fit oscillatory: its validation MSE is no lower than that of predicting the training mean "
            "in 3/3 seeds; no seed has an eligible candidate for both methods, so the family is inconclusive.") in note
    assert "does not fit smooth" not in note


def test_the_weight_decay_scorecard_row_states_the_eligibility_rule(glued):
    table, _ = comparison()
    verdict = wd_study.weight_decay_verdict(table)
    settings = study.SyntheticSettings.from_profile("default")
    synthetic_text.glue_weight_decay(table, verdict, settings, "default")
    assert glued["sc_synthetic_weight_decay_paper"] == "not in the paper"
    assert glued["sc_synthetic_weight_decay_ours"] == \
        "p90 lower than tuned weight decay's in 1/2 families, higher in 0/2 (95% intervals)"
    rule = glued["sc_synthetic_weight_decay_rule"]
    assert rule == synthetic_text.WEIGHT_DECAY_RULE and DIRECTION_RULE in rule
    assert "collapsed to a constant on the validation split" in rule and "below 1% of BASE's" in rule
    details = glued["sc_synthetic_weight_decay_details"]
    assert "validation split" in details and "did not collapse to a constant" in details
    assert "0, 0.001, 0.01, 0.1, 1" in details
    assert "smooth +50.3% (95% CI +36.9% to +60.9%): holds" in details
    assert "oscillatory not measured: inconclusive (BASE no better than a constant in 3/3 seeds" in details


def test_the_weight_decay_figure_draws_one_interval_per_family_and_marks_a_family_without_pairs():
    table, _ = comparison()
    fig = synthetic_figures.weight_decay_figure(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["smooth", "oscillatory"]
    bars = ax.containers[0].lines[2][0]  # the interval segments of the one errorbar
    assert len(bars.get_segments()) == 2
    assert [t.get_text() for t in ax.texts] == ["no pair: no eligible candidate"]
    plt.close(fig)
