"""Formulas given as text, parsed into sympy without evaluating any code.

:func:`parse_formula` reads an arithmetic expression such as ``"x0**2 + sin(x1)"`` with
Python's ``ast`` module and builds the sympy expression node by node: numbers, the named
inputs, ``+ - * / **``, unary minus and a fixed list of functions (:data:`FUNCTIONS`), and
the constants ``pi`` and ``E``. Anything else (attribute access, subscripts, keywords,
unknown names) is refused with a message, so no text is ever handed to ``eval``.

:func:`parse_formula_spec` reads one string that also names each input's range, for
places that take text only (a notebook parameter)::

    "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"

The inputs are the names given a range, in the order given; every name of the formula
needs one, and a named input the formula does not use is an irrelevant feature.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence

import sympy

from ..validation import check_float

FUNCTIONS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "exp": sympy.exp,
             "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
             "sinh": sympy.sinh, "cosh": sympy.cosh, "asin": sympy.asin, "acos": sympy.acos,
             "atan": sympy.atan}
CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
SPEC_EXAMPLE = "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RANGE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s+in\s+\[\s*([^,\]]+?)\s*,\s*([^,\]]+?)\s*\]\s*\Z")


def check_input_name(name: str) -> str:
    """An input name: an identifier that is neither a function nor a constant of the parser."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"input name {name!r} is not valid; use a name like x0 or mass "
                         "(letters, digits and _, not starting with a digit)")
    if name in FUNCTIONS or name in CONSTANTS:
        raise ValueError(f"input name {name!r} is not valid; it is a function or constant of the "
                         f"formula language ({sorted({*FUNCTIONS, *CONSTANTS})})")
    return name


def parse_formula(text: str, inputs: Sequence[str]) -> tuple[sympy.Expr, tuple[sympy.Symbol, ...]]:
    """The formula ``text`` over the named ``inputs`` as a sympy expression, and the inputs'
    symbols (real, in the order of ``inputs``). Only numbers, the inputs, ``pi``, ``E``,
    ``+ - * / **`` and :data:`FUNCTIONS` are accepted."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"formula={text!r} is not valid; give an expression such as 'x0**2 + sin(x1)'")
    symbols = tuple(sympy.Symbol(check_input_name(n), real=True) for n in inputs)
    if len({s.name for s in symbols}) != len(symbols):
        raise ValueError(f"inputs={list(inputs)!r} name an input twice")
    known = {s.name: s for s in symbols}
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"formula={text!r} is not a valid expression: {error.msg}") from None
    expr = _build(tree.body, known, text)
    if not expr.free_symbols:
        raise ValueError(f"formula={text!r} uses none of the inputs {list(known)}")
    return expr, symbols


def _build(node: ast.AST, known: Mapping[str, sympy.Symbol], text: str) -> sympy.Expr:
    """The sympy form of one node of the parsed formula (whitelisted node types only)."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)
    if isinstance(node, ast.Name):
        if node.id in known:
            return known[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ValueError(f"formula={text!r} uses the unknown name {node.id!r}; the inputs are "
                         f"{list(known)}, the constants {list(CONSTANTS)}, the functions {list(FUNCTIONS)}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_build(node.left, known, text), _build(node.right, known, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, known, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"formula={text!r} calls {node.func.id!r}, which is not a known "
                             f"function; choose from {list(FUNCTIONS)}")
        if len(node.args) != 1:
            raise ValueError(f"formula={text!r}: {node.func.id} takes one argument, got {len(node.args)}")
        return FUNCTIONS[node.func.id](_build(node.args[0], known, text))
    raise ValueError(f"formula={text!r} contains {ast.unparse(node)!r}, which is not allowed; use "
                     f"numbers, the inputs, + - * / **, the constants {list(CONSTANTS)} and the "
                     f"functions {list(FUNCTIONS)}")


def check_ranges(ranges: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """Input ranges ``{name: (low, high)}`` with finite low < high, in the mapping's order."""
    if not isinstance(ranges, Mapping) or not ranges:
        raise TypeError(f"ranges must be a non-empty dict {{name: (low, high)}}, got {ranges!r}")
    checked = {}
    for name, pair in ranges.items():
        check_input_name(name)
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"ranges[{name!r}]={pair!r} is not valid; give a pair (low, high)")
        low, high = (check_float(f"ranges[{name!r}][{i}]", v) for i, v in enumerate(pair))
        if not low < high:
            raise ValueError(f"ranges[{name!r}]={pair!r} is not valid; low must be < high")
        checked[name] = (low, high)
    return checked


def parse_formula_spec(spec: str) -> tuple[str, dict[str, tuple[float, float]]]:
    """Split ``"formula; name in [low, high]; ..."`` into the formula text and the input
    ranges (checked, in the order given; the formula itself is checked by :func:`parse_formula`)."""
    if not isinstance(spec, str) or ";" not in spec:
        raise ValueError(f"{spec!r} is not a formula spec; write the formula, then each input's "
                         f"range, e.g. {SPEC_EXAMPLE!r}")
    formula, *parts = (part.strip() for part in spec.split(";"))
    ranges = {}
    for part in parts:
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"{part!r} in {spec!r} is not an input range; write 'name in [low, high]', "
                             f"e.g. {SPEC_EXAMPLE!r}")
        name, low, high = match.groups()
        if name in ranges:
            raise ValueError(f"{spec!r} gives the range of {name!r} twice")
        ranges[name] = (_number(low, spec), _number(high, spec))
    return formula, check_ranges(ranges)


def _number(text: str, spec: str) -> float:
    """A range end: a plain number, or a constant formula such as ``-pi`` or ``2*pi``."""
    try:
        number = float(_build(ast.parse(text, mode="eval").body, {}, text))
    except (SyntaxError, ValueError, TypeError):
        raise ValueError(f"range end {text!r} in {spec!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"range end {text!r} in {spec!r} is not finite")
    return number
