"""The symbolic-distillation study ("Teaching the Teacher"): settings, grid, runs, cache.

A run is one of two kinds, each one row of the tidy ``runs`` table:

* ``distill``: (dataset, noise, teacher method, lambda, seed) -> teacher, symbolic and tree
  students on D' (:func:`dreg_utils.symbolic_regression.distill`). lambda = 0 uses ``method="base"``,
  which is what both penalties reduce to at lambda = 0.
* ``direct``: (dataset, noise, seed) -> the controls fitted on y (symbolic regressor, tree,
  gradient boosting) and the SNR proxy (:func:`dreg_utils.symbolic_regression.direct`).
* ``null`` (only with ``with_null``): (dataset, noise, seed, replica) -> the lambda = 0 teacher's
  students re-fitted with another random state (:func:`student_seed`), one replica per lambda > 0
  of the grid: what choosing among as many students on the test split yields when the penalty
  does nothing (:func:`dreg_utils.studies.distillation_tables.lambda_selection`).

Every dataset uses data seed 0 (one fixed split); ``seed`` drives the teacher's
initialisation and minibatch order and the student's random state. The distill runs of one
(dataset, noise, seed, teacher protocol) are one task: their distinct teachers train as one
vectorised group (:func:`dreg_utils.teachers.train_teachers`), then each run's
students are fitted; tasks run in ``n_jobs`` worker processes. The null runs of one
(dataset, noise, seed) are a task of their own: their lambda = 0 teacher trains alone, so what
they compute does not depend on which distill runs the cache already holds. The tables computed from the
runs are in :mod:`dreg_utils.studies.distillation_tables`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from .. import symbolic_regression as symbolic
from ..data.stored_formula import read_srepr
from ..constraints import (COUNT, EPOCHS, LAMBDAS, NONNEGATIVE, POSITIVE, SEEDS, WIDTH, WIDTHS, WORKERS, Interval,
                           ListOf, Options, Satisfies)
from ..data.formula import SPEC_EXAMPLE
from ..data.regression import DATASETS, REAL, RegressionData, check_dataset, check_datasets, load_dataset
from ..settings import StudySettings, knob
from ..files import write_table
from ..schema import DIVERGENCE, FINITE, FLAG, INTEGER, NUMBER, TEXT, Kind, ResultSchema
from ..sweep import local_backend, run_grid
from ..teachers import TeacherInputs, teach
from ..threads import single_threaded
from ..vocabulary import FEYNMAN_DATASETS as FEYNMAN

# Part of every run's cache key: bump it when a change of the run function changes what a run
# computes, so cached rows are recomputed instead of reused.
STUDY_VERSION = "3"

NULL = "null"  # the kind of a null run
NULL_SEED_STRIDE = 1000  # a null replica r fits its students with random state seed + r * NULL_SEED_STRIDE
GP_KEYS = ("population_size", "generations", "tournament_size", "parsimony_coefficient",
           "function_set")
TEACHER_KEYS = ("hidden", "epochs", "batch_size", "lr", "weight_decay")

# What one run's result holds, exactly (:func:`dreg_utils.symbolic_regression.distill_teacher` and
# :func:`~dreg_utils.symbolic_regression.direct`); a cached record is checked against it. The
# teacher's scores are finite (else the run diverged); a student's may not be.


def _is_student_formula(text: object) -> bool:
    """Whether ``text`` reads back (:func:`read_srepr`) as a formula over the standardised
    inputs z_<name>, the only symbols a student formula holds."""
    try:
        return all(s.name.startswith("z_") for s in read_srepr(text).free_symbols)
    except ValueError:
        return False


STORED_FORMULA = Kind("sympy.srepr text of a formula over the inputs z_<name> (read_srepr)", _is_student_formula)
_STUDENTS = {"gp_val_r2": NUMBER, "gp_test_r2": NUMBER, "gp_length": INTEGER, "gp_seconds": FINITE,
             "gp_program": TEXT, "gp_formula": STORED_FORMULA, "tree_val_r2": NUMBER,
             "tree_test_r2": NUMBER, "tree_seconds": FINITE}
_CLEAN = {"gp_clean_r2": NUMBER, "tree_clean_r2": NUMBER, "gp_equals_truth": FLAG}
DISTILL_SCHEMA = ResultSchema(
    always={"teacher_seconds": FINITE},
    finished={**_STUDENTS, "teacher_val_r2": FINITE, "teacher_test_r2": FINITE, "teacher_train_r2": FINITE,
              "teacher_jacobian_sq": NUMBER, "gp_fidelity_r2": NUMBER, "tree_fidelity_r2": NUMBER},
    optional={**DIVERGENCE, **_CLEAN, "teacher_clean_r2": FINITE})
DIRECT_SCHEMA = ResultSchema(
    always={**_STUDENTS, "boost_val_r2": NUMBER, "boost_test_r2": NUMBER, "boost_seconds": FINITE,
            "snr_proxy": NUMBER},
    optional={**_CLEAN, "boost_clean_r2": NUMBER})


def _check_noise_datasets(name: str, values) -> list[str]:
    """Datasets with a known ground truth, the Feynman formulas or formula specs ([]: none)."""
    if isinstance(values, (list, tuple)) and len(values) == 0:
        return []
    values = check_datasets(name, values)
    bad = [v for v in values if v in DATASETS and v not in FEYNMAN]
    if bad:
        raise ValueError(f"{name} contains {bad!r}, which have no recoverable ground truth; "
                         f"choose from {list(FEYNMAN)} or give formula specs")
    return values


def _check_teacher_lambdas(name: str, values) -> list[float]:
    """Distinct strengths >= 0 that hold 0.0 (the unregularised teacher) and at least one > 0."""
    values = LAMBDAS.check(name, values)
    if not any(value > 0 for value in values):
        raise ValueError(f"{name}={values!r} must hold 0.0 and at least one lambda > 0 (e.g. [0.0, 0.1]): "
                         "every student of a penalised teacher is compared with lambda = 0's")
    return values


TEACHER_LAMBDAS = Satisfies(list[float], _check_teacher_lambdas, outside=[[0.0], [0.1], [], [0.0, -0.1]],
                            inside=[[0.0, 0.1], [0.1, 0.0, 0.5]])
DATASET_LIST = ListOf(Satisfies(str, check_dataset, outside=["mnist", 3], inside=["concrete", SPEC_EXAMPLE]))
NOISE_LEVELS = ListOf(NONNEGATIVE)


@dataclass(frozen=True)
class DistillationSettings(StudySettings):
    """Teachers (a ReLU MLP) distilled into gplearn formulas (notebook 04).

    gplearn's budget: ``smoke`` is tiny; ``default`` is half of gplearn's population for half
    its generations (CPU budget); ``paper`` uses gplearn's defaults (1000 x 20)."""

    datasets: list[str] = knob(list(DATASETS), DATASET_LIST)
    lambdas: list[float] = knob([0.0, 0.01, 0.1, 0.5], TEACHER_LAMBDAS)  # Jacobian-penalty strengths, 0.0 and > 0
    # CR-penalty teachers, > 0 (lambda = 0 is the base teacher, shared); [] skips them
    dreg_lambdas: list[float] = knob([0.01, 0.1], ListOf(POSITIVE, unique=True, empty=True))
    seeds: list[int] = knob([0], SEEDS)
    noise: float = knob(0.1, NONNEGATIVE)  # label noise of the generated datasets, a fraction of std(signal)
    noise_datasets: list[str] = knob(list(FEYNMAN), Satisfies(
        list[str], _check_noise_datasets, outside=["feynman_I_14_4", ["concrete"], ["mnist"]],
        inside=[[], ["feynman_I_14_4"], [SPEC_EXAMPLE]]))
    noise_levels: list[float] = knob([0.0, 0.1, 0.5], NOISE_LEVELS)
    hidden: list[int] = knob([100], WIDTHS)
    epochs: int = knob(150, EPOCHS)
    batch_size: int = knob(64, COUNT)
    lr: float = knob(1e-3, POSITIVE)
    weight_decay: float = knob(0.0, NONNEGATIVE)
    population_size: int = knob(500, Interval(int, 2, None, limit=100_000))
    generations: int = knob(10, EPOCHS)
    tournament_size: int = knob(20, COUNT)  # at most population_size
    parsimony_coefficient: float = knob(0.001, NONNEGATIVE)
    function_set: list[str] = knob(["add", "sub", "mul", "div"], ListOf(Options(*symbolic.GP_FUNCTIONS)))
    tree_max_depth: int = knob(6, COUNT)
    cost_dataset: str = knob("concrete", Options(*DATASETS))
    cost_epochs: int = knob(20, EPOCHS)
    cost_repeats: int = knob(3, COUNT)
    cost_outputs: list[int] = knob([1, 10], ListOf(WIDTH))
    n_jobs: int = knob(2, WORKERS)

    PRESETS: ClassVar[dict[str, dict]] = {
        "smoke": dict(datasets=["concrete", "feynman_I_14_4"], lambdas=[0.0, 0.1], dreg_lambdas=[0.1],
                      noise_datasets=["feynman_I_14_4"], noise_levels=[0.0, 0.1], epochs=20,
                      population_size=60, generations=3, tournament_size=10, cost_epochs=2,
                      cost_repeats=1, cost_outputs=[1, 4], n_jobs=1),
        "paper": dict(lambdas=[0.0, 0.001, 0.01, 0.05, 0.1, 0.5],
                      dreg_lambdas=[0.001, 0.01, 0.05, 0.1, 0.5], seeds=[0, 1, 2, 3, 4],
                      noise_levels=[0.0, 0.05, 0.1, 0.2, 0.5, 1.0], epochs=300, population_size=1000,
                      generations=20, cost_epochs=50, cost_repeats=5),
    }

    def check_together(self, s: dict) -> None:
        symbolic.check_tournament(s["tournament_size"], s["population_size"])


def validate(settings: Mapping) -> DistillationSettings:
    """The settings checked and completed (see :class:`DistillationSettings`)."""
    return DistillationSettings.coerce(settings)


def teacher_grid(settings: Mapping, with_dreg: bool = True) -> list[tuple[str, float]]:
    """The teachers (method, lambda) of one dataset and seed: the base teacher, the Jacobian
    teachers of ``lambdas`` > 0 and, when ``with_dreg``, the CR-penalty teachers."""
    return ([("base", 0.0)] + [("jacobian", lam) for lam in settings["lambdas"] if lam > 0]
            + [("dreg", lam) for lam in settings["dreg_lambdas"] if with_dreg])


def make_configs(settings: dict, datasets: list[str], noise_levels: list[float],
                 with_dreg: bool = True, with_null: bool = False) -> list[dict]:
    """Distill runs over (teacher, lambda) and one direct run per (dataset, noise, seed);
    DREG teachers only when ``with_dreg``; with ``with_null``, one null run per lambda > 0 of
    ``lambdas`` (replicas 1, 2, ...), each the lambda = 0 teacher with re-seeded students."""
    teacher = {k: settings[k] for k in TEACHER_KEYS}
    teachers = teacher_grid(settings, with_dreg)
    gp = {k: settings[k] for k in GP_KEYS}
    configs, seen = [], set()
    for dataset in datasets:
        for level in noise_levels:
            noise = None if dataset in REAL else level  # real data: one run set covers every level
            for seed in settings["seeds"]:
                if (dataset, noise, seed) in seen:
                    continue
                seen.add((dataset, noise, seed))
                shared = {"dataset": dataset, "noise": noise, "seed": seed, "gp": gp,
                          "tree_max_depth": settings["tree_max_depth"]}
                configs.append({"kind": "direct", **shared, "method": None, "lam": None, "teacher": None})
                configs += [{"kind": "distill", **shared, "method": m, "lam": lam, "teacher": teacher}
                            for m, lam in teachers]
                if with_null:
                    configs += [{"kind": NULL, **shared, "method": "base", "lam": 0.0, "teacher": teacher,
                                 "replica": replica} for replica in range(1, len(settings["lambdas"]))]
    return configs


def task_key(config: dict) -> str:
    """The runs trained as one task: a distill run's (dataset, noise, seed, teacher protocol),
    whose teachers train as one group; the null runs of the same (one lambda = 0 teacher); a
    direct run alone."""
    fields = {"distill": ["dataset", "noise", "seed", "teacher"],
              NULL: ["kind", "dataset", "noise", "seed", "teacher"]}.get(config["kind"], sorted(config))
    return json.dumps({k: config[k] for k in fields}, sort_keys=True, default=str)


def result_schema(config: dict) -> ResultSchema:
    """The result schema of a run: :data:`DIRECT_SCHEMA` for a direct run, else :data:`DISTILL_SCHEMA`."""
    return DIRECT_SCHEMA if config["kind"] == "direct" else DISTILL_SCHEMA


def student_seed(config: dict) -> int:
    """The students' random state of a run: its seed, moved by :data:`NULL_SEED_STRIDE` per
    replica of a null run."""
    return config["seed"] + NULL_SEED_STRIDE * config.get("replica", 0)


def run_task(configs: list[dict]) -> list[dict]:
    """Execute the configurations of one task (:func:`task_key`), single-threaded (workers run
    side by side): the distinct teachers of distill runs trained together, then every run's
    students. An optional ``raw_students: True`` (the ablation's) fits the students in raw units."""
    first = configs[0]
    data = load_dataset(first["dataset"], noise=first["noise"] or 0.0)
    with single_threaded():
        if first["kind"] == "direct":
            return [symbolic.direct(data, c["seed"], c["gp"], c["tree_max_depth"],
                                    raw_students=c.get("raw_students", False)) for c in configs]
        teachers = list(dict.fromkeys((c["method"], c["lam"]) for c in configs))
        inputs = TeacherInputs.of(data)  # numpy -> torch once, for training and predictions
        trained = dict(zip(teachers, teach(inputs, teachers, first["seed"], **first["teacher"])))
        return [symbolic.distill_teacher(data, trained[(c["method"], c["lam"])], student_seed(c), c["gp"],
                                         c["tree_max_depth"], raw_students=c.get("raw_students", False),
                                         inputs=inputs)
                for c in configs]


def run_runs(settings: dict, datasets: list[str], noise_levels: list[float],
             results_dir: str | Path, name: str, with_dreg: bool = True,
             progress: bool = True, *, with_null: bool = False, backend: str = "serial",
             n_jobs: int | None = None, scheduler: str | None = None) -> pd.DataFrame:
    """Run (or reuse from the cache) the grid (:func:`make_configs`); save ``<name>.csv``;
    return the runs.

    The tasks (:func:`task_key`) run with ``backend="serial"`` on ``settings["n_jobs"]`` local
    processes fed from one queue; with "joblib" or "dask" as in
    :func:`dreg_utils.sweep.run_grid` (``n_jobs`` and ``scheduler``)."""
    settings = validate(settings)
    datasets = DATASET_LIST.check("datasets", datasets)
    noise_levels = NOISE_LEVELS.check("noise_levels", noise_levels)
    results_dir = Path(results_dir)
    configs = make_configs(settings, datasets, noise_levels, with_dreg, with_null)
    if backend == "serial":
        backend, n_jobs = local_backend(settings["n_jobs"])
    runs = run_grid(configs, run_task, results_dir / "cache", task_key,
                    progress=progress, desc=f"{name} runs", backend=backend, n_jobs=n_jobs,
                    scheduler=scheduler, version=STUDY_VERSION, schema=result_schema)
    write_table(runs.drop(columns=["gp", "teacher"]), results_dir / f"{name}.csv")
    return runs


def load_datasets(settings: DistillationSettings) -> dict[str, RegressionData]:
    """Each dataset of ``settings``, split and standardised as its runs see it (with its label noise)."""
    return {name: load_dataset(name, noise=settings["noise"]) for name in settings["datasets"]}
