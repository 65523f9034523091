"""The scorecard's short values and the headline figure, on tables whose answers are known."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_stats_study import analyse, mnist_runs  # noqa: E402

from dreg_utils.book import mnist_figures  # noqa: E402
from dreg_utils.book import statistics_text as verdict_text  # noqa: E402


@pytest.fixture(scope="module")
def paper_like():
    return analyse(mnist_runs())  # DREG and SN below BASE in every pair, POLY heavier than ReLU


def test_short_values_count_the_pairs_that_point_the_papers_way(paper_like):
    short = {c: verdict_text.short_ours(paper_like, c) for c in range(1, 6)}
    # Clopper-Pearson: 24/24 gives a share of at least 0.025 ** (1/24) = 86%; 12/12: 74%
    share24, share12 = "(95% CI of the share 86% to 100%)", "(95% CI of the share 74% to 100%)"
    assert short[1].startswith(f"p99 lower in 24/24 {share24}; cost 0.")  # built with a 0.4-point cost
    assert short[2] == f"24/24 pairs {share24}"  # p99 falls 55% per pair, the mean 30%
    assert short[3] == f"POLY p99 higher in 12/12 {share12}"
    assert short[4] == f"DREG more accurate in 24/24 {share24}; SN p99 lower in 24/24 {share24}"
    assert short[5].endswith("lower (95% CI below 0) at 4/4 sizes") and short[5].startswith("rho +")


def test_short_values_follow_the_data_when_dreg_does_nothing():
    tests = analyse(mnist_runs(dreg_p99=1.0, dreg_mean=1.0, dreg_cost=0.0))
    count = int(verdict_text.short_ours(tests, 1).split(" in ")[1].split("/")[0])
    assert count < 20  # about half of 24 by chance, not all
    with pytest.raises(ValueError, match="claim"):
        verdict_text.short_ours(tests, 6)


def test_headline_figure_draws_each_method_through_its_capacities():
    rows = []
    for activation in ("relu", "poly"):
        for method, shift in (("base", 1.0), ("dreg", 0.5)):
            for n_params, hidden in ((100, "8-4"), (400, "16-8"), (200, "12-6")):
                rows.append({"activation": activation, "method": method, "hidden": hidden, "n_params": n_params,
                             "ig_p99": shift * n_params / 100, "test_acc": 90 + n_params / 100})
    fig = mnist_figures.headline_figure(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == ["RELU", "POLY"]
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"BASE", "DREG"}
        np.testing.assert_allclose(lines["DREG"].get_xdata(), [0.5, 1.0, 2.0])  # ordered by size
        np.testing.assert_allclose(lines["BASE"].get_ydata(), [91, 92, 94])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["BASE", "DREG"]
    matplotlib.pyplot.close(fig)
