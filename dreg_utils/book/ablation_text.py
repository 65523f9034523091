"""The ablation chapters' words (notebooks 07 and 08): each one's conclusion, which counts the
variants by the verdict of the interval rule and names every one (none is picked by its result),
for 07 the base protocol's reductions, and for 08 how much of each variant's gain one seed
carries and the gains table as the page shows it, built from the numbers of
:mod:`dreg_utils.studies.synthetic_ablation` and :mod:`dreg_utils.studies.distillation_ablation`."""
from __future__ import annotations

import pandas as pd

from ..verdicts import HOLDS, INTERVAL_RULE, TABLE2_MSE_TOLERANCE, VERDICTS, interval_verdict
from .tables import with_interval

FEW_SEEDS = "no interval: fewer than two seeds"
RULE_NOTE = f"*Rule (each verdict, against the paper's effect):* {INTERVAL_RULE}."


def _names(rows: pd.DataFrame) -> str:
    """The protocols of :func:`~dreg_utils.studies.synthetic_ablation.by_protocol`'s rows, e.g.
    "base = -, lam = 0.1" ("none" when there are none)."""
    return ", ".join(f"{r.factor} = {r.value}" for r in rows.itertuples()) or "none"


def _protocol_groups(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of :func:`~dreg_utils.studies.synthetic_ablation.by_protocol`'s table that lower the
    p90 with an interval above zero in every family (``above``), hold by the interval rule in every
    family (``holds``) and in some but not all (``some``), keep the test-MSE change negligible in
    every family (``negligible``), and both hold and keep it (``both``)."""
    every = summary["families"]
    holds, negligible = summary[summary["p90_holds"] == every], summary[summary["mse_negligible"] == every]
    return {"above": summary[summary["p90_above_zero"] == every], "holds": holds,
            "some": summary[(summary["p90_holds"] > 0) & (summary["p90_holds"] < every)],
            "negligible": negligible, "both": holds[holds.index.isin(negligible.index)]}


def synthetic_conclusion(summary: pd.DataFrame, mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """Chapter 07 in a few sentences, on :func:`~dreg_utils.studies.synthetic_ablation.by_protocol`'s
    table (every protocol, none picked by its result): how many protocols lower the p90 with an
    interval above zero in every family, how many hold by the interval rule in every family and in
    some, how many keep the test-MSE change's interval at most ``mse_tolerance`` percent in every
    family, and which do both."""
    if summary.empty:
        return "No protocol was run."
    g = _protocol_groups(summary)
    return (f"Of the {len(summary)} protocols (our base and one change each, every one shown), "
            f"{len(g['above'])} lower the p90 with a 95% interval above zero in every family ({_names(g['above'])}); "
            f"by the interval rule against the paper's reductions, {len(g['holds'])} hold in every family "
            f"({_names(g['holds'])}) and {len(g['some'])} in some but not all ({_names(g['some'])}). "
            f"{len(g['negligible'])} keep the 95% interval of the test-MSE change at or below +{mse_tolerance:g}% in "
            f"every family; both hold and keep it: {_names(g['both'])}.")


def synthetic_answer(summary: pd.DataFrame, mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """Chapter 07's answer, short enough for the first screen: of :func:`synthetic_conclusion`'s
    counts, how many protocols lower the p90 in every family, which hold by the interval rule in
    every family, and which also keep the test-MSE change within ``mse_tolerance`` percent."""
    if summary.empty:
        return "No protocol was run."
    g = _protocol_groups(summary)
    return (f"Of the {len(summary)} protocols, {len(g['above'])} lower the p90 (95% interval above zero) in every "
            f"family; {len(g['holds'])} reach half the paper's reduction in every family ({_names(g['holds'])}), "
            f"and of those {len(g['both'])} also keep the test-MSE change within +{mse_tolerance:g}% "
            f"({_names(g['both'])}).")


def base_line(table: pd.DataFrame) -> str:
    """The base protocol's p90 reductions (:func:`~dreg_utils.studies.synthetic_ablation.reductions`'
    rows with factor "base"): per family its estimate with its 95% interval and its verdict against
    the paper's, and how many families hold."""
    base = table[table["factor"] == "base"]
    if base.empty:
        return "The base protocol was not run."
    cells = "; ".join(f"{r.family} {with_interval(r.per_seed_p90_reduction_pct, r.ci_low, r.ci_high)}, "
                      f"paper {r.paper_p90_reduction_pct:g}%: {r.verdict}" for r in base.itertuples())
    holding = int((base["verdict"] == HOLDS).sum())
    return (f"at our base protocol the p90 reduction holds by the interval rule in {holding} of the {len(base)} "
            f"families run ({cells})")


def reductions_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~dreg_utils.studies.synthetic_ablation.reductions` with each mean and its 95% interval in
    one cell: the p90 reduction (``p90_with_interval``) and the test-MSE change (``mse_with_interval``)."""
    return table.assign(
        p90_with_interval=[with_interval(r.per_seed_p90_reduction_pct, r.ci_low, r.ci_high, no_interval=FEW_SEEDS)
                           for r in table.itertuples()],
        mse_with_interval=[with_interval(r.per_seed_test_mse_change_pct, r.mse_ci_low, r.mse_ci_high,
                                         no_interval=FEW_SEEDS) for r in table.itertuples()])


def _verdict_counts(table: pd.DataFrame) -> str:
    """How many rows of ``table`` have each verdict, e.g. "0 hold, 1 partly, 0 do not hold, 3 inconclusive"."""
    words = {"holds": "hold", "partly": "partly", "does not hold": "do not hold", "inconclusive": "inconclusive"}
    return ", ".join(f"{int((table['verdict'] == v).sum())} {words[v]}" for v in VERDICTS)


def _every_gain(table: pd.DataFrame) -> str:
    """Each row's variant, gain with its 95% interval and number of seeds, and verdict."""
    return "; ".join(f"{r.variant} " + with_interval(r.improvement_pct, r.ci_low, r.ci_high, digits=0,
                                                     sample=f"{r.seeds} seeds", no_interval=FEW_SEEDS)
                     + f": {r.verdict}" for r in table.itertuples())


def _counts(table: pd.DataFrame) -> str:
    """How many rows' gain has a 95% interval above zero, and the verdicts counted."""
    above = sum(interval_verdict(r.improvement_pct, r.ci_low, r.ci_high) == HOLDS for r in table.itertuples())
    return (f"{above} of the {len(table)} variants have a gain whose 95% interval lies above zero; by the interval "
            f"rule against the paper's +{table['paper_improvement_pct'].iloc[0]:.0f}%, {_verdict_counts(table)}")


def gains_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~dreg_utils.studies.distillation_ablation.gains` with the validation-chosen gain and its
    95% interval in one cell (``improvement_with_interval``, e.g. "+4.8% (95% CI -3.3% to +12.1%)")."""
    return table.assign(improvement_with_interval=[
        with_interval(r.improvement_pct, r.ci_low, r.ci_high, no_interval=FEW_SEEDS)
        for r in table.itertuples()])


def distillation_conclusion(table: pd.DataFrame, dataset: str = "concrete") -> str:
    """Chapter 08 on ``dataset``, every variant of :func:`~dreg_utils.studies.distillation_ablation.gains`
    (none picked by its result): how many have a validation-chosen gain whose interval lies above
    zero, the verdicts counted, then each variant's gain with its interval and verdict."""
    block = table[table["dataset"] == dataset]
    if block["improvement_pct"].notna().sum() == 0:
        return f"No variant has a gain on {dataset}."
    return f"On {dataset}, with lambda chosen on validation, {_counts(block)}: {_every_gain(block)}."


def mean_conclusion(table: pd.DataFrame) -> str:
    """The same for :func:`~dreg_utils.studies.distillation_ablation.mean_gains` (the gain averaged
    over the datasets, against the paper's mean +120%)."""
    if table["improvement_pct"].notna().sum() == 0:
        return "No variant has a gain on every dataset."
    return (f"Averaged over {int(table['datasets'].iloc[0])} dataset(s), with lambda chosen on validation, "
            f"{_counts(table)}: {_every_gain(table)}.")


def seed_spread(per_seed: pd.DataFrame) -> str:
    """How much of each variant's mean validation-chosen gain one seed carries (``per_seed``: rows of
    :func:`~dreg_utils.studies.distillation_ablation.seed_gains` with a ``variant`` column, every
    variant of the run): per variant the median gain against the mean, and the largest seed's gain
    with its lambda = 0 student R^2 (a relative gain explodes as that R^2 nears 0)."""
    if per_seed.empty:
        return "No seed finished."
    clauses = []
    for variant, block in per_seed.groupby("variant", sort=False):
        top = block.loc[block["gain"].idxmax()]
        clauses.append(f"{variant}: over {len(block)} seeds median {block['gain'].median():+.0f}% against a mean "
                       f"of {block['gain'].mean():+.0f}%, the largest {top['gain']:+.0f}% (seed {int(top['seed'])}) "
                       f"from a lambda = 0 student R2 of {top['base']:.2f}")
    return "Seed by seed: " + "; ".join(clauses) + "."
