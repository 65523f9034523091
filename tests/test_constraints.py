"""Bad-input tests generated from the declared constraints, for every knob of every study.

Each knob's declaration (:mod:`dreg_utils.constraints`) gives values just outside it (below an
interval, NaN, inf, the wrong type, an unknown option, an empty or repeated list, None for a knob
that cannot be None...) and just inside it. Every outside value must stop the study's settings
with one line that starts with the knob's name; every inside value must be accepted, kept as
given (in canonical form), and read back from text the way the runner reads ``--param``.
"""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from dreg_utils.book.chapters import CHAPTER_SETTINGS
from dreg_utils.constraints import (COUNT, EPOCHS, LEVEL, MAX_WEIGHTS, MAX_WIDTH, NONNEGATIVE, POSITIVE, SEEDS, WIDTH,
                                    WIDTHS, WORKERS, Device, Interval, ListOf, Nullable, Options, PathTo, Widths)
from dreg_utils.settings import StudySettings, knob, parse_value

REFUSALS = (TypeError, ValueError, FileNotFoundError)


def _cases(side: str) -> list:
    """(chapter, knob, value) for every value on ``side`` ("outside" or "inside") of every knob's
    declaration; outside also holds None for a knob that may not be None."""
    cases = []
    for chapter, settings_type in CHAPTER_SETTINGS.items():
        for name, constraint in settings_type.constraints().items():
            values = getattr(constraint, side)()
            if side == "outside" and not isinstance(constraint, Nullable):
                values = [None, *values]
            cases += [pytest.param(chapter, name, value, id=f"{chapter}-{name}-{value!r:.40}") for value in values]
    return cases


def _smoke(chapter: str) -> StudySettings:
    return CHAPTER_SETTINGS[chapter].from_profile("smoke")


def test_every_knob_of_every_study_declares_a_constraint_of_its_annotated_type():
    """The runner reads text by the annotation and the settings check by the declaration: they agree."""
    for chapter, settings_type in CHAPTER_SETTINGS.items():
        constraints, types = settings_type.constraints(), settings_type.knob_types()
        assert list(constraints) == list(types), chapter
        for name, constraint in constraints.items():
            assert constraint.annotation == types[name], (chapter, name, constraint.annotation, types[name])
            assert constraint.outside() and len(constraint.inside()) >= 2, (chapter, name)


@pytest.mark.parametrize("chapter, name, value", _cases("outside"))
def test_a_value_just_outside_a_declaration_is_refused_in_one_line_naming_the_knob(chapter, name, value):
    with pytest.raises(REFUSALS) as refused:
        dataclasses.replace(_smoke(chapter), **{name: value})
    message = str(refused.value)
    assert message.startswith(name) and "\n" not in message, message
    with pytest.raises(type(refused.value)):  # refused by the declaration itself, not a cross-knob rule
        CHAPTER_SETTINGS[chapter].constraints()[name].check(name, value)


@pytest.mark.parametrize("chapter, name, value", _cases("inside"))
def test_a_value_just_inside_a_declaration_is_accepted_and_reads_back_from_text(chapter, name, value):
    """Accepted by the declaration and by the settings, unless a rule between knobs refuses the
    combination with the smoke profile's other values (its message names both knobs)."""
    settings_type = CHAPTER_SETTINGS[chapter]
    checked = settings_type.constraints()[name].check(name, value)
    assert checked == value and type(checked) is type(value)
    try:
        assert dataclasses.replace(_smoke(chapter), **{name: value})[name] == value
    except ValueError as error:
        other = str(error).split("=")[0]
        assert other in settings_type.knobs() and other != name and name in str(error), str(error)
    text = value if isinstance(value, str) else json.dumps(value)
    assert parse_value(name, text, settings_type.knob_types()[name]) == value


@pytest.mark.parametrize("constraint, value, error, message", [
    (COUNT, 0, ValueError, "n=0 is not valid; it must be an integer >= 1"),
    (COUNT, 2.0, TypeError, "n must be an integer, got 2.0"),
    (COUNT, True, TypeError, "n must be an integer, got True"),
    (POSITIVE, 0, ValueError, "n=0.0 is not valid; it must be > 0"),
    (POSITIVE, "0.1", TypeError, "n must be a real number, got '0.1'"),
    (NONNEGATIVE, -5e-324, ValueError, "n=-5e-324 is not valid; it must be >= 0.0"),
    (NONNEGATIVE, math.inf, ValueError, "n=inf is not valid; it must be finite"),
    (LEVEL, 1.0, ValueError, r"n=1.0 is not valid; it must be in (0, 1)"),
    (Interval(int, 1, 3, closed="both"), 4, ValueError, "n=4 is not valid; it must be an integer in [1, 3]"),
    (Interval(float, None, 1.0, closed="right"), 1.5, ValueError, "n=1.5 is not valid; it must be <= 1.0"),
    (Options("relu", "poly"), "gelu", ValueError, "n='gelu' is not valid; choose one of ['relu', 'poly']"),
    (ListOf(Options("relu", "poly")), ["relu", "gelu", 3], ValueError,
     "n contains ['gelu', 3], which is not valid; choose from ['relu', 'poly']"),
    (SEEDS, [], ValueError, "n must be a non-empty list, got []"),
    (SEEDS, "0", TypeError, "n must be a non-empty list, got '0'"),
    (SEEDS, [0, 0], ValueError, "n lists 0 more than once; give each value once"),
    (SEEDS, [0, -1], ValueError, "n[1]=-1 is not valid; it must be an integer >= 0"),
    (ListOf(NONNEGATIVE, empty=True), "0", TypeError, "n must be a list, got '0'"),
    (ListOf(NONNEGATIVE, reference=0.0), [0.1], ValueError, "n=[0.1] must include 0.0, the unregularised reference"),
    (ListOf(COUNT, min_length=2, max_length=2), [8, 8, 8], ValueError, "n=[8, 8, 8] must hold at most 2 values"),
    (ListOf(COUNT, min_length=2), [8], ValueError, "n=[8] must hold at least 2 values"),
    (Nullable(COUNT), True, TypeError, "n must be an integer or None, got True"),
    (PathTo("folder"), 3, TypeError, "n must be a folder path, got 3"),
    (PathTo("folder"), "", ValueError, "n='' is not valid; give a folder path"),
    (PathTo("file", exists=True, give="a table"), "no/such.csv", FileNotFoundError,
     "n='no/such.csv' is not a file; give a table"),
    (EPOCHS, 99999999999999999999999, ValueError,
     "n=99999999999999999999999 is not valid; it must be an integer <= 100000 (a generous limit, far above any "
     "protocol here)"),
    (COUNT, 10_000_001, ValueError, "n=10000001 is not valid; it must be an integer <= 10000000 (a generous limit, "
     "far above any protocol here)"),
    (WORKERS, 1025, ValueError, "n=1025 is not valid; it must be an integer <= 1024 (a generous limit, far above "
     "any protocol here)"),
    (SEEDS, [0, 2**32], ValueError, "n[1]=4294967296 is not valid; it must be an integer <= 4294967295 (the largest "
     "32-bit seed)"),
    (Interval(float, 0, None, limit=10.0), 10.5, ValueError, "n=10.5 is not valid; it must be a number <= 10.0 "
     "(a generous limit, far above any protocol here)"),
    (WIDTHS, [1_000_000_000, 1_000_000_000], ValueError, "n[0]=1000000000 is not valid; it must be an integer <= "
     "65536 (a generous limit, far above any protocol here)"),
    (WIDTHS, [784, 65536, 4097], ValueError, "n=[784, 65536, 4097] is not valid; neighbouring widths 65536 and 4097 "
     "make a weight matrix of 268500992 entries, above the limit of 268435456 (1 GiB of float32 weights; a "
     "generous limit, far above any protocol here)"),
    (Widths(WIDTH, max_length=2), [8, 8, 8], ValueError, "n=[8, 8, 8] must hold at most 2 values"),
    (PathTo("folder"), " ", ValueError, "n=' ' is not valid; give a folder path"),
    (PathTo("folder", writable=True), __file__, ValueError,
     f"n={__file__!r} is not valid; it is a file, not a folder; give a folder you can write (it is created if "
     "missing)"),
    (PathTo("folder", writable=True), f"{__file__}/a/b", ValueError,
     f"n={__file__ + '/a/b'!r} is not valid; {__file__!r} is a file, not a folder; give a folder you can write "
     "(it is created if missing)"),
    (PathTo("folder", writable=True), "/proc/1/results", ValueError,
     "n='/proc/1/results' is not valid; '/proc/1' cannot be written (No such file or directory); give a folder "
     "you can write"),
    (Device(), "gpu", ValueError, "n='gpu' is not valid; choose one of ['auto', 'cpu', 'cuda']"),
    (Device(), "cpu:0", ValueError, "n='cpu:0' is not valid; an index goes only with 'cuda', e.g. 'cuda:0'"),
])
def test_each_kind_of_declaration_refuses_with_its_message(constraint, value, error, message):
    with pytest.raises(error) as refused:
        constraint.check("n", value)
    assert str(refused.value) == message


@pytest.mark.parametrize("constraint, value, canonical", [
    (POSITIVE, 1, 1.0), (COUNT, 3, 3), (SEEDS, (2, 0), [2, 0]), (Nullable(COUNT), None, None),
    (ListOf(ListOf(COUNT)), ((32, 16),), [[32, 16]]), (Interval(float, 0, 1, closed="neither"), 0.5, 0.5),
])
def test_an_accepted_value_is_returned_in_canonical_form(constraint, value, canonical):
    checked = constraint.check("n", value)
    assert checked == canonical and repr(checked) == repr(canonical)


@pytest.mark.parametrize("constraint, value", [
    (EPOCHS, 100_000), (WIDTH, MAX_WIDTH), (WORKERS, 1024), (SEEDS, [2**32 - 1]),
    (WIDTHS, [MAX_WIDTH, MAX_WEIGHTS // MAX_WIDTH]), (WIDTHS, [784, MAX_WIDTH, 16, MAX_WIDTH, 10]),
])
def test_a_value_at_a_limit_is_accepted(constraint, value):
    assert constraint.check("n", value) == value


def test_a_writable_folder_is_tried_and_left_as_it_was(tmp_path):
    """An existing folder and a missing one below it are accepted; the try leaves nothing behind."""
    writable = PathTo("folder", writable=True)
    assert writable.check("n", str(tmp_path)) == str(tmp_path)
    assert writable.check("n", tmp_path / "new" / "results") == tmp_path / "new" / "results"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="writable=True applies to a folder, not a file"):
        PathTo("file", writable=True)


def test_a_knob_without_a_declaration_is_refused_when_its_settings_are_built():
    @dataclasses.dataclass(frozen=True)
    class Undeclared(StudySettings):
        width: int = 3

    with pytest.raises(TypeError, match=r"Undeclared declares no constraint for \['width'\]; declare each knob"):
        Undeclared()


def test_cross_knob_rules_stay_explicit_checks_after_each_knob_passed_its_own():
    @dataclasses.dataclass(frozen=True)
    class Pair(StudySettings):
        low: int = knob(1, COUNT)
        high: int = knob(2, COUNT)

        def check_together(self, values):
            if values["low"] > values["high"]:
                raise ValueError(f"low={values['low']} is not valid; it must be <= high={values['high']}")

    assert Pair(low=2, high=2).low == 2
    with pytest.raises(ValueError, match=r"^low=3 is not valid; it must be <= high=2$"):
        Pair(low=3)
    with pytest.raises(ValueError, match=r"^low=0 is not valid; it must be an integer >= 1$"):
        Pair(low=0, high=-1)  # each knob alone first
