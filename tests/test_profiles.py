"""Notebook parameters: profiles resolve, overrides apply, bad values stop with clear messages."""
import pytest

from dreg_utils import profiles
from dreg_utils.studies import synthetic as study


def synthetic(**overrides):
    return study.validate(profiles.resolve("synthetic", "smoke", **overrides))


def test_resolve_applies_only_non_none_overrides():
    settings = profiles.resolve("synthetic", "default", epochs=7, seeds=None)
    assert settings["epochs"] == 7
    assert settings["seeds"] == profiles.SETTINGS["synthetic"]["default"]["seeds"]
    assert settings["profile"] == "default"


def test_resolve_does_not_mutate_the_profile_table():
    profiles.resolve("synthetic", "smoke", families=["smooth"])
    assert len(profiles.SETTINGS["synthetic"]["smoke"]["families"]) == 5


def test_profile_from_env(monkeypatch):
    monkeypatch.setenv("DREG_PROFILE", "paper")
    assert profiles.profile_from_env() == "paper"
    monkeypatch.delenv("DREG_PROFILE")
    assert profiles.profile_from_env() == "default"


def test_paper_profile_uses_the_paper_lambda_grid():
    assert profiles.resolve("synthetic", "paper")["lambdas"] == [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: profiles.resolve("synthetic", "huge"), ValueError,
     r"profile='huge' is not valid; choose one of \['smoke', 'default', 'paper'\]"),
    (lambda: profiles.resolve("cifar", "smoke"), ValueError, r"notebook='cifar' is not valid"),
    (lambda: profiles.resolve("synthetic", "smoke", width=3), ValueError, r"unknown parameters \['width'\]"),
    (lambda: synthetic(families=["smooth", "wavy"]), ValueError,
     r"families contains \['wavy'\], which is not valid; choose from \['smooth'"),
    (lambda: synthetic(families=[]), ValueError, r"families must be a non-empty list"),
    (lambda: synthetic(families="smooth"), TypeError, r"families must be a non-empty list, got 'smooth'"),
    (lambda: synthetic(lambdas=[0.0, -1e-3]), ValueError, r"lambdas\[1\]=-0.001 is not valid; it must be >= 0"),
    (lambda: synthetic(lambdas=[1e-3]), ValueError, r"must include 0.0, the unregularised baseline"),
    (lambda: synthetic(seeds=[0, -1]), ValueError, r"seeds\[1\]=-1 is not valid"),
    (lambda: synthetic(hidden=[]), ValueError, r"hidden must be a non-empty list"),
    (lambda: synthetic(activation="tanh"), ValueError, r"activation='tanh' is not valid; choose one of"),
    (lambda: synthetic(epochs=0), ValueError, r"epochs=0 is not valid"),
    (lambda: synthetic(device="tpu"), ValueError, r"device='tpu' is not valid"),
])
def test_bad_notebook_parameters(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
