"""The formula language's bounds, formulas checked on their ranges where settings are built, and
stored student formulas read back without running any text."""
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy
from gplearn._program import _Program
from gplearn.functions import _function_map

from dreg_utils import formulas
from dreg_utils import symbolic_regression as symbolic
from dreg_utils.data.formula import parse_formula, parse_formula_spec, range_points
from dreg_utils.data.formula_bounds import MAX_EXPONENT
from dreg_utils.data.stored_formula import is_srepr, read_srepr
from dreg_utils.studies.distillation import DistillationSettings


# ------------------------------------------------------------------ bounded numbers

def test_a_huge_power_is_refused_before_it_is_computed():
    """Reproduction: ``x0**(9**9**9)`` made sympy compute 9**387420489 (a 370-million-digit
    integer). Run in a child process, so that the old behaviour fails the test by its timeout."""
    code = ("from dreg_utils.data.formula import parse_formula\n"
            "try:\n    parse_formula('x0**(9**9**9)', ['x0'])\nexcept ValueError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == ("formula='x0**(9**9**9)' raises to the power 387420489, beyond the "
                                   f"largest allowed |exponent| {MAX_EXPONENT}")


@pytest.mark.parametrize("text, message", [
    ("x0**101", r"raises to the power 101, beyond the largest allowed \|exponent\| 100"),
    ("x0**-101.5", r"raises to the power -101.5"),
    ("(9**99)**99 * x0", r"computes \d+\*\*99, beyond the largest allowed magnitude 1e\+100"),
    ("((10**50)**2)**2 * x0", r"computes \d+\*\*2, beyond the largest allowed magnitude"),
    ("1e999 * x0", r"writes the number inf, beyond the largest allowed magnitude 1e\+100"),
    ("1" + "0" * 101 + " * x0", r"writes a 102-digit integer, beyond the largest allowed magnitude"),
    ("9" * 4000 + " * x0", r"writes a 4000-digit integer"),
    ("(" * 1000 + "x0" + ")" * 1000, r"is not a valid expression: too many nested parentheses"),
    ("-" * 100000 + "x0", r"is too large or nested too deeply"),
    ("+".join(["x0"] * 100000), r"is too large or nested too deeply"),
])
def test_numbers_beyond_the_bounds_are_refused(text, message):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        parse_formula(text, ["x0"])
    assert time.perf_counter() - start < 1.0


CHILD = """
import signal, sys
from dreg_utils.data.formula import parse_formula_spec
from dreg_utils.data.stored_formula import read_srepr
def stop(*_):
    raise SystemExit("TIMEOUT: still computing after 10 s")
signal.signal(signal.SIGALRM, stop)
signal.alarm(10)
for read, text in ((read_srepr, sys.argv[1]), (parse_formula_spec, sys.argv[2])):
    try:
        read(text)
        print("ACCEPTED")
    except ValueError as error:
        print(error)
"""


def test_a_function_of_a_huge_constant_is_refused_before_sympy_evaluates_it():
    """Reproductions: reading this stored formula ran > 200 s (sympy evaluated tan of
    cosh(1.6e16) with mpmath while building it), and checking this spec hung in lambdify.
    Run in a child process stopped after 10 s, so that the old behaviour fails the test."""
    stored = "Add(Symbol('z_x0'), atan(tan(cosh(tan(acos(Float('1e-300')))))))"
    spec = "x0 + exp(exp(exp(100))); x0 in [0,1]"
    done = subprocess.run([sys.executable, "-c", CHILD, stored, spec], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.splitlines() == [
        f"stored formula {stored!r} is not valid: the constant cosh(tan(acos(Float('1e-300')))) is not a "
        "real number within +-1e+100 (its argument or its value)",
        "formula='x0 + exp(exp(exp(100)))': the constant exp(exp(100)) is not a real number within "
        "+-1e+100 (its argument or its value)"], done.stderr[-2000:]


@pytest.mark.parametrize("text, message", [
    ("x0 + exp(1e100)", r"the constant exp\(1e\+100\) is not a real number within \+-1e\+100"),
    ("x0 * cosh(tan(acos(1e-300)))", r"the constant cosh\(tan\(acos\(1e-300\)\)\)"),
    ("x0 + acos(2)", r"the constant acos\(2\) is not a real number"),
    ("x0 + log(0)", r"the constant log\(0\) is not a real number"),
    ("x0/0", r"formula='x0/0' is not finite: 'x0 / 0' is zoo\*x0 \(a division by zero or an infinite value\)"),
    ("x0 + 1/0", r"formula='x0 \+ 1/0' is not finite: '1 / 0' is zoo"),
    ("(x0**100)**100", r"raises to the power 10000 \(powers of powers multiply their exponents\), beyond "
                       r"the largest allowed \|exponent\| 100"),
    ("x0**100 * x0**100", r"raises to the power 200 \(powers of powers"),
    ("10**100 * 10**100 * x0", r"computes 10 \*\* 100 \* 10 \*\* 100, beyond the largest allowed magnitude"),
])
def test_constants_infinities_and_powers_of_powers_are_bounded(text, message):
    """Reproductions: ``x0/0`` raised a bare KeyError 'ComplexInfinity' from the printer;
    ``(x0**100)**100`` passed the per-power bound as x0**10000."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        parse_formula_spec(f"{text}; x0 in [0, 1]")
    assert time.perf_counter() - start < 1.0


def test_bounded_functions_of_constants_are_kept():
    expr, (x0,) = parse_formula("x0 * exp(sin(1)) + sin(pi/4) + tan(1) + sqrt(2)", ["x0"])
    assert float(expr.subs(x0, 1)) == pytest.approx(math.exp(math.sin(1)) + math.sin(math.pi / 4) + math.tan(1)
                                                    + math.sqrt(2))


@pytest.mark.parametrize("text", ["x0**100", "x0**-2.5", "2**64 * x0", "10**100 * x0", "1e100 * x0",
                                  "x0**(1/2) + pi**3"])
def test_numbers_within_the_bounds_are_kept(text):
    expr, (x0,) = parse_formula(text, ["x0"])
    assert expr.subs(x0, 1).is_finite


# ------------------------------------------------------------------ checked on the ranges

def test_range_points_hold_the_ends_the_middle_and_random_points():
    points = range_points({"a": (-1.0, 1.0), "b": (0.0, 3.0)})
    assert points.shape[1] == 2 and len(points) > 1024
    for column, (low, high) in zip(points.T, [(-1.0, 1.0), (0.0, 3.0)]):
        assert column.min() == low and column.max() == high and (low + high) / 2 in column
        assert ((column >= low) & (column <= high)).all()
    many = range_points({f"x{i}": (0.0, 1.0) for i in range(14)})
    assert (many.min(axis=0) == 0).all() and (many.max(axis=0) == 1).all()


@pytest.mark.parametrize("spec, message", [
    ("log(x0); x0 in [-1, 1]", r"formula 'log\(x0\)' is not finite and real on x0 in \[-1, 1\] "
                               r"\(at x0 = -1 it is nan\); narrow the ranges or change the formula"),
    ("1/x0; x0 in [-1, 1]",
     r"formula '1/x0' is not finite and real on x0 in \[-1, 1\] \(at x0 = 0 it is inf\)"),
    ("sqrt(x0 - x1); x0 in [0, 1]; x1 in [0, 2]", r"not finite and real on x0 in \[0, 1\]; x1 in \[0, 2\]"),
    ("exp(exp(x0)); x0 in [0, 10]", r"exceeds 1e\+100 in magnitude on x0 in \[0, 10\]"),
    ("asin(x0); x0 in [0, 2]", r"not finite and real"),
])
def test_a_formula_not_finite_on_its_range_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_formula_spec(spec)


def test_the_settings_refuse_such_a_formula_before_any_run():
    """Reproduction: ``log(x0); x0 in [-1, 1]`` passed the settings check and failed mid-sweep,
    after other runs had trained."""
    with pytest.raises(ValueError, match=r"datasets\[1\]='log\(x0\); x0 in \[-1, 1\]' is not valid; .*"
                                         r"formula 'log\(x0\)' is not finite and real on x0 in \[-1, 1\]"):
        DistillationSettings.from_profile("smoke", datasets=["concrete", "log(x0); x0 in [-1, 1]"])
    with pytest.raises(ValueError, match=r"noise_datasets\[0\]=.*raises to the power 387420489"):
        DistillationSettings.from_profile("smoke", noise_datasets=["x0**(9**9**9); x0 in [0, 1]"])
    assert DistillationSettings.from_profile("smoke", datasets=["log(x0); x0 in [0.5, 2]"])


# ------------------------------------------------------------------ stored formulas

def _random_programs(n: int, seed: int = 0) -> list[list]:
    """Random gplearn programs over four inputs using every function a student may use."""
    functions = [_function_map[name] for name in symbolic.GP_FUNCTIONS]
    rng = np.random.RandomState(seed)
    return [_Program(function_set=functions, arities={1: [f for f in functions if f.arity == 1],
                                                       2: [f for f in functions if f.arity == 2]},
                     init_depth=(2, 6), init_method="half and half", n_features=4,
                     const_range=(-1.0, 1.0), metric=None, p_point_replace=0.05, parsimony_coefficient=0.0,
                     random_state=rng).program for _ in range(n)]


def test_every_student_formula_reads_back_as_it_was_stored():
    symbols = formulas.standardized_symbols(["a", "b", "c", "d"])
    texts = [sympy.srepr(formulas.program_to_sympy(program, symbols)) for program in _random_programs(300)]
    texts += [sympy.srepr(e) for e in (sympy.zoo, sympy.nan, -sympy.oo, sympy.Rational(-3, 7) * symbols[0] ** 3,
                                       sympy.sqrt(2) * symbols[1], sympy.Symbol("k", positive=True),
                                       sympy.cos(1) * symbols[0], sympy.Max(sympy.sin(1), sympy.cos(1)) + symbols[2],
                                       sympy.tan(sympy.sin(1)) * symbols[3])]  # functions of constants (X0/X0 = 1)
    for text in texts:
        # the reference: what sympify, the old reader, built from the same (self-made) text
        assert sympy.srepr(read_srepr(text)) == sympy.srepr(sympy.sympify(text)) and is_srepr(text)


@pytest.mark.parametrize("text, message", [
    (sympy.srepr(sympy.Symbol("z_}\\href{javascript:alert(1)}{x")), "Symbol takes one name, an identifier"),
    ("Symbol('</script><script>alert(1)</script>')", "Symbol takes one name, an identifier"),
    ("Pow(Pow(Symbol('x'), Integer(100)), Integer(100))", r"raises to the power 10000 \(powers of powers"),
    ("Mul(Pow(Symbol('x'), Integer(100)), Pow(Symbol('x'), Integer(100)))", r"raises to the power 200"),
    ("Mul(" + ", ".join(["Pow(Integer(10), Integer(100))"] * 2000) + ")", "multiplies numbers beyond"),
    ("Abs(Pow(acos(asin(cosh(Integer(7)))), Float('-0.5')))", r"the constant asin\(cosh\(Integer\(7\)\)\)"),
    ("Max(log(Float('0.5', precision=53)), Min(cosh(log(asin(-pi)))))", r"the constant asin\(-pi\) is not a real number"),
    ("Max(I, Integer(1))", r"the constant Max\(I, Integer\(1\)\) is not a real number"),
])
def test_a_stored_formula_is_bounded_and_names_only_identifiers(text, message):
    """Reproductions: a symbol name put active LaTeX (\\href) into the book page through
    formula_latex; a power of a power read back as x**10000; building these took seconds to
    minutes (sympy comparing or taking Abs of complex constants)."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        read_srepr(text)
    assert time.perf_counter() - start < 2.0 and not is_srepr(text)


@pytest.mark.parametrize("text", [
    "lambdify.__globals__['__builtins__']['__import__']('os').system('touch X')",
    "__import__('os').system('touch X')",
    "Symbol('x').__class__",
    "Add(Symbol('x'), eval('1'))",
    "Function('f')(Symbol('x'))",
    "Symbol('x', **{'real': True})",
    "Symbol('x', real='yes')",
    "Float('1e5; import os')",
    "Integer(1.5)",
    "Rational(1, 0)",
    "Integer(10**200)",
    "Pow(Symbol('x'), Symbol('y'))",
    "Pow(Symbol('x'), Integer(101))",
    "Pow(Integer(9), Pow(Integer(9), Integer(9)))",
    "Pow(Pow(Integer(10), Integer(100)), Integer(2))",
    "sin(Symbol('x'), Symbol('y'))",
    "Add()",
    "x",
    "",
    42,
])
def test_anything_but_a_stored_formula_is_refused(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not is_srepr(text)
    with pytest.raises(ValueError):
        read_srepr(text)
    assert not (tmp_path / "X").exists()
