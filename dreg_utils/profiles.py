"""Named parameter sets for each notebook.

* ``smoke``: the smallest run that exercises every code path (tests; < 60 s a notebook).
* ``default``: the CPU main job behind ``make book``.
* ``paper``: the papers' protocols where they state them. Where a paper leaves a
  setting open (e.g. the width and epochs of the synthetic study), the value is
  ours and the notebook says so.

A notebook reads its profile from the ``DREG_PROFILE`` environment variable
(default ``default``) unless papermill injects ``profile``; any parameter it sets
to a non-None value overrides the profile's.
"""
from __future__ import annotations

import os
from copy import deepcopy

from .validation import check_choice

PROFILES = ("smoke", "default", "paper")

PAPER_LAMBDAS = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]

SETTINGS: dict[str, dict[str, dict]] = {
    "synthetic": {
        "smoke": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                      lambdas=[0.0, 1e-2], seeds=[0, 1], hidden=[32, 32], activation="relu",
                      epochs=4, batch_size=64, lr=1e-3, weight_decay=1e-2, device="auto"),
        "default": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                        lambdas=PAPER_LAMBDAS, seeds=[0, 1, 2], hidden=[64, 64], activation="relu",
                        epochs=60, batch_size=64, lr=1e-3, weight_decay=1e-2, device="auto"),
        "paper": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                      lambdas=PAPER_LAMBDAS, seeds=[0, 1, 2, 3, 4], hidden=[64, 64],
                      activation="relu", epochs=200, batch_size=64, lr=1e-3, weight_decay=1e-2,
                      device="auto"),
    },
}


def profile_from_env(default: str = "default") -> str:
    """The profile named by ``DREG_PROFILE``, or ``default``."""
    return os.environ.get("DREG_PROFILE", default)


def resolve(notebook: str, profile: str, **overrides) -> dict:
    """The profile's settings for ``notebook`` with every non-None override applied."""
    check_choice("notebook", notebook, SETTINGS)
    check_choice("profile", profile, PROFILES)
    settings = deepcopy(SETTINGS[notebook][profile])
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)} for notebook {notebook!r}; "
                         f"valid: {sorted(settings)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["profile"] = profile
    return settings
