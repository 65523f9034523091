"""Formulas stored as ``sympy.srepr`` text, read back without evaluating any code.

:func:`read_srepr` reads a formula stored as ``sympy.srepr`` text (the symbolic students of
the distillation study) the way :mod:`dreg_utils.data.formula` reads a typed formula: a fixed
list of sympy constructors, literal numbers and strings, never ``sympify`` or ``eval``, with the
same bounds on numbers, exponents and functions of constants
(:mod:`dreg_utils.data.formula_bounds`); a symbol's name is an identifier (so no LaTeX or HTML
rides in on it).
"""
from __future__ import annotations

import ast
import math
import re

import sympy

from .formula import _NAME, _parse
from .formula_bounds import (MAX_MAGNITUDE, _check_number, _log10_size, check_exponents, check_power,
                             constant_call_problem)

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
