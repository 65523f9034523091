"""Formulas given as text, parsed into sympy without evaluating any code.

:func:`parse_formula` reads an arithmetic expression such as ``"x0**2 + sin(x1)"`` with
Python's ``ast`` module and builds the sympy expression node by node: numbers, the named
inputs, ``+ - * / **``, unary minus and a fixed list of functions (:data:`FUNCTIONS`), and
the constants ``pi`` and ``E``. Anything else (attribute access, subscripts, keywords,
unknown names) is refused with a message, so no text is ever handed to ``eval``. Numbers
are bounded before sympy computes anything (:mod:`dreg_utils.data.formula_bounds`: written
numbers, powers, exponents and functions of constants), and a formula that divides by zero or
holds an infinity (``x0/0``) is refused.

:func:`parse_formula_spec` reads one string that also names each input's range, for
places that take text only (a notebook parameter)::

    "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"

The inputs are the names given a range, in the order given; every name of the formula
needs one, and a named input the formula does not use is an irrelevant feature. The
formula must be finite, real and within :data:`MAX_MAGNITUDE` on its ranges
(:func:`check_on_ranges`), so a spec such as ``"log(x0); x0 in [-1, 1]"`` is refused
where it is given rather than when its data are generated.

Formulas stored as ``sympy.srepr`` text are read the same way by
:mod:`dreg_utils.data.stored_formula`.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from ..validation import check_float
from .formula_bounds import (MAX_MAGNITUDE, _check_number, _log10_size, check_exponents, check_power,
                             constant_call_problem)

FUNCTIONS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "exp": sympy.exp,
             "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
             "sinh": sympy.sinh, "cosh": sympy.cosh, "asin": sympy.asin, "acos": sympy.acos,
             "atan": sympy.atan}
CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
SPEC_EXAMPLE = "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"
GRID_POINTS = 4096  # at most this many grid points (corners included) check a formula on its ranges
RANDOM_POINTS = 1024  # and this many seeded uniform points
_NONFINITE = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)
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
    tree = _parse(text)
    try:
        expr = _build(tree.body, known, text)
    except RecursionError:
        raise ValueError(f"formula={text[:80]!r}... is nested too deeply") from None
    check_exponents(expr, text)
    if not expr.free_symbols:
        raise ValueError(f"formula={text!r} uses none of the inputs {list(known)}")
    return expr, symbols


def _parse(text: str) -> ast.Expression:
    """The syntax tree of one Python expression; ValueError when it is none (or too large)."""
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"formula={text[:200]!r} is not a valid expression: {error.msg}") from None
    except (ValueError, MemoryError, RecursionError):
        raise ValueError(f"formula={text[:80]!r}... is too large or nested too deeply") from None



def _checked(result: sympy.Expr, node: ast.AST, text: str) -> sympy.Expr:
    """``result``, the sympy form of ``node``, refused when it is not finite (a division by
    zero, ``log(0)``: zoo, oo or nan in it or among its terms) or is a number beyond
    :data:`MAX_MAGNITUDE` (its parts were checked already)."""
    if result in _NONFINITE or any(arg in _NONFINITE for arg in result.args):
        raise ValueError(f"formula={text[:200]!r} is not finite: {ast.unparse(node)[:60]!r} is "
                         f"{sympy.sstr(result)[:40]} (a division by zero or an infinite value)")
    size = _log10_size(result)
    if size is not None and size > math.log10(MAX_MAGNITUDE):
        raise ValueError(f"formula={text[:200]!r} computes {ast.unparse(node)[:60]}, beyond the largest "
                         f"allowed magnitude {MAX_MAGNITUDE:g}")
    return result


def _build(node: ast.AST, known: Mapping[str, sympy.Symbol], text: str) -> sympy.Expr:
    """The sympy form of one node of the parsed formula (whitelisted node types only)."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        _check_number(node.value, text)
        return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)
    if isinstance(node, ast.Name):
        if node.id in known:
            return known[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ValueError(f"formula={text!r} uses the unknown name {node.id!r}; the inputs are "
                         f"{list(known)}, the constants {list(CONSTANTS)}, the functions {list(FUNCTIONS)}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _build(node.left, known, text), _build(node.right, known, text)
        if isinstance(node.op, ast.Pow):
            check_power(left, right, text)
        return _checked(_BINARY[type(node.op)](left, right), node, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, known, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"formula={text!r} calls {node.func.id!r}, which is not a known "
                             f"function; choose from {list(FUNCTIONS)}")
        if len(node.args) != 1:
            raise ValueError(f"formula={text!r}: {node.func.id} takes one argument, got {len(node.args)}")
        argument = _build(node.args[0], known, text)
        problem = constant_call_problem(node.func.id, [argument])
        if problem:
            raise ValueError(f"formula={text[:200]!r}: the constant {ast.unparse(node)[:60]} {problem}")
        return _checked(FUNCTIONS[node.func.id](argument), node, text)
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
    ranges (checked, in the order given); the formula is parsed (:func:`parse_formula`) and
    checked finite and bounded on the ranges (:func:`check_on_ranges`)."""
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
    ranges = check_ranges(ranges)
    expr, symbols = parse_formula(formula, list(ranges))
    check_on_ranges(expr, symbols, ranges, formula)
    return formula, ranges


def range_points(ranges: Mapping[str, tuple[float, float]], seed: int = 0) -> np.ndarray:
    """Points of the box ``ranges`` (one column per input, in order): a grid of k points per
    input, both ends and (k odd when k > 2) the middle included, with k^d <= :data:`GRID_POINTS`
    (the corners when only 2^d fits; for more inputs two opposite corners), then :data:`RANDOM_POINTS` uniform
    points drawn with ``seed``."""
    low, high = (np.array([pair[i] for pair in ranges.values()], dtype=np.float64) for i in (0, 1))
    d = len(low)
    k = int(GRID_POINTS ** (1.0 / d) + 1e-9)
    k -= k > 2 and k % 2 == 0  # odd: the middle of each range is a grid point
    if k >= 2:
        axes = [np.linspace(a, b, k) for a, b in zip(low, high)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    else:
        grid = np.stack([low, high])
    uniform = np.random.default_rng(seed).uniform(low, high, size=(RANDOM_POINTS, d))
    return np.concatenate([grid, uniform])


def check_on_ranges(expr: sympy.Expr, symbols: Sequence[sympy.Symbol],
                    ranges: Mapping[str, tuple[float, float]], text: str) -> None:
    """Refuse a formula that is not finite, real and within +-:data:`MAX_MAGNITUDE` at every
    point of :func:`range_points` (``symbols`` in the order of ``ranges``), naming the formula,
    its ranges and the first bad point."""
    points = range_points(ranges)
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(sympy.lambdify(symbols, expr, "numpy")(*points.T)),
                                 (len(points),))
    if np.iscomplexobj(values):
        values = np.where(values.imag == 0, values.real, np.nan)
    values = values.astype(np.float64)
    bad = ~(np.abs(values) <= MAX_MAGNITUDE)
    if bad.any():
        i = int(np.argmax(bad))
        where = ", ".join(f"{name} = {x:.6g}" for name, x in zip(ranges, points[i]))
        box = "; ".join(f"{name} in [{lo:g}, {hi:g}]" for name, (lo, hi) in ranges.items())
        what = "is not finite and real" if not np.isfinite(values[i]) else \
            f"exceeds {MAX_MAGNITUDE:g} in magnitude"
        raise ValueError(f"formula {text!r} {what} on {box} (at {where} it is {values[i]:.3g}); "
                         "narrow the ranges or change the formula")


def _number(text: str, spec: str) -> float:
    """A range end: a plain number, or a constant formula such as ``-pi`` or ``2*pi``."""
    try:
        number = float(_build(ast.parse(text, mode="eval").body, {}, text))
    except (SyntaxError, ValueError, TypeError):
        raise ValueError(f"range end {text!r} in {spec!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"range end {text!r} in {spec!r} is not finite")
    return number
