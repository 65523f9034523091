"""The teachers of the distillation study ("Teaching the Teacher", arXiv 2507.22767): ReLU MLPs
trained on MSE + lambda * E||J_x f||_F^2 (``method="jacobian"``, exact, or ``jacobian_rp``, its
random-projection estimate), with the layer-wise CR-penalty of DREG (``method="dreg"``) as the
bridge between the two papers, or on MSE alone (``base``).

One teacher trains by :func:`dreg_utils.train.fit` (:func:`train_teacher`); the teachers of one
seed train together (:func:`train_teachers`, one vectorised group:
:func:`dreg_utils.ensemble.fit_ensemble`), each as :func:`dreg_utils.train.fit` would train it
alone, up to floating-point rounding. Then their predictions and how smooth they are
(:func:`mean_jacobian_sq`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .data.regression import RegressionData
from .ensemble import Member, fit_ensemble, train_group
from .jacobians import jacobian_sq_frobenius
from .models import CompactMLP, check_input
from .train import FitResult, fit
from .validation import check_choice, check_hidden
from .vocabulary import methods_for

TEACHER_METHODS = methods_for("teachers")  # one vectorised group; train_teacher also runs jacobian_rp


def _column_tensor(a: np.ndarray) -> torch.Tensor:
    """float32 tensor with one row per sample (a vector becomes one column)."""
    return torch.as_tensor(a, dtype=torch.float32).reshape(len(a), -1)


@dataclass(frozen=True)
class TeacherInputs:
    """A dataset's splits as its teachers see them: float32 tensors with one row per sample, made
    once from the numpy splits (:meth:`of`) for the teachers' training and their predictions."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    x_test: torch.Tensor

    @classmethod
    def of(cls, data: RegressionData) -> TeacherInputs:
        """The tensors of ``data``'s training inputs and targets and of its validation and test inputs."""
        return cls(*(_column_tensor(getattr(data, name)) for name in ("x_train", "y_train", "x_val", "x_test")))


class TeacherDiverged(RuntimeError):
    """:func:`train_teacher`'s error for a teacher whose training diverged; ``result`` is its
    :class:`~dreg_utils.train.FitResult` (step, epoch and reason)."""

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


def train_teacher(data: RegressionData, method: str, lam: float, seed: int, hidden: Sequence[int],
                  epochs: int, batch_size: int, lr: float, weight_decay: float,
                  n_projections: int = 1) -> tuple[CompactMLP, float]:
    """Train a ReLU ``CompactMLP(d, hidden, 1)`` on the standardised training split.

    ``method``: "base" (MSE only), "jacobian" (MSE + lam E||J_x f||_F^2, exact),
    "jacobian_rp" (the random-projection estimate) or "dreg" (MSE + lam CR).
    Returns the model in eval mode and the training seconds; raises :class:`TeacherDiverged`
    when the training diverged.
    """
    check_choice("method", method, methods_for("teacher"))
    model = CompactMLP.seeded(seed, data.n_features, check_hidden("hidden", hidden), 1,
                              activation="relu")
    result = fit(model, _column_tensor(data.x_train), _column_tensor(data.y_train),
                 method=method, lam=lam, epochs=epochs, batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, seed=seed, device="cpu", n_projections=n_projections)
    if result.diverged:
        raise TeacherDiverged(f"teacher diverged on {data.name} ({method}, lambda={lam}): "
                              f"{result.diverged_reason}", result)
    return model.eval(), result.seconds


def predict(model: CompactMLP, x: np.ndarray) -> np.ndarray:
    """Teacher predictions as a float64 vector."""
    return _predict(model, check_input(model, torch.as_tensor(x, dtype=torch.float32)))


def _predict(model: CompactMLP, x: torch.Tensor) -> np.ndarray:
    """:func:`predict` of an input tensor checked already (:class:`TeacherInputs`)."""
    with torch.no_grad():
        return model(x).double().numpy().ravel()


def mean_jacobian_sq(model: CompactMLP, x: np.ndarray) -> float:
    """E_x ||J_x f(x)||_F^2 over the rows of ``x``: how smooth the teacher is."""
    return _mean_jacobian_sq(model, check_input(model, torch.as_tensor(x, dtype=torch.float32)))


def _mean_jacobian_sq(model: CompactMLP, x: torch.Tensor) -> float:
    """:func:`mean_jacobian_sq` of an input tensor checked already (:class:`TeacherInputs`)."""
    sq, _ = jacobian_sq_frobenius(model, x)
    return float(sq.mean())


TEACHER_GROUP = {"activation": "relu", "task": "regression", "out_features": 1}  # a teacher group's shape


def train_teachers(data: RegressionData | TeacherInputs, teachers: Sequence[tuple[str, float]], seed: int,
                   hidden: Sequence[int], epochs: int, batch_size: int, lr: float,
                   weight_decay: float) -> list[FitResult]:
    """Train the teachers ``(method, lambda)`` of one seed as one group, each a ReLU
    ``CompactMLP(d, hidden, 1)`` on the standardised training split (``data``, or its tensors)
    with the initialisation and minibatch order of ``seed`` (as :func:`train_teacher` would
    train it alone). Every argument is checked (:func:`teach` trains from checked ones).

    Returns one :class:`~dreg_utils.train.FitResult` per teacher, in order; a diverged
    teacher is marked so and the others train on. ``seconds`` is the group's wall time over
    its size."""
    teachers = list(teachers)
    for method, lam in teachers:
        check_choice("method", method, TEACHER_METHODS)
    inputs = data if isinstance(data, TeacherInputs) else TeacherInputs.of(data)
    return fit_ensemble([Member(seed, method, lam) for method, lam in teachers], inputs.x_train,
                        inputs.y_train, check_hidden("hidden", hidden), epochs=epochs,
                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, device="cpu", **TEACHER_GROUP)


def teach(inputs: TeacherInputs, teachers: Sequence[tuple[str, float]], seed: int, hidden: Sequence[int],
          epochs: int, batch_size: int, lr: float, weight_decay: float) -> list[FitResult]:
    """:func:`train_teachers` from a study's checked settings and the dataset's tensors: the same
    group, trained without checking anything again (:func:`dreg_utils.ensemble.train_group`)."""
    return train_group([Member(seed, method, lam) for method, lam in teachers], inputs.x_train,
                       inputs.y_train, hidden, epochs=epochs, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, device=torch.device("cpu"), **TEACHER_GROUP)
