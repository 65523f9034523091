"""DREG against weight decay tuned on validation, on the synthetic families (notebook 01).

The weight-decay baseline: lambda = 0 runs at each weight decay of a grid (extra runs of the
synthetic study, :mod:`dreg_utils.studies.synthetic`: same run function, version and cache, same
seeds, so each shares its seed's initial weights and minibatch order with the DREG runs); per
family and seed, each method's setting is chosen on the validation split and the chosen models
are compared on the test split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import claims
from ..device import resolve_device
from ..files import write_table
from ..intervals import as_change, as_reduction, log_ratio_interval
from ..runs import label_hidden
from ..sweep import run_grid
from ..verdicts import FAILS, HOLDS, INCONCLUSIVE, TABLE2_MSE_TOLERANCE, interval_verdict
from ..vocabulary import finished
from .synthetic import (COLLAPSE_FRACTION, PROTOCOL_KEYS, RESULT_SCHEMA, STUDY_VERSION, constant_val_mse,
                        group_key, run_group, validate)


def weight_decay_configs(settings: dict) -> list[dict]:
    """The tuned baseline's extra runs: one configuration per (family, weight decay, seed) at
    lambda = 0, for each of ``weight_decays`` other than the sweep's own ``weight_decay`` (that
    arm is the sweep's lambda = 0 run). Each differs from a sweep configuration only in its weight
    decay: same seed, so same initial weights and minibatch order."""
    protocol = {k: settings[k] for k in PROTOCOL_KEYS}
    return [{"family": f, "lam": 0.0, "seed": seed, **protocol, "weight_decay": wd}
            for f in settings["families"] for wd in settings["weight_decays"]
            if not np.isclose(wd, settings["weight_decay"], rtol=1e-12, atol=0.0) for seed in settings["seeds"]]


def run_weight_decay_sweep(settings: dict, results_dir: str | Path = "results/synthetic",
                           progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
                           scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse) the tuned baseline's extra runs (:func:`weight_decay_configs`) in the sweep's
    cache; save ``weight_decay_runs.csv``; return them (see
    :func:`dreg_utils.studies.synthetic.run_sweep` for the backends). A grid holding only the
    sweep's weight decay has no extra runs: an empty table."""
    settings = validate(settings)
    results_dir = Path(results_dir)
    device = resolve_device(settings.device)
    configs = weight_decay_configs(settings)
    if configs:
        runs = run_grid(configs, lambda group: run_group(group, device), results_dir / "cache",
                        group_key=group_key, progress=progress, desc="weight-decay runs", backend=backend,
                        n_jobs=n_jobs, scheduler=scheduler, version=STUDY_VERSION, schema=RESULT_SCHEMA)
        label_hidden(runs)
    else:
        runs = pd.DataFrame(columns=["family", "lam", "seed", *PROTOCOL_KEYS, "diverged"])
    write_table(runs, results_dir / "weight_decay_runs.csv")
    return runs


CHOICE_COLUMNS = ("setting", "val_mse", "val_grad_p90", "test_mse", "grad_p90", "grad_mean")


def collapsed(candidates: pd.DataFrame, base_val_grad_p90: float, constant_mse: float) -> pd.Series:
    """Per candidate (rows with ``val_mse`` and ``val_grad_p90``): whether it collapsed to a constant,
    judged on the validation split: its validation p90 below
    :data:`~dreg_utils.studies.synthetic.COLLAPSE_FRACTION` of its seed's BASE's (``base_val_grad_p90``:
    flattened), or its validation MSE no lower than ``constant_mse`` (:func:`constant_val_mse`: it
    predicts no better than a constant). A collapsed model's small p90 says nothing about the claim."""
    flattened = candidates["val_grad_p90"] < COLLAPSE_FRACTION * base_val_grad_p90
    return flattened | (candidates["val_mse"] >= constant_mse)


def choose_on_validation(candidates: pd.DataFrame, base_val_mse: float, base_val_grad_p90: float, constant_mse: float,
                         mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> pd.Series | None:
    """The candidate (a row with ``setting``, ``val_mse`` and ``val_grad_p90``) with the lowest
    validation p90 among the eligible ones: not :func:`collapsed`, with a validation MSE at most
    ``mse_tolerance`` percent above ``base_val_mse``; ties go to the smaller setting; None when
    none is eligible. The test columns play no part."""
    within = candidates["val_mse"] <= base_val_mse * (1.0 + mse_tolerance / 100.0)
    eligible = candidates[within & ~collapsed(candidates, base_val_grad_p90, constant_mse)]
    if eligible.empty:
        return None
    eligible = eligible.sort_values("setting", kind="stable").reset_index(drop=True)
    return eligible.iloc[int(eligible["val_grad_p90"].to_numpy().argmin())]


def weight_decay_choices(runs: pd.DataFrame, wd_runs: pd.DataFrame,
                         mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> pd.DataFrame:
    """Per (family, seed), each method's setting chosen on the validation split
    (:func:`choose_on_validation`, against BASE: the sweep's lambda = 0 run): DREG's lambda among
    the sweep's runs (:func:`~dreg_utils.studies.synthetic.run_sweep`), the weight decay among
    BASE and the lambda = 0 runs of :func:`run_weight_decay_sweep`. One row per (family, seed) whose
    BASE finished: ``base_fits`` (BASE's validation MSE below :func:`constant_val_mse`'s; where it is
    not, BASE itself is collapsed and ineligible), and per method ``dreg_`` and ``wd_`` +
    :data:`CHOICE_COLUMNS` (``setting``: the lambda, or the weight decay; NaN throughout when no
    candidate is eligible) and ``_collapsed``: how many of its candidates were ruled out as
    :func:`collapsed`."""
    done, wd_done = finished(runs), finished(wd_runs)
    constants = {family: constant_val_mse(family) for family in pd.unique(done["family"])}
    rows = []
    for (family, seed), block in done.groupby(["family", "seed"], sort=False):
        base = block[block["lam"] == 0.0]
        if base.empty:
            continue
        base_val_mse, base_val_p90 = float(base["val_mse"].iloc[0]), float(base["val_grad_p90"].iloc[0])
        wd_block = wd_done[(wd_done["family"] == family) & (wd_done["seed"] == seed)]
        wd_candidates = pd.concat([base, wd_block]) if len(wd_block) else base
        candidates = {"dreg": block.assign(setting=block["lam"]),
                      "wd": wd_candidates.assign(setting=wd_candidates["weight_decay"])}
        row = {"family": family, "seed": seed, "base_fits": bool(base_val_mse < constants[family])}
        for method, pool in candidates.items():
            run = choose_on_validation(pool, base_val_mse, base_val_p90, constants[family], mse_tolerance)
            row.update({f"{method}_{c}": np.nan if run is None else run[c] for c in CHOICE_COLUMNS})
            row[f"{method}_collapsed"] = int(collapsed(pool, base_val_p90, constants[family]).sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["family", "seed", "base_fits", *(f"{m}_{c}" for m in ("dreg", "wd")
                                                                        for c in (*CHOICE_COLUMNS, "collapsed"))])


def weight_decay_comparison(choices: pd.DataFrame) -> pd.DataFrame:
    """DREG against tuned weight decay on the test split, per family, from
    :func:`weight_decay_choices`: over ``pairs`` (the seeds where both methods had an eligible
    candidate, of ``seeds``), DREG's p90 reduction against tuned weight decay (+ = DREG's p90 lower)
    and its test-MSE change (+ = DREG's higher), in percent, each with its 95% t interval of the
    paired log ratio; ``base_unfit``: seeds where BASE predicts the validation split no better than
    a constant; ``dreg_unchosen`` and ``wd_unchosen``: seeds where no candidate was eligible; and
    the verdict on "DREG's p90 is lower" (:func:`verdicts.interval_verdict`; with no pair it is
    inconclusive)."""
    rows = []
    for family in pd.unique(choices["family"]):
        block = choices[choices["family"] == family]
        unchosen = {m: block[f"{m}_setting"].isna() for m in ("dreg", "wd")}
        paired = block[~unchosen["dreg"] & ~unchosen["wd"]]
        row = {"family": family, "seeds": len(block), "pairs": len(paired),
               "base_unfit": int((~block["base_fits"]).sum()),
               **{f"{m}_unchosen": int(unchosen[m].sum()) for m in ("dreg", "wd")}}
        for metric, name, convert in (("grad_p90", "p90_reduction_vs_wd", as_reduction),
                                      ("test_mse", "test_mse_change_vs_wd", as_change)):
            values = convert(*log_ratio_interval(paired[f"dreg_{metric}"].to_numpy(dtype=float),
                                                 paired[f"wd_{metric}"].to_numpy(dtype=float)))
            row.update(zip((f"{name}_pct", f"{name}_low", f"{name}_high"), values))
        row["verdict"] = interval_verdict(row["p90_reduction_vs_wd_pct"], row["p90_reduction_vs_wd_low"],
                                          row["p90_reduction_vs_wd_high"])
        rows.append(row)
    return pd.DataFrame(rows)


# A family's verdict as the status of one part of "DREG beats tuned weight decay" (claims.combine).
_FAMILY_PART = {HOLDS: claims.SUPPORTED, FAILS: claims.REFUTED, INCONCLUSIVE: claims.UNDECIDED}


def weight_decay_verdict(comparison: pd.DataFrame) -> str:
    """The verdict over families (:func:`claims.combine`, each family one part): holds when DREG's
    p90 is lower in every family; partly in some, not all; does not hold when it is higher in some
    and lower in none; else inconclusive. Families are not pooled: their effects differ in kind."""
    return claims.combine([_FAMILY_PART[v] for v in comparison["verdict"]])
