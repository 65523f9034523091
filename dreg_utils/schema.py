"""What a run's result must hold: the kinds of its fields and each study's result schema.

A :class:`Kind` names what one field must be (:data:`FINITE`, :data:`NUMBER`, :data:`INTEGER`,
:data:`TEXT`, :data:`FLAG`, :data:`LIST`, and kinds built from them: :func:`or_none`,
:func:`list_of`, :func:`record_of`; :data:`DIVERGENCE`, the divergence fields of a trained run).
A study declares its runs' fields once as a :class:`ResultSchema`: those every result holds,
those a run that did not diverge holds as well, and those a run may hold; no other key is
allowed. :func:`dreg_utils.sweep.run_grid` checks every result against it, fresh or read back
from the cache.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    """What one field of a run's result must be: ``name`` (for messages) and ``accepts``."""

    name: str
    accepts: Callable[[object], bool]


def _is_number(value: object) -> bool:
    """A float, or an int that a float can hold (a 400-digit integer is not a metric)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and abs(value) <= sys.float_info.max)


FINITE = Kind("a finite number", lambda v: _is_number(v) and math.isfinite(v))
NUMBER = Kind("a number (NaN allowed)", _is_number)
INTEGER = Kind("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63)
TEXT = Kind("a string", lambda v: isinstance(v, str))
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
LIST = Kind("a list", lambda v: isinstance(v, list))


def or_none(kind: Kind) -> Kind:
    """``kind``, or null."""
    return Kind(f"{kind.name} or null", lambda v: v is None or kind.accepts(v))


def list_of(kind: Kind, length: int | None = None) -> Kind:
    """A list whose items are each ``kind`` (and, when given, ``length`` of them)."""
    count = "" if length is None else f"{length} "
    return Kind(f"a list of {count}items each {kind.name}",
                lambda v: isinstance(v, list) and (length is None or len(v) == length)
                and all(kind.accepts(item) for item in v))


def record_of(fields: Mapping[str, Kind]) -> Kind:
    """An object with exactly ``fields``, each of its kind."""
    shown = ", ".join(f"{name}: {kind.name}" for name, kind in fields.items())
    return Kind(f"an object {{{shown}}}",
                lambda v: isinstance(v, dict) and set(v) == set(fields)
                and all(kind.accepts(v[name]) for name, kind in fields.items()))


# The divergence fields of a trained run (dreg_utils.train.FitResult.divergence).
DIVERGENCE = {"diverged": FLAG, "diverged_step": or_none(INTEGER), "diverged_epoch": or_none(INTEGER),
              "diverged_reason": or_none(TEXT)}


@dataclass(frozen=True)
class ResultSchema:
    """The fields of one run's result, declared once by its study: ``always`` in every result,
    ``finished`` as well unless the result has ``diverged`` true, ``optional`` where the run
    has them. Every declared field present must be of its kind, and no other key is allowed
    (so a record cannot add a column, nor one the study inserts itself). ``agree``, when given,
    says why the fields of a result that fits them disagree with each other (None: they agree)."""

    always: Mapping[str, Kind]
    finished: Mapping[str, Kind] = field(default_factory=dict)
    optional: Mapping[str, Kind] = field(default_factory=dict)
    agree: Callable[[dict], str | None] | None = None

    def problem(self, result: object) -> str | None:
        """Why ``result`` does not fit (the first field missing, of the wrong kind, or not
        declared, then ``agree``'s reason), or None."""
        if not isinstance(result, dict):
            return f"the result is {type(result).__name__}, not an object"
        groups = [(self.always, True), (self.finished, result.get("diverged") is not True),
                  (self.optional, False)]
        for fields, required in groups:
            for name, kind in fields.items():
                if name not in result:
                    if required:
                        return f"field {name!r} is missing"
                elif not kind.accepts(result[name]):
                    return f"field {name!r} is {result[name]!r:.60}, not {kind.name}"
        declared = {*self.always, *self.finished, *self.optional}
        unknown = [name for name in result if name not in declared]
        if unknown:
            return f"field {unknown[0]!r:.60} is not one of the study's result fields"
        return self.agree(result) if self.agree else None


Schema = ResultSchema | Callable[[dict], ResultSchema] | None  # one schema, or one per configuration
