"""The synthetic-families lambda sweep (DREG paper, Section 6.1, Tables 1-2, Figure 1), and
tuned weight decay against it.

One run = (family, lambda, seed): a CompactMLP trained with the CR-penalty at
strength lambda (lambda = 0 is the unregularised baseline) on the family's
dataset (data seed 0, shared by all runs), then measured on the validation and test
splits. The runs of one family train together in one vectorised pass (every lambda
and seed). Table 2's verdicts read each family's effects paired seed by seed (the log
ratio of a seed's lambda run to its lambda = 0 run, with its 95% t interval).

The weight-decay baseline (the runs at ``weight_decays``) is chosen and compared in
:mod:`dreg_utils.studies.synthetic_weight_decay`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from .. import published
from ..data.synthetic import FAMILIES, Splits, make_family
from ..intervals import as_change, as_reduction, log_ratio_interval
from ..device import resolve_device
from ..ensemble import Member, train_group
from ..metrics import input_gradient_norms, local_linearity_error, nonfinite_metric, tail_stats
from ..penalties import dreg_penalty
from ..activations import ACTIVATIONS
from ..runs import label_hidden, seed_summary
from ..constraints import COUNT, DEVICE, EPOCHS, LAMBDAS, NONNEGATIVE, POSITIVE, SEEDS, WIDTHS, ListOf, Options
from ..settings import StudySettings, knob
from ..schema import DIVERGENCE, FINITE, NUMBER, ResultSchema
from ..sweep import run_grid
from ..files import write_table
from ..train import FitResult, evaluate
from ..verdicts import INCONCLUSIVE, TABLE2_MSE_TOLERANCE, table2_verdict
from ..vocabulary import finished

# Part of every run's cache key: bump it when a change of the run function changes what a run
# computes, so cached rows are recomputed instead of reused.
STUDY_VERSION = "3"  # 3: every run also measures the validation p90 (val_grad_p90)

COLLAPSE_FRACTION = 0.01
METRICS = ("test_mse", "grad_mean", "grad_p90", "grad_p95", "grad_p99", "grad_max",
           "grad_p99_over_mean", "derivative_proxy", "local_linearity_error")


# What one run's result holds (see :func:`measure`); a cached record is checked against it.
RESULT_SCHEMA = ResultSchema(
    always={**DIVERGENCE, "train_seconds": FINITE},
    finished={**{m: FINITE for m in METRICS}, "val_mse": FINITE, "val_grad_p90": FINITE,
              "grad_p99_over_mean": NUMBER})  # NaN where every gradient norm is 0


PAPER_LAMBDAS = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
# Beyond the paper: three larger strengths show where the penalty starts to cost accuracy.
EXTENDED_LAMBDAS = PAPER_LAMBDAS + [3e-2, 1e-1, 3e-1]
# The weight decays of the tuned baseline (lambda = 0); the sweep's own weight decay is among them.
WEIGHT_DECAYS = [0.0, 1e-3, 1e-2, 1e-1, 1.0]


@dataclass(frozen=True)
class SyntheticSettings(StudySettings):
    """The synthetic-families sweep (notebook 01). The paper states neither width nor epochs:
    ours are ``hidden`` and ``epochs``."""

    families: list[str] = knob(list(FAMILIES), ListOf(Options(*FAMILIES), unique=True))
    lambdas: list[float] = knob(EXTENDED_LAMBDAS, LAMBDAS)  # CR-penalty strengths
    seeds: list[int] = knob([0, 1, 2, 3, 4], SEEDS)
    hidden: list[int] = knob([64, 64], WIDTHS)
    activation: str = knob("relu", Options(*ACTIVATIONS))
    epochs: int = knob(60, EPOCHS)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(1e-3, POSITIVE)
    weight_decay: float = knob(1e-2, NONNEGATIVE)
    weight_decays: list[float] = knob(WEIGHT_DECAYS, ListOf(NONNEGATIVE, unique=True))  # tuned baseline's grid
    device: str = knob("auto", DEVICE)

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(lambdas=[0.0, 1e-2], seeds=[0, 1], hidden=[32, 32], epochs=4, weight_decays=[1e-2, 1e-1]),
        "paper": dict(lambdas=PAPER_LAMBDAS, seeds=[0, 1, 2, 3, 4], epochs=200),
    }


def validate(settings: Mapping) -> SyntheticSettings:
    """The settings checked and completed (see :class:`SyntheticSettings`)."""
    return SyntheticSettings.coerce(settings)


PROTOCOL_KEYS = ("hidden", "activation", "epochs", "batch_size", "lr", "weight_decay")


def make_configs(settings: dict) -> list[dict]:
    """One configuration per (family, lambda, seed); the device is not part of a run's identity."""
    return [{"family": f, "lam": lam, "seed": seed, **{k: settings[k] for k in PROTOCOL_KEYS}}
            for f in settings["families"] for lam in settings["lambdas"] for seed in settings["seeds"]]


def group_key(config: dict) -> str:
    """Runs that differ only in lambda and seed train together (one family, one protocol)."""
    return json.dumps({k: v for k, v in config.items() if k not in ("lam", "seed")}, sort_keys=True)


def family_data(config: dict) -> Splits:
    """The run's family data: label noise ``noise`` (default 0.1) on the standardised target,
    then the target (noise included) times ``target_scale`` (default 1; the ablation varies both).
    Its ``source`` describes the family before scaling; the run's row records ``target_scale``."""
    data = make_family(config["family"], noise=config.get("noise", 0.1))
    scale = config.get("target_scale", 1.0)
    if scale == 1.0:
        return data
    return replace(data, y_train=data.y_train * scale, y_val=data.y_val * scale, y_test=data.y_test * scale)


def constant_val_mse(family: str) -> float:
    """The validation MSE of the best constant a model can learn from ``family``'s training split
    (the mean training target), on the data the sweep trains on: what "no better than a constant" means."""
    data = family_data({"family": family})
    return float(((data.y_val - data.y_train.mean()) ** 2).mean())


def run_group(configs: list[dict], device: torch.device | str) -> list[dict]:
    """Train the runs of one :func:`group_key` together (:func:`dreg_utils.ensemble.train_group`:
    each member's own initialisation and minibatch order, as one run alone would have them)
    and measure each on the test split, in order. The configurations come from checked settings
    and ``device`` is resolved (:func:`dreg_utils.device.resolve_device`): nothing is checked again."""
    first = configs[0]
    data = family_data(first)
    results = train_group([Member(c["seed"], "dreg", c["lam"]) for c in configs], data.x_train,
                          data.y_train, first["hidden"], activation=first["activation"],
                          task="regression", out_features=None, epochs=first["epochs"],
                          batch_size=first["batch_size"], lr=first["lr"], weight_decay=first["weight_decay"],
                          device=device)
    return [measure(result, data) for result in results]


def measure(result: FitResult, data: Splits) -> dict:
    """One trained run's row: the test and validation MSE, the input-gradient tail on the test
    split and its p90 on the validation split (``val_grad_p90``, what settings are chosen by).

    A run whose training or a measured value (test or validation MSE, an input-gradient
    norm, the proxy, the linearity error) is not finite is a diverged row: no metrics, with
    ``diverged_step``, ``diverged_epoch`` (None for a metric) and ``diverged_reason``.
    """
    row = {**result.divergence(), "train_seconds": result.seconds}
    if result.diverged:
        return row
    model = result.model.cpu().eval()
    norms = input_gradient_norms(model, data.x_test)
    val_norms = input_gradient_norms(model, data.x_val)
    with torch.no_grad():
        proxy = float(dreg_penalty(model, data.x_test))
    measured = {"test_mse": evaluate(model, data.x_test, data.y_test, "regression")["loss"],
                "val_mse": evaluate(model, data.x_val, data.y_val, "regression")["loss"],
                "input-gradient norm": norms, "validation input-gradient norm": val_norms,
                "derivative_proxy": proxy, "local_linearity_error": local_linearity_error(model, data.x_test)}
    reason = nonfinite_metric(measured)
    if reason:
        return {**row, "diverged": True, "diverged_reason": reason}
    del measured["input-gradient norm"], measured["validation input-gradient norm"]
    row.update(measured, **{f"grad_{k}": v for k, v in tail_stats(norms).items()},
               val_grad_p90=tail_stats(val_norms)["p90"])
    return row


def run_sweep(settings: dict, results_dir: str | Path = "results/synthetic",
              progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
              scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse from the cache) every configuration; save ``runs.csv``; return the runs.

    ``backend``, ``n_jobs`` and ``scheduler`` choose where the runs execute (see
    :func:`dreg_utils.sweep.run_grid`); the table does not depend on them."""
    settings = validate(settings)
    results_dir = Path(results_dir)
    device = resolve_device(settings.device)  # once for every run
    runs = run_grid(make_configs(settings), lambda group: run_group(group, device),
                    results_dir / "cache", group_key=group_key, progress=progress, desc="synthetic runs",
                    backend=backend, n_jobs=n_jobs, scheduler=scheduler, version=STUDY_VERSION,
                    schema=RESULT_SCHEMA)
    label_hidden(runs)
    write_table(runs, results_dir / "runs.csv")
    return runs


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean over the finished seeds of every metric per (family, lambda), plus the seed std
    of the test MSE, ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or
    "diverged (k/n)"). Diverged runs never enter a mean; a (family, lambda) whose runs all
    diverged keeps its row, with no metrics (NaN) and status "diverged (n/n)"."""
    return seed_summary(runs, ["family", "lam"], METRICS, std_of=["test_mse"], sort=True)


def finished_groups(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows with at least one finished seed (those that have metrics)."""
    return summary[summary["test_mse"].notna()]


def _at(summary: pd.DataFrame, family: str, lam: float) -> pd.Series:
    rows = summary[(summary["family"] == family) & np.isclose(summary["lam"], lam)]
    if rows.empty or pd.isna(rows.iloc[0]["test_mse"]):
        raise ValueError(f"no finished runs for family={family!r} at lambda={lam}"
                         + (f" ({rows.iloc[0]['status']})" if not rows.empty else ""))
    return rows.iloc[0]


TABLE1_METRICS = ("grad_mean", "grad_p90", "grad_p99", "grad_max", "grad_p99_over_mean", "test_mse")


def table1(summary: pd.DataFrame, family: str = "piecewise", lam: float = 1e-2) -> pd.DataFrame:
    """Table 1: sensitivity statistics (``metric``: one of :data:`TABLE1_METRICS`) at lambda = 0
    (``lambda_0``) and ``lam`` (``lambda_ref``), their ratio, and the paper's values."""
    base, reg = _at(summary, family, 0.0), _at(summary, family, lam)
    rows = []
    for metric in TABLE1_METRICS:
        p = published.TABLE1_PIECEWISE.get(metric.replace("grad_", ""))
        paper_ratio = (p[0] / p[1] if p else
                       published.TABLE1_MAX_RATIO if metric == "grad_max" else np.nan)
        rows.append({"metric": metric, "lambda_0": base[metric], "lambda_ref": reg[metric],
                     "ratio_ours": base[metric] / reg[metric], "paper_lambda_0": p[0] if p else np.nan,
                     "paper_lambda_ref": p[1] if p else np.nan, "ratio_paper": paper_ratio})
    return pd.DataFrame(rows)


def percent_reduction(before: float, after: float) -> float:
    """Relative decrease in percent: positive when ``after`` < ``before``."""
    return 100.0 * (before - after) / before


def percent_change(before: float, after: float) -> float:
    """Relative change in percent: positive when ``after`` > ``before`` (exactly
    ``-percent_reduction(before, after)``)."""
    return 100.0 * (after - before) / before


def table2(summary: pd.DataFrame, lam: float = 1e-2) -> pd.DataFrame:
    """Table 2 per family, ours and the paper's (:func:`published.table2_paper`): the test-MSE
    change (+ = higher) and the p90 reduction (+ = lower), in percent, and our proxy reduction.

    Families whose runs at lambda = 0 or at ``lam`` all diverged have no row (the summary's
    ``status`` shows them)."""
    rows = []
    finished = finished_groups(summary)
    for family in summary["family"].unique():
        block = finished[finished["family"] == family]
        if not (np.isclose(block["lam"], 0.0).any() and np.isclose(block["lam"], lam).any()):
            continue
        base, reg = _at(summary, family, 0.0), _at(summary, family, lam)
        ref = published.table2_paper(family)
        rows.append({"family": family,
                     "test_mse_change_pct": percent_change(base["test_mse"], reg["test_mse"]),
                     "paper_test_mse_change_pct": ref["test_mse_change_pct"],
                     "p90_reduction_pct": percent_reduction(base["grad_p90"], reg["grad_p90"]),
                     "paper_p90_reduction_pct": ref["p90_reduction_pct"],
                     "proxy_reduction_pct": percent_reduction(base["derivative_proxy"],
                                                              reg["derivative_proxy"])})
    return pd.DataFrame(rows)


def paired_effects(runs: pd.DataFrame, lam: float = 1e-2,
                   constant_mse: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Table 2's effects paired seed by seed, per family: over the seeds whose runs at lambda = 0
    and at ``lam`` both finished (``pairs``), the p90 reduction (+ = lower) and the test-MSE change
    (+ = higher) in percent, each the geometric mean of the per-seed ratios with its 95% t interval
    (:func:`log_ratio_interval`; columns ``*_paired_pct``, ``*_paired_low``, ``*_paired_high``).
    With ``constant_mse`` (per family, the validation MSE of predicting the training mean), also
    ``base_fits``: of those pairs, how many lambda = 0 runs predict better than that constant."""
    done = finished(runs)
    rows = []
    for family in pd.unique(runs["family"]):
        block = done[done["family"] == family]
        at_lam = block[np.isclose(block["lam"], lam, rtol=1e-9, atol=0.0)]
        pairs = at_lam.merge(block[block["lam"] == 0.0], on="seed", suffixes=("", "_base"))
        row = {"family": family, "pairs": len(pairs)}
        if constant_mse is not None:
            row["base_fits"] = int((pairs["val_mse_base"] < constant_mse[family]).sum())
        for metric, name, convert in (("grad_p90", "p90_reduction", as_reduction),
                                      ("test_mse", "test_mse_change", as_change)):
            values = convert(*log_ratio_interval(pairs[metric].to_numpy(), pairs[f"{metric}_base"].to_numpy()))
            row.update(zip((f"{name}_paired_pct", f"{name}_paired_low", f"{name}_paired_high"), values))
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(row: pd.Series, mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """The verdict on the paper's Table-2 claim for one family, "p90 falls with a negligible MSE
    change" (:func:`verdicts.table2_verdict`), from a row of :func:`table2` joined with
    :func:`paired_effects`: the paired p90 reduction and its 95% interval against the paper's
    reduction, and both ends of the test-MSE change's interval against ``mse_tolerance`` percent
    (holds only when the whole interval lies at or below it). Inconclusive when ``base_fits`` (where
    given) is 0: no seed's unregularised model predicts better than a constant, so its p90 says
    nothing about the claim. (A family where BASE fits in some seeds keeps all its pairs; the
    weight-decay comparison, which chooses candidates seed by seed, leaves each unfit seed out.)"""
    if row.get("base_fits") == 0:
        return INCONCLUSIVE
    return table2_verdict(row["p90_reduction_paired_pct"], row["p90_reduction_paired_low"],
                          row["p90_reduction_paired_high"], row["paper_p90_reduction_pct"],
                          row["test_mse_change_paired_low"], row["test_mse_change_paired_high"], mse_tolerance)


def stability_plateau(summary: pd.DataFrame, mse_tolerance: float = 0.05) -> pd.DataFrame:
    """Per family, the largest lambda up to which every mean test MSE is within ``mse_tolerance``
    (relative) of lambda = 0.

    Over that range (the "stability plateau") sensitivity falls at no real accuracy cost;
    the table gives the p90 reduction reached at its upper end. A model whose mean
    gradient norm fell below ``COLLAPSE_FRACTION`` of the baseline's predicts a
    near-constant; ``collapsed`` flags it, since its "plateau" only means the
    baseline was no better than a constant.
    """
    rows = []
    for family, block in finished_groups(summary).groupby("family"):
        block = block.sort_values("lam")
        base = block.iloc[0]
        ok = (block["test_mse"] <= (1 + mse_tolerance) * base["test_mse"]).to_numpy()
        top = block.iloc[int(np.cumprod(ok).sum()) - 1]  # end of the run of lambdas from 0
        collapsed = top["grad_mean"] < COLLAPSE_FRACTION * base["grad_mean"]
        rows.append({"family": family, "plateau_lambda": top["lam"],
                     "plateau_p90_reduction_pct": percent_reduction(base["grad_p90"], top["grad_p90"]),
                     "plateau_test_mse_change_pct": percent_change(base["test_mse"], top["test_mse"]),
                     "collapsed": bool(collapsed)})
    return pd.DataFrame(rows, columns=["family", "plateau_lambda", "plateau_p90_reduction_pct",
                                       "plateau_test_mse_change_pct", "collapsed"])
