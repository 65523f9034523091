"""The book's vocabulary, defined once: methods, activations, families, datasets, projections,
the run table's columns and its finished rule, and every metric with the direction that is better.

Every other module takes these names from here (``tests/test_vocabulary.py`` enforces it). A
method's ``key`` is what code and run tables use; ``paper`` is the DREG paper's label (Table 3:
BASE, DREG, IGPEN, SN; IGPEN-OUT is ours, the output-gradient penalty of "Teaching the Teacher",
JAC-RP its random-projection estimate, SN-HIDDEN and SN-SCALE the two usual variants of spectral
normalisation); ``label`` what a figure legend says; ``trainers`` which training paths run it;
``aliases`` other names accepted for it; ``sn_mode`` which layers spectral normalisation constrains
(:data:`SN_MODES`; None: no spectral normalisation).

The sign convention of every page: a column ``<quantity>_reduction_pct`` is positive when the
quantity fell and its label says "reduction" (:func:`reduction_label`); any other signed
difference (``_change_pct``, ``_diff``, ``_gain``, ``improvement``) is positive when the
quantity rose, and its label says whether that is better or worse (:func:`change_label`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .validation import check_choice

# Training paths: ``fit`` (train.fit, one model), ``ensemble`` (ensemble.fit_ensemble, vectorised
# groups of one shape), ``teacher`` (teachers.train_teacher, one teacher by fit),
# ``teachers`` (teachers.train_teachers, one vectorised group of teachers),
# ``regulariser`` (the public Regulariser for your own nn.Sequential), ``surrogate`` (the
# surrogate study, which has a strength for DREG and IGP).
TRAINERS = ("fit", "ensemble", "teacher", "teachers", "regulariser", "surrogate")


@dataclass(frozen=True)
class Method:
    """One way to train: no penalty, a derivative penalty, or spectral normalisation."""

    key: str
    paper: str
    label: str
    colour: str
    takes_lambda: bool
    trainers: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    sn_mode: str | None = None


# What spectral normalisation (Miyato et al., 2018) constrains: "all", every linear layer W / sigma(W)
# (the DREG paper's SN); "hidden", the hidden layers only (the output layer is free); "scaled", every
# layer, the output multiplied by one learnable scalar exp(s) (s starts at 0).
SN_MODES = ("all", "hidden", "scaled")
_SN_TRAINERS = ("fit", "ensemble", "surrogate")

METHODS: dict[str, Method] = {m.key: m for m in (
    Method("base", "BASE", "BASE", "#7f7f7f", False, TRAINERS, aliases=("none",)),
    Method("dreg", "DREG", "DREG", "#c0392b", True, TRAINERS),
    Method("igp", "IGPEN", "IGPEN (loss gradient)", "#2471a3", True, ("fit", "ensemble", "regulariser", "surrogate")),
    Method("sn", "SN", "SN", "#239b56", False, _SN_TRAINERS, sn_mode="all"),
    Method("sn_hidden", "SN-HIDDEN", "SN (hidden layers only)", "#82e0aa", False, _SN_TRAINERS, sn_mode="hidden"),
    Method("sn_scaled", "SN-SCALE", "SN (learnable output scale)", "#145a32", False, _SN_TRAINERS, sn_mode="scaled"),
    Method("jacobian", "IGPEN-OUT", "IGPEN-OUT (output gradient)", "#8e44ad", True,
           ("fit", "ensemble", "teacher", "teachers", "regulariser")),
    Method("jacobian_rp", "JAC-RP", "JAC-RP (random projections)", "#b7950b", True, ("fit", "teacher")),
)}
LAMBDA_METHODS = tuple(key for key, method in METHODS.items() if method.takes_lambda)
SN_METHODS = tuple(key for key, method in METHODS.items() if method.sn_mode is not None)
# The four methods of the DREG paper's Table 3, in its order.
TABLE3_METHODS = ("base", "dreg", "igp", "sn")
# The public Regulariser's names in the order its documentation lists them ("none" is BASE).
REGULARISER_METHODS = ("none", "dreg", "jacobian", "igp")


def methods_for(trainer: str) -> tuple[str, ...]:
    """The keys of the methods ``trainer`` runs, in the vocabulary's order."""
    check_choice("trainer", trainer, TRAINERS)
    return tuple(key for key, method in METHODS.items() if trainer in method.trainers)


def method_names(trainer: str | None = None) -> tuple[str, ...]:
    """Every name accepted for the methods of ``trainer`` (all methods when None): keys and aliases."""
    keys = tuple(METHODS) if trainer is None else methods_for(trainer)
    return tuple(name for key in keys for name in (key, *METHODS[key].aliases))


def method_key(name: str, trainer: str | None = None) -> str:
    """The key of the method called ``name`` (its key or an alias, e.g. "none" -> "base"),
    refused unless ``trainer`` (when given) runs it."""
    check_choice("method", name, method_names(trainer))
    return next(key for key, method in METHODS.items() if name == key or name in method.aliases)


PAPER_LABELS = {key: method.paper for key, method in METHODS.items()}
METHOD_LABELS = {key: method.label for key, method in METHODS.items()}
METHOD_COLOURS = {key: method.colour for key, method in METHODS.items()}

# The DREG paper's two activations (ReLU and the polynomial of eq. 3); tanh is ours.
ACTIVATIONS = ("relu", "poly", "tanh")
PAPER_ACTIVATIONS = ("relu", "poly")


def paper_cell_label(activation: str, method: str) -> str:
    """The DREG paper's name of ``method`` trained with ``activation`` (Table 3), e.g. "POLY_DREG"."""
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("method", method, METHODS)
    return f"{activation.upper()}_{PAPER_LABELS[method]}"


# The DREG paper's five synthetic function families (Section 6.1).
FAMILIES = ("smooth", "piecewise", "sparse", "oscillatory", "entangled")
IMAGE_DATASETS = ("mnist", "fashion-mnist")
# Teaching the Teacher's regression tables: three real ones, and generated ones (Friedman #1
# and three Feynman equations) whose noise-free target is known.
REAL_DATASETS = ("concrete", "diabetes", "auto_mpg")
FEYNMAN_DATASETS = ("feynman_I_14_4", "feynman_I_18_4", "feynman_I_12_2")
GENERATED_DATASETS = ("friedman1", *FEYNMAN_DATASETS)
REGRESSION_DATASETS = (*REAL_DATASETS, *GENERATED_DATASETS)
# Directions v of the projected Jacobian estimate E_v ||v^T J||^2 (E[v v^T] = I): one default,
# Rademacher, which varies less than Gaussian and is exact for one output per sample.
PROJECTIONS = ("gaussian", "rademacher", "sphere")
DEFAULT_PROJECTION = "rademacher"
# The projection of ``train.fit``'s ``jacobian_rp`` (the teachers, notebook 04's teacher cost and
# the penalty benchmark's JAC-RP): Gaussian, not the default, because the teacher protocol and its
# cached results were measured with it.
FIT_PROJECTION = "gaussian"

# ----------------------------------------------------------------------------- run tables

# One row per run. A run that stopped being finite has ``diverged`` True, the step and epoch
# where it did and the reason, and no metrics; every other run is finished.
DIVERGED = "diverged"
DIVERGENCE_COLUMNS = ("diverged_step", "diverged_epoch", "diverged_reason")
# What a summary over seeds adds to each group (runs.seed_summary).
SUMMARY_COLUMNS = ("n_seeds", "n_diverged", "status")


def diverged(runs: pd.DataFrame) -> pd.Series:
    """True for the runs that diverged; a run whose flag is missing or NaN (e.g. one without
    training, or a table without the column) did not."""
    return runs[DIVERGED].eq(True) if DIVERGED in runs else pd.Series(False, index=runs.index)


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not diverge (the rule every mean, test and figure of the book uses)."""
    return runs[~diverged(runs)]


# ----------------------------------------------------------------------------- metrics

@dataclass(frozen=True)
class Metric:
    """A measured quantity: the words a page uses for it and which way is better."""

    label: str
    better: str

    def __post_init__(self) -> None:
        check_choice("better", self.better, ("lower", "higher"))


# Who is scored with R2 in the distillation runs, its name, and the splits it is scored on.
_R2 = {"teacher": ("teacher", ("test", "val", "train", "clean")),
       "gp": ("student", ("test", "val", "fidelity", "clean")),
       "tree": ("tree", ("test", "val", "fidelity", "clean")), "boost": ("boosting", ("test", "val"))}
_SPLITS = {"test": "", "val": "validation ", "train": "training ", "fidelity": "fidelity ", "clean": "clean "}
METRICS: dict[str, Metric] = {
    "test_mse": Metric("test MSE", "lower"), "val_mse": Metric("validation MSE", "lower"),
    "test_acc": Metric("accuracy", "higher"), "train_loss": Metric("training loss", "lower"),
    # |grad_x f| over the test points: synthetic and surrogate (grad_), MNIST (ig_).
    **{f"{prefix}_{stat}": Metric(stat.replace("_over_", "/"), "lower") for prefix in ("grad", "ig")
       for stat in ("mean", "p90", "p95", "p99", "max", "p99_over_mean")},
    "derivative_proxy": Metric("proxy", "lower"), "local_linearity_error": Metric("linearity error", "lower"),
    # surrogates in an optimisation loop
    **{f"cos_{stat}": Metric(f"cos {stat}", "higher") for stat in ("mean", "p5", "p10")},
    "cos_negative": Metric("share of negative cosines", "lower"),
    **{f"{opt}_{stat}": Metric(f"{name} {word}", "lower") for opt, name in (("gd", "GD"), ("lbfgs", "L-BFGS"))
       for stat, word in (("regret_median", "regret"), ("left_domain", "exits"), ("diverged", "divergences"))},
    # distillation: R2 of the teacher and of each student on each split
    **{f"{who}_{split}_r2": Metric(f"{name} {_SPLITS[split]}R2", "higher")
       for who, (name, splits) in _R2.items() for split in splits},
    "gp_length": Metric("formula length", "lower"),
    "train_seconds": Metric("training seconds", "lower"), "train_s": Metric("train s", "lower"),
}


def reduction_label(metric: str, note: str = "") -> str:
    """The label of a ``<metric>_reduction_pct`` column: positive means the metric fell."""
    check_choice("metric", metric, METRICS)
    return f"{METRICS[metric].label} reduction %" + (f" ({note})" if note else "")


def change_label(metric: str, note: str = "", what: str = "change %") -> str:
    """The label of a signed difference of ``metric`` (positive: it rose), saying whether a
    positive value is better or worse, e.g. "test MSE change % (+ = worse)"."""
    check_choice("metric", metric, METRICS)
    sign = "+ = worse" if METRICS[metric].better == "lower" else "+ = better"
    return f"{METRICS[metric].label} {what} ({note + ', ' if note else ''}{sign})"
