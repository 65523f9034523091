"""A change to the code a study's runs execute cannot reuse old cached rows unnoticed: the
recorded fingerprints must match the code until STUDY_VERSION is bumped or the change recorded."""
import json

import pytest

from dreg_utils.studies import code_fingerprints as fp

MODULE = '''"""Docstring."""
import math


def f(x):
    """What f computes."""
    return math.sqrt(x) + 1  # a comment
'''


def test_recorded_fingerprints_match_the_code():
    problems = fp.differences(fp.read_record(), fp.fingerprints())
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("variant", [
    MODULE.replace('"""What f computes."""', '"""What f computes, said otherwise."""'),
    MODULE.replace("# a comment", "# another comment"),
    MODULE.replace("return math.sqrt(x) + 1", "return math.sqrt( x )+1"),
    MODULE.replace('"""Docstring."""\n', "") + "\n\n# trailing comment\n",
    MODULE.replace('    """What f computes."""\n', ""),
])
def test_docstrings_comments_and_whitespace_do_not_count(variant):
    assert fp.source_hash(variant) == fp.source_hash(MODULE)


@pytest.mark.parametrize("variant", [
    MODULE.replace("+ 1", "+ 2"),
    MODULE.replace("math.sqrt(x)", "math.exp(x)"),
    MODULE.replace("return", "y = 0\n    return"),
])
def test_a_code_change_counts(variant):
    assert fp.source_hash(variant) != fp.source_hash(MODULE)


def test_a_study_covers_the_modules_its_runs_execute_and_not_the_book():
    modules = fp.closure("dreg_utils.studies.mnist")
    for needed in ("dreg_utils", "dreg_utils.studies.mnist", "dreg_utils.data.mnist", "dreg_utils.ensemble",
                   "dreg_utils.train", "dreg_utils.penalties", "dreg_utils.metrics", "dreg_utils.sweep"):
        assert needed in modules
    assert not [m for m in modules if m.startswith("dreg_utils.book")]
    # an ablation's runs are its study's: the distillation study covers the run function
    assert "dreg_utils.symbolic_regression" in fp.closure("dreg_utils.studies.distillation")
    assert fp.studies() == ["dreg_utils.studies.distillation", "dreg_utils.studies.mnist",
                            "dreg_utils.studies.surrogate", "dreg_utils.studies.synthetic",
                            "dreg_utils.studies.teacher_cost"]


def _changed(record: dict, module: str) -> dict:
    """``record`` as if ``module``'s code had been different when it was recorded."""
    record = json.loads(json.dumps(record))
    record["modules"][module] = "0" * 16
    for study in record["studies"].values():
        if module in study["modules"]:
            study["fingerprint"] = "0" * 16
    return record


def test_a_change_names_the_module_the_study_and_both_ways_out():
    current = fp.fingerprints()
    lines = fp.differences(_changed(current, "dreg_utils/train.py"), current)
    assert len(lines) == len(current["studies"])  # every study trains through train.py
    mnist = next(line for line in lines if line.startswith("dreg_utils.studies.mnist:"))
    assert "(dreg_utils/train.py)" in mnist
    assert "bump STUDY_VERSION in dreg_utils/studies/mnist.py if results change" in mnist
    assert "`python -m dreg_utils.studies.code_fingerprints --record`" in mnist
    only = fp.differences(_changed(current, "dreg_utils/optimisation.py"), current)
    assert [line.split(":")[0] for line in only] == ["dreg_utils.studies.surrogate"]


def test_a_bumped_version_must_be_recorded():
    current = fp.fingerprints()
    recorded = json.loads(json.dumps(current))
    recorded["studies"]["dreg_utils.studies.synthetic"]["study_version"] = "0"
    version = current["studies"]["dreg_utils.studies.synthetic"]["study_version"]
    assert fp.differences(recorded, current) == [
        f"dreg_utils.studies.synthetic: STUDY_VERSION is {version!r}, the record has '0': record the "
        "new code with `python -m dreg_utils.studies.code_fingerprints --record`"]


def test_the_command_checks_and_records(tmp_path, capsys):
    path = tmp_path / "code_fingerprints.json"
    assert fp.main([], path) == 1
    assert "has no recorded fingerprint" in capsys.readouterr().out
    assert fp.main(["--record"], path) == 0
    assert json.loads(path.read_text()) == fp.fingerprints()
    assert fp.main([], path) == 0
    assert "every study's code matches" in capsys.readouterr().out
