"""Surrogates inside an optimisation loop (DREG paper, Section 2.3 "ghost signals").

A compact surrogate s(x) is fitted to samples of a known objective f on a box domain
[lower, upper]^d; then an optimiser that sees only grad_x s minimises s from random
starts inside the box. Because f and grad f are known we can measure what the paper
only motivates:

* gradient agreement: cos(x) = <grad s(x), grad f(x)> / (||grad s(x)|| ||grad f(x)||) over
  uniform test points (mean and the p5/p10 low tail; 0 where either gradient vanishes);
* reliability: the fraction of runs whose iterates leave the box, and of runs that
  diverge (a non-finite iterate, or one more than ``DIVERGE_WIDTHS`` box widths outside);
* outcome: the normalised regret r = (f(clip(x_T)) - f*) / (median_U f - f*), 0 at the
  optimum and 1 at a typical random point (clip projects onto the box);

and relate them to the surrogate's p99/mean input-gradient ratio and test MSE
(:mod:`dreg_utils.studies.surrogate_verdicts`: the comparisons with BASE and their verdicts).

One run = (objective, method, activation, seed). The optimisers are gradient descent
x <- x - eta grad s(x) with eta = ``gd_step`` * width^2 (dimensionless in units of the box
and of the standardised target), and ``torch.optim.LBFGS`` with a strong-Wolfe line
search on each start separately, one iteration per recorded step.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..metrics import input_gradient_norms, nonfinite_metric, tail_stats
from ..constraints import COUNT, DEVICE, EPOCHS, NONNEGATIVE, POSITIVE, SEEDS, WIDTHS, WORKERS, ListOf, Options
from ..device import resolve_device
from ..ensemble import Member, train_group
from ..optimisation import (OBJECTIVES, Objective, cosine, estimate_minimum, gradient_descent, lbfgs,
                            make_objective, surrogate_gradient, uniform)
from ..runs import label_hidden, seed_summary
from ..settings import StudySettings, knob
from ..schema import DIVERGENCE, FINITE, FLAG, NUMBER, ResultSchema, list_of
from ..sweep import local_backend, run_grid
from ..files import write_table
from ..threads import single_threaded
from ..train import FitResult, evaluate
from ..vocabulary import PAPER_ACTIVATIONS, finished, methods_for

# Part of every run's cache key: bump it when a change of the run function changes what a run
# computes, so cached rows are recomputed instead of reused.
STUDY_VERSION = "4"

ACTIVATIONS = PAPER_ACTIVATIONS  # the two of the DREG paper
METHODS = methods_for("surrogate")
OPTIMIZERS = ("gd", "lbfgs")
TRAJECTORY_STARTS = 6  # starts whose paths are stored for the 2-d trajectory figure
# What one run's result holds, exactly (see :func:`measure`); a cached record is checked against it.
# Per optimiser: each start's regret, exit and divergence flags, and the first starts' 2-d paths.
_START_KINDS = {"regret": list_of(NUMBER), "left": list_of(FLAG), "diverged": list_of(FLAG),
              "paths": list_of(list_of(list_of(NUMBER, 2)))}


def _starts_agree(result: dict) -> str | None:
    """Why an optimiser's per-start lists of ``result`` differ in length (None: they do not)."""
    for o in OPTIMIZERS:
        lengths = {len(result[f"{o}_{k}"]) for k in ("regret", "left", "diverged") if f"{o}_{k}" in result}
        if len(lengths) > 1:
            return f"the per-start lists of {o} differ in length ({sorted(lengths)})"
    return None


RESULT_SCHEMA = ResultSchema(
    always={**DIVERGENCE, "train_seconds": FINITE},
    finished={**{m: FINITE for m in ("test_mse", "val_mse", "grad_p99", "grad_mean", "cos_mean", "cos_p5",
                                     "cos_p10", "cos_negative")},
              "grad_p99_over_mean": NUMBER,  # NaN where every gradient norm is 0
              **{f"{o}_{k}": kind for o in OPTIMIZERS for k, kind in _START_KINDS.items()}},
    agree=_starts_agree)


@dataclass(frozen=True)
class SurrogateSettings(StudySettings):
    """Surrogates in an optimisation loop (notebook 05). The paper reports no such experiment,
    so every value is ours. ``gd_step`` is in units of width^2 of the box."""

    objectives: list[str] = knob(list(OBJECTIVES), ListOf(Options(*OBJECTIVES), unique=True))
    methods: list[str] = knob(list(METHODS), ListOf(Options(*METHODS), unique=True, reference="base"))
    activations: list[str] = knob(list(PAPER_ACTIVATIONS), ListOf(Options(*ACTIVATIONS), unique=True))
    seeds: list[int] = knob([0, 1, 2], SEEDS)
    hidden: list[int] = knob([32, 32], WIDTHS)
    dreg_lam: float = knob(0.03, NONNEGATIVE)
    igp_lam: float = knob(0.03, NONNEGATIVE)
    epochs: int = knob(60, EPOCHS)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(3e-3, POSITIVE)
    weight_decay: float = knob(0.0, NONNEGATIVE)
    n_train: int = knob(1024, COUNT)
    n_test: int = knob(1024, COUNT)
    n_starts: int = knob(32, COUNT)
    gd_step: float = knob(0.01, POSITIVE)
    gd_steps: int = knob(200, EPOCHS)
    lbfgs_steps: int = knob(25, EPOCHS)
    device: str = knob("cpu", DEVICE)  # training only; the optimisation runs on the CPU
    n_jobs: int = knob(2, WORKERS)  # worker processes, one (objective, activation) group each; 1: this process

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(objectives=["rosenbrock", "piecewise"], seeds=[0], hidden=[16, 16], epochs=15,
                      n_train=256, n_test=256, n_starts=8, gd_steps=60, lbfgs_steps=10, n_jobs=1),
        "paper": dict(seeds=[0, 1, 2, 3, 4], hidden=[64, 64], epochs=200, lr=1e-3, n_train=2000,
                      n_test=1000, n_starts=64, gd_steps=300, lbfgs_steps=40, device="auto"),
    }


def validate(settings: Mapping) -> SurrogateSettings:
    """The settings checked and completed (see :class:`SurrogateSettings`)."""
    return SurrogateSettings.coerce(settings)


CONFIG_KEYS = ("hidden", "epochs", "batch_size", "lr", "weight_decay", "n_train", "n_test",
               "n_starts", "gd_step", "gd_steps", "lbfgs_steps")


def make_configs(settings: dict) -> list[dict]:
    """One configuration per (objective, method, activation, seed); lam is the method's own (0
    for BASE and the SN methods)."""
    lam = {"dreg": settings["dreg_lam"], "igp": settings["igp_lam"]}
    return [{"objective": o, "method": m, "activation": a, "seed": seed, "lam": lam.get(m, 0.0),
             **{k: settings[k] for k in CONFIG_KEYS}}
            for o in settings["objectives"] for m in settings["methods"]
            for a in settings["activations"] for seed in settings["seeds"]]


VALIDATION_SEED = 3  # the validation inputs' data seed (training 0, test 1, optimiser starts 2)


def training_data(objective: Objective, n_train: int, n_test: int) -> dict[str, torch.Tensor | float]:
    """Uniform train/test inputs (data seed 0/1), validation inputs as many as the test's
    (:data:`VALIDATION_SEED`), and float32 targets standardised with the training mean and
    standard deviation of f."""
    x_train, x_test = uniform(objective, n_train, 0), uniform(objective, n_test, 1)
    x_val = uniform(objective, n_test, VALIDATION_SEED)
    f_train, f_test = objective.value(x_train), objective.value(x_test)
    mu, sd = float(f_train.mean()), float(f_train.std())
    return {"x_train": x_train.float(), "y_train": ((f_train - mu) / sd).float()[:, None],
            "x_test": x_test, "y_test": ((f_test - mu) / sd).float()[:, None],
            "x_val": x_val.float(), "y_val": ((objective.value(x_val) - mu) / sd).float()[:, None],
            "f_test": f_test}


def normalised_regret(objective: Objective, x: torch.Tensor, f_star: float, f_median: float) -> torch.Tensor:
    """(f(clip(x)) - f*) / (median_U f - f*), clip = projection onto the box."""
    fx = objective.value(x.clamp(objective.lower, objective.upper))
    return (fx - f_star) / (f_median - f_star)


def optimise(objective: Objective, value: Callable[[torch.Tensor], torch.Tensor],
             gradient: Callable[[torch.Tensor], torch.Tensor], config: dict,
             f_star: float, f_median: float) -> dict:
    """Run both optimisers from the run's starts (start seed 2, shared by every run of an
    objective) and return per-start regrets, exit and divergence rates, and 2-d paths."""
    starts = uniform(objective, config["n_starts"], 2)
    keep = TRAJECTORY_STARTS if objective.d == 2 else 0
    lo, hi = objective.lower, objective.upper
    runs = {"gd": gradient_descent(gradient, starts, config["gd_step"] * objective.width**2,
                                   config["gd_steps"], lo, hi, keep),
            "lbfgs": lbfgs(value, starts, config["lbfgs_steps"], lo, hi, keep)}
    row = {}
    for name, run in runs.items():
        regret = normalised_regret(objective, run.final, f_star, f_median)
        row.update({f"{name}_regret": regret.tolist(), f"{name}_left": run.left_domain.tolist(),
                    f"{name}_diverged": run.diverged.tolist(), f"{name}_paths": run.paths})
    return row


def group_key(config: dict) -> str:
    """Surrogates that differ only in method, lambda and seed train together."""
    return json.dumps({k: v for k, v in config.items() if k not in ("method", "lam", "seed")}, sort_keys=True)


def run_group(configs: list[dict], device: torch.device | str) -> list[dict]:
    """Train the surrogates of one :func:`group_key` together (:func:`dreg_utils.ensemble.train_group`:
    each member's own initialisation and minibatch order, as alone), then measure and optimise
    with each, in order. The configurations come from checked settings and ``device`` is resolved
    (:func:`dreg_utils.device.resolve_device`): nothing is checked again."""
    first = configs[0]
    objective = make_objective(first["objective"])
    data = training_data(objective, first["n_train"], first["n_test"])
    with single_threaded():
        results = train_group([Member(c["seed"], c["method"], c["lam"]) for c in configs], data["x_train"],
                              data["y_train"], first["hidden"], activation=first["activation"],
                              task="regression", out_features=None, epochs=first["epochs"],
                              batch_size=first["batch_size"], lr=first["lr"],
                              weight_decay=first["weight_decay"], device=device)
        return [measure(result, objective, data, config) for result, config in zip(results, configs)]


def measure(result: FitResult, objective: Objective, data: dict, config: dict) -> dict:
    """One trained surrogate's row: its gradients against the truth, then both optimisers.

    ``diverged`` marks a surrogate whose training, test MSE, input-gradient norms or
    gradient cosines stopped being finite; such a row has ``diverged_step``,
    ``diverged_epoch`` (None for a metric) and ``diverged_reason`` and no measurements."""
    row = {**result.divergence(), "train_seconds": result.seconds}
    if result.diverged:
        return row
    model = result.model.cpu().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x_test = data["x_test"]
    norms = input_gradient_norms(model, x_test.float())
    cos = cosine(surrogate_gradient(model)(x_test), objective.gradient(x_test)).numpy()
    test_mse = evaluate(model, x_test.float(), data["y_test"], "regression")["loss"]
    val_mse = evaluate(model, data["x_val"], data["y_val"], "regression")["loss"]
    reason = nonfinite_metric({"test_mse": test_mse, "val_mse": val_mse, "input-gradient norm": norms,
                               "gradient cosine": cos})
    if reason:
        return {**row, "diverged": True, "diverged_reason": reason}
    grads = tail_stats(norms)
    f_star = estimate_minimum(objective)
    f_median = float(data["f_test"].median())
    row.update(test_mse=test_mse, val_mse=val_mse,
               grad_p99_over_mean=grads["p99_over_mean"], grad_p99=grads["p99"], grad_mean=grads["mean"],
               cos_mean=float(cos.mean()), cos_p5=float(np.percentile(cos, 5)),
               cos_p10=float(np.percentile(cos, 10)), cos_negative=float((cos < 0).mean()),
               **optimise(objective, lambda x: model(x.float())[:, 0].double(),
                          surrogate_gradient(model), config, f_star, f_median))
    return row


def oracle(settings: dict) -> pd.DataFrame:
    """The same optimisers driven by the true f / sd and grad f / sd (sd: the standard deviation
    of f on the training inputs, so the fixed step means what it means for a surrogate):
    per-start rows, method ``true``."""
    rows = []
    config = {k: settings[k] for k in ("n_starts", "gd_step", "gd_steps", "lbfgs_steps")}
    for name in settings["objectives"]:
        objective = make_objective(name)
        sd = float(objective.value(uniform(objective, settings["n_train"], 0)).std())
        f_median = float(objective.value(uniform(objective, settings["n_test"], 1)).median())
        with single_threaded():
            out = optimise(objective, lambda x: objective.value(x) / sd, lambda x: objective.gradient(x) / sd,
                           config, estimate_minimum(objective), f_median)
        for opt in OPTIMIZERS:
            rows += [{"objective": name, "method": "true", "activation": "-", "seed": 0, "optimizer": opt,
                      "start": i, "regret": r, "left_domain": l, "diverged": dv}
                     for i, (r, l, dv) in enumerate(zip(out[f"{opt}_regret"], out[f"{opt}_left"],
                                                        out[f"{opt}_diverged"]))]
    return pd.DataFrame(rows)


PER_START = tuple(f"{o}_{k}" for o in OPTIMIZERS for k in ("regret", "left", "diverged", "paths"))


def run_sweep(settings: dict, results_dir: str | Path = "results/surrogate",
              progress: bool = True, *, backend: str | None = None, n_jobs: int | None = None,
              scheduler: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run (or reuse) every configuration. Returns and saves three tidy tables: ``runs.csv``
    (one row per surrogate, with per-optimiser rates and median regret), ``starts.csv``
    (one row per surrogate, optimiser and start, plus the ``true``-gradient oracle) and
    ``paths.csv`` (the stored 2-d trajectories, one row per iterate). ``backend``, ``n_jobs``
    and ``scheduler`` choose where the runs execute (see :func:`dreg_utils.sweep.run_grid`); by
    default ``settings["n_jobs"]`` local processes ("joblib"), or this process when it is 1.
    The optimisers (L-BFGS per start) dominate the time, so processes pay even on two cores."""
    settings = validate(settings)
    results_dir = Path(results_dir)
    if backend is None:
        backend, n_jobs = local_backend(settings["n_jobs"])
    device = resolve_device(settings.device)  # once for every run
    raw = run_grid(make_configs(settings), lambda group: run_group(group, device),
                   results_dir / "cache", group_key=group_key, progress=progress, desc="surrogate runs",
                   backend=backend, n_jobs=n_jobs, scheduler=scheduler, version=STUDY_VERSION,
                   schema=RESULT_SCHEMA)
    ident = ["objective", "method", "activation", "seed"]
    starts, paths = [oracle(settings)], []
    ok = finished(raw)
    for r in ok.itertuples(index=False):
        for opt in OPTIMIZERS:
            regret, left, gone = (getattr(r, f"{opt}_{k}") for k in ("regret", "left", "diverged"))
            starts.append(pd.DataFrame({"objective": r.objective, "method": r.method, "activation": r.activation,
                                        "seed": r.seed, "optimizer": opt, "start": range(len(regret)),
                                        "regret": regret, "left_domain": left, "diverged": gone}))
            paths += [{"objective": r.objective, "method": r.method, "activation": r.activation, "seed": r.seed,
                       "optimizer": opt, "start": i, "step": t, "x0": p[0], "x1": p[1]}
                      for i, path in enumerate(getattr(r, f"{opt}_paths")) for t, p in enumerate(path)]
    starts = pd.concat(starts, ignore_index=True)
    runs = raw.drop(columns=[c for c in PER_START if c in raw.columns])
    label_hidden(runs)
    per_run = (starts[starts["method"] != "true"].groupby(ident + ["optimizer"])
               .agg(regret_median=("regret", "median"), left_domain=("left_domain", "mean"),
                    diverged=("diverged", "mean")).unstack("optimizer"))
    per_run.columns = [f"{opt}_{k}" for k, opt in per_run.columns]
    runs = runs.merge(per_run.reset_index(), on=ident, how="left")
    paths = pd.DataFrame(paths)
    for name, table in (("runs", runs), ("starts", starts), ("paths", paths)):
        write_table(table, results_dir / f"{name}.csv")
    return runs, starts, paths


OUTCOMES = ("cos_mean", "cos_p10", "gd_regret_median", "lbfgs_regret_median", "gd_left_domain",
            "lbfgs_left_domain", "lbfgs_diverged")


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Means over the finished seeds per (objective, activation, method) of accuracy, tail and
    downstream measures, with ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or
    "diverged (k/n)"); a setting whose surrogates all diverged keeps its row without means."""
    metrics = ["test_mse", "val_mse", "grad_p99_over_mean", "cos_mean", "cos_p5", "cos_p10", *OUTCOMES[2:]]
    return seed_summary(runs, ["objective", "activation", "method"], metrics, sort=True)
