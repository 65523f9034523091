"""Student formulas: gplearn programs as sympy expressions (its protected operators in their plain
forms), in standardised or raw units, rounded for reading, and compared with a known rational
ground truth (structural equality up to a tolerance in every constant). The book writes them in
LaTeX (:func:`dreg_utils.book.distillation_text.formula_latex`)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy
from gplearn.functions import _Function

from .data.regression import RegressionData
from .validation import check_float, check_int


def _near_zero(expr: sympy.Expr) -> bool:
    """Whether ``expr`` is a number with |expr| <= 0.001, where gplearn's protected division and
    inverse stop dividing (e.g. the denominator ``sub(x, x)``)."""
    return bool(expr.is_number and abs(complex(expr)) <= 0.001)


_SYMPY_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: sympy.Integer(1) if _near_zero(b) else a / b, "neg": lambda a: -a,
    "inv": lambda a: sympy.Integer(0) if _near_zero(a) else 1 / a,
    "abs": sympy.Abs, "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
    "log": lambda a: sympy.log(sympy.Abs(a)), "max": sympy.Max, "min": sympy.Min,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
}


def standardized_symbols(names: Sequence[str]) -> tuple[sympy.Symbol, ...]:
    """Symbols z_<name> for the standardised inputs a student sees."""
    return tuple(sympy.Symbol(f"z_{name}", real=True) for name in names)


def raw_symbols(data: RegressionData) -> tuple[sympy.Symbol, ...]:
    """Symbols of the raw inputs, one per feature name: the ground truth's own symbol where
    the truth uses that name (so its assumptions match), else a real symbol."""
    used = {} if data.truth is None else {s.name: s for s in data.truth.free_symbols}
    return tuple(used.get(name, sympy.Symbol(name, real=True)) for name in data.feature_names)


def program_to_sympy(program: list, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """A gplearn program (its prefix list of functions, feature indices and constants) as
    a sympy expression. gplearn's protected operators become their plain forms, except where
    a denominator is a constant of magnitude <= 0.001: there, as in gplearn, ``div`` gives 1 and
    ``inv`` gives 0 (a symbolic denominator that is small only at some inputs keeps the plain form)."""
    stack: list[sympy.Expr] = []
    for node in reversed(program):
        if isinstance(node, _Function):
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(_SYMPY_OPS[node.name](*args))
        elif isinstance(node, (int, np.integer)):
            stack.append(symbols[int(node)])
        else:
            stack.append(sympy.Float(float(node)))
    if len(stack) != 1:
        raise ValueError(f"malformed gplearn program {program!r}")
    return stack[0]


def to_raw_units(expr: sympy.Expr, data: RegressionData) -> sympy.Expr:
    """Undo the standardisation: y = mu_y + sd_y s(z) with z_j = (x_j - mu_j) / sd_j."""
    z = standardized_symbols(data.feature_names)
    x = raw_symbols(data)
    mapping = {zj: (xj - float(m)) / float(sd) for zj, xj, m, sd in zip(z, x, data.x_mean, data.x_std)}
    return data.y_mean + data.y_std * expr.xreplace(mapping)


def _rounded(value: float, digits: int) -> sympy.Number:
    rounded = float(f"{value:.{digits}g}")
    return sympy.Integer(int(rounded)) if rounded.is_integer() else sympy.Float(rounded, digits)


def round_floats(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """Every floating-point constant of ``expr`` rounded to ``digits`` significant digits
    (whole numbers become integers, so 1.0*x prints as x)."""
    check_int("digits", digits, minimum=1)
    return expr.xreplace({f: _rounded(float(f), digits) for f in expr.atoms(sympy.Float)})


def simplify_formula(expr: sympy.Expr, digits: int = 3) -> sympy.Expr:
    """A readable form of a student formula: constants rounded, then ``sympy.simplify``."""
    return round_floats(sympy.simplify(round_floats(expr, digits + 2)), digits)


def _scaled_terms(poly: sympy.Poly, points: np.ndarray) -> dict[tuple, float]:
    """Coefficient x RMS of the monomial over ``points``: each term's size on the data."""
    out = {}
    for monom, coef in poly.terms():
        rms = math.sqrt(float(np.mean(np.prod(points ** np.array(monom), axis=1) ** 2)))
        out[monom] = float(coef) * rms
    return out


def formulas_equal(candidate: sympy.Expr, truth: sympy.Expr, symbols: Sequence[sympy.Symbol],
                   points: np.ndarray, rtol: float = 0.01) -> bool:
    """Whether two rational functions agree structurally, up to ``rtol`` in every constant.

    Both are brought to the canonical form p/q (``sympy.cancel`` over the rationals after
    ``evalf``). Each term is measured by its coefficient times the RMS of its monomial over
    ``points`` (rows of raw inputs); terms below ``rtol`` x the largest term of p (or q) are
    dropped, and both are scaled so the largest term of q is 1. The formulas are equal when
    the remaining monomials coincide and every term differs by at most ``rtol`` (relative to
    the largest term of its polynomial).
    """
    check_float("rtol", rtol, strictly_positive=True)
    points = np.asarray(points, np.float64)
    if not truth.is_rational_function(*symbols):
        raise ValueError(f"formulas_equal needs a rational function of {symbols} as truth, got {truth}")
    if not candidate.is_rational_function(*symbols) or candidate.has(sympy.zoo, sympy.nan, sympy.oo):
        return False  # not a rational function (e.g. a division by zero): not the rational truth
    forms = []
    for expr in (candidate, truth):
        exact = sympy.nsimplify(expr.evalf(), rational=True)
        num, den = sympy.fraction(sympy.cancel(sympy.together(exact)))
        p, q = (_scaled_terms(sympy.Poly(part, *symbols), points) for part in (num, den))
        top = max(q.values(), key=abs)
        p, q = ({m: c / top for m, c in poly.items()} for poly in (p, q))
        forms.append(tuple({m: c for m, c in poly.items() if abs(c) > rtol * max(map(abs, poly.values()))}
                           for poly in (p, q)))
    for mine, theirs in zip(*forms):
        if set(mine) != set(theirs):
            return False
        scale = max(map(abs, theirs.values()))
        if any(abs(mine[m] - theirs[m]) > rtol * scale for m in mine):
            return False
    return True

