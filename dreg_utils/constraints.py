"""What each study knob may be, declared once beside the knob (scikit-learn's
``_parameter_constraints``, one per field), and the one place that checks values against them.

A settings class declares ``epochs: int = knob(60, COUNT)``; :class:`~dreg_utils.settings.StudySettings`
checks every knob against its declaration when the settings are built, so code that takes built
settings trusts them. A declaration:

* ``check(name, value)`` returns the value in canonical form (lists, floats, ints) or raises a
  one-line ``TypeError`` (wrong type), ``ValueError`` (a value outside) or ``FileNotFoundError``
  (a path that is not there) naming the knob, the value and what is valid;
* counts, widths and seeds also have an upper ``limit``: generous (far above any protocol of the
  book), it refuses before any work a value that would overflow a C integer or could not fit in
  memory (``MAX_EPOCHS``, ``MAX_WIDTH``, ...), the message naming the limit;
* ``annotation`` is the type the knob's field declares (the runner reads text by it);
* ``outside()`` and ``inside()`` give values just outside and just inside it, from which
  ``tests/test_constraints.py`` generates the bad-input tests of every knob of every study.
"""
from __future__ import annotations

import math
import numbers
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .device import check_device
from .validation import check_choice, check_choices, check_float, check_int, check_unique


GENEROUS = "a generous limit, far above any protocol here"


class Constraint(ABC):
    """One knob's declaration: its type (``annotation``, ``what`` it is in words) and its values."""

    annotation: Any
    what = "a valid value"  # the type in words, for a value of another type

    def check(self, name: str, value: Any) -> Any:
        """``value`` in canonical form; a one-line error naming ``name`` when it is not valid."""
        if not self.has_type(value):
            raise TypeError(f"{name} must be {self.what}, got {value!r}")
        return self.check_value(name, value)

    def check_items(self, name: str, values: list) -> list:
        """Every item of the list ``name`` checked (items named ``name[i]``)."""
        return [self.check(f"{name}[{i}]", value) for i, value in enumerate(values)]

    def has_type(self, value: Any) -> bool:
        """Whether ``value`` is of the declared type (any value, unless a subclass says otherwise)."""
        return True

    @abstractmethod
    def check_value(self, name: str, value: Any) -> Any:
        """A value of the declared type checked and made canonical."""

    @abstractmethod
    def outside(self) -> list:
        """Values just outside the declaration, each refused."""

    @abstractmethod
    def inside(self) -> list:
        """Values just inside the declaration (at least two distinct ones), each accepted."""


class Interval(Constraint):
    """An ``int`` or finite ``float`` between ``low`` and ``high`` (None: unbounded); ``closed``
    says which ends belong to it: "left", "right", "both" or "neither" (as in scikit-learn).
    ``limit`` (None: none) is a practical upper bound on top of the interval, refused with a
    message that names it and ``why`` it is there."""

    def __init__(self, kind: type, low: float | None, high: float | None, closed: str = "left",
                 limit: float | None = None, why: str = GENEROUS):
        check_choice("kind", kind, (int, float))
        check_choice("closed", closed, ("left", "right", "both", "neither"))
        self.kind, self.low, self.high = kind, low, high
        self.limit, self.why = limit, why
        self.closed_low, self.closed_high = closed in ("left", "both"), closed in ("right", "both")
        self.annotation = kind
        self.what = "an integer" if kind is int else "a real number"

    def has_type(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        return isinstance(value, numbers.Integral if self.kind is int else numbers.Real)

    def check_value(self, name: str, value: Any) -> Any:
        value = check_int(name, value) if self.kind is int else check_float(name, value)
        below = self.low is not None and (value < self.low if self.closed_low else value <= self.low)
        above = self.high is not None and (value > self.high if self.closed_high else value >= self.high)
        if below or above:
            raise ValueError(f"{name}={value!r} is not valid; it must be {self.bounds()}")
        if self.limit is not None and value > self.limit:
            kind = "an integer" if self.kind is int else "a number"
            raise ValueError(f"{name}={value!r} is not valid; it must be {kind} <= {self.limit} ({self.why})")
        return value

    def bounds(self) -> str:
        """The interval in words: ">= 1", "> 0", "in (0, 1)", prefixed "an integer" for ints."""
        if self.low is not None and self.high is not None:
            text = (f"in {'[' if self.closed_low else '('}{self.low}, "
                    f"{self.high}{']' if self.closed_high else ')'}")
        elif self.low is not None:
            text = f"{'>=' if self.closed_low else '>'} {self.low}"
        else:
            text = f"{'<=' if self.closed_high else '<'} {self.high}"
        return f"an integer {text}" if self.kind is int else text

    def _step(self, bound: float, direction: float) -> float:
        """The representable value next to ``bound`` towards ``direction`` (1 for ints)."""
        return bound + direction if self.kind is int else math.nextafter(bound, direction * math.inf)

    def outside(self) -> list:
        values: list = [True, "1"]
        if self.low is not None:
            values.append(self._step(self.low, -1) if self.closed_low else self.low)
        if self.high is not None:
            values.append(self._step(self.high, 1) if self.closed_high else self.high)
        if self.limit is not None:
            values.append(self._step(self.limit, 1))
        if self.kind is int:
            return [*values, 1.5]
        return [*values, math.nan, math.inf, -math.inf]

    def inside(self) -> list:
        if self.low is None:
            return [self.kind(self.high - 1), self.kind(self.high - 2)]
        first = self.kind(self.low) if self.closed_low else self._step(self.low, 1)
        second = self.kind((self.low + self.high) / 2) if self.high is not None else self.kind(self.low + 1)
        return [first, second]


class Options(Constraint):
    """One of the given texts."""

    annotation = str

    def __init__(self, *choices: str):
        self.choices = list(choices)

    def check_value(self, name: str, value: Any) -> str:
        return check_choice(name, value, self.choices)

    def check_items(self, name: str, values: list) -> list:
        """Every item one of the choices; the bad ones named together."""
        return check_choices(name, values, self.choices) if values else values

    def outside(self) -> list:
        return [3, self.choices[0].upper() + "_", ""]

    def inside(self) -> list:
        return self.choices[:2]


class ListOf(Constraint):
    """A list (a tuple is taken as one) whose items satisfy ``item``: non-empty unless ``empty``,
    distinct when ``unique``, with ``min_length`` to ``max_length`` items, and including
    ``reference`` (the unregularised reference that the other values are compared with) when given."""

    def __init__(self, item: Constraint, *, unique: bool = False, empty: bool = False,
                 reference: Any = None, min_length: int = 1, max_length: int | None = None):
        self.item, self.unique, self.empty, self.reference = item, unique, empty, reference
        self.min_length, self.max_length = (0 if empty else min_length), max_length
        self.annotation = list[item.annotation]
        self.what = "a list" if empty else "a non-empty list"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, (list, tuple))

    def check_value(self, name: str, value: Any) -> list:
        if len(value) == 0 and not self.empty:
            raise ValueError(f"{name} must be a non-empty list, got {value!r}")
        values = self.item.check_items(name, list(value))
        if self.unique:
            check_unique(name, values)
        if self.reference is not None and self.reference not in values:
            raise ValueError(f"{name}={values!r} must include {self.reference!r}, the unregularised reference")
        if len(values) < self.min_length:
            raise ValueError(f"{name}={values!r} must hold at least {self.min_length} values")
        if self.max_length is not None and len(values) > self.max_length:
            raise ValueError(f"{name}={values!r} must hold at most {self.max_length} values")
        return values

    def _valid(self, length: int) -> list:
        """A valid list of ``length`` items (the reference first, then distinct inside items)."""
        items = [] if self.reference is None else [self.reference]
        items += [value for value in self.item.inside() if value not in items]
        return items[:length]

    def _longest(self) -> int:
        """A valid length above the shortest (the longest allowed, when bounded)."""
        return self.max_length if self.max_length is not None else max(self.min_length, 1) + 1

    def outside(self) -> list:
        base = self._valid(max(self.min_length, 1))
        kept = base if self.reference is not None and len(base) == 1 else base[:-1]  # the reference stays
        values = ["text", self.item.inside()[0], *([[]] if not self.empty else [])]
        values += [[*kept, bad] for bad in [None, *self.item.outside()]]
        if self.unique:
            values.append([*base, base[-1]])
        if self.reference is not None:
            values.append([value for value in self._valid(self._longest()) if value != self.reference])
        if self.min_length > 1:
            values.append(base[:-1])
        if self.max_length is not None:
            longest = self._valid(self.max_length)
            values.append([*longest, longest[-1]])
        return values

    def inside(self) -> list:
        return [*([[]] if self.empty else []), self._valid(max(self.min_length, 1)), self._valid(self._longest())]


class Widths(ListOf):
    """Hidden-layer widths: a list of widths (each ``item``, with its limit) in which no two
    neighbouring layers make a weight matrix of more than ``MAX_WEIGHTS`` entries."""

    def check_value(self, name: str, value: Any) -> list:
        values = super().check_value(name, value)
        for first, second in zip(values, values[1:]):
            if first * second > MAX_WEIGHTS:
                raise ValueError(f"{name}={values!r} is not valid; neighbouring widths {first} and {second} make "
                                 f"a weight matrix of {first * second} entries, above the limit of {MAX_WEIGHTS} "
                                 f"(1 GiB of float32 weights; {GENEROUS})")
        return values

    def outside(self) -> list:
        return [*super().outside(), [MAX_WIDTH, MAX_WEIGHTS // MAX_WIDTH + 1]]


class Nullable(Constraint):
    """None, or a value that satisfies ``inner``; ``what`` says so in words (default: inner's "or None")."""

    def __init__(self, inner: Constraint, what: str | None = None):
        self.inner = inner
        self.annotation = inner.annotation | None
        self.what = what or f"{inner.what} or None"

    def has_type(self, value: Any) -> bool:
        return value is None or self.inner.has_type(value)

    def check_value(self, name: str, value: Any) -> Any:
        return None if value is None else self.inner.check_value(name, value)

    def outside(self) -> list:
        return self.inner.outside()

    def inside(self) -> list:
        return [None, *self.inner.inside()]


class PathTo(Constraint):
    """A path (text or ``os.PathLike``) of a ``kind`` ("file" or "folder"); with ``exists`` it must
    be one already, else ``FileNotFoundError`` saying what to ``give``. A ``writable`` folder (an
    output) must be one that can be created and written: an existing path must be a folder in which
    a file can be made, a missing one must lie under such a folder (tried with a temporary file or
    folder, removed at once: permissions alone do not tell, e.g. for root or under /proc)."""

    annotation = str

    def __init__(self, kind: str, exists: bool = False, give: str = "", writable: bool = False):
        self.kind, self.exists, self.give = check_choice("kind", kind, ("file", "folder")), exists, give
        if writable and kind != "folder":
            raise ValueError(f"writable=True applies to a folder, not a {kind}")
        self.writable = writable
        self.what = f"a {kind} path"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, (str, os.PathLike))

    def check_value(self, name: str, value: Any) -> Any:
        if not str(value).strip():
            raise ValueError(f"{name}={str(value)!r} is not valid; give {self.what}")
        found = Path(value).is_file() if self.kind == "file" else Path(value).is_dir()
        if self.exists and not found:
            raise FileNotFoundError(f"{name}={str(value)!r} is not a {self.kind}; give {self.give}")
        if self.writable:
            _check_writable_folder(name, Path(value))
        return value

    def outside(self) -> list:
        missing = "no/such/" + ("file.csv" if self.kind == "file" else "folder")
        values = [3, "", " ", *([missing, __file__ if self.kind == "folder" else "."] if self.exists else [])]
        return [*values, *([__file__, f"{__file__}/results"] if self.writable else [])]

    def inside(self) -> list:
        if not self.exists:
            return ["data", "/tmp"]
        return [__file__, str(Path(__file__).resolve())] if self.kind == "file" else [".", str(Path.cwd())]


def _check_writable_folder(name: str, path: Path) -> None:
    """Refuse ``path`` unless it is a folder in which a file can be made, or is missing under one
    (where a folder can be made); the try leaves nothing behind."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "it is" if existing == path.absolute() else f"{str(existing)!r} is"
        raise ValueError(f"{name}={str(path)!r} is not valid; {where} a file, not a folder; give a folder "
                         "you can write (it is created if missing)")
    try:
        if existing == path.absolute():
            tempfile.TemporaryFile(dir=existing).close()
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing))
    except OSError as error:
        raise ValueError(f"{name}={str(path)!r} is not valid; {str(existing)!r} cannot be written "
                         f"({error.strerror or error}); give a folder you can write") from None


class Device(Constraint):
    """Where a run's tensors live: "auto", "cpu", "cuda" or "cuda:N" (CUDA present for the last two)."""

    annotation = str
    what = "a device name ('auto', 'cpu', 'cuda' or 'cuda:N')"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def check_value(self, name: str, value: str) -> str:
        return check_device(value, name)

    def outside(self) -> list:
        return [0, "gpu", "cpu:0", "cuda:x", "auto "]

    def inside(self) -> list:
        return ["auto", "cpu"]


class Satisfies(Constraint):
    """A value that ``check(name, value)`` accepts (a domain check that lives with its data, such as
    a dataset name or formula spec), with the examples the tests try on each side of it."""

    def __init__(self, annotation: Any, check: Callable[[str, Any], Any], outside: Sequence,
                 inside: Sequence):
        self.annotation, self._check = annotation, check
        self._outside, self._inside = list(outside), list(inside)

    def check_value(self, name: str, value: Any) -> Any:
        return self._check(name, value)

    def outside(self) -> list:
        return list(self._outside)

    def inside(self) -> list:
        return list(self._inside)


# The knobs most studies share, with their limits (MAX_*): generous, far above the book's protocols
# (at most 600 epochs, widths of 512, 60,000 images), and low enough that no value overflows a C
# integer or asks for more memory than a machine has.
MAX_COUNT = 10_000_000  # samples, batch sizes, repeats, bootstrap resamples
MAX_EPOCHS = 100_000  # epochs, optimisation steps, generations
MAX_WIDTH = 65_536  # units of one layer
MAX_WEIGHTS = 2**28  # entries of one weight matrix (neighbouring widths multiplied)
MAX_WORKERS = 1_024  # worker processes
MAX_SEED = 2**32 - 1  # the largest seed NumPy's legacy generators and scikit-learn take
COUNT = Interval(int, 1, None, limit=MAX_COUNT)  # sample counts, batch sizes, repeats
EPOCHS = Interval(int, 1, None, limit=MAX_EPOCHS)  # epochs, optimisation steps, generations
WORKERS = Interval(int, 1, None, limit=MAX_WORKERS)  # worker processes
WIDTH = Interval(int, 1, None, limit=MAX_WIDTH)  # units of one layer (or outputs of a network)
SEED = Interval(int, 0, None, limit=MAX_SEED, why="the largest 32-bit seed")
POSITIVE = Interval(float, 0, None, closed="neither")  # learning rates, strengths that must act
NONNEGATIVE = Interval(float, 0.0, None)  # penalty strengths, weight decay, noise
LEVEL = Interval(float, 0, 1, closed="neither")  # significance and confidence levels
SEEDS = ListOf(SEED, unique=True)
INTERVAL_SEEDS = ListOf(SEED, unique=True, min_length=2)  # enough for an interval over seeds
LAMBDAS = ListOf(NONNEGATIVE, unique=True, reference=0.0)  # strengths with 0.0, the unregularised runs
WIDTHS = Widths(WIDTH)  # hidden-layer widths
DEVICE = Device()
