"""The ablation chapters' words (notebooks 07 and 08): each one's conclusion (for 08 the gain at
the validation-chosen lambda, the oracle's beside it), and for 08 how much of a gain one seed
carries, built from the numbers of :mod:`dreg_utils.studies.synthetic_ablation` and
:mod:`dreg_utils.studies.distillation_ablation`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..studies import distillation_ablation, synthetic_ablation
from ..verdicts import TABLE2_MSE_TOLERANCE


def synthetic_conclusion(summary: pd.DataFrame, mse_tolerance: float = TABLE2_MSE_TOLERANCE) -> str:
    """Chapter 07 in one sentence, on :func:`~dreg_utils.studies.synthetic_ablation.closest`'s
    table: the variant nearest the paper's reductions, and which variants come within
    ``NEAR_PAPER_POINTS`` of them at a test MSE at most ``mse_tolerance`` percent worse
    (:func:`~dreg_utils.studies.synthetic_ablation.near_paper`)."""
    top, points = summary.iloc[0], synthetic_ablation.NEAR_PAPER_POINTS
    near = synthetic_ablation.near_paper(summary, mse_tolerance)
    lead = (f"Closest to the paper: {top['factor']} = {top['value']} (mean p90 reduction "
            f"{top['mean_p90_reduction_pct']:.1f}%, {top['mean_gap_to_paper']:.1f} points from the paper's "
            f"per-family numbers on average, test MSE {top['mean_test_mse_change_pct']:+.1f}%). ")
    if near.empty:
        return lead + (f"No variant comes within {points:g} points of the paper's reductions "
                       f"while keeping the test MSE within {mse_tolerance:g}%.")
    names = ", ".join(f"{r.factor} = {r.value}" for r in near.itertuples())
    return lead + f"Within {points:g} points of the paper at a test MSE at most {mse_tolerance:g}% worse: {names}."


def _interval(row: pd.Series) -> str:
    """A gain's 95% interval and number of seeds, e.g. "95% interval -3% to +40% over 3 seeds"."""
    return f"95% interval {row['ci_low']:+.0f}% to {row['ci_high']:+.0f}% over {int(row['seeds'])} seeds"


def _excludes_zero(row: pd.Series) -> str:
    """Whether a gain's interval lies above zero, as the sentence's last words."""
    above = bool(np.isfinite(row["ci_low"]) and row["ci_low"] > 0)
    return "excludes zero." if above else "does not exclude zero."


def _oracle(row: pd.Series) -> str:
    """The oracle's gain beside a validation-chosen one, as a clause."""
    return f"the oracle, best lambda > 0 on test, an upper bound: {row['improvement_pct_oracle']:+.0f}%"


def distillation_conclusion(table: pd.DataFrame, dataset: str = "concrete") -> str:
    """Chapter 08 in one sentence: the variant of :func:`~dreg_utils.studies.distillation_ablation.gains`
    whose validation-chosen gain on ``dataset`` comes closest to the paper's, whether its interval
    excludes zero, and its oracle's gain."""
    top = distillation_ablation.closest(table, dataset)
    if top is None:
        return f"No variant has a gain on {dataset}."
    return (f"On {dataset}, the variant closest to the paper's +{top['paper_improvement_pct']:.0f}% is "
            f"{top['variant']}: {top['improvement_pct']:+.0f}% with lambda chosen on validation ({_interval(top)}; "
            f"lambda = 0 student R2 {top['student_r2_base']:.2f}; {_oracle(top)}); the interval "
            + _excludes_zero(top))


def mean_conclusion(table: pd.DataFrame) -> str:
    """The variant of :func:`~dreg_utils.studies.distillation_ablation.mean_gains` whose mean
    validation-chosen gain over the datasets comes closest to the paper's +120%, whether its
    interval excludes zero, and its oracle's gain."""
    top = distillation_ablation.nearest_paper(table)
    if top is None:
        return "No variant has a gain on every dataset."
    return (f"Averaged over {int(top['datasets'])} dataset(s), the variant closest to the paper's "
            f"+{top['paper_improvement_pct']:.0f}% is {top['variant']}: {top['improvement_pct']:+.0f}% with lambda "
            f"chosen on validation ({_interval(top)}; {_oracle(top)}); the interval " + _excludes_zero(top))


def seed_spread(per_seed: pd.DataFrame) -> str:
    """How much of a mean validation-chosen gain one seed carries (``per_seed``: rows of
    :func:`~dreg_utils.studies.distillation_ablation.seed_gains`): median against mean, and the
    largest seed's gain with its lambda = 0 student R^2 (a relative gain explodes as that R^2 nears 0)."""
    if per_seed.empty:
        return "No seed finished."
    top = per_seed.loc[per_seed["gain"].idxmax()]
    return (f"Over {len(per_seed)} seeds the median gain is {per_seed['gain'].median():+.0f}% against a mean of "
            f"{per_seed['gain'].mean():+.0f}%; the largest, {top['gain']:+.0f}% (seed {int(top['seed'])}), starts "
            f"from a lambda = 0 student R2 of {top['base']:.2f}.")
