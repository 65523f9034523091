"""Study settings: presets resolve, overrides apply, every knob reaches its notebook, bad values
stop with messages that name the parameter and what is valid."""
import ast
import dataclasses
import json
from pathlib import Path

import jupytext
import pytest

from dreg_utils.book.chapters import CHAPTER_SETTINGS
from dreg_utils.constraints import Interval
from dreg_utils.settings import PROFILES, StudySettings, knob, parse_value, profile_from_env
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.synthetic import SyntheticSettings

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def synthetic(**overrides):
    return SyntheticSettings.from_profile("smoke", **overrides)


def test_from_profile_applies_only_non_none_overrides():
    settings = SyntheticSettings.from_profile("default", epochs=7, seeds=None)
    assert settings.epochs == 7 and settings["epochs"] == 7
    assert settings.seeds == SyntheticSettings().seeds == [0, 1, 2, 3, 4]
    assert settings.profile == "default"


def test_presets_are_not_shared_or_mutated():
    first = SyntheticSettings.from_profile("smoke")
    first.families.append("smooth")  # the instance is frozen, its lists are its own
    assert len(SyntheticSettings.from_profile("smoke").families) == 5
    assert len(SyntheticSettings.PRESETS["smoke"]) == 5


def test_settings_are_frozen_and_read_like_a_dict():
    settings = synthetic()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 3
    as_dict = dict(settings)
    assert list(as_dict) == ["profile", *SyntheticSettings.knobs()]
    assert as_dict["lambdas"] == [0.0, 1e-2] and {**settings}["epochs"] == 4
    assert SyntheticSettings.coerce(as_dict) == settings
    with pytest.raises(KeyError):
        settings["PRESETS"]


def test_coerce_fills_missing_knobs_with_the_default_profile_and_checks_the_rest():
    settings = SyntheticSettings.coerce({"epochs": 3})
    assert settings.epochs == 3 and settings.hidden == [64, 64] and settings.profile == "default"
    with pytest.raises(ValueError, match=r"unknown parameters \['width'\] for SyntheticSettings; valid: \["):
        SyntheticSettings.coerce({"width": 3})
    with pytest.raises(TypeError, match="settings must be a SyntheticSettings or a dict"):
        SyntheticSettings.coerce([("epochs", 3)])


def test_replace_checks_the_new_values():
    settings = synthetic().replace(epochs=9)
    assert settings.epochs == 9
    with pytest.raises(ValueError, match=r"epochs=0 is not valid"):
        synthetic().replace(epochs=0)


def test_profile_from_env(monkeypatch):
    monkeypatch.setenv("DREG_PROFILE", "paper")
    assert profile_from_env() == "paper"
    assert SyntheticSettings.from_profile().profile == "paper"
    monkeypatch.delenv("DREG_PROFILE")
    assert profile_from_env() == "default"


def test_paper_profile_uses_the_paper_lambda_grid():
    assert SyntheticSettings.from_profile("paper").lambdas == [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


@pytest.mark.parametrize("chapter", CHAPTER_SETTINGS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_preset_is_valid_and_names_only_knobs(chapter, profile):
    settings_type = CHAPTER_SETTINGS[chapter]
    assert set(settings_type.PRESETS) <= set(PROFILES)
    assert set(settings_type.PRESETS.get(profile, {})) <= set(settings_type.knobs())
    assert settings_type.from_profile(profile).profile == profile


def parameters_cell(chapter: str) -> list[str]:
    """The names assigned in a notebook's parameters cell, in order."""
    cells = [c for c in jupytext.read(NOTEBOOKS / f"{chapter}.md").cells
             if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{chapter} must have exactly one parameters cell"
    return [t.id for node in ast.parse(cells[0].source).body for t in node.targets]


@pytest.mark.parametrize("chapter", CHAPTER_SETTINGS)
def test_parameters_cell_lists_every_knob_of_its_study(chapter):
    """One knob added to a settings type and not to its page fails here."""
    names = parameters_cell(chapter)
    knobs = list(CHAPTER_SETTINGS[chapter].knobs())
    assert names[0] == "profile"
    assert [n for n in names if n in knobs] == knobs, f"{chapter}: knobs missing or out of order"
    assert set(names) - set(knobs) <= {"profile", "results_dir"}


@pytest.mark.parametrize("knob", ["lr", "batch_size", "weight_decay"])
def test_every_training_page_exposes_the_optimiser_knobs(knob):
    trained = [c for c, t in CHAPTER_SETTINGS.items() if "epochs" in t.knobs()]
    assert len(trained) == 6
    assert all(knob in parameters_cell(c) for c in trained)


def test_from_notebook_reads_the_parameters_and_refuses_a_missing_knob():
    namespace = {"profile": "smoke", **{k: None for k in MNISTSettings.knobs()}, "lr": 3e-3}
    settings = MNISTSettings.from_notebook(namespace)
    assert settings.lr == 3e-3 and settings.epochs == 2
    del namespace["weight_decay"]
    with pytest.raises(ValueError, match=r"does not define \['weight_decay'\]"):
        MNISTSettings.from_notebook(namespace)


def test_a_subclass_declares_knobs_presets_and_checks_in_one_place():
    @dataclasses.dataclass(frozen=True)
    class Toy(StudySettings):
        width: int = knob(3, Interval(int, 1, None))
        PRESETS = {"smoke": {"width": 1}}

    assert Toy.knobs() == ("width",) and Toy.knob_types() == {"width": int}
    assert Toy.from_profile("smoke").width == 1 and Toy.from_profile("paper").width == 3
    with pytest.raises(ValueError, match=r"^width=0 is not valid; it must be an integer >= 1$"):
        Toy.from_profile("default", width=0)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: SyntheticSettings.from_profile("huge"), ValueError,
     r"profile='huge' is not valid; choose one of \['smoke', 'default', 'paper'\]"),
    (lambda: synthetic(width=3), ValueError, r"unknown parameters \['width'\].*valid: \['activation'"),
    (lambda: synthetic(families=["smooth", "wavy"]), ValueError, r"families contains \['wavy'\].*choose from"),
    (lambda: synthetic(families=[]), ValueError, r"families must be a non-empty list"),
    (lambda: synthetic(families="smooth"), TypeError, r"families must be a non-empty list, got 'smooth'"),
    (lambda: synthetic(lambdas=[0.0, -1e-3]), ValueError, r"lambdas\[1\]=-0.001 is not valid; it must be >= 0"),
    (lambda: synthetic(lambdas=[1e-3]), ValueError, r"lambdas=\[0.001\] must include 0.0"),
    (lambda: synthetic(seeds=[0, -1]), ValueError, r"seeds\[1\]=-1 is not valid"),
    (lambda: synthetic(seeds=[1, 1]), ValueError, r"seeds lists 1 more than once"),
    (lambda: synthetic(hidden=[]), ValueError, r"hidden must be a non-empty list"),
    (lambda: synthetic(activation="gelu"), ValueError, r"activation='gelu' is not valid; choose one of"),
    (lambda: synthetic(epochs=0), ValueError, r"epochs=0 is not valid"),
    (lambda: synthetic(lr=0.0), ValueError, r"lr=0.0 is not valid; it must be > 0"),
    (lambda: synthetic(batch_size=1.5), TypeError, r"batch_size must be an integer"),
    (lambda: synthetic(device="tpu"), ValueError, r"device='tpu' is not valid"),
])
def test_bad_settings(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_every_notebook_is_a_chapter_with_a_settings_type_and_a_page():
    toc = (NOTEBOOKS.parent / "_toc.yml").read_text()
    for path in NOTEBOOKS.glob("*.md"):
        assert path.stem in CHAPTER_SETTINGS, f"{path.name} has no settings type in book/chapters.py"
        assert f"book/executed/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTER_SETTINGS)
def test_every_knob_reads_its_values_written_as_text(chapter):
    """The runner reads --param by the knob's declared type: a knob of a type parse_value cannot
    read fails here. Each profile's value, written as on the command line (text as itself, the
    rest as JSON), reads back equal and of the same type."""
    settings_type = CHAPTER_SETTINGS[chapter]
    types = settings_type.knob_types()
    assert list(types) == list(settings_type.knobs())
    for profile in PROFILES:
        for name, value in settings_type.from_profile(profile).items():
            if name == "profile":
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            assert repr(parse_value(name, text, types[name])) == repr(value), (chapter, profile, name, text)


def test_knob_types_are_the_declared_annotations():
    types = MNISTSettings.knob_types()
    assert types["epochs"] is int and types["lam"] is float and types["capacities"] == list[list[int]]
    assert types["n_train"] == int | None and "profile" not in types
