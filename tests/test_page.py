"""A page opens with one call (open_chapter) and presents what the studies return: the chapter
object, the diverged-runs note, and the words each chapter's text module builds from results."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import myst_nb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_stats_study import analyse, mnist_runs, synthetic_runs  # noqa: E402

from dreg_utils import claims  # noqa: E402
from dreg_utils.book import (distillation_text, mnist_text, performance_text, scorecard,  # noqa: E402
                             statistics_notes, statistics_tables, statistics_text, surrogate_figures, synthetic_text)
from dreg_utils.book.page import Chapter, open_chapter  # noqa: E402
from dreg_utils.studies import distillation, distillation_tables, mnist, performance, statistics  # noqa: E402
from dreg_utils.studies.statistics_inputs import Inputs  # noqa: E402
from dreg_utils.studies.synthetic import SyntheticSettings  # noqa: E402


@pytest.fixture
def glued(monkeypatch):
    """What a page glues (name -> value), recorded instead of written into a notebook."""
    values = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: values.__setitem__(name, value))
    return values


@pytest.fixture
def shown(monkeypatch):
    """What a page displays, in order."""
    import IPython.display

    items = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: items.extend(objs))
    return items


def parameters(settings_type, **values):
    """A parameters cell's globals: profile, every knob None unless given, results_dir None."""
    return {"profile": "smoke", "results_dir": None, **{k: None for k in settings_type.knobs()}, **values}


# ----------------------------------------------------------------------------- open_chapter


def test_open_chapter_builds_settings_results_folder_and_theme(tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_RESULTS_DIR", str(tmp_path))
    plt.rcParams["axes.titleweight"] = "normal"
    ch = open_chapter("01_synthetic_families", parameters(SyntheticSettings, seeds=[3]))
    assert ch.settings == SyntheticSettings.from_profile("smoke", seeds=[3])
    assert ch.results_dir == tmp_path / "synthetic" and ch.data is None and ch.seconds is None
    assert plt.rcParams["axes.titleweight"] == "bold"  # the book's theme
    ch = open_chapter("01_synthetic_families", parameters(SyntheticSettings, results_dir=str(tmp_path / "mine")))
    assert ch.results_dir == tmp_path / "mine"


def test_open_chapter_loads_the_chapters_data_and_times_it():
    ch = open_chapter("06_performance", parameters(performance.PerformanceSettings))
    assert set(ch.data) == set(performance.BENCHMARKS) and ch.results_dir is None
    table, meta = ch.data["penalties"]
    assert len(table) > 0 and meta["cores"] >= 1 and ch.seconds > 0


def test_open_chapter_refuses_a_bad_name_namespace_or_parameter():
    with pytest.raises(ValueError, match=r"name='mnist' is not valid; choose one of \['01_synthetic_families'"):
        open_chapter("mnist", {})
    with pytest.raises(TypeError, match="namespace must be the notebook's globals"):
        open_chapter("01_synthetic_families", None)
    with pytest.raises(ValueError, match=r"the parameters cell does not define \['profile'"):
        open_chapter("01_synthetic_families", {})
    with pytest.raises(ValueError, match="epochs"):
        open_chapter("01_synthetic_families", parameters(SyntheticSettings, epochs=0))


def test_timed_adds_up_the_wall_time_of_the_pages_work():
    ch = Chapter("01_synthetic_families", SyntheticSettings.from_profile("smoke"), None)
    assert ch.timed(sum, [1, 2]) == 3 and ch.seconds >= 0
    before = ch.seconds
    ch.timed(lambda: [math.factorial(2000) for _ in range(20)])
    assert ch.seconds > before


def test_show_diverged_shows_nothing_without_divergence_and_each_diverged_run_with_it(shown):
    ch = Chapter("01_synthetic_families", SyntheticSettings.from_profile("smoke"), None)
    runs = pd.DataFrame({"family": ["smooth", "sparse"], "seed": [0, 1], "diverged": [False, False]})
    ch.show_diverged(runs, ["family", "seed"])
    assert shown == []
    runs = runs.assign(diverged=[False, True], diverged_step=[None, 7], diverged_epoch=[None, 2],
                       diverged_reason=[None, "loss"])
    ch.show_diverged(runs, ["family", "seed"], "surrogates diverged in training")
    assert shown[0].data == "1 surrogates diverged in training (excluded from every mean):"
    assert shown[1].data.to_dict("records") == [{"family": "sparse", "seed": 1, "diverged_step": 7,
                                                 "diverged_epoch": 2, "diverged_reason": "loss"}]


# ----------------------------------------------------------------------------- the studies' data for pages


def test_statistics_inputs_read_the_given_tables(tmp_path):
    mnist_runs().assign(dataset="mnist", data_source="test; x", n_train=400, n_test=100).to_csv(
        tmp_path / "mnist.csv", index=False)
    synthetic_runs().to_csv(tmp_path / "synthetic.csv", index=False)
    ch = open_chapter("03_statistical_tests", {"profile": "smoke", "results_dir": str(tmp_path), "alpha": None,
                                               "mnist_runs": str(tmp_path / "mnist.csv"), "confidence": None,
                                               "synthetic_runs": str(tmp_path / "synthetic.csv"),
                                               "synthetic_lam": None, "n_boot": None, "bootstrap_seed": None})
    inputs = ch.data
    assert isinstance(inputs, Inputs) and len(inputs.mnist) == len(mnist_runs())
    assert inputs.mnist_origin.path == str(tmp_path / "mnist.csv") and inputs.mnist_origin.mismatches
    assert statistics_notes.origin_text(inputs.mnist_origin).startswith(
        f"read {tmp_path / 'mnist.csv'} (not the profile's grid")
    assert inputs.synthetic_settings.profile == "smoke" and inputs.mnist_settings.profile == "smoke"
    assert statistics_notes.inputs_line(inputs).startswith("MNIST runs (mnist from test, 400 train / 100 test")


def test_snr_correlation_is_spearmans_and_nan_below_three_datasets():
    table = pd.DataFrame({"snr_proxy": [1.0, 2.0, 3.0, 4.0], "gain_r2": [0.4, 0.3, 0.2, 0.35]})
    rho, p = distillation_tables.snr_correlation(table)
    ranks_x, ranks_y = np.array([1, 2, 3, 4]), np.array([4, 2, 1, 3])
    assert rho == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1]) and 0 < p < 1
    assert all(math.isnan(v) for v in distillation_tables.snr_correlation(table.head(2)))


def test_load_datasets_gives_each_dataset_of_the_settings_with_its_noise():
    settings = distillation.DistillationSettings.from_profile("smoke", datasets=["feynman_I_14_4"], noise=0.2)
    loaded = distillation.load_datasets(settings)
    assert list(loaded) == ["feynman_I_14_4"]
    table = distillation_text.datasets_table(loaded)
    assert table["dataset"].tolist() == ["feynman_I_14_4"] and "label noise" in table


def test_read_quantiles_reads_what_the_sweep_saved(tmp_path):
    saved = pd.DataFrame({"run_key": ["a", "a"], "level": [0.5, 0.99], "ig_norm": [0.1, 2.0]})
    saved.to_csv(tmp_path / "frontier_ig_quantiles.csv", index=False)
    assert mnist.read_quantiles(tmp_path, "frontier").equals(saved)


# ----------------------------------------------------------------------------- each chapter's words


def test_synthetic_verdict_note_and_glue(glued):
    table2 = pd.DataFrame({"family": ["smooth"], "p90_reduction_pct": [6.6], "paper_p90_reduction_pct": [65.1],
                           "test_mse_change_pct": [-1.0], "paper_test_mse_change_pct": [1.02], "pairs": [5],
                           "p90_reduction_paired_pct": [6.6], "p90_reduction_paired_low": [6.3],
                           "p90_reduction_paired_high": [7.0], "test_mse_change_paired_pct": [-1.0],
                           "test_mse_change_paired_low": [-3.0], "test_mse_change_paired_high": [1.1],
                           "verdict": ["partly"]})
    summary = pd.DataFrame({"family": ["smooth", "sparse"], "lam": [0.0, 0.0], "test_mse": [0.5, 1.2]})
    note = synthetic_text.verdict_note(table2, summary, 0.01, "smoke")
    assert note.startswith("At $\\lambda = 0.01$ under the `smoke` profile (1 partly):")
    assert "- **smooth**: " in note and "+6.6%" in note and "65.1%" in note and note.count(": partly") == 1
    assert "The unregularised model of sparse has a test MSE above 1" in note
    synthetic_text.glue_verdict(table2, 0.01, "smoke")
    assert glued["verdict_smooth"] == "partly" and glued["p90_sparse"] == "not run" and glued["lam_ref"] == "0.01"
    assert "6.6%" in glued["sc_synthetic_smooth_ours"] and "65.1%" in glued["sc_synthetic_smooth_paper"]
    assert glued["sc_synthetic_sparse_ours"] == "not run"
    families = ("smooth", "piecewise", "sparse", "oscillatory", "entangled")
    assert {f"sc_synthetic_{f}_verdict" for f in families} <= set(glued)


def test_synthetic_data_line_names_the_families_and_their_sizes():
    line = synthetic_text.data_line(["smooth", "sparse"])
    assert line.startswith("2 synthetic families (smooth, sparse); train/val/test = ") and line.endswith("d = 10")


def test_mnist_notes_read_the_findings_and_the_data(tiny_mnist):
    verdicts = statistics_text.findings(mnist_runs())
    assert mnist_text.tally(verdicts) == "holds 5, partly 0, does not hold 0, inconclusive 0"
    note = mnist_text.verdict_note(verdicts, mnist.MNISTSettings.from_profile("smoke"), tiny_mnist)
    assert "on mnist (96 training / 40 test images, source: random test tensors)" in note
    assert note.count("- **Finding") == 5
    assert note.endswith("Tally: holds 5, partly 0, does not hold 0, inconclusive 0.")
    assert mnist_text.data_note(tiny_mnist).startswith("**Not the paper's data**")


def test_statistics_notes_and_glue(glued):
    tests = analyse(mnist_runs(seeds=(0,)))
    designs = statistics.designs(tests)
    assert statistics_notes.designs_note(designs, "smoke").startswith(
        "**Fewer pairs than the paper** under the `smoke` profile: DREG vs BASE 8 instead of 24")
    assert statistics_notes.designs_note(statistics.designs(analyse(mnist_runs())), "smoke") is None
    verdicts = statistics_text.verdict_table(tests)
    statistics_text.glue_verdicts(verdicts, tests, 0.05, "smoke")
    assert glued["claim1_text"] == claims.MNIST_CLAIMS[1].wording and glued["claim1_verdict"] == verdicts["verdict"][0]
    assert glued["sc_mnist_claim2_paper"] == claims.MNIST_CLAIMS[2].paper_value
    assert glued["sc_mnist_claim2_ours"] == statistics_text.short_ours(tests, 2)
    styled = statistics_tables.p_style(designs).to_html()
    assert "smallest sign-test p (ours)" in styled and "0.0039" in styled  # 0.5**8 to 2 digits


def test_distillation_cost_words():
    cost = pd.DataFrame({"method": ["base", "jacobian", "jacobian"], "outputs": [1, 1, 10],
                         "ratio_to_base": [1.0, 1.84, 4.7]})
    assert distillation_text.cost_line(cost) == ("exact Jacobian penalty: 1.8x the unregularised teacher with 1 "
                                                 "output(s) (paper: about 10x)")


def penalties() -> pd.DataFrame:
    rows = [{"hidden": h, "method": m, "activation": "relu", "ratio": r}
            for h, ratios in (("32-16", (1.1, 2.0, 9.0)), ("64-32", (1.3, 1.2, 12.0)))
            for m, r in zip(("dreg", "igp", "jacobian"), ratios)]
    return pd.DataFrame(rows)


def test_performance_cost_words():
    note = performance_text.cost_note(penalties())
    assert note.startswith("DREG costs 1.10x to 1.30x a BASE step and is cheaper than IGPEN at 1 of 2 capacities "
                           "(IGPEN: 1.20x to 2.00x). The exact Jacobian penalty on these 10-output models costs "
                           "9.0x to 12.0x")


def test_performance_sources_and_speed_note(shown, tmp_path, monkeypatch):
    monkeypatch.setenv("DREG_DOWNLOADS_DIR", str(tmp_path))
    ch = open_chapter("06_performance", parameters(performance.PerformanceSettings))
    performance_text.show_sources(ch)
    this_run, downloads, machines = (item.data for item in shown)
    assert "| profile | `smoke` |" in this_run and "penalties.csv (" in this_run and "wall time" in this_run
    assert downloads == ("Download: [penalties.csv](data/06_performance/penalties.csv), "
                         "[sweep.csv](data/06_performance/sweep.csv), [naive.csv](data/06_performance/naive.csv)")
    assert machines.startswith("**Penalty benchmark machine:** ")
    assert "**Naive-reference benchmark machine:**" in machines
    _, meta = ch.data["sweep"]
    note = performance_text.sweep_speed_note()
    assert note.startswith(performance_text.machine_line(meta)) and f"{meta['ratio_extrapolated']:.2f}" in note


def test_objective_trajectories_draw_the_two_dimensional_objectives_only():
    paths = pd.DataFrame([{"objective": o, "seed": s, "activation": "relu", "method": "base", "optimizer": "gd",
                           "start": 0, "step": k, "x0": 0.1 * k, "x1": -0.1 * k}
                          for o in ("rosenbrock", "smooth") for s in (0, 1) for k in range(3)])
    figures = surrogate_figures.objective_trajectories(paths, ["rosenbrock", "smooth"], seed=1)
    assert len(figures) == 1 and "rosenbrock" in figures[0]._suptitle.get_text()
    plt.close("all")


def test_the_scorecard_links_to_chapter_titles():
    assert all(f"[{title}](/book/executed/" in scorecard.findings_markdown()
               for title in ("Synthetic families", "Statistical tests", "SR distillation", "Performance"))
