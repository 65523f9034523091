"""Values are checked once, where they enter: code below a study's settings does not check them again.

Every argument check of :mod:`dreg_utils.validation`, every model-input check and every device
resolution made anywhere in ``dreg_utils`` is recorded while a study runs from settings built
beforehand. Before: MNIST's ``lam`` was checked again by each ``Member``, ``epochs`` and the other
training knobs by ``fit_ensemble``, the device resolved three times per group (``run_group``,
``fit_ensemble``, ``build_group``); each distillation run put the data through ``check_input``
four times and converted it numpy -> torch six times more than once per task.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch

from dreg_utils.data.regression import load_dataset
from dreg_utils.ensemble import Member, fit_ensemble
from dreg_utils.studies import distillation, mnist, synthetic
from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.studies.mnist import MNISTSettings
from dreg_utils.studies.synthetic import SyntheticSettings
from dreg_utils.teachers import TeacherInputs, teach, train_teachers

RECORDED = ("check_int", "check_float", "check_choice", "check_choices", "check_nonempty_list", "check_hidden",
            "check_members", "check_input", "check_device", "resolve_device")
SETTINGS_CHECKED = ("lam", "method", "members", "epochs", "lr", "weight_decay", "task")


def _recording(function: Callable, calls: list) -> Callable:
    def recorded(*args, **kwargs):
        if function.__name__ in ("check_input",):  # (model, x, name="x")
            name = args[2] if len(args) > 2 else kwargs.get("name", "x")
            calls.append((function.__name__, name, None))
        elif function.__name__ in ("resolve_device", "check_device", "check_members"):
            calls.append((function.__name__, function.__name__, str(args[0]) if args else None))
        else:
            calls.append((function.__name__, args[0], args[1] if len(args) > 1 else None))
        return function(*args, **kwargs)

    return recorded


@pytest.fixture
def checks(monkeypatch) -> list[tuple]:
    """(function, name, value) of every check and device resolution made from now on in dreg_utils."""
    calls: list[tuple] = []
    for module in [m for n, m in list(sys.modules.items()) if n.startswith("dreg_utils")]:
        for name in RECORDED:
            original = getattr(module, name, None)
            if callable(original) and getattr(original, "__module__", "").startswith("dreg_utils"):
                monkeypatch.setattr(module, name, _recording(original, calls))
    return calls


def _settings_rechecked(calls: list[tuple], settings) -> list[tuple]:
    """The recorded checks of a knob the settings checked already (a batch size only when it is the
    settings' own: a metric's evaluation batches are its own argument)."""
    return [c for c in calls if c[1] in SETTINGS_CHECKED or (c[1] == "batch_size" and c[2] == settings.batch_size)]


def test_mnist_sweep_checks_no_knob_again_and_resolves_its_device_once(tiny_mnist, tmp_path, checks):
    """The trace of ``lam``: settings -> make_configs -> run_grid -> run_group -> train_group -> a tensor."""
    settings = MNISTSettings.from_profile("smoke", capacities=[[8, 4]], activations=["relu"], seeds=[0, 1],
                                          methods=["base", "dreg", "igp"], epochs=1, device="cpu")
    checks.clear()
    runs = mnist.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    assert len(runs) == 6 and not runs["cached"].any()
    assert _settings_rechecked(checks, settings) == []
    assert [c for c in checks if c[0] == "resolve_device"] == [("resolve_device", "resolve_device", "cpu")]


def test_synthetic_sweep_checks_no_knob_again_and_resolves_its_device_once(tmp_path, checks):
    settings = SyntheticSettings.from_profile("smoke", families=["smooth"], lambdas=[0.0, 0.1], seeds=[0],
                                              hidden=[4], epochs=1, device="cpu")
    checks.clear()
    synthetic.run_sweep(settings, tmp_path, progress=False)
    assert _settings_rechecked(checks, settings) == []
    assert [c[0] for c in checks if c[0] == "resolve_device"] == ["resolve_device"]


def test_a_distillation_task_converts_its_data_once_and_checks_it_nowhere(monkeypatch, checks):
    """numpy -> torch once per split for the task's teachers and every prediction; no check_input."""
    settings = DistillationSettings.from_profile("smoke", epochs=2, population_size=20, generations=1,
                                                 tournament_size=5)
    configs = [c for c in distillation.make_configs(settings, ["feynman_I_14_4"], [0.1])
               if c["kind"] == "distill"]
    assert len(configs) == 3  # base, jacobian 0.1, dreg 0.1: one task
    conversions = []
    as_tensor = torch.as_tensor

    def recorded(data, *args, **kwargs):
        if isinstance(data, np.ndarray):  # a crossing from numpy (torch also calls as_tensor inside)
            conversions.append(data.shape)
        return as_tensor(data, *args, **kwargs)

    monkeypatch.setattr(torch, "as_tensor", recorded)
    checks.clear()
    rows = distillation.run_task(configs)
    assert all(not row.get("diverged", False) for row in rows)
    data = load_dataset("feynman_I_14_4", noise=0.1)
    assert conversions == [data.x_train.shape, data.y_train.shape, data.x_val.shape, data.x_test.shape]
    assert [c for c in checks if c[0] == "check_input"] == []
    assert _settings_rechecked(checks, settings) == []


def test_the_unchecked_paths_train_exactly_what_the_checked_ones_do(tiny_mnist):
    """A study's run (train_group, teach) equals the public, checked call (fit_ensemble,
    train_teachers) bit for bit."""
    members = [Member(0, "base"), Member(1, "dreg", 0.01), Member(0, "sn")]
    options = dict(activation="poly", task="classification", out_features=10, epochs=1, batch_size=32,
                   lr=1e-3, weight_decay=1e-2)
    public = fit_ensemble(members, tiny_mnist.x_train, tiny_mnist.y_train, (8, 4), device="cpu", **options)
    rows = mnist.run_group([{"seed": m.seed, "method": m.method, "lam": m.lam, "hidden": [8, 4], **options}
                            for m in members], tiny_mnist, torch.device("cpu"))
    assert [r["train_loss"] for r in rows] == [r.history[-1]["train_task_loss"] for r in public]
    data = load_dataset("feynman_I_14_4", noise=0.1)
    teachers, protocol = [("base", 0.0), ("jacobian", 0.1)], dict(hidden=[8], epochs=2, batch_size=64, lr=1e-3,
                                                                  weight_decay=0.0)
    checked = train_teachers(data, teachers, 0, **protocol)
    trusted = teach(TeacherInputs.of(data), teachers, 0, **protocol)
    for a, b in zip(checked, trusted):
        assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
