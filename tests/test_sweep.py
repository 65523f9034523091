"""The grid runner: cache keys, reuse of finished runs, grouping, atomic writes, file modes,
result schemas."""
import ast
import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dreg_utils import files, sweep
from dreg_utils.schema import (FINITE, FLAG, INTEGER, LIST, NUMBER, TEXT, ResultSchema, list_of, or_none,
                               record_of)


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
    path = files.write_table(df, tmp_path / "sub" / "t.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), df)


def test_local_backend_runs_one_job_in_this_process():
    assert sweep.local_backend(1) == ("serial", None)
    assert sweep.local_backend(3) == ("joblib", 3)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_are_written_as_the_umask_allows(tmp_path, umask, mode):
    """A shared group can read the results (mkstemp alone would give every file mode 0600)."""
    previous = os.umask(umask)
    try:
        assert files.current_umask() == umask
        files.write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.csv")
        sweep.run_grid([{"a": 1}], lambda g: [{"score": 1}], tmp_path / "cache", progress=False)
    finally:
        os.umask(previous)
    written = [tmp_path / "t.csv", *(tmp_path / "cache").glob("*.json")]
    assert len(written) == 2 and [stat.S_IMODE(f.stat().st_mode) for f in written] == [mode, mode]


SCHEMA = ResultSchema(always={"diverged": FLAG, "seconds": FINITE},
                      finished={"score": FINITE, "ratio": NUMBER, "values": LIST},
                      optional={"note": or_none(TEXT), "steps": INTEGER})
FINISHED = {"diverged": False, "seconds": 1.5, "score": 2.0, "ratio": float("nan"), "values": [1, 2]}


@pytest.mark.parametrize("result, problem", [
    (FINISHED, None),
    ({**FINISHED, "note": None, "steps": 3}, None),
    ({**FINISHED, "extra": 1}, "field 'extra' is not one of the study's result fields"),
    ({**FINISHED, "score": 10**400}, f"field 'score' is {str(10**400)[:60]}, not a finite number"),
    ({**FINISHED, "ratio": -10**400}, f"field 'ratio' is {str(-10**400)[:60]}, not a number (NaN allowed)"),
    ({**FINISHED, "steps": 2**63}, f"field 'steps' is {2**63}, not an integer"),
    ({"diverged": True, "seconds": 0.1}, None),  # a diverged run has no metrics
    ({"diverged": False}, "field 'seconds' is missing"),
    ({"diverged": False, "seconds": 1.0}, "field 'score' is missing"),
    ({**FINISHED, "score": float("nan")}, "field 'score' is nan, not a finite number"),
    ({**FINISHED, "score": float("inf")}, "field 'score' is inf, not a finite number"),
    ({**FINISHED, "score": "2.0"}, "field 'score' is '2.0', not a finite number"),
    ({**FINISHED, "score": True}, "field 'score' is True, not a finite number"),
    ({**FINISHED, "values": "[1, 2]"}, "field 'values' is '[1, 2]', not a list"),
    ({**FINISHED, "steps": 3.0}, "field 'steps' is 3.0, not an integer"),
    ({**FINISHED, "note": 4}, "field 'note' is 4, not a string or null"),
    ({"diverged": True, "seconds": 0.1, "score": "x"}, "field 'score' is 'x', not a finite number"),
    ({"diverged": "no", "seconds": 1.0}, "field 'diverged' is 'no', not true or false"),
    ([1, 2], "the result is list, not an object"),
])
def test_result_schema_names_the_first_problem(result, problem):
    assert SCHEMA.problem(result) == problem


@pytest.mark.parametrize("kind, value, fits", [
    (list_of(FINITE, 2), [1.0, 2], True),
    (list_of(FINITE, 2), [1.0, 2, 3], False),
    (list_of(FINITE, 2), [1.0, float("nan")], False),
    (list_of(FINITE, 2), (1.0, 2.0), False),
    (list_of(list_of(FINITE, 2)), [[1, 2], [3, 4]], True),
    (list_of(list_of(FINITE, 2)), [["a", "b", "c"]], False),
    (list_of(list_of(FINITE, 2)), [1, 2], False),
    (record_of({"n": INTEGER, "s": TEXT}), {"n": 1, "s": "a"}, True),
    (record_of({"n": INTEGER, "s": TEXT}), {"n": 1}, False),
    (record_of({"n": INTEGER, "s": TEXT}), {"n": 1, "s": "a", "t": 2}, False),
    (record_of({"n": INTEGER, "s": TEXT}), {"n": 1.5, "s": "a"}, False),
])
def test_list_and_object_kinds_check_every_item(kind, value, fits):
    assert kind.accepts(value) is fits


def test_a_schema_can_require_its_fields_to_agree():
    schema = ResultSchema(always={"a": LIST, "b": LIST},
                          agree=lambda r: None if len(r["a"]) == len(r["b"]) else "a and b differ")
    assert schema.problem({"a": [1], "b": [2]}) is None
    assert schema.problem({"a": [1], "b": []}) == "a and b differ"
    assert schema.problem({"a": [1]}) == "field 'b' is missing"  # the fields first


def test_a_result_may_not_set_a_key_of_its_configuration(tmp_path):
    """Reproduction: rows were {**config, **result}, so a record's result {"method": "dreg"} showed
    a "base" run as DREG; such a result is now refused, cached or fresh."""
    config = {"method": "base", "lam": 0.0}
    path = tmp_path / f"{sweep.config_key(config)}.json"
    path.write_text(json.dumps({"config": config, "result": {"score": 1.0, "method": "dreg", "lam": 0.5},
                                "study_version": "1"}))
    rows = sweep.run_grid([config], lambda g: [{"score": 2.0}], tmp_path, progress=False)
    assert rows[["method", "lam", "score", "cached"]].values.tolist() == [["base", 0.0, 2.0, False]]
    for bad in ({"score": 1.0, "lam": 0.5}, {"score": 1.0, "run_key": "x"}, {"score": 1.0, "cached": True}):
        with pytest.raises(RuntimeError, match=f"field '{next(iter(set(bad) - {'score'}))}' is a key of the "
                                               "run's configuration or of run_grid's columns, not a result"):
            sweep.run_grid([{**config, "seed": 1}], lambda g, bad=bad: [bad], tmp_path, progress=False)


def test_a_fresh_result_that_does_not_fit_its_schema_is_not_written(tmp_path):
    with pytest.raises(RuntimeError, match=r"result for \{'a': 1\} does not fit the study's result "
                                           r"schema: field 'score' is missing"):
        sweep.run_grid([{"a": 1}], lambda g: [{"diverged": False, "seconds": 1.0}], tmp_path,
                       progress=False, schema=SCHEMA)
    assert not list(tmp_path.glob("*.json"))


def test_a_result_is_checked_as_it_will_be_read_back(tmp_path):
    """A value JSON cannot hold (here a numpy float32, written as text) is refused before it is
    cached, rather than rejected on every later read."""
    with pytest.raises(RuntimeError, match=r"field 'score' is '2.0', not a finite number"):
        sweep.run_grid([{"a": 1}], lambda g: [{**FINISHED, "score": np.float32(2.0)}], tmp_path,
                       progress=False, schema=SCHEMA)


def test_a_fresh_record_too_large_to_read_back_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "MAX_RECORD_BYTES", 200)
    with pytest.raises(RuntimeError, match="its record would take more than 200 bytes"):
        sweep.run_grid([{"a": 1}], lambda g: [{"values": list(range(100))}], tmp_path, progress=False)
    assert not list(tmp_path.glob("*.json"))


def test_a_directory_is_never_replaced(tmp_path):
    (tmp_path / "t.csv").mkdir()
    with pytest.raises(IsADirectoryError, match=f"cannot write {tmp_path / 't.csv'}: it is a directory"):
        files.atomic_write_text(tmp_path / "t.csv", "x")
    assert (tmp_path / "t.csv").is_dir() and not list(tmp_path.glob(".*.tmp"))


def test_every_study_declares_the_schema_of_its_results():
    """Every run_grid call of a study passes schema=, so no study reads records unchecked."""
    calls = []
    for path in sorted(Path(sweep.__file__).parent.joinpath("studies").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_grid":
                calls.append((path.name, any(k.arg == "schema" for k in node.keywords)))
    assert len(calls) >= 7 and all(has for _, has in calls), calls
