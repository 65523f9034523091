"""Which open setting of the synthetic study moves DREG's p90 reduction toward the paper's?

The DREG paper reports p90 reductions of 32-88% at lambda = 1e-2 (Table 2) but states neither
width, activation, epochs, the scale of the targets nor the noise; ours are the choices of
:mod:`dreg_utils.studies.synthetic`, whose reductions chapter 01 compares with the paper's. Here each
open setting is varied alone from our protocol (one factor at a time); every variant trains
lambda = 0 and lambda = ``lam`` with the same seeds (paired: same initialisation and minibatch
order), and reports per family the p90 reduction 100 (1 - p90(lam) / p90(0)) averaged over
seeds, with a 95% t-interval over the seeds, next to the paper's number and the verdict of the
interval rule (:func:`dreg_utils.verdicts.interval_verdict`). No variant is picked by its result:
:func:`by_protocol` counts, for every variant in the order :func:`variants` lists them, the
families where its interval lies above zero, where it holds, and where the test MSE's change is
negligible.

``target_scale`` multiplies the standardised targets (noise included): the paper's gradient
norms (about 1e-5, Table 1) say its targets are tiny, and with a target c times smaller the
task loss shrinks by c^2 while the CR-penalty does not, so lambda weighs c^2 times more.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import published
from ..activations import ACTIVATIONS
from ..data.synthetic import FAMILIES
from ..runs import hidden_label, label_hidden
from ..intervals import t_interval
from ..constraints import COUNT, DEVICE, EPOCHS, INTERVAL_SEEDS, NONNEGATIVE, POSITIVE, WIDTHS, WORKERS, ListOf, Options
from ..device import resolve_device
from ..settings import StudySettings, knob
from ..sweep import local_backend, run_grid
from ..files import write_table
from ..verdicts import HOLDS, TABLE2_MSE_TOLERANCE, interval_verdict
from ..vocabulary import diverged
from .synthetic import RESULT_SCHEMA, STUDY_VERSION, group_key, run_group

@dataclass(frozen=True)
class AblationSettings(StudySettings):
    """The base protocol (our synthetic study's) and the values each factor takes in turn."""

    families: list[str] = knob(list(FAMILIES), ListOf(Options(*FAMILIES), unique=True))
    seeds: list[int] = knob([0, 1, 2], INTERVAL_SEEDS)
    lam: float = knob(1e-2, POSITIVE)  # the base protocol's strength (the paper's Table-2 lambda)
    activation: str = knob("relu", Options(*ACTIVATIONS))
    hidden: list[int] = knob([64, 64], WIDTHS)
    epochs: int = knob(60, EPOCHS)
    target_scale: float = knob(1.0, POSITIVE)
    noise: float = knob(0.1, NONNEGATIVE)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(1e-3, POSITIVE)
    weight_decay: float = knob(1e-2, NONNEGATIVE)
    device: str = knob("auto", DEVICE)
    # The variants of each factor ([] leaves a factor out).
    activations: list[str] = knob(["poly", "tanh"], ListOf(Options(*ACTIVATIONS), empty=True))
    widths: list[list[int]] = knob([[32, 32], [256, 256]], ListOf(WIDTHS, empty=True))
    epoch_counts: list[int] = knob([200], ListOf(EPOCHS, empty=True))
    target_scales: list[float] = knob([0.3, 0.1], ListOf(POSITIVE, empty=True))
    noises: list[float] = knob([0.0], ListOf(NONNEGATIVE, empty=True))
    lams: list[float] = knob([3e-2, 1e-1], ListOf(POSITIVE, empty=True))
    n_jobs: int = knob(2, WORKERS)  # worker processes, one (variant, family) group each; 1: this process

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(families=["smooth", "sparse"], seeds=[0, 1], hidden=[16, 16], epochs=3,
                      activations=["tanh"], widths=[[8, 8]], epoch_counts=[4], target_scales=[1e-2],
                      noises=[0.0], lams=[1e-1], n_jobs=1),
        "paper": dict(seeds=[0, 1, 2, 3, 4], epoch_counts=[20, 200], target_scales=[0.3, 0.1, 0.03, 1e-2],
                      noises=[0.0, 0.3], lams=[1e-3, 3e-2, 1e-1, 1.0]),
    }


def validate(settings: Mapping) -> AblationSettings:
    """The settings checked and completed (see :class:`AblationSettings`)."""
    return AblationSettings.coerce(settings)


def variants(settings: AblationSettings) -> list[tuple[str, object, dict]]:
    """(factor, value, protocol) for the base protocol and each factor's other values."""
    base = {"activation": settings.activation, "hidden": settings.hidden, "epochs": settings.epochs,
            "target_scale": settings.target_scale, "noise": settings.noise, "lam": settings.lam}
    out = [("base", "-", base)]
    for factor, values in (("activation", settings.activations), ("hidden", settings.widths),
                           ("epochs", settings.epoch_counts), ("target_scale", settings.target_scales),
                           ("noise", settings.noises), ("lam", settings.lams)):
        out += [(factor, value, {**base, factor: value}) for value in values if value != base[factor]]
    return out


def make_configs(settings: AblationSettings) -> list[dict]:
    """Every run: each variant and family at lambda = 0 and the variant's lambda, every seed
    (the lambda variants share the base protocol's lambda = 0 runs, listed once)."""
    training = {k: settings[k] for k in ("batch_size", "lr", "weight_decay")}
    configs = []
    for _, _, protocol in variants(settings):
        for family in settings.families:
            for lam in (0.0, protocol["lam"]):
                configs += [{"family": family, "lam": lam, "seed": seed, "hidden": protocol["hidden"],
                             "activation": protocol["activation"], "epochs": protocol["epochs"],
                             "target_scale": protocol["target_scale"], "noise": protocol["noise"],
                             **training} for seed in settings.seeds]
    return list({json.dumps(c, sort_keys=True): c for c in configs}.values())


def run(settings: Mapping, results_dir: str | Path, progress: bool = True) -> pd.DataFrame:
    """Train (or reuse) every run; save and return ``runs.csv``."""
    settings = validate(settings)
    backend, n_jobs = local_backend(settings.n_jobs)
    device = resolve_device(settings.device)  # once for every run
    runs = run_grid(make_configs(settings), lambda group: run_group(group, device),
                    Path(results_dir) / "cache", group_key=group_key, progress=progress,
                    desc="ablation runs", backend=backend, n_jobs=n_jobs, version=STUDY_VERSION,
                    schema=RESULT_SCHEMA)
    label_hidden(runs)
    write_table(runs, Path(results_dir) / "runs.csv")
    return runs


def reductions(runs: pd.DataFrame, settings: Mapping, confidence: float = 0.95) -> pd.DataFrame:
    """Per variant and family: the mean over seeds of the paired p90 reduction (%,
    ``per_seed_p90_reduction_pct``) with its t-interval (``ci_low``, ``ci_high``), the mean over
    seeds of the paired test-MSE change (%, ``per_seed_test_mse_change_pct``) with its t-interval
    (``mse_ci_low``, ``mse_ci_high``), the number of pairs, the paper's p90 reduction and the
    verdict on it (:func:`dreg_utils.verdicts.interval_verdict` of the reduction's interval
    against the paper's). (Chapter 01's ``p90_reduction_pct`` is another estimator: the reduction
    of the seed means.)"""
    settings = validate(settings)
    rows = []
    for factor, value, protocol in variants(settings):
        hidden = hidden_label(protocol["hidden"])
        same = runs[(runs["activation"] == protocol["activation"]) & (runs["hidden"] == hidden)
                    & (runs["epochs"] == protocol["epochs"]) & np.isclose(runs["target_scale"], protocol["target_scale"])
                    & np.isclose(runs["noise"], protocol["noise"]) & ~diverged(runs)]
        for family in settings.families:
            block = same[same["family"] == family]
            base = block[block["lam"] == 0.0].set_index("seed")
            reg = block[np.isclose(block["lam"], protocol["lam"])].set_index("seed")
            pairs = base.index.intersection(reg.index)
            cut = 100.0 * (1.0 - reg.loc[pairs, "grad_p90"] / base.loc[pairs, "grad_p90"])
            mse = 100.0 * (reg.loc[pairs, "test_mse"] / base.loc[pairs, "test_mse"] - 1.0)
            low, high = t_interval(cut.to_numpy(), confidence)
            mse_low, mse_high = t_interval(mse.to_numpy(), confidence)
            paper = published.TABLE2_PERCENT[family]["p90"]
            rows.append({"factor": factor, "value": str(value), "family": family, "pairs": len(pairs),
                         "per_seed_p90_reduction_pct": cut.mean(), "ci_low": low, "ci_high": high,
                         "per_seed_test_mse_change_pct": mse.mean(), "mse_ci_low": mse_low, "mse_ci_high": mse_high,
                         "paper_p90_reduction_pct": paper,
                         "verdict": interval_verdict(cut.mean(), low, high, paper_effect=paper)})
    return pd.DataFrame(rows)


def by_protocol(table: pd.DataFrame, mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> pd.DataFrame:
    """Per variant of :func:`reductions`' table, in its order (the base first, then each factor's
    values as the settings list them; never sorted by a result): the number of ``families``, and
    how many of them have a p90 reduction whose 95% interval lies above zero (``p90_above_zero``,
    :func:`~dreg_utils.verdicts.interval_verdict` without the paper's effect), whose verdict
    against the paper's reduction holds (``p90_holds``), and whose test-MSE change has a 95%
    interval wholly at or below ``mse_tolerance`` percent (``mse_negligible``)."""
    above = [interval_verdict(r.per_seed_p90_reduction_pct, r.ci_low, r.ci_high) == HOLDS
             for r in table.itertuples()]
    flags = table.assign(above=above, holds=table["verdict"] == HOLDS,
                         negligible=table["mse_ci_high"].le(mse_tolerance))  # NaN (no interval): not negligible
    return flags.groupby(["factor", "value"], sort=False).agg(
        families=("family", "size"), p90_above_zero=("above", "sum"), p90_holds=("holds", "sum"),
        mse_negligible=("negligible", "sum")).reset_index()
