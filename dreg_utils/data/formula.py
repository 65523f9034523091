"""Formulas given as text, parsed into sympy without evaluating any code.

:func:`parse_formula` reads an arithmetic expression such as ``"x0**2 + sin(x1)"`` with
Python's ``ast`` module and builds the sympy expression node by node: numbers, the named
inputs, ``+ - * / **``, unary minus and a fixed list of functions (:data:`FUNCTIONS`), and
the constants ``pi`` and ``E``. Anything else (attribute access, subscripts, keywords,
unknown names) is refused with a message, so no text is ever handed to ``eval``. Numbers
are bounded before sympy computes anything: a written number or a power of numbers beyond
:data:`MAX_MAGNITUDE`, or an exponent beyond :data:`MAX_EXPONENT`, is refused (so
``x0**(9**9**9)`` is refused without computing ``9**9**9``).

:func:`parse_formula_spec` reads one string that also names each input's range, for
places that take text only (a notebook parameter)::

    "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"

The inputs are the names given a range, in the order given; every name of the formula
needs one, and a named input the formula does not use is an irrelevant feature. The
formula must be finite, real and within :data:`MAX_MAGNITUDE` on its ranges
(:func:`check_on_ranges`), so a spec such as ``"log(x0); x0 in [-1, 1]"`` is refused
where it is given rather than when its data are generated.

:func:`read_srepr` reads a formula stored as ``sympy.srepr`` text (the symbolic students of
the distillation study) the same way: a fixed list of sympy constructors, literal numbers
and strings, never ``sympify`` or ``eval``.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from ..validation import check_float

FUNCTIONS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "exp": sympy.exp,
             "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
             "sinh": sympy.sinh, "cosh": sympy.cosh, "asin": sympy.asin, "acos": sympy.acos,
             "atan": sympy.atan}
CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
SPEC_EXAMPLE = "x0**2 + sin(x1); x0 in [-2, 2]; x1 in [0, 3]"
MAX_EXPONENT = 100  # largest |exponent| of a number in a power
MAX_MAGNITUDE = 1e100  # largest |number| in a formula, and |value| of a formula on its ranges
GRID_POINTS = 4096  # at most this many grid points (corners included) check a formula on its ranges
RANDOM_POINTS = 1024  # and this many seeded uniform points
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


def _check_number(value: int | float, text: str) -> None:
    """Refuse a written number that is not finite or beyond :data:`MAX_MAGNITUDE`."""
    if not abs(value) <= MAX_MAGNITUDE:
        shown = (f"the number {value:.3g}" if isinstance(value, float)
                 else f"a {len(str(abs(value)))}-digit integer")
        raise ValueError(f"formula={text!r} writes {shown}, beyond the largest allowed "
                         f"magnitude {MAX_MAGNITUDE:g}")


def _log10_size(number: sympy.Expr) -> float | None:
    """log10 |number| for a sympy Integer, Rational or Float (None for anything else or 0),
    computed without a power of the number."""
    if not isinstance(number, sympy.Number) or number == 0 or not number.is_finite:
        return None
    if isinstance(number, sympy.Rational):
        return math.log10(abs(int(number.p))) - math.log10(int(number.q))
    return math.log10(abs(float(number)))


def check_power(base: sympy.Expr, exponent: sympy.Expr, text: str) -> None:
    """Refuse ``base ** exponent`` before sympy computes it when ``exponent`` is a number
    beyond :data:`MAX_EXPONENT`, or ``base`` is a number too and the power would exceed
    :data:`MAX_MAGNITUDE` (or fall below its inverse)."""
    size = _log10_size(exponent)
    if size is None:
        return
    if size > math.log10(MAX_EXPONENT):
        raise ValueError(f"formula={text!r} raises to the power {sympy.sstr(exponent)[:40]}, beyond "
                         f"the largest allowed |exponent| {MAX_EXPONENT}")
    base_size = _log10_size(base)
    if base_size is not None and abs(float(exponent)) * abs(base_size) > math.log10(MAX_MAGNITUDE):
        raise ValueError(f"formula={text!r} computes {sympy.sstr(base)[:40]}**{sympy.sstr(exponent)}, "
                         f"beyond the largest allowed magnitude {MAX_MAGNITUDE:g}")


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
        return _BINARY[type(node.op)](left, right)
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


# ---------------------------------------------------------------- formulas stored as srepr text

STORED_FUNCTIONS = {f.__name__: f for f in (sympy.Add, sympy.Mul, sympy.Max, sympy.Min, sympy.Abs,
                                            sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan,
                                            sympy.sinh, sympy.cosh, sympy.tanh, sympy.asin,
                                            sympy.acos, sympy.atan)}
STORED_CONSTANTS = {"pi": sympy.pi, "E": sympy.E, "I": sympy.I, "oo": sympy.oo, "zoo": sympy.zoo,
                    "nan": sympy.nan}
ASSUMPTIONS = ("real", "positive", "negative", "nonnegative", "nonpositive", "nonzero", "zero",
               "integer", "rational", "finite", "complex", "extended_real", "commutative")
_FLOAT_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?\Z")
_ONE_ARGUMENT = ("Abs", "exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin", "acos", "atan")


def read_srepr(text: str) -> sympy.Expr:
    """The formula stored as ``sympy.srepr(formula)`` text, rebuilt from a fixed list of
    constructors (``Add``, ``Mul``, ``Pow``, ``Symbol``, ``Integer``, ``Rational``, ``Float``,
    :data:`STORED_FUNCTIONS`, :data:`STORED_CONSTANTS`) with literal arguments only; a power's
    exponent is a literal number within :data:`MAX_EXPONENT` (and a power of numbers within
    :data:`MAX_MAGNITUDE`). Anything else is refused with ``ValueError``; no text is evaluated."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"stored formula {text!r} is not sympy.srepr text")
    try:
        return _stored(_parse(text).body, text)
    except RecursionError:
        raise ValueError(f"stored formula {text[:80]!r}... is nested too deeply") from None
    except (TypeError, ArithmeticError, AttributeError) as error:  # sympy refusing whitelisted parts
        raise ValueError(f"stored formula {text[:120]!r} is not valid: {error}") from None


def is_srepr(text: object) -> bool:
    """Whether :func:`read_srepr` accepts ``text``."""
    try:
        read_srepr(text)
    except ValueError:
        return False
    return True


def _literal(node: ast.AST) -> int | float | str | bool | None:
    """The value of a literal (or negated literal number); None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand)
        return -value if type(value) in (int, float) else None
    literal = isinstance(node, ast.Constant) and type(node.value) in (int, float, str, bool)
    return node.value if literal else None


def _stored_number(node: ast.AST) -> sympy.Number | None:
    """An ``Integer(n)``, ``Rational(p, q)`` or ``Float('x', precision=p)`` node as a sympy
    number, its parts checked first (:func:`_check_number`); None for any other node."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    name, values = node.func.id, [_literal(arg) for arg in node.args]
    keywords = {k.arg: _literal(k.value) for k in node.keywords}
    text = ast.unparse(node)[:60]
    if name == "Float" and len(values) == 1 and set(keywords) <= {"precision"}:
        precision = keywords.get("precision", 53)
        if not (isinstance(values[0], str) and _FLOAT_TEXT.match(values[0]) and type(precision) is int
                and 1 <= precision <= 1000):
            return None
        _check_number(float(values[0]), text)
        return sympy.Float(values[0], precision=precision)
    if node.keywords or not all(type(v) is int for v in values):
        return None
    for value in values:
        _check_number(value, text)
    if name == "Integer" and len(values) == 1:
        return sympy.Integer(values[0])
    if name == "Rational" and len(values) == 2 and values[1] != 0:
        return sympy.Rational(*values)
    return None


def _stored(node: ast.AST, text: str) -> sympy.Expr:
    """The sympy form of one node of a stored formula (whitelisted constructors only)."""
    def refuse(why: str) -> ValueError:
        return ValueError(f"stored formula {text[:120]!r} is not valid: {why}")

    if isinstance(node, ast.Name) and node.id in STORED_CONSTANTS:
        return STORED_CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Name):
        return -_stored(node.operand, text)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise refuse(f"{ast.unparse(node)[:60]!r} is not a sympy constructor call")
    name, args = node.func.id, node.args
    if name == "Symbol":
        label = _literal(args[0]) if len(args) == 1 else None
        assumptions = {k.arg: _literal(k.value) for k in node.keywords}
        if not isinstance(label, str) or not 0 < len(label) <= 200:
            raise refuse("Symbol takes one name")
        if not all(k in ASSUMPTIONS and isinstance(v, bool) for k, v in assumptions.items()):
            raise refuse(f"Symbol takes assumptions {list(ASSUMPTIONS)} set to True or False")
        return sympy.Symbol(label, **assumptions)
    if name in ("Integer", "Rational", "Float"):
        number = _stored_number(node)
        if number is None:
            raise refuse(f"{ast.unparse(node)[:60]!r} is not a literal number")
        return number
    if node.keywords:
        raise refuse(f"{name} takes no keywords")
    if name == "Pow":
        exponent = _stored_number(args[1]) if len(args) == 2 else None
        if exponent is None:
            raise refuse("a power's exponent must be a literal number")
        base = _stored(args[0], text)
        check_power(base, exponent, text)
        return sympy.Pow(base, exponent)
    if name not in STORED_FUNCTIONS:
        known = ["Pow", "Symbol", "Integer", "Rational", "Float", *STORED_FUNCTIONS]
        raise refuse(f"{name!r} is not one of {known}")
    if not args or (name in _ONE_ARGUMENT and len(args) != 1):
        raise refuse(f"{name} got {len(args)} arguments")
    return STORED_FUNCTIONS[name](*(_stored(arg, text) for arg in args))
