"""The performance study and its presentation: reading the benchmark tables (missing files), pivots,
the papers' cost claims, the words and figures of the chapter."""
import json

import matplotlib
import pandas as pd
import pytest

from dreg_utils.book import performance_figures, performance_text
from dreg_utils.published import COST_CLAIMS
from dreg_utils.studies import performance
from dreg_utils.vocabulary import ACTIVATIONS, METHOD_COLOURS, METHOD_LABELS, METHODS, PAPER_LABELS, PROJECTIONS, methods_for

matplotlib.use("Agg")

# What bench_penalties times: every method fit runs with ReLU, then BASE and DREG with poly.
STEPS = [*((method, "relu") for method in methods_for("fit")), ("base", "poly"), ("dreg", "poly")]
# The ratio of each step to BASE: DREG 1.5, IGPEN 2.0, IGPEN-OUT 3.0, JAC-RP 3.5, POLY_DREG 4.5; any other 2.5.
RATIOS = {("dreg", "relu"): 1.5, ("igp", "relu"): 2.0, ("jacobian", "relu"): 3.0, ("jacobian_rp", "relu"): 3.5,
          ("dreg", "poly"): 4.5}


def penalties_table() -> pd.DataFrame:
    """Two capacities; each step of STEPS at its ratio of RATIOS to BASE."""
    rows = []
    for hidden, params, base_ms in (("32-16", 25_818, 0.5), ("128-64", 109_386, 0.7)):
        for method, activation in STEPS:
            ratio = 1.0 if method == "base" else RATIOS.get((method, activation), 2.5)
            rows.append({"hidden": hidden, "params": params, "method": method, "activation": activation,
                         "ratio": ratio, "ratio_q1": ratio * 0.9, "ratio_q3": ratio * 1.1, "ci_low": ratio * 0.8,
                         "ci_high": ratio * 1.2, "step_ms": base_ms * ratio})
    return pd.DataFrame(rows)


META = {"date": "2026-11-23 16:50 UTC", "cpu": "Test CPU", "cores": 2, "torch_threads": 2, "device": "cpu",
        "gpu": None, "torch": "2.13.0", "python": "3.11.7", "load_average_at_end": "0.10", "quick": False}


def test_load_benchmark_round_trip_and_missing_files(tmp_path):
    penalties_table().to_csv(tmp_path / "penalties.csv", index=False)
    (tmp_path / "penalties.meta.json").write_text(json.dumps(META))
    table, meta = performance.load_benchmark(tmp_path, "penalties")
    assert table["hidden"].tolist()[:1] == ["32-16"] and meta["cpu"] == "Test CPU"
    with pytest.raises(FileNotFoundError, match=r"no sweep benchmark in .*bench_sweep.py --out"):
        performance.load_benchmark(tmp_path, "sweep")
    with pytest.raises(ValueError, match=r"name='disk' is not valid; choose one of \['penalties', 'sweep', 'naive', "
                                         r"'projections', 'gplearn', 'teachers', 'memory', 'teacher_cost'\]"):
        performance.load_benchmark(tmp_path, "disk")
    with pytest.raises(TypeError, match="bench_dir must be a folder path or None, got 3"):
        performance.load_benchmark(3, "penalties")


def test_the_repository_holds_measured_tables():
    for name in performance.BENCHMARKS:
        table, meta = performance.load_benchmark(None, name)
        assert len(table) > 0 and meta["cores"] >= 1 and meta["cpu"]


def test_penalty_ratio_table_keeps_capacity_order_and_reads_ratios():
    table = performance_text.penalty_ratio_table(penalties_table())
    assert table["hidden"].tolist() == ["32-16", "128-64"]
    # the methods by the paper labels of every other chapter; another activation as the paper names it
    assert table.columns.tolist() == ["hidden", "params", "BASE ms/step",
                                      *(f"{PAPER_LABELS[m]} / BASE" for m in methods_for("fit")[1:]),
                                      "POLY_DREG / POLY_BASE"]
    assert table["BASE ms/step"].tolist() == [0.5, 0.7]
    assert table["DREG / BASE"].tolist() == [1.5, 1.5] and table["IGPEN-OUT / BASE"].tolist() == [3.0, 3.0]
    assert table["POLY_DREG / POLY_BASE"].tolist() == [4.5, 4.5]


def test_the_repository_penalty_table_names_methods_by_key_and_keeps_its_ratios():
    penalties, _ = performance.load_benchmark(None, "penalties")
    assert penalties.columns.tolist() == ["hidden", "params", "method", "activation", "ratio", "ratio_q1",
                                          "ratio_q3", "ci_low", "ci_high", "step_ms"]
    assert ((penalties["ci_low"] <= penalties["ratio"]) & (penalties["ratio"] <= penalties["ci_high"])).all()
    assert set(penalties["method"]) <= set(METHODS) and set(penalties["activation"]) <= set(ACTIVATIONS)
    assert (penalties.loc[penalties["method"] == "base", "ratio"] == 1.0).all()
    table = performance_text.penalty_ratio_table(penalties)
    igp = penalties[(penalties["method"] == "igp") & (penalties["activation"] == "relu")]
    assert table["IGPEN / BASE"].tolist() == igp["ratio"].tolist()
    assert table["hidden"].tolist() == ["32-16", "128-64", "256-128", "512-256"]


def test_cost_claims_give_the_measured_range_per_method():
    assert set(COST_CLAIMS) <= set(METHODS)  # keyed by method keys; the page shows the paper labels
    claims = performance_text.cost_claims(penalties_table()).set_index("method")
    assert claims.index.tolist() == ["DREG", "IGPEN", "IGPEN-OUT", "JAC-RP"]
    assert claims.loc["IGPEN-OUT", "ours (ratio to BASE, over capacities)"] == "3.00x to 3.00x"
    assert "10x" in claims.loc["IGPEN-OUT", "paper"]


def test_cost_note_names_the_methods_as_every_chapter_does():
    note = performance_text.cost_note(penalties_table())
    assert note.startswith("DREG costs 1.50x to 1.50x a BASE step and is cheaper than IGPEN at 2 of 2 capacities "
                           "(IGPEN: 2.00x to 2.00x). The exact Jacobian penalty on these 10-output models costs "
                           "3.0x to 3.0x")
    assert "IGP " not in note and "IGP." not in note


def test_sweep_totals_and_machine_line():
    meta = {**META, "vectorised_min_extrapolated": 19.4, "sequential_min_extrapolated": 28.9,
            "vectorised_min_measured": None}
    assert performance_text.sweep_totals(meta)["minutes"].tolist() == [19.4, 28.9]
    assert len(performance_text.sweep_totals({**meta, "vectorised_min_measured": 19.9})) == 3
    line = performance_text.machine_line(meta)
    assert "Test CPU, 2 usable core(s)" in line and "quick run" not in line
    assert "quick run" in performance_text.machine_line({**meta, "quick": True})
    assert "cuda (H100)" in performance_text.machine_line({**meta, "device": "cuda", "gpu": "H100"})


def test_figures_draw_every_method_and_cell():
    fig = performance_figures.penalty_cost_figure(penalties_table())
    handles, labels = fig.axes[0].get_legend_handles_labels()
    assert sorted(labels) == sorted([*(METHOD_LABELS[m] for m in methods_for("fit") if m != "base"), "DREG, poly",
                                     "BASE (1x)"])
    lines = {label: handle.lines[0] for handle, label in zip(handles, labels) if label != "BASE (1x)"}
    assert all(lines[METHOD_LABELS[m]].get_color() == METHOD_COLOURS[m] for m in methods_for("fit")[1:])
    assert lines["DREG, poly"].get_color() == METHOD_COLOURS["dreg"] and lines["DREG, poly"].get_linestyle() == "--"
    assert fig.axes[0].get_yscale() == "log"
    sweep = pd.DataFrame({"hidden": ["32-16", "32-16"], "activation": ["relu", "poly"],
                          "vectorised_train_s": [60.0, 90.0], "sequential_train_s": [120.0, 150.0]})
    fig = performance_figures.sweep_time_figure(sweep)
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches if p.get_height() > 0)
    assert heights == [1.0, 1.5, 2.0, 2.5]


def test_floor_table_divides_the_extrapolated_minutes_by_the_floor():
    sweep = pd.DataFrame({"hidden": ["32-16", "512-256"], "activation": ["relu", "relu"],
                          "vectorised_train_s": [120.0, 600.0], "floor_train_s": [30.0, 400.0]})
    table = performance.floor_table(sweep)
    assert table["vectorised_min"].tolist() == [2.0, 10.0]
    assert table["wall_over_floor"].tolist() == [4.0, 1.5]
    assert "products_over_floor" not in table  # tables saved before the decomposition existed


def test_floor_table_splits_the_wall_time_into_products_optimizer_and_rest():
    sweep = pd.DataFrame({"hidden": ["512-256"], "activation": ["relu"], "vectorised_train_s": [600.0],
                          "floor_train_s": [400.0], "replay_train_s": [480.0], "adamw_train_s": [40.0]})
    row = performance.floor_table(sweep).iloc[0]
    assert (row["products_over_floor"], row["adamw_over_floor"], row["rest_over_floor"]) == (1.2, 0.1, 0.2)


def test_naive_summary_gives_ratios_to_the_reference_and_a_floor_row():
    naive = pd.DataFrame({"arm": ["reference", "project"], "seconds": [90.0, 30.0],
                          "wall_over_floor": [3.6, 1.2], "mean_test_acc": [80.0, 80.5]})
    table = performance.naive_summary(naive, {"floor_s": 25.0})
    assert table["arm"].tolist() == ["reference", "project", "floor"]
    assert table["ratio_to_reference"].tolist()[:2] == [1.0, pytest.approx(1 / 3)]
    assert table.loc[2, "seconds"] == 25.0 and table.loc[2, "wall_over_floor"] == 1.0
    shown = performance_text.naive_table(table)
    assert shown["arm"].tolist() == ["reference", "project", "floor (matrix products alone)"]
    assert "ratio to the naive loop" in shown.columns and table["arm"].iloc[2] == "floor"  # the data untouched


def test_projection_variance_table_pairs_measured_with_predicted_and_names_exact_estimates():
    rows = []
    for model, outputs, values in (("10-64-4 tanh", 4, (0.68, 0.07, 0.12)), ("10-64-1 tanh", 1, (2.0, 0.0, 0.0))):
        for distribution, value in zip(PROJECTIONS, values):
            rows.append({"model": model, "outputs": outputs, "distribution": distribution,
                         "relative_variance": value, "predicted": value * 1.01,
                         "reduction_vs_gaussian": values[0] / value if value else float("inf")})
    table = performance_text.projection_variance_table(pd.DataFrame(rows))
    assert table["model"].tolist() == ["10-64-4 tanh", "10-64-1 tanh"]  # the benchmark's order, not sorted
    assert table.loc[0, "gaussian (predicted)"] == "0.680 (0.687)"
    assert table.loc[0, "rademacher: reduction"] == "9.7x" and table.loc[0, "sphere: reduction"] == "5.7x"
    assert table.loc[1, "rademacher: reduction"] == "exact" and table.loc[1, "sphere (predicted)"] == "0.000 (0.000)"


def test_the_repository_projection_variances_agree_with_their_formulas():
    table, meta = performance.load_benchmark(None, "projections")
    assert not meta["quick"] and meta["draws"] >= 1000
    nonzero = table[table["predicted"] > 1e-12]
    assert ((nonzero["relative_variance"] - nonzero["predicted"]).abs() <= 0.1 * nonzero["predicted"]).all()
    assert (table.loc[table["predicted"] <= 1e-12, "relative_variance"] < 1e-20).all()
