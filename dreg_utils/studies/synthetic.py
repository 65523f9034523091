"""The synthetic-families lambda sweep (DREG paper, Section 6.1, Tables 1-2, Figure 1).

One run = (family, lambda, seed): a CompactMLP trained with the CR-penalty at
strength lambda (lambda = 0 is the unregularised baseline) on the family's
dataset (data seed 0, shared by all runs), then measured on the test split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import paper
from ..data.synthetic import FAMILIES, make_family
from ..metrics import input_gradient_norms, local_linearity_error, nonfinite_metric, tail_stats
from ..models import CompactMLP
from ..penalties import dreg_penalty
from ..sweep import run_grid, write_table
from ..train import divergence_status, evaluate, fit, resolve_device
from ..activations import ACTIVATIONS
from ..validation import (check_choice, check_choices, check_float, check_hidden, check_int,
                         check_nonempty_list, check_unique)

COLLAPSE_FRACTION = 0.01
METRICS = ("test_mse", "grad_mean", "grad_p90", "grad_p95", "grad_p99", "grad_max",
           "grad_p99_over_mean", "derivative_proxy", "local_linearity_error")


def validate(settings: dict) -> dict:
    """Check the notebook's parameters; return them normalised."""
    s = dict(settings)
    s["families"] = check_unique("families", check_choices("families", s["families"], FAMILIES))
    lambdas = check_nonempty_list("lambdas", s["lambdas"])
    s["lambdas"] = check_unique("lambdas", [check_float(f"lambdas[{i}]", v, minimum=0.0)
                                            for i, v in enumerate(lambdas)])
    if 0.0 not in s["lambdas"]:
        raise ValueError(f"lambdas={s['lambdas']} must include 0.0, the unregularised baseline")
    s["seeds"] = check_unique("seeds", [check_int(f"seeds[{i}]", v, minimum=0)
                                        for i, v in enumerate(check_nonempty_list("seeds", s["seeds"]))])
    s["hidden"] = list(check_hidden("hidden", s["hidden"]))
    check_choice("activation", s["activation"], ACTIVATIONS)
    for name in ("epochs", "batch_size"):
        s[name] = check_int(name, s[name], minimum=1)
    s["lr"] = check_float("lr", s["lr"], strictly_positive=True)
    s["weight_decay"] = check_float("weight_decay", s["weight_decay"], minimum=0.0)
    resolve_device(s["device"])
    return s


def make_configs(settings: dict) -> list[dict]:
    """One configuration per (family, lambda, seed); the device is not part of a run's identity."""
    keys = ("hidden", "activation", "epochs", "batch_size", "lr", "weight_decay")
    return [{"family": f, "lam": lam, "seed": seed, **{k: settings[k] for k in keys}}
            for f in settings["families"] for lam in settings["lambdas"] for seed in settings["seeds"]]


def run_one(config: dict, device: str = "auto") -> dict:
    """Train one model and measure it on the test split.

    A run whose training or a measured value (test or validation MSE, an input-gradient
    norm, the proxy, the linearity error) is not finite is a diverged row: no metrics, with
    ``diverged_step``, ``diverged_epoch`` (None for a metric) and ``diverged_reason``.
    """
    data = make_family(config["family"])
    model = CompactMLP.seeded(config["seed"], data.x_train.shape[1], config["hidden"], 1,
                              activation=config["activation"])
    result = fit(model, data.x_train, data.y_train, data.x_val, data.y_val, method="dreg",
                 lam=config["lam"], epochs=config["epochs"], batch_size=config["batch_size"],
                 lr=config["lr"], weight_decay=config["weight_decay"], seed=config["seed"],
                 device=device)
    row = {**result.divergence(), "train_seconds": result.seconds}
    if result.diverged:
        return row
    model = model.cpu().eval()
    norms = input_gradient_norms(model, data.x_test)
    with torch.no_grad():
        proxy = float(dreg_penalty(model, data.x_test))
    measured = {"test_mse": evaluate(model, data.x_test, data.y_test, "regression")["loss"],
                "val_mse": result.history[-1]["val_loss"], "input-gradient norm": norms,
                "derivative_proxy": proxy,
                "local_linearity_error": local_linearity_error(model, data.x_test)}
    reason = nonfinite_metric(measured)
    if reason:
        return {**row, "diverged": True, "diverged_reason": reason}
    del measured["input-gradient norm"]
    row.update(measured, **{f"grad_{k}": v for k, v in tail_stats(norms).items()})
    return row


def run_sweep(settings: dict, results_dir: str | Path = "results/synthetic",
              progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
              scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse from the cache) every configuration; save ``runs.csv``; return the runs.

    ``backend``, ``n_jobs`` and ``scheduler`` choose where the runs execute (see
    :func:`dreg_utils.sweep.run_grid`); the table does not depend on them."""
    settings = validate(settings)
    results_dir = Path(results_dir)
    runs = run_grid(make_configs(settings), lambda group: [run_one(group[0], settings["device"])],
                    results_dir / "cache", progress=progress, desc="synthetic runs",
                    backend=backend, n_jobs=n_jobs, scheduler=scheduler)
    runs["hidden"] = runs["hidden"].map(lambda h: "-".join(map(str, h)))
    write_table(runs, results_dir / "runs.csv")
    return runs


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean over the finished seeds of every metric per (family, lambda), plus the seed std
    of the test MSE, ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or
    "diverged (k/n)"). Diverged runs never enter a mean; a (family, lambda) whose runs all
    diverged keeps its row, with no metrics (NaN) and status "diverged (n/n)"."""
    keys = ["family", "lam"]
    ok = runs[~runs["diverged"].astype(bool)]
    grouped = ok.groupby(keys)
    summary = grouped[list(METRICS)].mean()
    summary["test_mse_seed_std"] = grouped["test_mse"].std(ddof=1)
    summary["n_seeds"] = grouped.size()
    summary = divergence_status(runs, keys).sort_index().join(summary)
    summary["n_seeds"] = summary["n_seeds"].fillna(0).astype(int)
    return summary[[*METRICS, "test_mse_seed_std", "n_seeds", "n_diverged", "status"]].reset_index()


def finished_groups(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows with at least one finished seed (those that have metrics)."""
    return summary[summary["test_mse"].notna()]


def _at(summary: pd.DataFrame, family: str, lam: float) -> pd.Series:
    rows = summary[(summary["family"] == family) & np.isclose(summary["lam"], lam)]
    if rows.empty or pd.isna(rows.iloc[0]["test_mse"]):
        raise ValueError(f"no finished runs for family={family!r} at lambda={lam}"
                         + (f" ({rows.iloc[0]['status']})" if not rows.empty else ""))
    return rows.iloc[0]


def table1(summary: pd.DataFrame, family: str = "piecewise", lam: float = 1e-2) -> pd.DataFrame:
    """Table 1: sensitivity statistics at lambda = 0 and ``lam``, with the paper's values."""
    base, reg = _at(summary, family, 0.0), _at(summary, family, lam)
    rows = []
    for metric, label in [("grad_mean", "mean ||grad f||"), ("grad_p90", "p90 ||grad f||"),
                          ("grad_p99", "p99 ||grad f||"), ("grad_max", "max ||grad f||"),
                          ("grad_p99_over_mean", "p99/mean"), ("test_mse", "test MSE")]:
        p = paper.TABLE1_PIECEWISE.get(metric.replace("grad_", ""))
        paper_ratio = (p[0] / p[1] if p else
                       paper.TABLE1_MAX_RATIO if metric == "grad_max" else np.nan)
        rows.append({"metric": label, "lambda=0": base[metric], f"lambda={lam:g}": reg[metric],
                     "ratio (ours)": base[metric] / reg[metric],
                     "paper lambda=0": p[0] if p else np.nan,
                     f"paper lambda={lam:g}": p[1] if p else np.nan, "ratio (paper)": paper_ratio})
    return pd.DataFrame(rows)


def percent_improvement(before: float, after: float) -> float:
    """Relative decrease in percent: positive when ``after`` < ``before``."""
    return 100.0 * (before - after) / before


def table2(summary: pd.DataFrame, lam: float = 1e-2) -> pd.DataFrame:
    """Table 2: percent improvement of test MSE and p90 gradient norm per family, ours and paper's.

    Families whose runs at lambda = 0 or at ``lam`` all diverged have no row (the summary's
    ``status`` shows them)."""
    rows = []
    finished = finished_groups(summary)
    for family in summary["family"].unique():
        block = finished[finished["family"] == family]
        if not (np.isclose(block["lam"], 0.0).any() and np.isclose(block["lam"], lam).any()):
            continue
        base, reg = _at(summary, family, 0.0), _at(summary, family, lam)
        ref = paper.TABLE2_PERCENT[family]
        rows.append({"family": family,
                     "test MSE change % (ours)": percent_improvement(base["test_mse"], reg["test_mse"]),
                     "test MSE change % (paper)": ref["test_mse"],
                     "p90 change % (ours)": percent_improvement(base["grad_p90"], reg["grad_p90"]),
                     "p90 change % (paper)": ref["p90"],
                     "proxy change % (ours)": percent_improvement(base["derivative_proxy"],
                                                                  reg["derivative_proxy"])})
    return pd.DataFrame(rows)


def verdict(row: pd.Series, mse_tolerance: float = 5.0) -> str:
    """Our reading of one Table-2 row against the paper's claim for that family.

    The paper claims a p90 reduction with a negligible MSE change. We call it
    reproduced when our p90 drops by at least half the paper's percentage and the
    MSE gets at most ``mse_tolerance`` percent worse; weaker when the p90 drops
    less; not reproduced when the p90 does not drop or the MSE worsens more.
    """
    ours_p90, paper_p90 = row["p90 change % (ours)"], row["p90 change % (paper)"]
    mse_ok = row["test MSE change % (ours)"] >= -mse_tolerance
    if ours_p90 <= 0 or not mse_ok:
        return "not reproduced"
    if ours_p90 >= 0.5 * paper_p90:
        return "reproduced"
    return "same direction, smaller effect"


def stability_plateau(summary: pd.DataFrame, mse_tolerance: float = 0.05) -> pd.DataFrame:
    """Per family, the largest lambda up to which every mean test MSE is within ``mse_tolerance``
    (relative) of lambda = 0.

    Over that range (the "stability plateau") sensitivity falls at no real accuracy cost;
    the table gives the p90 reduction reached at its upper end. A model whose mean
    gradient norm fell below ``COLLAPSE_FRACTION`` of the baseline's predicts a
    near-constant; the note column flags it, since its "plateau" only means the
    baseline was no better than a constant.
    """
    rows = []
    for family, block in finished_groups(summary).groupby("family"):
        block = block.sort_values("lam")
        base = block.iloc[0]
        ok = (block["test_mse"] <= (1 + mse_tolerance) * base["test_mse"]).to_numpy()
        top = block.iloc[int(np.cumprod(ok).sum()) - 1]  # end of the run of lambdas from 0
        collapsed = top["grad_mean"] < COLLAPSE_FRACTION * base["grad_mean"]
        rows.append({"family": family, "plateau up to lambda": top["lam"],
                     "p90 reduction at plateau end %": percent_improvement(base["grad_p90"], top["grad_p90"]),
                     "test MSE improvement %": percent_improvement(base["test_mse"], top["test_mse"]),
                     "note": "model collapsed to a near-constant" if collapsed else ""})
    return pd.DataFrame(rows)
