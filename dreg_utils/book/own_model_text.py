"""The words of the "Use it in your own model" chapter (notebook 09): the table of penalty
conventions as the page shows it."""
from __future__ import annotations

import pandas as pd

# Per convention of :func:`dreg_utils.studies.own_model.conventions`: its name and its definition.
CONVENTIONS = {"jacobian": ("ours: Jacobian penalty", "E_b ||J||_F^2 (exact)"),
               "jacobianreg": ("JacobianReg", "(1/2) E_b k ||v^T J||^2, {projections} sphere projection(s)"),
               "dreg": ("ours: CR-penalty (DREG)", "(1/L) sum_l E_b d_l(x), eq. 5")}


def conventions_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.own_model.conventions` as the page shows it: each convention's
    name, definition, value and the lambda that gives the same objective as ours."""
    rows = []
    for r in table.itertuples(index=False):
        name, definition = CONVENTIONS[r.convention]
        rows.append({"convention": name, "definition": definition.format(projections=r.projections),
                     "value": r.value,
                     "same objective with": "lambda" if r.lambda_factor == 1 else f"{r.lambda_factor:g} x lambda"})
    return pd.DataFrame(rows, columns=["convention", "definition", "value", "same objective with"])
