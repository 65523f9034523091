"""The statistics chapter's tables of tests (notebook 03): each comparison's tests in one row
(:func:`summary_view`: effect, intervals, the raw p of each test, which test decides and its Holm
p), the name of the deciding test, and p-values as the tables show them (:func:`format_p`,
:func:`p_style`). The tests are those of :mod:`dreg_utils.studies.statistics` and
:mod:`dreg_utils.studies.statistics_synthetic`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from ..claims import SIGN_TESTS
from .labels import show
from .tables import fixed

MAIN_TESTS = ("paired_t", "welch_t", "spearman")  # the test whose effect and CI a summary shows


def format_p(p: float) -> str:
    """A p-value to two significant digits (n/a when missing)."""
    return "n/a" if p is None or math.isnan(p) else f"{p:.2g}"


DECIDING_NAMES = {"sign_test": "sign", "relative_reduction_sign": "sign", "welch_t": "Welch t",
                  "spearman": "Spearman", "paired_t": "t"}


def deciding_name(block: pd.DataFrame) -> str:
    """The name of a comparison's deciding test, with "cannot decide (needs ≥ N pairs)" when no
    outcome on its sample could reach alpha; "none: supporting" or "no test" without one."""
    rows = block[block["role"] == "deciding"]
    if rows.empty:
        return "no test" if (block["role"] == "no test").all() else "none: supporting"
    row = rows.iloc[0]
    name = DECIDING_NAMES.get(row["test"], row["test"])
    if not row.get("decidable", True) and pd.notna(row.get("p_value")):
        needed = row.get("pairs_to_decide", math.nan)
        return f"{name}: cannot decide" + ("" if pd.isna(needed) else f" (needs ≥ {int(needed)} pairs)")
    return name


def summary_view(tests: pd.DataFrame, keys: Sequence[str] = ("claim", "comparison")) -> pd.DataFrame:
    """One row per comparison: n, the main effect (mean difference, difference of means or rho)
    with its CI, the bootstrap CI, d_z, median ratio, the raw p of each test, which test decides
    (the others are supporting; :func:`deciding_name`) and its Holm p (NaN for a test that
    cannot decide: it is not in the family)."""
    rows = []
    for key, block in tests.groupby(list(keys), sort=False):
        by_test = block.set_index("test")

        def get(test: str | None, col: str) -> float:
            return float(by_test.loc[test, col]) if test in by_test.index else math.nan

        main = next((t for t in MAIN_TESTS if t in by_test.index), None)
        sign = next((t for t in SIGN_TESTS if t in by_test.index), "sign_test")
        deciding = next(iter(block.loc[block["role"] == "deciding", "test"]), None)
        row = dict(zip(keys, key))
        row.update({"n": block["n"].max(), "effect": get(main, "effect"), "ci_low": get(main, "ci_low"),
                    "ci_high": get(main, "ci_high"), "bootstrap_low": get("bootstrap_mean_diff", "ci_low"),
                    "bootstrap_high": get("bootstrap_mean_diff", "ci_high"),
                    "d_z": get("cohen_dz", "effect"), "median_ratio": get("median_ratio", "effect"),
                    "p_main": get(main, "p_value"), "p_wilcoxon": get("wilcoxon", "p_value"),
                    "p_sign": get(sign, "p_value"),
                    "deciding_test": deciding_name(block),
                    "holm_deciding": get(deciding, "p_holm")})
        rows.append(row)
    return pd.DataFrame(rows)


def p_style(table: pd.DataFrame) -> Styler:
    """The table with its labels; p-values (columns starting "p ", "Holm" or "smallest") to 2
    significant digits, the rest to 3 decimals."""
    table = show(table, "03_statistical_tests")
    p_columns = [c for c in table.columns if str(c).startswith(("p ", "Holm", "smallest"))]
    return (table.style.format(lambda v: fixed(v, 3) if isinstance(v, float) else v, na_rep="-").format("{:.2g}", subset=p_columns, na_rep="-")
            .hide(axis="index"))
