"""The matched-effect frontier of the MNIST study (DREG paper, Section 6.3: "DREG suppresses
tails more effectively than SN and IGP"), notebook 02.

The frontier varies lam per method instead of fixing it (:func:`make_frontier_configs`), at several
capacities, with BASE at a grid of weight decays as one more arm (the tuned-weight-decay
baseline); its runs are the MNIST study's (:mod:`dreg_utils.studies.mnist`: same run function,
version and cache). Its selection never sees the seed or the images it reports on:
:func:`frontier_choices` chooses each seed's setting of each arm on the validation half of the
test images of the OTHER seeds' runs (leave one seed out; at least two seeds), and
:func:`frontier_table` reports, on that seed's held-out half, each arm's p99 reduction and accuracy
change against BASE of the same seed with 95% intervals over seeds; :func:`frontier_comparisons`
and :func:`frontier_verdict` judge the paper's sentence from DREG's paired log p99 ratios against
SN and IGPEN (:data:`CLAIM_ARMS`), the other arms shown beside them as comparisons beyond the
paper. Leaving the seed out matters because the noise a choice feeds on is mostly the seed's
training noise, which both halves of its test images share.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..claims import MODEST_ACCURACY_COST
from ..data.mnist import MNISTData
from ..intervals import as_reduction, t_interval
from ..runs import seed_summary
from ..validation import check_float
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTLY, interval_verdict
from ..vocabulary import LAMBDA_METHODS, diverged, finished
from .mnist import HALF_METRICS, METHODS, data_identity, make_config, run_configs, validate

FRONTIER_KEYS = ["hidden", "activation", "method", "lam", "weight_decay"]  # one setting of the frontier
# The frontier's arm of BASE runs over ``frontier_weight_decays`` (each arm else is a method key).
WEIGHT_DECAY_ARM = "weight_decay"
# The reference of every comparison with BASE: BASE at the protocol's weight decay (not chosen).
REFERENCE_ARM = "base"
# The arms the paper's sentence names: SN and IGP (IGPEN). Every other arm is beyond the paper.
CLAIM_ARMS = ("sn", "igp")
MIN_SEEDS = 2  # leaving one seed out needs at least one other seed to choose on
# The columns of frontier_choices: per capacity, arm and held-out seed, the setting chosen on the others.
CHOICE_COLUMNS = ["hidden", "activation", "arm", "method", "seed", "lam", "weight_decay", "settings_tried"]
# The columns of frontier_table: per capacity and arm, its paired intervals against BASE over held-out seeds.
FRONTIER_COLUMNS = ["hidden", "activation", "arm", "method", "settings_tried", "n_seeds", "n_chosen", "n_pairs",
                    "accuracy_change", "accuracy_ci_low", "accuracy_ci_high", "p99_reduction_pct", "p99_ci_low",
                    "p99_ci_high"]


def make_frontier_configs(settings: dict, data: MNISTData) -> list[dict]:
    """The matched-effect sweep at each of ``frontier_capacities``: BASE, every method without a lambda
    (SN and its variants), and DREG, IGP (the loss gradient) and the output-gradient penalty
    ("jacobian") at each of their lambdas, all at the settings' ``weight_decay``; and BASE at each
    other weight decay of ``frontier_weight_decays``."""
    identity = data_identity(data)
    default = settings["weight_decay"]
    arms = ([("base", 0.0, default)] + [(m, 0.0, default) for m in METHODS if m not in (*LAMBDA_METHODS, "base")]
            + [("dreg", lam, default) for lam in settings["dreg_lambdas"]]
            + [("igp", lam, default) for lam in settings["igp_lambdas"]]
            + [("jacobian", lam, default) for lam in settings["jacobian_lambdas"]]
            + [("base", 0.0, decay) for decay in settings["frontier_weight_decays"] if decay != default])
    return [make_config(settings, identity, hidden, settings["frontier_activation"], method, lam, seed, decay)
            for hidden in settings["frontier_capacities"] for method, lam, decay in arms
            for seed in settings["frontier_seeds"]]


def run_frontier(settings: dict, data: MNISTData, results_dir: str | Path = "results/mnist",
                 progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
                 scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse) the matched-effect sweep; save ``frontier.csv``. Runs shared with the
    main grid (same configuration) come from the same cache. ``backend``, ``n_jobs`` and
    ``scheduler`` as in :func:`dreg_utils.studies.mnist.run_sweep`."""
    settings = validate(settings)
    return run_configs(make_frontier_configs(settings, data), settings, data, Path(results_dir), "frontier",
                       progress, backend=backend, n_jobs=n_jobs, scheduler=scheduler)


def frontier_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per frontier setting (:data:`FRONTIER_KEYS`): the seed mean and std of the test accuracy and of
    p99 over all test images (the frontier figure's points), ``n_seeds``, ``n_diverged``, ``status``."""
    if finished(runs).empty:
        raise ValueError("every run diverged: there is nothing to summarise")
    return seed_summary(runs, FRONTIER_KEYS, ["test_acc", "ig_p99"], std_of=["test_acc", "ig_p99"])


def _arm_blocks(cell: pd.DataFrame, weight_decay: float) -> list[tuple[str, pd.DataFrame, str]]:
    """(arm, its runs, the column that names its settings) for one capacity's runs: each method but
    BASE at ``weight_decay`` over its lambdas, DREG first; then, when BASE ran at another weight decay,
    the weight-decay arm: BASE over its weight decays (``weight_decay`` included)."""
    at_default = cell[cell["weight_decay"] == weight_decay]
    methods = sorted((m for m in dict.fromkeys(at_default["method"]) if m != "base"), key=lambda m: m != "dreg")
    arms = [(method, at_default[at_default["method"] == method], "lam") for method in methods]
    base = cell[cell["method"] == "base"]
    if base["weight_decay"].nunique() > 1:
        arms.append((WEIGHT_DECAY_ARM, base, "weight_decay"))
    return arms


def _choose(block: pd.DataFrame, setting: str, min_accuracy: float) -> float | None:
    """The value of ``setting`` whose runs have the lowest mean validation p99 among those whose runs
    all finished with a mean validation accuracy of at least ``min_accuracy`` (None: no such)."""
    complete = block.assign(ok=~diverged(block)).groupby(setting)["ok"].all()
    means = finished(block).groupby(setting)[["val_acc", "val_ig_p99"]].mean()
    eligible = means[complete.reindex(means.index) & (means["val_acc"] >= min_accuracy)]
    return None if eligible.empty else float(eligible["val_ig_p99"].idxmin())


def frontier_choices(runs: pd.DataFrame, weight_decay: float,
                     max_cost: float = MODEST_ACCURACY_COST) -> pd.DataFrame:
    """Leave one seed out: per capacity (hidden, activation), arm (:func:`_arm_blocks`) and seed, the
    setting chosen on the VALIDATION half of the test images of the OTHER seeds' runs: the lowest mean
    ``val_ig_p99`` among the settings whose runs of those seeds all finished with a mean ``val_acc``
    at most ``max_cost`` points below that of their BASE runs (BASE at ``weight_decay``, the
    reference, listed as arm :data:`REFERENCE_ARM` with its own setting). The seed itself plays no
    part in its choice. ``lam`` and ``weight_decay`` name the chosen run; NaN in the chosen one (lam
    for a method, weight_decay for :data:`WEIGHT_DECAY_ARM`) when no setting is within the budget or
    there is no other seed (fewer than :data:`MIN_SEEDS`: leave-one-seed-out cannot choose)."""
    max_cost = check_float("max_cost", max_cost, minimum=0.0)
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    missing = sorted({*FRONTIER_KEYS, "seed", *HALF_METRICS} - set(runs.columns))
    if missing:
        raise ValueError(f"the frontier's analysis needs the frontier's runs (run_frontier); the table lacks {missing}")
    rows = []
    for (hidden, activation), cell in runs.groupby(["hidden", "activation"], sort=False):
        base = cell[(cell["method"] == "base") & (cell["weight_decay"] == weight_decay)]
        if finished(base).empty:
            raise ValueError(f"the frontier's analysis needs BASE runs at weight_decay={weight_decay:g} that "
                             f"finished; hidden {hidden} ({activation}) has none")
        seeds = sorted(dict.fromkeys(cell["seed"]))
        place = {"hidden": hidden, "activation": activation}
        rows += [{**place, "arm": REFERENCE_ARM, "method": "base", "seed": seed, "lam": 0.0,
                  "weight_decay": weight_decay, "settings_tried": 1} for seed in seeds]
        for arm, block, setting in _arm_blocks(cell, weight_decay):
            for seed in seeds:
                others = finished(base[base["seed"] != seed])
                value = None if others.empty else _choose(block[block["seed"] != seed], setting,
                                                          float(others["val_acc"].mean()) - max_cost)
                row = {**place, "arm": arm, "method": "base" if arm == WEIGHT_DECAY_ARM else arm, "seed": seed,
                       "lam": 0.0, "weight_decay": weight_decay, "settings_tried": int(block[setting].nunique())}
                row[setting] = math.nan if value is None else value
                rows.append(row)
    return pd.DataFrame(rows, columns=CHOICE_COLUMNS)


def _held_out(cell: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per seed of ``chosen`` (choice rows of one arm) with a setting, the held-out accuracy and p99
    of its chosen run in ``cell`` (runs that diverged have none)."""
    keys = ["seed", "method", "lam", "weight_decay"]
    return chosen.dropna(subset=["lam", "weight_decay"])[keys].merge(
        finished(cell)[[*keys, "heldout_acc", "heldout_ig_p99"]], on=keys)[["seed", "heldout_acc", "heldout_ig_p99"]]


def _pairs(cell: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The held-out results of arms ``a`` and ``b`` (their choice rows) matched by seed (``_a``, ``_b``)."""
    return _held_out(cell, a).merge(_held_out(cell, b), on="seed", suffixes=("_a", "_b"))


def _log_p99_ratios(pairs: pd.DataFrame) -> np.ndarray:
    """log(p99 of a / p99 of b) per pair of :func:`_pairs`."""
    return np.log(pairs["heldout_ig_p99_a"] / pairs["heldout_ig_p99_b"]).to_numpy()


def _finite_log_interval(log_ratios: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The finite log ratios, their mean and its 95% t-interval (NaN where there are too few)."""
    values = log_ratios[np.isfinite(log_ratios)]
    low, high = t_interval(values)
    return values, (float(values.mean()) if values.size else math.nan), low, high


def _by_arm(runs: pd.DataFrame, choices: pd.DataFrame):
    """(hidden, activation, arm, that arm's choice rows, the capacity's choice rows, its runs) in order."""
    cells = dict(list(runs.groupby(["hidden", "activation"], sort=False)))
    for (hidden, activation), chosen in choices.groupby(["hidden", "activation"], sort=False):
        for arm, rows in chosen.groupby("arm", sort=False):
            yield hidden, activation, arm, rows, chosen, cells[(hidden, activation)]


def frontier_table(runs: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """Per capacity and arm of ``choices`` (:func:`frontier_choices` of ``runs``; the reference
    left out), each held-out seed's chosen run against BASE of the same seed on the HELD-OUT half:
    ``accuracy_change`` (points; mean of the paired differences, 95% t-interval ``accuracy_ci_low``
    to ``accuracy_ci_high``) and ``p99_reduction_pct`` (100 (1 - exp(mean paired log p99 ratio)),
    interval ``p99_ci_low`` to ``p99_ci_high``), over ``n_pairs`` seeds of ``n_seeds``
    (``n_chosen``: seeds with a setting within the budget); ``settings_tried`` counts the arm's
    settings."""
    rows = []
    for hidden, activation, arm, chosen, capacity, cell in _by_arm(runs, choices):
        if arm == REFERENCE_ARM:
            continue
        pairs = _pairs(cell, chosen, capacity[capacity["arm"] == REFERENCE_ARM])
        change = (pairs["heldout_acc_a"] - pairs["heldout_acc_b"]).to_numpy()
        low, high = t_interval(change)
        reduction = as_reduction(*_finite_log_interval(_log_p99_ratios(pairs))[1:])
        rows.append({"hidden": hidden, "activation": activation, "arm": arm, "method": chosen["method"].iloc[0],
                     "settings_tried": int(chosen["settings_tried"].iloc[0]), "n_seeds": len(chosen),
                     "n_chosen": int(chosen[["lam", "weight_decay"]].notna().all(axis=1).sum()),
                     "n_pairs": len(pairs), "accuracy_change": float(change.mean()) if change.size else math.nan,
                     "accuracy_ci_low": low, "accuracy_ci_high": high,
                     **dict(zip(("p99_reduction_pct", "p99_ci_low", "p99_ci_high"), reduction))})
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)


def frontier_comparisons(runs: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """DREG against each other arm of ``choices`` (:func:`frontier_choices` of ``runs``; not the
    reference), each at the setting chosen for the held-out seed without it, on the held-out half:
    per arm, the pairs (same capacity, activation and seed) pooled over capacities (``n_cells`` with
    a pair, ``n_pairs``), the geometric mean ``p99_ratio`` of DREG's p99 to the arm's with the 95%
    t-interval of the mean log ratio (``ratio_ci_low``, ``ratio_ci_high``), and the ``verdict`` of
    :func:`dreg_utils.verdicts.interval_verdict` on DREG's percent reduction (+ = DREG lower).
    ``in_claim``: the arm is one the paper's sentence names (:data:`CLAIM_ARMS`); the others are
    comparisons beyond the paper. An arm with no pair has no ratio and is inconclusive."""
    ratios: dict[str, list[np.ndarray]] = {}
    for _, _, arm, chosen, capacity, cell in _by_arm(runs, choices):
        if arm in (REFERENCE_ARM, "dreg"):
            continue
        pairs = _pairs(cell, capacity[capacity["arm"] == "dreg"], chosen)
        ratios.setdefault(arm, [])
        if len(pairs):
            ratios[arm].append(_log_p99_ratios(pairs))
    rows = []
    for arm, found in ratios.items():
        finite, mean, low, high = _finite_log_interval(np.concatenate(found) if found else np.array([]))
        rows.append({"arm": arm, "in_claim": arm in CLAIM_ARMS, "n_cells": len(found), "n_pairs": finite.size,
                     "p99_ratio": math.exp(mean), "ratio_ci_low": math.exp(low), "ratio_ci_high": math.exp(high),
                     "verdict": interval_verdict(*as_reduction(mean, low, high))})
    return pd.DataFrame(rows, columns=["arm", "in_claim", "n_cells", "n_pairs", "p99_ratio", "ratio_ci_low",
                                       "ratio_ci_high", "verdict"])


def frontier_verdict(comparisons: pd.DataFrame) -> str:
    """The paper's "DREG suppresses tails more effectively than SN and IGP" from
    :func:`frontier_comparisons`' verdicts against the arms it names (:data:`CLAIM_ARMS`; one
    missing counts as inconclusive): holds when it holds against every one; partly when it holds
    against one and does not hold against another; does not hold when it does not hold against
    some and holds against none; else inconclusive. The arms beyond the paper do not enter."""
    found = dict(zip(comparisons["arm"], comparisons["verdict"]))
    verdicts = [found.get(arm, INCONCLUSIVE) for arm in CLAIM_ARMS]
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if FAILS in verdicts:
        return PARTLY if HOLDS in verdicts else FAILS
    return INCONCLUSIVE
