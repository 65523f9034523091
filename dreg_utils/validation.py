"""Argument checks that fail with a message naming the bad value and what is valid."""
from __future__ import annotations

import json
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
    if isinstance(value, (bool, str, bytes)):  # float("1e-3") would parse: refuse text outright
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {value!r}") from None
    try:
        value = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name}={value!r} is not valid; it must be finite") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not valid; it must be finite")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name}={value!r} is not valid; it must be > 0")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} is not valid; it must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} is not valid; it must be <= {maximum}")
    return value


def check_unit_interval(name: str, value: Any) -> float:
    """A real number strictly between 0 and 1 (a significance or confidence level)."""
    value = check_float(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}={value!r} is not valid; it must be in (0, 1)")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False``; 0/1 and strings such as "no" are refused, not coerced."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_unique(name: str, values: list) -> list:
    """Reject a list that repeats a value (compared by JSON form, so [32, 16] lists work)."""
    seen = [json.dumps(v, default=str) for v in values]
    repeated = sorted({v for v in seen if seen.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} lists {', '.join(repeated)} more than once; give each value once")
    return values


def check_hidden(name: str, hidden: Any) -> tuple[int, ...]:
    """Hidden-layer widths: a non-empty sequence of positive integers."""
    widths = check_nonempty_list(name, hidden)
    return tuple(check_int(f"{name}[{i}]", w, minimum=1) for i, w in enumerate(widths))
