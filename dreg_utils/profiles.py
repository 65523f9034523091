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
# Beyond the paper: three larger strengths show where the penalty starts to cost accuracy.
EXTENDED_LAMBDAS = PAPER_LAMBDAS + [3e-2, 1e-1, 3e-1]

SETTINGS: dict[str, dict[str, dict]] = {
    "synthetic": {
        "smoke": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                      lambdas=[0.0, 1e-2], seeds=[0, 1], hidden=[32, 32], activation="relu",
                      epochs=4, batch_size=64, lr=1e-3, weight_decay=1e-2, device="auto"),
        "default": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                        lambdas=EXTENDED_LAMBDAS, seeds=[0, 1, 2], hidden=[64, 64], activation="relu",
                        epochs=60, batch_size=64, lr=1e-3, weight_decay=1e-2, device="auto"),
        "paper": dict(families=["smooth", "piecewise", "sparse", "oscillatory", "entangled"],
                      lambdas=PAPER_LAMBDAS, seeds=[0, 1, 2, 3, 4], hidden=[64, 64],
                      activation="relu", epochs=200, batch_size=64, lr=1e-3, weight_decay=1e-2,
                      device="auto"),
    },
    # MNIST capacity sweep (notebook 02, DREG paper Table 3). lam: DREG and IGPEN strength (the
    # paper does not state it; 1e-2 is its Tables 1-2 "DREG" value). n_train/n_test None = all.
    "mnist": {
        "smoke": dict(dataset="mnist", source="auto", data_dir=None, n_train=1024, n_test=256,
                      capacities=[[32, 16], [64, 32]], activations=["relu", "poly"],
                      methods=["base", "dreg", "igp", "sn"], seeds=[0, 1], lam=1e-2, epochs=2,
                      batch_size=64, lr=1e-3, weight_decay=1e-2, device="auto",
                      frontier_capacity=[32, 16], frontier_activation="relu",
                      dreg_lambdas=[1e-2, 1e-1], igp_lambdas=[1e-2, 1.0], frontier_seeds=[0, 1]),
        "default": dict(dataset="mnist", source="auto", data_dir=None, n_train=None, n_test=None,
                        capacities=[[32, 16], [128, 64], [256, 128], [512, 256]],
                        activations=["relu", "poly"], methods=["base", "dreg", "igp", "sn"],
                        seeds=[0, 1, 2], lam=1e-2, epochs=8, batch_size=64, lr=1e-3,
                        weight_decay=1e-2, device="auto", frontier_capacity=[128, 64],
                        frontier_activation="relu", dreg_lambdas=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1],
                        igp_lambdas=[1e-2, 1e-1, 1.0, 3.0, 10.0, 30.0, 100.0], frontier_seeds=[0, 1, 2]),
    },
    # Symbolic distillation (notebook 04). Teachers: ReLU MLP, one hidden layer of 100 units.
    # gplearn: smoke is tiny; default is half of gplearn's population for half its
    # generations (CPU budget); paper uses gplearn's defaults (1000 x 20).
    "symbolic": {
        "smoke": dict(datasets=["concrete", "feynman_I_14_4"], lambdas=[0.0, 0.1], dreg_lambdas=[0.1],
                      seeds=[0], noise=0.1, noise_datasets=["feynman_I_14_4"], noise_levels=[0.0, 0.1],
                      hidden=[100], epochs=20, batch_size=64, lr=1e-3, weight_decay=0.0,
                      population_size=60, generations=3, tournament_size=10,
                      parsimony_coefficient=0.001, function_set=["add", "sub", "mul", "div"],
                      tree_max_depth=6, cost_dataset="concrete", cost_epochs=2, cost_repeats=1,
                      cost_outputs=[1, 4], n_jobs=1),
        "default": dict(datasets=["concrete", "diabetes", "auto_mpg", "friedman1", "feynman_I_14_4",
                                  "feynman_I_18_4", "feynman_I_12_2"],
                        lambdas=[0.0, 0.01, 0.1, 0.5], dreg_lambdas=[0.01, 0.1], seeds=[0], noise=0.1,
                        noise_datasets=["feynman_I_14_4", "feynman_I_18_4", "feynman_I_12_2"],
                        noise_levels=[0.0, 0.1, 0.5], hidden=[100], epochs=150, batch_size=64,
                        lr=1e-3, weight_decay=0.0, population_size=500, generations=10,
                        tournament_size=20, parsimony_coefficient=0.001,
                        function_set=["add", "sub", "mul", "div"], tree_max_depth=6,
                        cost_dataset="concrete", cost_epochs=20, cost_repeats=3, cost_outputs=[1, 10],
                        n_jobs=2),
        "paper": dict(datasets=["concrete", "diabetes", "auto_mpg", "friedman1", "feynman_I_14_4",
                                "feynman_I_18_4", "feynman_I_12_2"],
                      lambdas=[0.0, 0.001, 0.01, 0.05, 0.1, 0.5], dreg_lambdas=[0.001, 0.01, 0.05, 0.1, 0.5],
                      seeds=[0, 1, 2, 3, 4], noise=0.1,
                      noise_datasets=["feynman_I_14_4", "feynman_I_18_4", "feynman_I_12_2"],
                      noise_levels=[0.0, 0.05, 0.1, 0.2, 0.5, 1.0], hidden=[100], epochs=300,
                      batch_size=64, lr=1e-3, weight_decay=0.0, population_size=1000, generations=20,
                      tournament_size=20, parsimony_coefficient=0.001,
                      function_set=["add", "sub", "mul", "div"], tree_max_depth=6,
                      cost_dataset="concrete", cost_epochs=50, cost_repeats=5, cost_outputs=[1, 10],
                      n_jobs=2),
    },
    # Statistical tests (notebook 03) on the MNIST and synthetic sweeps of the same profile.
    # mnist_runs / synthetic_runs: a runs.csv to analyse; None = the default location under
    # $DREG_RESULTS_DIR (or results/), running the cached sweep when that table is missing.
    "stats": {
        "smoke": dict(mnist_runs=None, synthetic_runs=None, synthetic_lam=1e-2, alpha=0.05,
                      confidence=0.95, n_boot=2000, bootstrap_seed=0),
        "default": dict(mnist_runs=None, synthetic_runs=None, synthetic_lam=1e-2, alpha=0.05,
                        confidence=0.95, n_boot=10_000, bootstrap_seed=0),
        "paper": dict(mnist_runs=None, synthetic_runs=None, synthetic_lam=1e-2, alpha=0.05,
                      confidence=0.95, n_boot=10_000, bootstrap_seed=0),
    },
    # Surrogates in an optimisation loop (notebook 05, issue 6; the paper reports no such
    # experiment, so every value is ours). gd_step is in units of width^2 of the box.
    "surrogate": {
        "smoke": dict(objectives=["rosenbrock", "piecewise"], methods=["base", "dreg", "igp", "sn"],
                      activations=["relu", "poly"], seeds=[0], hidden=[16, 16], dreg_lam=0.03,
                      igp_lam=0.03, epochs=15, batch_size=64, lr=3e-3, weight_decay=0.0, n_train=256,
                      n_test=256, n_starts=8, gd_step=0.01, gd_steps=60, lbfgs_steps=10, device="cpu"),
        "default": dict(objectives=["rosenbrock", "rastrigin", "piecewise", "smooth"],
                        methods=["base", "dreg", "igp", "sn"], activations=["relu", "poly"],
                        seeds=[0, 1, 2], hidden=[32, 32], dreg_lam=0.03, igp_lam=0.03, epochs=60,
                        batch_size=64, lr=3e-3, weight_decay=0.0, n_train=1024, n_test=1024,
                        n_starts=32, gd_step=0.01, gd_steps=200, lbfgs_steps=25, device="cpu"),
        "paper": dict(objectives=["rosenbrock", "rastrigin", "piecewise", "smooth"],
                      methods=["base", "dreg", "igp", "sn"], activations=["relu", "poly"],
                      seeds=[0, 1, 2, 3, 4], hidden=[64, 64], dreg_lam=0.03, igp_lam=0.03, epochs=200,
                      batch_size=64, lr=1e-3, weight_decay=0.0, n_train=2000, n_test=1000,
                      n_starts=64, gd_step=0.01, gd_steps=300, lbfgs_steps=40, device="auto"),
    },
}


# The performance chapter (notebook 06) reads what `make bench` saved; it trains nothing.
# bench_dir None: the repository's benchmarks/results.
SETTINGS["performance"] = {profile: dict(bench_dir=None) for profile in PROFILES}


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


# On MNIST the default profile already follows the paper's protocol (all available images,
# eight epochs, three seeds); without the full IDX files it runs on the offline digits.
SETTINGS["mnist"]["paper"] = deepcopy(SETTINGS["mnist"]["default"])
