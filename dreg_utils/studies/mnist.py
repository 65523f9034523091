"""The MNIST capacity sweep (DREG paper, Sections 6.2-6.3, Table 3, Appendix A.1).

One run = (capacity, activation, method, seed): a CompactMLP 784 -> h1 -> h2 -> 10
trained with AdamW on cross-entropy (plus the method's penalty), then measured on
the test split: accuracy and the per-sample input-gradient norms
g_i = ||grad_x CE(f(x_i), y_i)||_2 in normalised input space, summarised by their
mean, p95, p99, max and p99/mean (Table 3), and, beside them, the mean and p99 of the
per-sample output-Jacobian norms ||J_f(x_i)||_F (10 logits x 784 inputs; ``oj_``). Each run
also records its accuracy and the p99 of g_i on each of two fixed, class-stratified halves of
the test images (:func:`dreg_utils.data.mnist.split_halves`, seed ``HALVES_SEED``): ``val_``
and ``heldout_``.

Methods: ``base`` (no penalty), ``dreg`` (CR-penalty, eq. 5, strength ``lam``),
``igp`` (input-gradient penalty E||grad_x CE||^2 by double backprop, the same
``lam``: the paper matches the IGP strength to the DREG coefficient) and ``sn``
(spectral normalisation of every linear layer).

The paper does not state its MNIST coefficient. We use lam = 1e-2 by default: the
value its Tables 1-2 call "DREG" and the top of its lambda grid (Appendix A.2). The
matched-effect frontier (:mod:`dreg_utils.studies.mnist_frontier`) varies lam per method
instead; its runs are this study's (:func:`run_configs`, the same cache), its knobs are in
:class:`MNISTSettings`.

All runs of one configuration that differ only in seed, method or lam are trained
together in one vectorised pass (:func:`dreg_utils.ensemble.fit_ensemble`); IGP runs
form their own group because double backprop would otherwise be paid by every member.
"""
from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from .. import published
from ..data.mnist import DATASETS, SOURCES, MNISTData, check_source, load_mnist, split_halves
from ..constraints import (COUNT, DEVICE, EPOCHS, INTERVAL_SEEDS, NONNEGATIVE, POSITIVE, SEEDS, WIDTHS, ListOf, Nullable, Options,
                           PathTo)
from ..ensemble import Member, train_group
from ..metrics import input_gradient_norms, nonfinite_metric, tail_stats
from ..models import n_parameters
from ..runs import label_hidden, seed_summary
from ..settings import StudySettings, knob
from ..schema import DIVERGENCE, FINITE, INTEGER, NUMBER, ResultSchema, list_of
from ..sweep import run_grid
from ..files import write_table
from ..train import FitResult, evaluate
from ..device import resolve_device
from ..vocabulary import LAMBDA_METHODS, PAPER_ACTIVATIONS, PAPER_LABELS, TABLE3_METHODS, finished, methods_for

# Part of every run's cache key: bump it when a change of the run function changes what a run
# computes, so cached rows are recomputed instead of reused.
STUDY_VERSION = "4"

ACTIVATIONS = PAPER_ACTIVATIONS  # the paper's two (Table 3)
METHODS = methods_for("ensemble")  # any method one vectorised group trains; Table 3's four by default
PAPER_CAPACITIES = [[32, 16], [128, 64], [256, 128], [512, 256]]
METRICS = ("test_acc", "ig_mean", "ig_p95", "ig_p99", "ig_max", "ig_p99_over_mean", "oj_mean", "oj_p99")
# The two halves of the test images (data.mnist.split_halves with this seed) and what each run
# measures on each: the frontier chooses on "val" and reports on "heldout".
HALVES_SEED = 0
HALF_METRICS = tuple(f"{half}_{m}" for half in ("val", "heldout") for m in ("acc", "ig_p99"))
# Quantile levels stored per run to draw the distribution of g_i: every percent, and the
# tail above 0.9 on a log grid of 1 - level down to 1e-4.
QUANTILE_LEVELS = np.unique(np.concatenate([np.linspace(0.0, 1.0, 101), 1.0 - np.logspace(-4, -1, 31)]))
# What one run's result holds, exactly (see :func:`_measure`); a cached record is checked against it.
RESULT_SCHEMA = ResultSchema(
    always={**DIVERGENCE, "train_seconds": FINITE, "group_size": INTEGER},
    finished={**{m: FINITE for m in (*METRICS, *HALF_METRICS)}, "ig_p90": FINITE, "train_loss": NUMBER,
              "ig_p99_over_mean": NUMBER,  # NaN where every gradient norm is 0
              "ig_quantiles": list_of(list_of(FINITE, 2), len(QUANTILE_LEVELS))})  # [level, g_i quantile]
MEMBER_KEYS = ("method", "lam", "seed")  # what may differ inside one vectorised group
TRAINING_KEYS = ("epochs", "batch_size", "lr", "weight_decay")


STRENGTHS = ListOf(POSITIVE, unique=True)  # the frontier's lambdas of one method


@dataclass(frozen=True)
class MNISTSettings(StudySettings):
    """The MNIST capacity sweep (notebook 02) and its matched-effect frontier (at each of
    ``frontier_capacities``: every lambda of the three penalty grids, SN, and BASE at each of
    ``frontier_weight_decays``; every other run at ``weight_decay``).

    ``lam`` is the DREG and IGPEN strength (the paper does not state it; 1e-2 is its
    Tables 1-2 "DREG" value). ``n_train``/``n_test`` None: all images of the source.
    The default profile already follows the paper's protocol (all available images,
    eight epochs, three seeds). ``paper`` adds ``paper_scale_datasets``: Table 3's grid once more
    on each of these datasets with all of its images (Fashion-MNIST: 60,000/10,000 from the
    Debian package, the paper-scale run a machine without MNIST's files can make), each
    reported as a dataset of its own."""

    dataset: str = knob("mnist", Options(*DATASETS))
    source: str = knob("auto", Options(*SOURCES))
    # folder with the four IDX files; None reads $DREG_DATA_DIR
    data_dir: str | None = knob(None, Nullable(PathTo("folder", exists=True,
                                                     give="the folder of the four IDX files, or None")))
    n_train: int | None = knob(None, Nullable(COUNT))
    n_test: int | None = knob(None, Nullable(COUNT))
    capacities: list[list[int]] = knob(PAPER_CAPACITIES, ListOf(WIDTHS, unique=True))
    activations: list[str] = knob(list(PAPER_ACTIVATIONS), ListOf(Options(*ACTIVATIONS), unique=True))
    # "jacobian": the output gradient
    methods: list[str] = knob(list(TABLE3_METHODS), ListOf(Options(*METHODS), unique=True))
    seeds: list[int] = knob([0, 1, 2], SEEDS)
    lam: float = knob(1e-2, NONNEGATIVE)
    epochs: int = knob(8, EPOCHS)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(1e-3, POSITIVE)
    weight_decay: float = knob(1e-2, NONNEGATIVE)
    device: str = knob("auto", DEVICE)
    frontier_capacities: list[list[int]] = knob([[32, 16], [128, 64]], ListOf(WIDTHS, unique=True))
    frontier_activation: str = knob("relu", Options(*ACTIVATIONS))
    dreg_lambdas: list[float] = knob([1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1], STRENGTHS)
    igp_lambdas: list[float] = knob([1e-2, 1e-1, 1.0, 3.0, 10.0, 30.0, 100.0], STRENGTHS)
    jacobian_lambdas: list[float] = knob([1e-3, 1e-2, 1e-1], STRENGTHS)  # the output-gradient penalty
    # BASE at each: the tuned-weight-decay arm
    frontier_weight_decays: list[float] = knob([0.0, 1e-3, 1e-2, 1e-1, 3e-1], ListOf(NONNEGATIVE, unique=True))
    frontier_seeds: list[int] = knob([0, 1, 2], INTERVAL_SEEDS)  # each seed is chosen on the others
    # Table 3 again on each, all images (see above)
    paper_scale_datasets: list[str] = knob([], ListOf(Options(*DATASETS), unique=True, empty=True))

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(n_train=1024, n_test=256, capacities=[[32, 16], [64, 32]], seeds=[0, 1],
                      epochs=2, frontier_capacities=[[32, 16]], dreg_lambdas=[1e-2, 1e-1],
                      igp_lambdas=[1e-2, 1.0], jacobian_lambdas=[1e-2], frontier_weight_decays=[0.0, 1e-2, 1e-1],
                      frontier_seeds=[0, 1]),
        "paper": dict(paper_scale_datasets=["fashion-mnist"]),
    }

    def check_together(self, s: dict) -> None:
        check_source(s["dataset"], s["source"])
        if s["dataset"] in s["paper_scale_datasets"] and s["n_train"] is s["n_test"] is None:
            raise ValueError(f"paper_scale_datasets={s['paper_scale_datasets']} repeats dataset="
                             f"{s['dataset']!r}, which already runs with all its images")


def validate(settings: Mapping) -> MNISTSettings:
    """The settings checked and completed (see :class:`MNISTSettings`)."""
    return MNISTSettings.coerce(settings)


def load_data(settings: dict) -> MNISTData:
    """The dataset the settings name, from the first source that has it (see :mod:`data.mnist`)."""
    return load_mnist(settings["dataset"], settings["data_dir"], source=settings["source"],
                      n_train=settings["n_train"], n_test=settings["n_test"])


def paper_scale_settings(settings: Mapping, dataset: str) -> MNISTSettings:
    """The settings of Table 3's grid on ``dataset`` with all of its images (any source)."""
    return validate(settings).replace(dataset=dataset, source="auto", n_train=None, n_test=None,
                            paper_scale_datasets=[])


def data_identity(data: MNISTData) -> dict:
    """What identifies the data in a run's configuration: name, fingerprint and sizes. Content
    only: where the files were read from (``data.source``: a folder, a download's message) is
    no part of a run's identity, and goes into the run table beside the key (:func:`run_configs`)."""
    return {"dataset": data.name, "data_fingerprint": data.fingerprint(),
            "n_train": data.n_train, "n_test": data.n_test}


def make_config(settings: dict, identity: dict, hidden: list[int], activation: str, method: str,
                lam: float, seed: int, weight_decay: float | None = None) -> dict:
    """A run's identity: data, model, method, lam (0 for BASE and SN), seed, training settings
    (``weight_decay`` None: the settings' own)."""
    training = {k: settings[k] for k in TRAINING_KEYS}
    if weight_decay is not None:
        training["weight_decay"] = weight_decay
    return {**identity, "hidden": list(hidden), "activation": activation, "method": method,
            "lam": lam if method in LAMBDA_METHODS else 0.0, "seed": seed, **training}


def make_configs(settings: dict, data: MNISTData) -> list[dict]:
    """Table 3's grid: capacities x activations x methods x seeds, the penalties at ``lam``."""
    identity = data_identity(data)
    return [make_config(settings, identity, hidden, activation, method, settings["lam"], seed)
            for hidden in settings["capacities"] for activation in settings["activations"]
            for method in settings["methods"] for seed in settings["seeds"]]


def group_key(config: dict) -> Hashable:
    """Runs with equal keys train together: same data, model shape, activation and training
    settings; IGP and the output-gradient ("jacobian") runs each apart from the others, since
    their penalties would otherwise be paid by every member (see the module docstring)."""
    shared = tuple((k, json.dumps(v)) for k, v in sorted(config.items()) if k not in MEMBER_KEYS)
    return shared + (config["method"] if config["method"] in ("igp", "jacobian") else "",)


def _correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Per sample, whether the model's largest logit is at its label (in batches, as ``evaluate``)."""
    with torch.no_grad():
        return torch.cat([model(x[start:start + batch_size]).argmax(dim=1) == y[start:start + batch_size]
                          for start in range(0, x.shape[0], batch_size)])


def _measure(result: FitResult, x_test: torch.Tensor, y_test: torch.Tensor, halves: Mapping[str, torch.Tensor],
             group_size: int) -> dict:
    """Accuracy (%), the tail statistics and quantiles of g_i = ||grad_x CE(f(x_i), y_i)||, the mean
    and p99 of the output-Jacobian norms ||J_f(x_i)||_F, and on each of ``halves`` (name -> indices
    of test samples) the accuracy and the p99 of g_i (``<name>_acc``, ``<name>_ig_p99``).

    A diverged training run, or one whose test loss, some g_i or some ||J_f(x_i)||_F is not
    finite, gives a diverged row without metrics (``diverged_reason`` says which)."""
    row = {**result.divergence(), "train_seconds": result.seconds, "group_size": group_size}
    if result.diverged:
        return row
    model = result.model.eval()
    norms = input_gradient_norms(model, x_test, y_test, loss="ce")
    jacobian_norms = input_gradient_norms(model, x_test)
    test = evaluate(model, x_test, y_test, "classification")
    reason = nonfinite_metric({"test_loss": test["loss"], "input-gradient norm": norms,
                               "output-Jacobian norm": jacobian_norms})
    if reason:
        return {**row, "diverged": True, "diverged_reason": reason}
    stats, jacobian = tail_stats(norms), tail_stats(jacobian_norms)
    correct = _correct(model, x_test, y_test)
    on_halves = {f"{half}_{metric}": value for half, index in halves.items()
                 for metric, value in (("acc", 100.0 * float(correct[index].double().mean())),
                                       ("ig_p99", tail_stats(norms[index])["p99"]))}
    row.update(test_acc=100.0 * test["accuracy"],
               train_loss=result.history[-1]["train_task_loss"],
               **{f"ig_{k}": v for k, v in stats.items()}, oj_mean=jacobian["mean"], oj_p99=jacobian["p99"],
               **on_halves,
               ig_quantiles=np.column_stack([QUANTILE_LEVELS, np.quantile(norms.cpu().numpy(),
                                                                          QUANTILE_LEVELS)]).tolist())
    return row


def run_group(configs: list[dict], data: MNISTData, device: torch.device | str) -> list[dict]:
    """Train the group's runs together (one vectorised pass: :func:`dreg_utils.ensemble.train_group`)
    and measure each on the test split and on its two halves (:data:`HALVES_SEED`). The configurations
    come from checked settings and ``device`` is resolved (:func:`dreg_utils.device.resolve_device`):
    nothing is checked again."""
    first = configs[0]
    results = train_group([Member(c["seed"], c["method"], c["lam"]) for c in configs],
                          data.x_train, data.y_train, first["hidden"], activation=first["activation"],
                          task="classification", out_features=10, epochs=first["epochs"],
                          batch_size=first["batch_size"], lr=first["lr"],
                          weight_decay=first["weight_decay"], device=device)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)
    validation, held_out = split_halves(data.y_test, HALVES_SEED)
    halves = {"val": torch.from_numpy(validation).to(device), "heldout": torch.from_numpy(held_out).to(device)}
    return [_measure(result, x_test, y_test, halves, len(configs)) for result in results]


def run_configs(configs: list[dict], settings: MNISTSettings, data: MNISTData, results_dir: Path, name: str,
                progress: bool, **grid_options) -> pd.DataFrame:
    """Run (or reuse from the cache) ``configs``; save ``<name>.csv`` and the quantiles of g_i
    (``<name>_ig_quantiles.csv``) in ``results_dir``; return the run table. ``grid_options`` go to
    :func:`dreg_utils.sweep.run_grid` (the backend)."""
    device = resolve_device(settings.device)  # once for every run
    runs = run_grid(configs, lambda group: run_group(group, data, device),
                    results_dir / "cache", group_key=group_key, progress=progress, desc=f"mnist {name}",
                    version=STUDY_VERSION, schema=RESULT_SCHEMA, **grid_options)
    runs.insert(1, "data_source", data.source)  # after "dataset"; not part of the key
    label_hidden(runs)
    if "ig_quantiles" not in runs:  # every run diverged
        runs["ig_quantiles"] = None
    quantiles = [{"run_key": r.run_key, "level": level, "ig_norm": value}
                 for r in runs.itertuples() if isinstance(r.ig_quantiles, list)
                 for level, value in r.ig_quantiles]
    runs = runs.drop(columns="ig_quantiles")
    write_table(runs, results_dir / f"{name}.csv")
    write_table(pd.DataFrame(quantiles, columns=["run_key", "level", "ig_norm"]),
                results_dir / f"{name}_ig_quantiles.csv")
    return runs


def run_sweep(settings: dict, data: MNISTData, results_dir: str | Path = "results/mnist",
              progress: bool = True, *, backend: str = "serial", n_jobs: int | None = None,
              scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse from the cache) Table 3's grid; save ``runs.csv`` and the quantiles of g_i.
    ``backend``, ``n_jobs`` and ``scheduler`` choose where the groups execute (see
    :func:`dreg_utils.sweep.run_grid`)."""
    settings = validate(settings)
    return run_configs(make_configs(settings, data), settings, data, Path(results_dir), "runs", progress,
                backend=backend, n_jobs=n_jobs, scheduler=scheduler)


def read_quantiles(results_dir: str | Path, name: str = "runs") -> pd.DataFrame:
    """The quantiles of g_i per run (run_key, level, ig_norm) that :func:`run_sweep` (``name``
    "runs") or :func:`~dreg_utils.studies.mnist_frontier.run_frontier` ("frontier") saved in
    ``results_dir``."""
    return pd.read_csv(Path(results_dir) / f"{name}_ig_quantiles.csv")


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (hidden, activation, method, lam): mean and std (ddof=1) of every metric over the
    finished seeds, ``n_seeds`` (finished), ``n_diverged`` and ``status`` ("ok" or
    "diverged (k/n)"). Diverged runs never enter a mean; a group whose runs all diverged
    keeps its row, with no metrics (NaN) and status "diverged (n/n)".

    ``ig_p99_over_mean`` is the ratio of the seed means of p99 and mean, as in the paper's
    Table 3; ``ig_p99_over_mean_std`` is the seed std of the per-run ratios.
    """
    if finished(runs).empty:
        raise ValueError("every run diverged: there is nothing to summarise")
    summary = seed_summary(runs, ["hidden", "activation", "method", "lam"], METRICS, std_of=METRICS)
    summary["ig_p99_over_mean"] = summary["ig_p99"] / summary["ig_mean"]
    summary["n_params"] = summary["hidden"].map(n_parameters)
    summary["label"] = summary["activation"].str.upper() + "_" + summary["method"].map(PAPER_LABELS)
    return summary


def paper_value(hidden: str, label: str, metric: str) -> tuple[float, float]:
    """(mean, std) of one Table-3 cell; NaN where the paper has no such cell or metric (the
    output-Jacobian norms; std NaN for p99/Mean)."""
    block = published.TABLE3.get(tuple(int(w) for w in hidden.split("-")), {})
    if label not in block or metric not in (*published.TABLE3_COLUMNS, "ig_p99_over_mean"):
        return float("nan"), float("nan")
    row = block[label]
    if metric == "ig_p99_over_mean":
        return row[5], float("nan")
    return row[published.TABLE3_COLUMNS.index(metric)]


def table3(summary: pd.DataFrame) -> pd.DataFrame:
    """Tidy Table 3: one row per (capacity, method label, metric) with ours and the paper's
    mean and std, the difference ours - paper and the group's ``status`` (see :func:`summarize`)."""
    rows = []
    for r in summary.itertuples(index=False):
        for metric in METRICS:
            p_mean, p_std = paper_value(r.hidden, r.label, metric)
            ours = getattr(r, metric)
            rows.append({"capacity": r.hidden.replace("-", ", "), "method": r.label,
                         "metric": metric, "ours": ours,
                         "ours_std": getattr(r, f"{metric}_std"), "paper": p_mean, "paper_std": p_std,
                         "difference": ours - p_mean, "status": getattr(r, "status", "ok")})
    return pd.DataFrame(rows)
