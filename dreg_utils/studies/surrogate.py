"""Surrogates inside an optimisation loop (issue 6; DREG paper, Section 2.3 "ghost signals").

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

One run = (objective, method, activation, seed). The optimisers are gradient descent
x <- x - eta grad s(x) with eta = ``gd_step`` * width^2 (dimensionless in units of the box
and of the standardised target), and ``torch.optim.LBFGS`` with a strong-Wolfe line
search on each start separately, one iteration per recorded step.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats as sps

from ..activations import ACTIVATIONS
from ..metrics import input_gradient_norms, nonfinite_metric, tail_stats
from ..models import CompactMLP
from ..sweep import run_grid, write_table
from ..train import divergence_status, evaluate, fit, resolve_device
from ..validation import (check_choice, check_choices, check_float, check_hidden, check_int, check_nonempty_list,
                         check_unique)

OBJECTIVES = ("rosenbrock", "rastrigin", "piecewise", "smooth")
METHODS = ("base", "dreg", "igp", "sn")
OPTIMIZERS = ("gd", "lbfgs")
DIVERGE_WIDTHS = 10.0
TRAJECTORY_STARTS = 6  # starts whose paths are stored for the 2-d trajectory figure
RASTRIGIN_A = 1.0


@dataclass(frozen=True)
class Objective:
    """A known objective on the box [lower, upper]^d with its gradient and minimum value f*."""

    name: str
    d: int
    lower: float
    upper: float
    value: Callable[[torch.Tensor], torch.Tensor]  # (n, d) -> (n,)
    gradient: Callable[[torch.Tensor], torch.Tensor]  # (n, d) -> (n, d)
    f_star: float | None  # None: estimated by :func:`estimate_minimum`

    @property
    def width(self) -> float:
        return self.upper - self.lower


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at (1, ..., 1)."""
    a, b = x[:, :-1], x[:, 1:]
    return (100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2).sum(dim=1)


def rosenbrock_gradient(x: torch.Tensor) -> torch.Tensor:
    """df/dx_i = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) + 200 (x_i - x_{i-1}^2)."""
    a, b = x[:, :-1], x[:, 1:]
    g = torch.zeros_like(x)
    g[:, :-1] += -400.0 * a * (b - a**2) - 2.0 * (1.0 - a)
    g[:, 1:] += 200.0 * (b - a**2)
    return g


def rastrigin(x: torch.Tensor) -> torch.Tensor:
    """A mild Rastrigin: f(x) = sum_i x_i^2 + A (1 - cos(2 pi x_i)), A = 1; minimum 0 at 0,
    local minima near the other integer points."""
    return (x**2 + RASTRIGIN_A * (1.0 - torch.cos(2 * math.pi * x))).sum(dim=1)


def rastrigin_gradient(x: torch.Tensor) -> torch.Tensor:
    """df/dx_i = 2 x_i + 2 pi A sin(2 pi x_i)."""
    return 2.0 * x + 2 * math.pi * RASTRIGIN_A * torch.sin(2 * math.pi * x)


def family_function(family: str, d: int, seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """Torch re-implementation of ``data.synthetic.target_function(family, d, default_rng(seed))``
    for ``smooth`` (sum_k sin(w_k . x)) and ``piecewise`` (sum_j |x_j - tau_j|): the same draws
    from the same generator, so the values agree with the NumPy function."""
    rng = np.random.default_rng(seed)
    if family == "smooth":
        coords = torch.as_tensor(rng.choice(d, size=d, replace=False))
        w = torch.as_tensor(rng.normal(0.0, 0.5, size=(5, d)))
        return lambda x: torch.sin(x[:, coords] @ w.to(x.dtype).T).sum(dim=1)
    if family == "piecewise":
        tau = torch.as_tensor(rng.uniform(-0.5, 0.5, size=d))
        return lambda x: (x - tau.to(x.dtype)).abs().sum(dim=1)
    raise ValueError(f"family={family!r} is not valid; choose one of ['smooth', 'piecewise']")


def autograd_gradient(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """grad f by autograd (the rows of x are independent, so grad of sum f = per-row gradients)."""
    def gradient(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(xg).sum(), xg)
        return g
    return gradient


def make_objective(name: str) -> Objective:
    """The objectives of the study: Rosenbrock and Rastrigin in d = 2 on [-2, 2]^2, and the
    synthetic families ``piecewise`` (f* = 0 at tau) and ``smooth`` in d = 5 on [-1, 1]^5."""
    check_choice("objective", name, OBJECTIVES)
    if name == "rosenbrock":
        return Objective(name, 2, -2.0, 2.0, rosenbrock, rosenbrock_gradient, 0.0)
    if name == "rastrigin":
        return Objective(name, 2, -2.0, 2.0, rastrigin, rastrigin_gradient, 0.0)
    f = family_function(name, 5)
    return Objective(name, 5, -1.0, 1.0, f, autograd_gradient(f), 0.0 if name == "piecewise" else None)


def uniform(objective: Objective, n: int, seed: int) -> torch.Tensor:
    """n points uniform in the objective's box (float64), drawn from ``seed``."""
    n = check_int("n", n, minimum=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    return objective.lower + objective.width * torch.rand(n, objective.d, generator=g, dtype=torch.float64)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cos = <a_i, b_i> / (||a_i|| ||b_i||); 0 where either row is zero."""
    denom = a.norm(dim=1) * b.norm(dim=1)
    dot = (a * b).sum(dim=1)
    return torch.where(denom > 0, dot / denom.clamp_min(torch.finfo(denom.dtype).tiny), torch.zeros_like(dot))


def outside(x: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """True for the rows of x with a coordinate outside [lower, upper] (or non-finite)."""
    return ~((x >= lower) & (x <= upper)).all(dim=1)


def diverged(x: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """True for rows that are non-finite or more than ``DIVERGE_WIDTHS`` box widths outside."""
    margin = DIVERGE_WIDTHS * (upper - lower)
    return ~((x >= lower - margin) & (x <= upper + margin)).all(dim=1)


@dataclass
class Descent:
    """Outcome of one optimiser from n starts: final points, exit/divergence flags, paths."""

    final: torch.Tensor  # (n, d), the last finite iterate
    left_domain: torch.Tensor  # (n,) bool: some iterate left the box
    diverged: torch.Tensor  # (n,) bool
    paths: list[list[list[float]]]  # the first ``keep`` starts' iterates


def gradient_descent(gradient: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, step: float,
                     steps: int, lower: float, upper: float, keep: int = 0) -> Descent:
    """x_{t+1} = x_t - step * gradient(x_t) for all starts at once; a start that diverges
    is frozen at its last finite iterate."""
    check_float("step", step, strictly_positive=True)
    check_int("steps", steps, minimum=0)
    check_int("keep", keep, minimum=0)
    x = starts.clone()
    left = torch.zeros(len(x), dtype=torch.bool)
    gone = torch.zeros(len(x), dtype=torch.bool)
    paths = [[row.tolist()] for row in x[:keep]]
    for _ in range(steps):
        new = x - step * gradient(x)
        bad = diverged(new, lower, upper) & ~gone
        gone |= bad
        x = torch.where(gone[:, None], x, new)
        left |= outside(new, lower, upper)
        for path, row in zip(paths, x[:keep]):
            path.append(row.tolist())
    return Descent(x, left, gone, paths)


def lbfgs(value: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, steps: int,
          lower: float, upper: float, keep: int = 0) -> Descent:
    """``torch.optim.LBFGS`` (strong-Wolfe line search) on each start separately, ``steps``
    iterations recorded one by one; a start stops when it diverges."""
    check_int("steps", steps, minimum=0)
    check_int("keep", keep, minimum=0)
    finals, left, gone, paths = [], [], [], []
    for i, start in enumerate(starts):
        x = start.clone()[None].requires_grad_(True)
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = value(x).sum()
            loss.backward()
            return loss

        last, exited, broke, path = start.clone(), False, False, [start.tolist()]
        for _ in range(steps):
            opt.step(closure)
            now = x.detach()
            if bool(diverged(now, lower, upper)[0]):
                broke = True
                break
            exited |= bool(outside(now, lower, upper)[0])
            last = now[0].clone()
            path.append(last.tolist())
        finals.append(last)
        left.append(exited or broke)
        gone.append(broke)
        if i < keep:
            paths.append(path)
    return Descent(torch.stack(finals), torch.tensor(left), torch.tensor(gone), paths)


def surrogate_gradient(model: CompactMLP) -> Callable[[torch.Tensor], torch.Tensor]:
    """grad_x s(x) of a scalar-output model, in float64 inputs and outputs."""
    return autograd_gradient(lambda x: model(x.float())[:, 0].double())


def estimate_minimum(objective: Objective, n: int = 4096, seed: int = 12345) -> float:
    """f* if known; else the least f over n uniform points and projected true-gradient descent
    from the best 64 of them (an upper bound on f*, tight up to the descent's accuracy)."""
    if objective.f_star is not None:
        return objective.f_star
    x = uniform(objective, n, seed)
    fx = objective.value(x)
    x = x[fx.argsort()[:64]]
    step = 0.01 * objective.width**2
    for _ in range(500):
        x = (x - step * objective.gradient(x)).clamp(objective.lower, objective.upper)
    return float(min(fx.min(), objective.value(x).min()))


@contextmanager
def single_thread() -> Iterator[None]:
    """Run with one intra-op thread (tiny models slow down badly when cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def validate(settings: dict) -> dict:
    """Check the notebook's parameters; return them normalised."""
    s = dict(settings)
    s["objectives"] = check_unique("objectives", check_choices("objectives", s["objectives"], OBJECTIVES))
    s["methods"] = check_unique("methods", check_choices("methods", s["methods"], METHODS))
    if "base" not in s["methods"]:
        raise ValueError(f"methods={s['methods']} must include 'base', the unregularised reference")
    s["activations"] = check_unique("activations", check_choices("activations", s["activations"], ACTIVATIONS))
    s["seeds"] = check_unique("seeds", [check_int(f"seeds[{i}]", v, minimum=0)
                                        for i, v in enumerate(check_nonempty_list("seeds", s["seeds"]))])
    s["hidden"] = list(check_hidden("hidden", s["hidden"]))
    for name in ("dreg_lam", "igp_lam", "weight_decay"):
        s[name] = check_float(name, s[name], minimum=0.0)
    for name in ("lr", "gd_step"):
        s[name] = check_float(name, s[name], strictly_positive=True)
    for name in ("epochs", "batch_size", "n_train", "n_test", "n_starts", "gd_steps", "lbfgs_steps"):
        s[name] = check_int(name, s[name], minimum=1)
    resolve_device(s["device"])
    return s


CONFIG_KEYS = ("hidden", "epochs", "batch_size", "lr", "weight_decay", "n_train", "n_test",
               "n_starts", "gd_step", "gd_steps", "lbfgs_steps")


def make_configs(settings: dict) -> list[dict]:
    """One configuration per (objective, method, activation, seed); lam is the method's own."""
    lam = {"base": 0.0, "sn": 0.0, "dreg": settings["dreg_lam"], "igp": settings["igp_lam"]}
    return [{"objective": o, "method": m, "activation": a, "seed": seed, "lam": lam[m],
             **{k: settings[k] for k in CONFIG_KEYS}}
            for o in settings["objectives"] for m in settings["methods"]
            for a in settings["activations"] for seed in settings["seeds"]]


def training_data(objective: Objective, n_train: int, n_test: int) -> dict[str, torch.Tensor | float]:
    """Uniform train/test inputs (data seed 0/1) and float32 targets standardised with the
    training mean and standard deviation of f."""
    x_train, x_test = uniform(objective, n_train, 0), uniform(objective, n_test, 1)
    f_train, f_test = objective.value(x_train), objective.value(x_test)
    mu, sd = float(f_train.mean()), float(f_train.std())
    return {"x_train": x_train.float(), "y_train": ((f_train - mu) / sd).float()[:, None],
            "x_test": x_test, "y_test": ((f_test - mu) / sd).float()[:, None],
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


def run_one(config: dict, device: str = "auto") -> dict:
    """Train one surrogate, measure its gradients against the truth, optimise with it.

    ``train_diverged`` marks a surrogate whose training, test MSE, input-gradient norms or
    gradient cosines stopped being finite; such a row has ``diverged_step``,
    ``diverged_epoch`` (None for a metric) and ``diverged_reason`` and no measurements."""
    objective = make_objective(config["objective"])
    data = training_data(objective, config["n_train"], config["n_test"])
    with single_thread():
        model = CompactMLP.seeded(config["seed"], objective.d, config["hidden"], 1,
                                  activation=config["activation"], spectral_norm=config["method"] == "sn")
        result = fit(model, data["x_train"], data["y_train"], method=config["method"], lam=config["lam"],
                     epochs=config["epochs"], batch_size=config["batch_size"], lr=config["lr"],
                     weight_decay=config["weight_decay"], seed=config["seed"], device=device)
        divergence = result.divergence()
        row = {"train_diverged": divergence.pop("diverged"), **divergence, "train_seconds": result.seconds}
        if result.diverged:
            return row
        model = model.cpu().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x_test = data["x_test"]
        norms = input_gradient_norms(model, x_test.float())
        cos = cosine(surrogate_gradient(model)(x_test), objective.gradient(x_test)).numpy()
        test_mse = evaluate(model, x_test.float(), data["y_test"], "regression")["loss"]
        reason = nonfinite_metric({"test_mse": test_mse, "input-gradient norm": norms, "gradient cosine": cos})
        if reason:
            return {**row, "train_diverged": True, "diverged_reason": reason}
        grads = tail_stats(norms)
        f_star = estimate_minimum(objective)
        f_median = float(data["f_test"].median())
        row.update(test_mse=test_mse,
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
        with single_thread():
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
              progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
              scheduler: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run (or reuse) every configuration. Returns and saves three tidy tables: ``runs.csv``
    (one row per surrogate, with per-optimiser rates and median regret), ``starts.csv``
    (one row per surrogate, optimiser and start, plus the ``true``-gradient oracle) and
    ``paths.csv`` (the stored 2-d trajectories, one row per iterate). ``backend``, ``n_jobs``
    and ``scheduler`` choose where the runs execute (see :func:`dreg_utils.sweep.run_grid`)."""
    settings = validate(settings)
    results_dir = Path(results_dir)
    raw = run_grid(make_configs(settings), lambda group: [run_one(group[0], settings["device"])],
                   results_dir / "cache", progress=progress, desc="surrogate runs",
                   backend=backend, n_jobs=n_jobs, scheduler=scheduler)
    ident = ["objective", "method", "activation", "seed"]
    starts, paths = [oracle(settings)], []
    ok = raw[~raw["train_diverged"]]
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
    runs["hidden"] = runs["hidden"].map(lambda h: "-".join(map(str, h)))
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
    keys = ["objective", "activation", "method"]
    cols = ["test_mse", "grad_p99_over_mean", "cos_mean", "cos_p5", "cos_p10", *OUTCOMES[2:]]
    ok = runs[~runs["train_diverged"].astype(bool)]
    summary = ok.groupby(keys)[cols].mean()
    summary["n_seeds"] = ok.groupby(keys).size()
    summary = divergence_status(runs, keys, "train_diverged").sort_index().join(summary)
    summary["n_seeds"] = summary["n_seeds"].fillna(0).astype(int)
    return summary[[*cols, "n_seeds", "n_diverged", "status"]].reset_index()


def correlations(runs: pd.DataFrame, predictors: tuple[str, ...] = ("grad_p99_over_mean", "test_mse"),
                 outcomes: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """Spearman rank correlation of each predictor with each outcome across the surrogates of
    one objective (all methods, activations and seeds pooled). A good predictor of downstream
    quality has rho > 0 with regret and exits and rho < 0 with the cosines."""
    rows = []
    for objective, block in runs[~runs["train_diverged"]].groupby("objective"):
        for p in predictors:
            for o in outcomes:
                x, y = block[p].to_numpy(float), block[o].to_numpy(float)
                varies = np.ptp(x) > 0 and np.ptp(y) > 0
                rho = sps.spearmanr(x, y).statistic if varies else float("nan")
                rows.append({"objective": objective, "predictor": p, "outcome": o, "rho": rho, "n": len(block)})
    return pd.DataFrame(rows)


def versus_base(summary: pd.DataFrame) -> pd.DataFrame:
    """Each regulariser against BASE in the same (objective, activation): relative change of
    test MSE and of p99/mean (percent, + = higher), and differences of the downstream measures.
    Settings whose surrogates (or BASE's) all diverged have no row."""
    summary = summary[summary["test_mse"].notna()]
    base = summary[summary["method"] == "base"].set_index(["objective", "activation"])
    rows = []
    for r in summary[summary["method"] != "base"].itertuples(index=False):
        if (r.objective, r.activation) not in base.index:
            continue
        b = base.loc[(r.objective, r.activation)]
        rows.append({"objective": r.objective, "activation": r.activation, "method": r.method,
                     "test MSE change %": 100 * (r.test_mse / b["test_mse"] - 1),
                     "p99/mean change %": 100 * (r.grad_p99_over_mean / b["grad_p99_over_mean"] - 1),
                     "cos p10 diff": r.cos_p10 - b["cos_p10"],
                     "GD regret diff": r.gd_regret_median - b["gd_regret_median"],
                     "L-BFGS regret diff": r.lbfgs_regret_median - b["lbfgs_regret_median"],
                     "GD exits diff": r.gd_left_domain - b["gd_left_domain"],
                     "L-BFGS exits diff": r.lbfgs_left_domain - b["lbfgs_left_domain"]})
    return pd.DataFrame(rows)


def verdict(corr: pd.DataFrame, versus: pd.DataFrame, threshold: float = 0.3) -> list[str]:
    """Plain-language findings computed from the numbers.

    (1) Does a low p99/mean predict good downstream behaviour? Per objective, the Spearman
    rho of p99/mean with the median regret of each optimiser: "predicts" when rho >=
    ``threshold``, "opposite" when rho <= -``threshold``, else "no clear relation"; the same for
    test MSE as the yardstick. (2) Is each regulariser worth its accuracy cost? Counted over
    (objective, activation) cells: how often it lowers the median regret of both optimisers,
    and its median test-MSE change.
    """
    def reading(rho: float) -> str:
        if not np.isfinite(rho):
            return "undefined"
        return "predicts" if rho >= threshold else "opposite" if rho <= -threshold else "no clear relation"

    lines = []
    for predictor, label in (("grad_p99_over_mean", "p99/mean"), ("test_mse", "test MSE")):
        for outcome, opt in (("gd_regret_median", "GD"), ("lbfgs_regret_median", "L-BFGS")):
            block = corr[(corr["predictor"] == predictor) & (corr["outcome"] == outcome)]
            parts = [f"{r.objective} rho={r.rho:+.2f} ({reading(r.rho)})" for r in block.itertuples()]
            hits = int((block["rho"] >= threshold).sum())
            lines.append(f"{label} vs {opt} regret: predicts in {hits}/{len(block)} objectives - "
                         + "; ".join(parts))
    for method, block in versus.groupby("method", sort=False):
        both = ((block["GD regret diff"] < 0) & (block["L-BFGS regret diff"] < 0)).sum()
        worse = ((block["GD regret diff"] > 0) & (block["L-BFGS regret diff"] > 0)).sum()
        mse = block["test MSE change %"].median()
        worth = ("worth it" if both > len(block) / 2 and mse < 50 else
                 "not worth it" if worse >= both else "mixed")
        lines.append(f"{method.upper()} vs BASE: lower regret under both optimisers in {both}/{len(block)} "
                     f"cells, higher under both in {worse}/{len(block)}; median test-MSE change {mse:+.0f}%, "
                     f"median p99/mean change {block['p99/mean change %'].median():+.0f}%: {worth}")
    return lines
