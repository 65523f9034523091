"""One settings type per study: every protocol knob, its presets per profile and its checks.

A study declares a frozen dataclass deriving from :class:`StudySettings`:

* each knob is a field ``name: type = knob(default, constraint)``: its default is the ``default``
  profile's value, its constraint (:mod:`dreg_utils.constraints`) what it may be;
* ``PRESETS`` holds what the ``smoke`` and ``paper`` profiles change;
* ``check_together`` checks what involves several knobs (overridden where a study has such rules).

Building settings checks every knob against its declaration (a one-line message naming the knob,
the bad value and what is valid) and stores the values in canonical form (lists, floats): this is
the boundary, and code that takes built settings does not check them again. Adding a knob is one
edit in the study's settings class plus the notebook's ``parameters`` cell. The profiles:

* ``smoke``: the smallest run that exercises every code path (tests; < 60 s a notebook);
* ``default``: the CPU main job behind ``make book``;
* ``paper``: the papers' protocols where they state them; where a paper leaves a
  setting open the value is ours and the notebook says so.

A notebook reads its profile from ``DREG_PROFILE`` (default ``default``) unless papermill
injects ``profile``; a parameter set to a non-None value overrides the profile's.
Settings read like a read-only dict (``settings["epochs"]``, ``dict(settings)``), so the
configurations built from them stay plain JSON-able data. :func:`parse_value` reads a knob's
value from command-line text by the knob's declared type (the runner's ``--param``).
"""
from __future__ import annotations

import ast
import dataclasses
import math
import os
import re
import typing
from collections.abc import Iterator, Mapping
from copy import deepcopy
from typing import Any, ClassVar, TypeVar

from .constraints import Constraint
from .validation import check_choice

PROFILES = ("smoke", "default", "paper")
T = TypeVar("T", bound="StudySettings")


def profile_from_env(default: str = "default") -> str:
    """The profile named by ``DREG_PROFILE``, or ``default``."""
    return os.environ.get("DREG_PROFILE", default)


def knob(value: Any, constraint: Constraint) -> Any:
    """A knob: a dataclass field whose default is ``value`` (copied, so lists are never shared) and
    whose values must satisfy ``constraint``."""
    return dataclasses.field(default_factory=lambda: deepcopy(value), metadata={"constraint": constraint})


@dataclasses.dataclass(frozen=True)
class StudySettings(Mapping):
    """Base of every study's settings: a frozen dataclass that reads like a dict."""

    profile: str = "default"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        check_choice("profile", self.profile, PROFILES)
        values = {name: constraint.check(name, getattr(self, name))
                  for name, constraint in self.constraints().items()}
        self.check_together(values)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def check_together(self, values: dict[str, Any]) -> None:
        """Check the rules that involve several knobs (``values``: each knob checked alone and
        canonical); none unless a study overrides this."""

    @classmethod
    def constraints(cls) -> dict[str, Constraint]:
        """Each knob's declared constraint, in declaration order; a knob without one is refused."""
        declared = {f.name: f.metadata.get("constraint") for f in dataclasses.fields(cls) if f.name != "profile"}
        missing = [name for name, constraint in declared.items() if constraint is None]
        if missing:
            raise TypeError(f"{cls.__name__} declares no constraint for {missing}; "
                            "declare each knob as knob(default, constraint)")
        return declared

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        """The protocol knobs, in declaration order (``profile`` excluded)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "profile")

    @classmethod
    def knob_types(cls) -> dict[str, Any]:
        """Each knob's declared type, its field's annotation (``int``, ``list[float]``, ``str | None``)."""
        hints = typing.get_type_hints(cls)
        return {name: hints[name] for name in cls.knobs()}

    @classmethod
    def _refuse_unknown(cls, names) -> None:
        unknown = sorted(set(names) - set(cls.knobs()))
        if unknown:
            raise ValueError(f"unknown parameters {unknown} for {cls.__name__}; "
                             f"valid: {sorted(cls.knobs())}")

    @classmethod
    def from_profile(cls: type[T], profile: str | None = None, **overrides: Any) -> T:
        """The profile's settings (``None``: ``$DREG_PROFILE``) with every non-None override."""
        profile = profile_from_env() if profile is None else profile
        cls._refuse_unknown(overrides)
        values = {**cls.PRESETS.get(profile, {}),
                  **{name: value for name, value in overrides.items() if value is not None}}
        return cls(profile=profile, **deepcopy(values))

    @classmethod
    def from_notebook(cls: type[T], namespace: Mapping[str, Any]) -> T:
        """Settings from a notebook's ``parameters`` cell: ``profile`` plus one variable per
        knob (None: the profile's value). A cell that lacks a knob is refused."""
        missing = [name for name in ("profile", *cls.knobs()) if name not in namespace]
        if missing:
            raise ValueError(f"the parameters cell does not define {missing}; "
                             f"{cls.__name__} needs profile and {list(cls.knobs())}")
        return cls.from_profile(namespace["profile"], **{k: namespace[k] for k in cls.knobs()})

    @classmethod
    def coerce(cls: type[T], settings: Mapping[str, Any]) -> T:
        """``settings`` as this type: an instance is returned as it is; a mapping (e.g. a
        dict of every knob) is checked, its missing knobs taking the default profile's values."""
        if isinstance(settings, cls):
            return settings
        if not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a {cls.__name__} or a dict, got {settings!r}")
        values = dict(settings)
        profile = values.pop("profile", "default")
        cls._refuse_unknown(values)
        return cls(profile=profile, **deepcopy(values))

    def replace(self: T, **changes: Any) -> T:
        """A copy with ``changes`` applied and checked."""
        self._refuse_unknown(set(changes) - {"profile"})
        return dataclasses.replace(self, **changes)

    def __getitem__(self, name: str) -> Any:
        if name != "profile" and name not in self.knobs():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(("profile", *self.knobs()))

    def __len__(self) -> int:
        return 1 + len(self.knobs())


INTEGER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
DECIMAL = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
NUMBER_LIKE = re.compile(r"[-+]?\.?\d")  # text that starts like a number (any script's digits)
NOT_BARE = set("[](){}'\"")  # text holding one of these must be quoted (or be a list)
HOW_TO_WRITE = {
    int: "a whole number in decimal digits without leading zeros, e.g. 120",
    float: "a decimal number, e.g. 0.01 or 1e-3",
    bool: "true or false",
    list: 'a list in brackets, e.g. [0, 1] or ["relu", "poly"] (text items in quotes)',
    Any: ("a whole number (120), a decimal number (0.01, 1e-3), true, false, None, a list in brackets "
          "([0, 1]), or text (in quotes when it starts like a number or holds brackets or quotes)"),
}


def _shown(text: str) -> str:
    """``text`` quoted for a message, shortened past 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:40]) + f"... ({len(text)} characters)"


def parse_value(name: str, text: str, kind: Any) -> Any:
    """Parameter ``name`` written as ``text``, read by its declared type ``kind``; nothing is evaluated.

    ``int``: decimal digits, leading zeros refused (``010``, ``0x10``, ``1_000``, ``1:30`` are
    refused, never read as 8, 16, 1000 or 90); ``float``: a decimal or scientific number (``1``,
    ``0.01``, ``1e-3``), refused when it is too large for a float (``1e999``) or non-zero but too
    small (``1e-400`` would read as 0.0); ``bool``: ``true``/``false``; ``str``: the text itself
    (``no`` is the text "no"); ``list[T]``: a bracketed list, each item read by ``T`` (text items
    quoted); ``T | None``: also ``None`` or ``null``; ``Any`` (a parameter without a declared type):
    the type the text shows by the same grammar (:func:`infer_value`), never Python's literals. A
    text that does not fit raises ``ValueError`` naming the parameter, the text and how to write it;
    a type without a reading raises ``TypeError``."""
    options = [option for option in typing.get_args(kind) if option is not type(None)]
    if len(options) == 1 and type(None) in typing.get_args(kind):  # T | None
        if text.strip() in ("None", "null"):
            return None
        try:
            return parse_value(name, text, options[0])
        except ValueError as error:
            raise ValueError(f"{error}, or None") from None
    if kind is str:
        return text
    if kind is Any:
        return infer_value(name, text)
    text = text.strip()
    if kind is bool and text in ("true", "false", "True", "False"):
        return text.lower() == "true"
    if kind is int and INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts
            raise ValueError(f"{name}={_shown(text)} is not valid; it has too many digits") from None
    if kind is float and DECIMAL.fullmatch(text):
        return _float(name, text)
    if typing.get_origin(kind) is list:
        return _parse_list(name, text, typing.get_args(kind)[0])
    if kind not in HOW_TO_WRITE:
        raise TypeError(f"{name}: a parameter of type {kind} cannot be read from text")
    raise ValueError(f"{name}={_shown(text)} is not valid; write {HOW_TO_WRITE[kind]}")


def _float(name: str, text: str) -> float:
    """The decimal ``text`` as a float; refused when it overflows to inf or underflows to 0.0."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{name}={_shown(text)} is not valid; it is too large for a float "
                         "(at most about 1.8e308)")
    if value == 0.0 and re.search(r"[1-9]", re.split(r"[eE]", text)[0]):
        raise ValueError(f"{name}={_shown(text)} is not valid; it is too small for a float and would read "
                         "as 0.0 (the smallest positive float is about 4.9e-324)")
    return value


def infer_value(name: str, text: str, bare_text: bool = True) -> Any:
    """A parameter without a declared type, read by the type its ``text`` shows, with the grammar of
    typed parameters: ``None``/``null``, ``true``/``false``, a decimal integer, a decimal number, a
    bracketed list (items read the same way, text items quoted), a quoted text, or (``bare_text``)
    the text itself. Text that starts like a number but is not one (``0x10``, ``010``, ``1_000``)
    and unquoted text with brackets or quotes are refused."""
    stripped = text.strip()
    if stripped in ("None", "null"):
        return None
    if stripped in ("true", "false", "True", "False"):
        return stripped.lower() == "true"
    if INTEGER.fullmatch(stripped):
        return parse_value(name, stripped, int)
    if DECIMAL.fullmatch(stripped):
        return _float(name, stripped)
    if stripped.startswith("["):
        return _parse_list(name, stripped, Any)
    if stripped[:1] in ("'", '"'):
        try:
            node = ast.parse(stripped, mode="eval").body
        except SyntaxError:
            node = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
    elif bare_text and stripped and not NUMBER_LIKE.match(stripped) and not NOT_BARE & set(stripped):
        return text
    raise ValueError(f"{name}={_shown(text)} is not valid; write {HOW_TO_WRITE[Any]}")


def _parse_list(name: str, text: str, item_kind: Any) -> list:
    """A bracketed list whose items are read by ``item_kind`` (:func:`parse_value`; ``Any``: by
    :func:`infer_value`, text items quoted)."""
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, MemoryError, RecursionError):  # RecursionError: nested too deeply
        node = None
    if not isinstance(node, ast.List):
        raise ValueError(f"{name}={_shown(text)} is not valid; write {HOW_TO_WRITE[list]}")
    items = []
    for i, item in enumerate(node.elts):
        written = ast.get_source_segment(text, item)
        if item_kind is Any:
            items.append(infer_value(f"{name}[{i}]", written, bare_text=False))
        elif item_kind is not str:
            items.append(parse_value(f"{name}[{i}]", written, item_kind))
        elif isinstance(item, ast.Constant) and isinstance(item.value, str):
            items.append(item.value)
        else:
            raise ValueError(f"{name}[{i}]={_shown(written)} is not valid; write text items in quotes, "
                             'e.g. ["relu", "poly"]')
    return items
