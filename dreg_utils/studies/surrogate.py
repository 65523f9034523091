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

and relate them to the surrogate's p99/mean input-gradient ratio and test MSE.

Each regulariser is compared with BASE pair by pair: the surrogates of one (objective,
activation, seed) share their initial weights, minibatch order and optimiser starts. Differences
of regret within floating-point tolerance (:func:`dreg_utils.claims.is_tie`) are ties (0), and every
verdict comes from a 95% interval: the median paired difference with its distribution-free
order-statistic interval (:func:`median_interval`), Spearman's rho with its Fisher-z interval.
Among the variants of spectral normalisation the one with the lowest median validation MSE
(an independent uniform draw) speaks for SN (:func:`best_sn_variant`).

One run = (objective, method, activation, seed). The optimisers are gradient descent
x <- x - eta grad s(x) with eta = ``gd_step`` * width^2 (dimensionless in units of the box
and of the standardised target), and ``torch.optim.LBFGS`` with a strong-Wolfe line
search on each start separately, one iteration per recorded step.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
import torch
from scipy import stats as sps

from ..claims import INCONCLUSIVE, interval_verdict, is_tie
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
from ..vocabulary import PAPER_ACTIVATIONS, SN_METHODS, finished, methods_for

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


PREDICTORS = ("grad_p99_over_mean", "test_mse")  # the quantity DREG targets, and the yardstick
CONFIDENCE = 0.95  # of every interval of the chapter
SPEARMAN_SE = 1.06  # Fieller, Hartley and Pearson (1957): var(atanh rho_s) ~ 1.06 / (n - 3)


def spearman_interval(rho: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Fisher-z interval of Spearman's rho from n pairs: tanh(atanh(rho) -/+ z sqrt(1.06 / (n - 3)))
    (Fieller, Hartley and Pearson, 1957); NaN when rho is NaN or n <= 3."""
    if not np.isfinite(rho) or n <= 3:
        return float("nan"), float("nan")
    half = sps.norm.ppf((1 + confidence) / 2) * np.sqrt(SPEARMAN_SE / (n - 3))
    with np.errstate(divide="ignore"):  # rho = +-1: atanh is infinite and the interval is the point
        z = np.arctanh(np.clip(rho, -1.0, 1.0))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def correlations(runs: pd.DataFrame, predictors: tuple[str, ...] = PREDICTORS,
                 outcomes: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """Spearman rank correlation of each predictor with each outcome across the surrogates of
    one objective (all methods, activations and seeds pooled), with its 95% interval
    (:func:`spearman_interval`, ``low`` and ``high``). A good predictor of downstream quality has
    rho > 0 with regret and exits and rho < 0 with the cosines."""
    rows = []
    for objective, block in finished(runs).groupby("objective"):
        for p in predictors:
            for o in outcomes:
                x, y = block[p].to_numpy(float), block[o].to_numpy(float)
                varies = np.ptp(x) > 0 and np.ptp(y) > 0
                rho = sps.spearmanr(x, y).statistic if varies else float("nan")
                low, high = spearman_interval(rho, len(block))
                rows.append({"objective": objective, "predictor": p, "outcome": o, "rho": rho, "low": low,
                             "high": high, "n": len(block)})
    return pd.DataFrame(rows)


def tie_free_difference(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a - b elementwise, exactly 0 where a and b are equal within floating-point tolerance
    (:func:`dreg_utils.claims.is_tie`), NaN where either is NaN."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    tied = np.array([bool(np.isfinite(x) and np.isfinite(y) and is_tie(x, y)) for x, y in zip(a.ravel(), b.ravel())],
                    dtype=bool).reshape(a.shape)
    return np.where(tied, 0.0, a - b)


def versus_base(summary: pd.DataFrame) -> pd.DataFrame:
    """Each regulariser against BASE in the same (objective, activation), seed means: relative
    change of test MSE and of p99/mean (percent, + = higher), and differences of the downstream
    measures (ties within floating-point tolerance are 0, :func:`tie_free_difference`).
    Settings whose surrogates (or BASE's) all diverged have no row."""
    summary = summary[summary["test_mse"].notna()]
    base = summary[summary["method"] == "base"].set_index(["objective", "activation"])
    rows = []
    for r in summary[summary["method"] != "base"].itertuples(index=False):
        if (r.objective, r.activation) not in base.index:
            continue
        b = base.loc[(r.objective, r.activation)]
        rows.append({"objective": r.objective, "activation": r.activation, "method": r.method,
                     "test_mse_change_pct": 100 * (r.test_mse / b["test_mse"] - 1),
                     "p99_over_mean_change_pct": 100 * (r.grad_p99_over_mean / b["grad_p99_over_mean"] - 1),
                     "cos_p10_diff": r.cos_p10 - b["cos_p10"],
                     "gd_regret_diff": float(tie_free_difference(r.gd_regret_median, b["gd_regret_median"])),
                     "lbfgs_regret_diff": float(tie_free_difference(r.lbfgs_regret_median, b["lbfgs_regret_median"])),
                     "gd_exits_diff": r.gd_left_domain - b["gd_left_domain"],
                     "lbfgs_exits_diff": r.lbfgs_left_domain - b["lbfgs_left_domain"]})
    return pd.DataFrame(rows)


PAIR_KEYS = ("objective", "activation", "seed")  # one pair: a surrogate and BASE's of its seed


def paired_differences(runs: pd.DataFrame) -> pd.DataFrame:
    """Each regulariser's finished surrogates against BASE's of the same (objective, activation,
    seed), one row per pair: each optimiser's median-regret difference (``gd_regret_diff``,
    ``lbfgs_regret_diff``; + = worse, ties 0), the test-MSE and p99/mean changes (percent, + = higher),
    and the surrogate's own validation MSE. Pairs where either surrogate diverged are left out."""
    keys = list(PAIR_KEYS)
    ok = finished(runs)
    base = ok[ok["method"] == "base"].set_index(keys)
    rows = []
    for r in ok[ok["method"] != "base"].itertuples(index=False):
        key = tuple(getattr(r, k) for k in keys)
        if key not in base.index:
            continue
        b = base.loc[key]
        rows.append({**dict(zip(keys, key)), "method": r.method,
                     "gd_regret_diff": float(tie_free_difference(r.gd_regret_median, b["gd_regret_median"])),
                     "lbfgs_regret_diff": float(tie_free_difference(r.lbfgs_regret_median, b["lbfgs_regret_median"])),
                     "test_mse_change_pct": 100 * (r.test_mse / b["test_mse"] - 1),
                     "p99_over_mean_change_pct": 100 * (r.grad_p99_over_mean / b["grad_p99_over_mean"] - 1),
                     "val_mse": r.val_mse})
    return pd.DataFrame(rows, columns=[*keys, "method", "gd_regret_diff", "lbfgs_regret_diff", "test_mse_change_pct",
                                       "p99_over_mean_change_pct", "val_mse"])


def order_statistic_rank(n: int, confidence: float = CONFIDENCE) -> int:
    """The largest k >= 1 with 2 P(Binomial(n, 1/2) <= k - 1) <= 1 - confidence: the sorted
    values d_(k) and d_(n+1-k) bound the median with at least ``confidence``; 0 when no k does."""
    k = 0
    while 2 * sps.binom.cdf(k, n, 0.5) <= 1 - confidence:
        k += 1
    return k


def smallest_decidable_n(confidence: float = CONFIDENCE) -> int:
    """The fewest pairs whose median has an order-statistic interval at ``confidence`` (6 at 95%)."""
    n = 1
    while order_statistic_rank(n, confidence) == 0:
        n += 1
    return n


def median_interval(values: ArrayLike, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The median of the finite ``values`` and its distribution-free interval (d_(k), d_(n+1-k))
    (:func:`order_statistic_rank`; the interval of the sign test): (median, low, high), with NaN
    bounds when too few values allow one (fewer than :func:`smallest_decidable_n`) and all NaN
    when there are none."""
    d = np.sort(np.asarray(values, dtype=float))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan"), float("nan")
    k = order_statistic_rank(d.size, confidence)
    median = float(np.median(d))
    if k == 0:
        return median, float("nan"), float("nan")
    return median, float(d[k - 1]), float(d[d.size - k])


PREDICTS_RHO = 0.3  # ours: rho at which a predictor "predicts" regret (its interval above 0)
WORTH_MAX_MSE_CHANGE_PCT = 50.0  # ours: the median test-MSE rise a regulariser worth it may cost
REGRET_OUTCOMES = ("gd_regret_median", "lbfgs_regret_median")
RELATIONS = {"holds": "predicts", "partly": "weak", "does not hold": "opposite", INCONCLUSIVE: "none"}


def regret_predictors(corr: pd.DataFrame, threshold: float = PREDICTS_RHO) -> pd.DataFrame:
    """Does a low p99/mean (or test MSE, the yardstick) predict a low regret? The rows of
    :func:`correlations` with each optimiser's median regret, each with its ``relation`` from
    rho's 95% interval (:func:`dreg_utils.claims.interval_verdict`): "predicts" when the interval
    lies above 0 and rho >= ``threshold``, "weak" when it lies above 0 and rho < ``threshold``,
    "opposite" when it lies below 0, "none" when it includes 0 (or has no bounds), "undefined"
    where rho is NaN."""
    block = corr[corr["outcome"].isin(REGRET_OUTCOMES)]
    relation = ["undefined" if not np.isfinite(r.rho) else
                RELATIONS[interval_verdict(r.rho, r.low, r.high, paper_effect=2 * threshold)]
                for r in block.itertuples(index=False)]
    return block[["predictor", "outcome", "objective", "rho", "low", "high"]].assign(relation=relation)


OPTIMIZER_REGRETS = {o: f"{o}_regret_diff" for o in OPTIMIZERS}
REGRET_VERDICTS = {"holds": "lower", "does not hold": "higher", INCONCLUSIVE: INCONCLUSIVE}
COST_VERDICTS = {"holds": "within", "does not hold": "over", INCONCLUSIVE: INCONCLUSIVE}
WORTH_COLUMNS = ["method", "n", *(f"{o}_{k}" for o in OPTIMIZERS for k in (
    "regret_diff", "low", "high", "lower", "higher", "tied", "verdict")),
    "median_test_mse_change_pct", "mse_low", "mse_high", "cost", "median_p99_over_mean_change_pct",
    "median_val_mse", "worth"]


def worth_verdict(regret: Sequence[str], cost: str) -> str:
    """"worth_it" when every optimiser's regret is "lower" and the cost "within" the budget;
    "not_worth_it" when none is lower and one is "higher" or the cost "over"; "mixed" when one is
    lower and another higher or the cost over; else "inconclusive"."""
    against = "higher" in regret or cost == "over"
    if all(v == "lower" for v in regret) and cost == "within":
        return "worth_it"
    if against:
        return "mixed" if "lower" in regret else "not_worth_it"
    return INCONCLUSIVE


def method_worth(pairs: pd.DataFrame, max_mse_change: float = WORTH_MAX_MSE_CHANGE_PCT,
                 confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Is each regulariser worth its accuracy cost? Per method, over its pairs with BASE
    (:func:`paired_differences`, ``n``): for each optimiser the median regret difference with its
    interval (:func:`median_interval`; ``<opt>_regret_diff``, ``_low``, ``_high``), the pairs where it
    is lower, higher or tied, and its ``<opt>_verdict``: "lower" when the interval lies below 0,
    "higher" above, else inconclusive; the median test-MSE change with its interval (``mse_low``,
    ``mse_high``) and ``cost``: "within" when the interval lies below ``max_mse_change``, "over"
    above, else inconclusive; the median p99/mean change and validation MSE; and ``worth``
    (:func:`worth_verdict`)."""
    rows = []
    for method, block in pairs.groupby("method", sort=False) if not pairs.empty else ():
        row = {"method": method, "n": len(block)}
        for o, column in OPTIMIZER_REGRETS.items():
            d = block[column].to_numpy(float)
            median, low, high = median_interval(d, confidence)
            row.update({f"{o}_regret_diff": median, f"{o}_low": low, f"{o}_high": high,
                        f"{o}_lower": int((d < 0).sum()), f"{o}_higher": int((d > 0).sum()),
                        f"{o}_tied": int((d == 0).sum()),
                        f"{o}_verdict": REGRET_VERDICTS[interval_verdict(-median, -high, -low)]})
        mse, mse_low, mse_high = median_interval(block["test_mse_change_pct"], confidence)
        cost = COST_VERDICTS[interval_verdict(max_mse_change - mse, max_mse_change - mse_high,
                                              max_mse_change - mse_low)]
        row.update(median_test_mse_change_pct=mse, mse_low=mse_low, mse_high=mse_high, cost=cost,
                   median_p99_over_mean_change_pct=float(block["p99_over_mean_change_pct"].median()),
                   median_val_mse=float(block["val_mse"].median()),
                   worth=worth_verdict([row[f"{o}_verdict"] for o in OPTIMIZERS], cost))
        rows.append(row)
    return pd.DataFrame(rows, columns=WORTH_COLUMNS)


def best_sn_variant(worth: pd.DataFrame) -> str | None:
    """The SN method (:data:`~dreg_utils.vocabulary.SN_METHODS`) of ``worth`` with the lowest median
    validation MSE, the first in the vocabulary's order on a tie; None when none ran. Chosen on the
    validation inputs, so the verdict on SN (regret and test MSE) is not a selection on its outcome."""
    block = worth[worth["method"].isin(SN_METHODS) & worth["median_val_mse"].notna()]
    if block.empty:
        return None
    order = block.assign(rank=block["method"].map(SN_METHODS.index)).sort_values(["median_val_mse", "rank"])
    return str(order["method"].iloc[0])


def true_regret(starts: pd.DataFrame) -> pd.Series:
    """The median regret of each optimiser driven by the true gradient, per (objective, optimizer)."""
    return starts[starts["method"] == "true"].groupby(["objective", "optimizer"])["regret"].median()
