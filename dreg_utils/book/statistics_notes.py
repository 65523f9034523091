"""The statistics chapter's notes (notebook 03): where the tested runs came from
(:func:`inputs_line`), a warning when our paired designs are smaller than the paper's
(:func:`designs_note`), and the closing note that gathers every verdict (:func:`closing_note`).
"""
from __future__ import annotations

import pandas as pd

from ..studies.statistics_inputs import N_RUNS, Mismatch, Origin
from ..studies.statistics_synthetic import SeedStability
from ..verdicts import VERDICTS
from .statistics_synthetic_text import seed_stability_texts
from .statistics_tables import format_p

def mismatch_text(mismatch: Mismatch) -> str:
    """One difference from the profile's grid, e.g. "seed is [0], expected [0, 1]"."""
    if mismatch.column == N_RUNS:
        return f"{mismatch.found} runs, expected {mismatch.expected}"
    if mismatch.found is None:
        return f"no column {mismatch.column!r}"
    return f"{mismatch.column} is {mismatch.found}, expected {mismatch.expected}"


def origin_text(origin: Origin) -> str:
    """Where a tested runs table came from (:class:`~dreg_utils.studies.statistics_inputs.Origin`), e.g.
    "read results/mnist/runs.csv" or "ran the cached sweep because ... does not exist"."""
    problems = "; ".join(mismatch_text(m) for m in origin.mismatches)
    if not origin.ran:
        return f"read {origin.path}" + (f" (not the profile's grid: {problems})" if problems else "")
    reason = f"{origin.path} holds another grid ({problems})" if problems else f"{origin.path} does not exist"
    return f"ran the cached sweep because {reason}"


def inputs_line(inputs) -> str:
    """Where the tested runs came from (a :class:`~dreg_utils.studies.statistics_inputs.Inputs`):
    the MNIST data and sizes, and the origin of each table (:func:`origin_text`)."""
    runs = inputs.mnist
    return (f"MNIST runs ({runs['dataset'].iloc[0]} from {runs['data_source'].iloc[0].split(';')[0]}, "
            f"{int(runs['n_train'].iloc[0]):,} train / {int(runs['n_test'].iloc[0]):,} test images), "
            f"{origin_text(inputs.mnist_origin)}; synthetic runs, {origin_text(inputs.synthetic_origin)}")


def designs_note(designs: pd.DataFrame, profile: str) -> str | None:
    """Markdown warning when our paired designs have fewer pairs than the paper's (None when not)."""
    small = designs[designs["pairs_ours"] < designs["pairs_paper"]]
    if small.empty:
        return None
    return (f"**Fewer pairs than the paper** under the `{profile}` profile: "
            + ", ".join(f"{d['design']} {d['pairs_ours']} instead of {d['pairs_paper']}"
                        for d in small.to_dict("records"))
            + ". Tests that cannot reach $p < \\alpha$ with so few pairs make their claim "
              "*inconclusive*, whatever the data say.")


def closing_note(verdicts: pd.DataFrame, readings: pd.DataFrame, designs: pd.DataFrame,
                 stability: SeedStability | None = None, confidence: float = 0.95) -> str:
    """Markdown: one bullet per claim (the verdict after Holm, the scorecard's, and on raw p-values;
    each part's interval and status, ours, the paper's, sample-size note), the tallies, a warning when our designs have fewer pairs than the
    paper's, the synthetic readings (each pooled one with the families' estimates beside it) and
    the seed-stability verdict with its interval."""
    lines = []
    for r in verdicts.to_dict("records"):
        note = f" *Sample size:* {r['sample_size']}." if r["sample_size"] else ""
        lines.append(f"- **Claim {r['claim']}**: {r['claim_text']} → **{r['verdict_holm']}** after Holm "
                     f"(on raw p-values, the paper's rule: {r['verdict']}). *Parts:* {r['parts']}. "
                     f"*Ours:* {r['ours']}. *Paper:* {r['paper']}.{note}")
    for column, what in (("verdict_holm", "after Holm (the scorecard's)"), ("verdict", "on raw p-values")):
        tally = verdicts[column].value_counts()
        lines.append(("\n" if column == "verdict_holm" else "") + f"Tally {what}: "
                     + ", ".join(f"{v} {tally.get(v, 0)}" for v in VERDICTS) + ".")
    short = designs[designs["pairs_ours"] < designs["pairs_paper"]].to_dict("records")
    if short:
        lines.append("These designs are smaller than the paper's ("
                     + ", ".join(f"{d['design']}: {d['pairs_ours']} pairs, paper {d['pairs_paper']}"
                                 for d in short)
                     + "), so these verdicts say little about the claims themselves.")
    if len(readings):
        lines.append("\nSynthetic families, DREG against λ = 0 (each reading pooled over families, the "
                     "families' own estimates beside it):\n")
        for comparison, block in readings.groupby("comparison", sort=False):
            pooled, families = block.iloc[0], block.iloc[1:]
            detail = ("" if pd.isna(pooled.get("median_ratio")) else
                      f": change {pooled['change']}, median ratio {pooled['median_ratio']:.3f}, lower in "
                      f"{pooled['lower_with_dreg']} pairs ({pooled['deciding_test']} decides; sign p = "
                      f"{format_p(pooled['p_sign'])}, Wilcoxon p = {format_p(pooled['p_wilcoxon'])}, "
                      f"t p = {format_p(pooled['p_t'])})")
            each = "; ".join(f"{f.scope} {f.change}" for f in families.itertuples() if isinstance(f.change, str))
            lines.append(f"- {comparison}, {pooled['scope']}: **{pooled['reading']}**{detail}."
                         + (f" Per family: {each}." if each else ""))
    if stability is not None:
        lines.append(f"- Seed stability (the paper: derivative control makes retraining more repeatable): "
                     f"**{stability.verdict}**. {seed_stability_texts(stability, confidence)[1]}")
    return "\n".join(lines)
