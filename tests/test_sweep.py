"""The grid runner: cache keys, reuse of finished runs, grouping, atomic writes."""
import json

import pandas as pd
import pytest

from dreg_utils import sweep


def configs(n=4):
    return [{"a": i % 2, "seed": i} for i in range(n)]


def test_config_key_is_stable_and_order_independent():
    assert sweep.config_key({"a": 1, "b": [1, 2]}) == sweep.config_key({"b": [1, 2], "a": 1})
    assert sweep.config_key({"a": 1}) != sweep.config_key({"a": 2})


def test_finished_runs_are_reused(tmp_path):
    calls = []

    def run(group):
        calls.extend(c["seed"] for c in group)
        return [{"score": c["seed"] * 10} for c in group]

    first = sweep.run_grid(configs(3), run, tmp_path, progress=False)
    assert calls == [0, 1, 2] and not first["cached"].any()
    second = sweep.run_grid(configs(4), run, tmp_path, progress=False)
    assert calls == [0, 1, 2, 3]  # only the new configuration ran
    assert second["cached"].tolist() == [True, True, True, False]
    assert second["score"].tolist() == [0, 10, 20, 30]


def test_groups_run_together(tmp_path):
    groups = []

    def run(group):
        groups.append([c["seed"] for c in group])
        return [{"score": 0} for _ in group]

    sweep.run_grid(configs(4), run, tmp_path, group_key=lambda c: c["a"], progress=False)
    assert sorted(groups) == [[0, 2], [1, 3]]


def test_interrupted_sweep_keeps_finished_runs(tmp_path):
    def run(group):
        if group[0]["seed"] == 2:
            raise KeyboardInterrupt
        return [{"score": 1}]

    with pytest.raises(KeyboardInterrupt):
        sweep.run_grid(configs(4), run, tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 2 and not list(tmp_path.glob("*.tmp"))
    assert all(json.loads(f.read_text())["result"] == {"score": 1} for f in files)


def test_corrupt_cache_file_is_recomputed(tmp_path):
    config = configs(1)
    (tmp_path / f"{sweep.config_key(config[0])}.json").write_text("{truncated")
    rows = sweep.run_grid(config, lambda g: [{"score": 5}], tmp_path, progress=False)
    assert rows["score"].tolist() == [5] and not rows["cached"].any()


def test_duplicate_configurations_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate configurations"):
        sweep.run_grid([{"a": 1}, {"a": 1}], lambda g: [{}], tmp_path, progress=False)


def test_write_table_round_trips(tmp_path):
    df = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    path = sweep.write_table(df, tmp_path / "sub" / "t.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), df)


def test_local_backend_runs_one_job_in_this_process():
    assert sweep.local_backend(1) == ("serial", None)
    assert sweep.local_backend(3) == ("joblib", 3)
