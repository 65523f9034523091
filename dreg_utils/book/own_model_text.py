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


def effects(summary: pd.DataFrame, activations: list[str]) -> dict[str, str]:
    """Per activation, what each penalty did relative to no penalty (seed means of
    :func:`dreg_utils.studies.own_model.summarize`): the p99 of the input-gradient norm and the
    test MSE as ratios, e.g. "dreg 0.52x (test MSE 1.10x)"."""
    out = {}
    for activation in activations:
        block = summary[(summary["activation"] == activation) & (summary["method"] != "none")]
        out[activation] = ", ".join(f"{r.method} {r.grad_p99_vs_none:.2f}x (test MSE {r.test_mse_vs_none:.2f}x)"
                                    for r in block.itertuples())
    return out


def effect_note(summary: pd.DataFrame, settings) -> str:
    """Markdown: one bullet per activation of :func:`effects`, then the run's size and profile."""
    lines = [f"* **{a}**: p99 of the input-gradient norm relative to no penalty: {cuts}."
             for a, cuts in effects(summary, settings["activations"]).items()]
    return ("\n".join(lines) + f"\n\nAll at the strengths above, after {settings['epochs']} epochs, "
            f"{len(settings['seeds'])} seed(s); profile `{settings['profile']}`.")


def answer(summary: pd.DataFrame, settings) -> str:
    """The page's answer: one line in the training loop, and one sentence per activation of
    what each penalty did to the p99 of the input-gradient norm and to the test MSE."""
    per_activation = "; ".join(f"with {a}, {cuts}" for a, cuts in effects(summary, settings["activations"]).items())
    return ("One line of the training loop changes (`output, penalty = reg(model, x, y)`). Relative to no penalty, "
            f"the p99 of the input-gradient norm in this run (profile `{settings['profile']}`): {per_activation}.")
