"""The bounds every formula read from text keeps, checked before sympy computes anything.

sympy computes numbers exactly and at once, so a formula's text could make it work for hours
(``9**9**9``; ``exp(exp(exp(100)))``, which it evaluates with mpmath). A written number or a
power of numbers beyond :data:`MAX_MAGNITUDE`, or an exponent beyond :data:`MAX_EXPONENT`, is
refused (:func:`check_power`: ``x0**(9**9**9)`` is refused without computing ``9**9**9``); so is
a function of a constant whose argument or value (estimated in floating point before sympy
evaluates it) is not a real number within :data:`MAX_MAGNITUDE` (:func:`constant_call_problem`),
and a power whose exponent, once sympy multiplies the exponents of powers of powers
(``(x0**100)**100``), exceeds :data:`MAX_EXPONENT` (:func:`check_exponents`). Both readers of
formulas check them: :mod:`dreg_utils.data.formula` (formulas typed as text) and
:mod:`dreg_utils.data.stored_formula` (formulas stored as ``sympy.srepr`` text).
"""
from __future__ import annotations

import cmath
import math
from collections.abc import Sequence

import sympy

MAX_EXPONENT = 100  # largest |exponent| of a number in a power
MAX_MAGNITUDE = 1e100  # largest |number| in a formula, and |value| of a formula on its ranges
# Each function's value at a complex float: the estimate checked before sympy evaluates a
# function of a constant (constant_call_problem).
_ESTIMATES = {"sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "exp": cmath.exp, "log": cmath.log,
              "sqrt": cmath.sqrt, "abs": abs, "Abs": abs, "tanh": cmath.tanh, "sinh": cmath.sinh,
              "cosh": cmath.cosh, "asin": cmath.asin, "acos": cmath.acos, "atan": cmath.atan}


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
