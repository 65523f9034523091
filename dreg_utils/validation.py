"""Argument checks that fail with a message naming the bad value and what is valid."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {choices}")
    return value


def check_choices(name: str, values: Sequence[Any], choices: Iterable[Any]) -> list:
    """Check a non-empty list whose every element is one of ``choices``."""
    values = check_nonempty_list(name, values)
    choices = list(choices)
    bad = [v for v in values if v not in choices]
    if bad:
        raise ValueError(f"{name} contains {bad!r}, which is not valid; choose from {choices}")
    return values


def check_nonempty_list(name: str, values: Any) -> list:
    """Turn a list or tuple into a list; reject scalars, strings and empty sequences."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a non-empty list, got {values!r}")
    if len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    return list(values)


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """An integer (bools rejected), optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} is not valid; it must be an integer >= {minimum}")
    return value


def check_float(
    name: str,
    value: Any,
    minimum: float | None = None,
    strictly_positive: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite real number within the given bounds (bools rejected)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {value!r}") from None
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not valid; it must be finite")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name}={value!r} is not valid; it must be > 0")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} is not valid; it must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} is not valid; it must be <= {maximum}")
    return value


def check_hidden(name: str, hidden: Any) -> tuple[int, ...]:
    """Hidden-layer widths: a non-empty sequence of positive integers."""
    widths = check_nonempty_list(name, hidden)
    return tuple(check_int(f"{name}[{i}]", w, minimum=1) for i, w in enumerate(widths))
