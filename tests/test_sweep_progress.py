"""run_grid reports its progress to the file named by $DREG_PROGRESS_FILE."""
import json

import pytest

from dreg_utils.sweep import PROGRESS_ENV, report_progress, run_grid


def test_run_grid_writes_done_total_and_cached(tmp_path, monkeypatch):
    progress = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(progress))
    configs = [{"x": i} for i in range(5)]
    seen = []

    def run_group(group):
        seen.append(json.loads(progress.read_text()))  # what the runner sees while this group runs
        return [{"y": c["x"] ** 2} for c in group]

    run_grid(configs[:2], run_group, tmp_path / "cache", progress=False, desc="warm-up")
    seen.clear()
    run_grid(configs, run_group, tmp_path / "cache", progress=False, desc="squares")
    # two of five were cached; the three others trained one by one
    assert [(s["done"], s["cached"], s["trained"]) for s in seen] == [(2, 2, 0), (3, 2, 1), (4, 2, 2)]
    assert all(s["desc"] == "squares" and s["total"] == 5 for s in seen)
    assert seen[0]["eta_s"] is None  # nothing trained yet: no estimate
    final = json.loads(progress.read_text())
    assert (final["done"], final["total"], final["cached"], final["trained"]) == (5, 5, 2, 3)
    assert final["eta_s"] == 0.0


def test_time_left_is_the_mean_time_per_trained_run_times_the_runs_left(tmp_path, monkeypatch):
    progress = tmp_path / "p.json"
    monkeypatch.setenv(PROGRESS_ENV, str(progress))
    monkeypatch.setattr("dreg_utils.sweep.time.time", lambda: 1000.0)
    report_progress("runs", done=14, total=20, cached=10, started=980.0)  # 4 trained in 20 s
    record = json.loads(progress.read_text())
    assert record["elapsed_s"] == 20.0 and record["eta_s"] == pytest.approx(6 * 20.0 / 4)


def test_no_progress_file_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    run_grid([{"x": 1}], lambda g: [{"y": 1}], tmp_path / "cache", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
