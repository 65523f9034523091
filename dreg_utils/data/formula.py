"""Formulas given as text, parsed into sympy without evaluating any code.

:func:`parse_formula` reads an arithmetic expression such as ``"x0**2 + sin(x1)"`` with
Python's ``ast`` module and builds the sympy expression node by node: numbers, the named
inputs, ``+ - * / **``, unary minus and a fixed list of functions (:data:`FUNCTIONS`), and
the constants ``pi`` and ``E``. Anything else (attribute access, subscripts, keywords,
unknown names) is refused with a message, so no text is ever handed to ``eval``. Numbers
are bounded before sympy computes anything: a written number or a power of numbers beyond
:data:`MAX_MAGNITUDE`, or an exponent beyond :data:`MAX_EXPONENT`, is refused (so
``x0**(9**9**9)`` is refused without computing ``9**9**9``); so is a function of a constant
whose argument or value (estimated in floating point before sympy evaluates it) is not a real
number within :data:`MAX_MAGNITUDE` (:func:`constant_call_problem`: sympy would evaluate
``exp(exp(exp(100)))`` with mpmath for hours), a power whose exponent, once sympy multiplies
the exponents of powers of powers (``(x0**100)**100``), exceeds :data:`MAX_EXPONENT`
(:func:`check_exponents`), and a formula that divides by zero or holds an infinity (``x0/0``).

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
and strings, never ``sympify`` or ``eval``, with the same bounds on numbers, exponents and
functions of constants; a symbol's name is an identifier (so no LaTeX or HTML rides in on it).
"""
from __future__ import annotations

import ast
import cmath
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
# Each function's value at a complex float: the estimate checked before sympy evaluates a
# function of a constant (constant_call_problem).
_ESTIMATES = {"sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "exp": cmath.exp, "log": cmath.log,
              "sqrt": cmath.sqrt, "abs": abs, "Abs": abs, "tanh": cmath.tanh, "sinh": cmath.sinh,
              "cosh": cmath.cosh, "asin": cmath.asin, "acos": cmath.acos, "atan": cmath.atan}
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


def check_exponents(expr: sympy.Expr, text: str) -> None:
    """Refuse ``expr`` when one of its powers has a number exponent beyond :data:`MAX_EXPONENT`:
    sympy multiplies the exponents of a power of a power (``(x**100)**100`` is ``x**10000``)
    and adds those of a product of powers (``x**100 * x**100``)."""
    for power in expr.atoms(sympy.Pow):
        size = _log10_size(power.exp)
        if size is not None and size > math.log10(MAX_EXPONENT):
            raise ValueError(f"formula={text[:200]!r} raises to the power {sympy.sstr(power.exp)[:40]} (powers "
                             f"of powers multiply their exponents), beyond the largest allowed "
                             f"|exponent| {MAX_EXPONENT}")


def _bounded_real(value: complex | None) -> bool:
    """Whether ``value`` is a real number within +-:data:`MAX_MAGNITUDE`."""
    return value is not None and value.imag == 0 and abs(value.real) <= MAX_MAGNITUDE


def _value(constant: sympy.Expr) -> complex | None:
    """The value of a constant as a complex float; None when it is not a number."""
    try:
        return complex(constant)
    except (TypeError, ValueError, ArithmeticError):
        return None


def constant_call_problem(name: str, args: Sequence[sympy.Expr]) -> str | None:
    """Why the function ``name`` (a key of :data:`_ESTIMATES`, or ``Max``/``Min``) of ``args``
    may not be built, or None. When no argument holds an input, sympy evaluates the call at
    once (mpmath, at any precision the argument asks for: ``tan(cosh(tan(acos(1e-300))))``
    runs for hours; ``Abs`` of a complex constant, seconds), so the arguments (complex floats of
    the built constants) and the function's value (estimated with :mod:`cmath`) must first be
    real and within +-:data:`MAX_MAGNITUDE`."""
    if any(arg.free_symbols for arg in args):
        return None
    values = [_value(arg) for arg in args]
    if all(_bounded_real(v) for v in values):
        if name in ("Max", "Min"):
            return None
        try:
            if _bounded_real(complex(_ESTIMATES[name](values[0]))):
                return None
        except (ValueError, ArithmeticError):
            pass
    return f"is not a real number within +-{MAX_MAGNITUDE:g} (its argument or its value)"


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
    :data:`STORED_FUNCTIONS`, :data:`STORED_CONSTANTS`) with literal arguments only; a symbol's
    name is an identifier; a power's exponent is a literal number within :data:`MAX_EXPONENT`
    (and a power of numbers within :data:`MAX_MAGNITUDE`), as is every exponent of the result
    (:func:`check_exponents`); a function of a constant is checked before sympy evaluates it
    (:func:`constant_call_problem`), and no number computed on the way exceeds
    :data:`MAX_MAGNITUDE`. Anything else is refused with ``ValueError``; no text is evaluated."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"stored formula {text!r} is not sympy.srepr text")
    try:
        expr = _stored(_parse(text).body, text)
        check_exponents(expr, text)
        return expr
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
        if not isinstance(label, str) or not _NAME.match(label) or len(label) > 200:
            raise refuse(f"Symbol takes one name, an identifier (letters, digits and _, not "
                         f"starting with a digit), not {ast.unparse(args[0]) if args else 'none'!s:.60}")
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
        return _bounded(sympy.Pow(base, exponent), node, text)
    if name not in STORED_FUNCTIONS:
        known = ["Pow", "Symbol", "Integer", "Rational", "Float", *STORED_FUNCTIONS]
        raise refuse(f"{name!r} is not one of {known}")
    if not args or (name in _ONE_ARGUMENT and len(args) != 1):
        raise refuse(f"{name} got {len(args)} arguments")
    built = [_stored(arg, text) for arg in args]
    if name == "Mul" and sum(max(_log10_size(arg) or 0.0, 0.0) for arg in built) > math.log10(MAX_MAGNITUDE):
        raise refuse(f"{ast.unparse(node)[:60]} multiplies numbers beyond the largest allowed "
                     f"magnitude {MAX_MAGNITUDE:g}")  # refused before sympy multiplies them
    if name not in ("Add", "Mul"):
        problem = constant_call_problem(name, built)
        if problem:
            raise refuse(f"the constant {ast.unparse(node)[:60]} {problem}")
    return _bounded(STORED_FUNCTIONS[name](*built), node, text)


def _bounded(result: sympy.Expr, node: ast.AST, text: str) -> sympy.Expr:
    """``result``, the sympy form of ``node`` of a stored formula, refused when it is a number
    beyond :data:`MAX_MAGNITUDE` (a product of bounded numbers can exceed it)."""
    size = _log10_size(result)
    if size is not None and size > math.log10(MAX_MAGNITUDE):
        raise ValueError(f"stored formula {text[:120]!r} is not valid: {ast.unparse(node)[:60]} is a "
                         f"number beyond the largest allowed magnitude {MAX_MAGNITUDE:g}")
    return result
