"""The synthetic chapters' words (notebooks 01 and 07): the data line of "This run", and chapter
01's Table 1, Table 2 (each verdict beside its interval), stability plateau and comparison with
tuned weight decay as shown, its verdicts, its glued values and its scorecard rows."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..data.synthetic import make_family
from ..studies.synthetic import COLLAPSE_FRACTION
from ..verdicts import DIRECTION_RULE, FAILS, HOLDS, TABLE2_MSE_TOLERANCE, TABLE2_RULE, is_tie
from ..vocabulary import FAMILIES, PAPER_LABELS
from . import scorecard
from .labels import TABLE1_LABELS, show
from .tables import with_interval

CHAPTER = "01_synthetic_families"  # whose labels its tables show
COLLAPSED = "model collapsed to a near-constant"
WEIGHT_DECAY_RULE = (f"A candidate that collapsed to a constant on the validation split (its validation p90 below "
                     f"{COLLAPSE_FRACTION:.0%} of BASE's, or a validation MSE no lower than that of predicting the "
                     "training mean) is ineligible; the seeds where either method has no eligible candidate are left "
                     "out, and a family with none left is inconclusive. Per family: " + DIRECTION_RULE
                     + " (the claimed direction: DREG's test p90 below tuned weight decay's; the 95% t interval over "
                     "seeds of the mean log ratio). Over families: holds when it holds in every family, partly when in "
                     "some, does not hold when it does not hold in some and holds in none, else inconclusive")


def _interval(row: pd.Series, stem: str) -> str:
    """:func:`with_interval` of a row's ``{stem}_pct``, ``{stem}_low`` and ``{stem}_high``."""
    return with_interval(row[f"{stem}_pct"], row[f"{stem}_low"], row[f"{stem}_high"],
                         no_interval="no interval: one pair")


def data_line(families: Sequence[str]) -> str:
    """The families run and the sizes every family shares: "N synthetic families (...);
    train/val/test = a/b/c, d = 10"."""
    sizes = make_family(families[0])  # every family has the same sizes
    return (f"{len(families)} synthetic families ({', '.join(families)}); "
            f"train/val/test = {len(sizes.x_train)}/{len(sizes.x_val)}/{len(sizes.x_test)}, "
            f"d = {sizes.x_train.shape[1]}")


def table1_display(table1: pd.DataFrame, lam: float) -> pd.DataFrame:
    """Table 1 (:func:`dreg_utils.studies.synthetic.table1` at ``lam``) as the page shows it: the
    paper's names of the metrics, and ``lam`` in the labels of its columns."""
    shown = table1.assign(metric=table1["metric"].map(TABLE1_LABELS))
    shown.attrs["labels"] = {"lambda_ref": f"lambda={lam:g}", "paper_lambda_ref": f"paper lambda={lam:g}"}
    return show(shown, CHAPTER)


def plateau_display(plateau: pd.DataFrame) -> pd.DataFrame:
    """The stability plateau (:func:`dreg_utils.studies.synthetic.stability_plateau`) as the page
    shows it: a note in place of the ``collapsed`` flag."""
    note = plateau["collapsed"].map(lambda collapsed: COLLAPSED if collapsed else "")
    return show(plateau.drop(columns="collapsed").assign(note=note), CHAPTER)


def table2_display(table2: pd.DataFrame) -> pd.DataFrame:
    """Table 2 with its verdicts (:func:`dreg_utils.studies.synthetic.table2` joined with
    :func:`~dreg_utils.studies.synthetic.paired_effects`, and ``verdict``) as the page shows it:
    ours paired over seeds with the 95% interval beside the paper's, then the verdict."""
    shown = pd.DataFrame({
        "family": table2["family"], "pairs": table2["pairs"],
        "p90_reduction_interval": table2.apply(_interval, axis=1, stem="p90_reduction_paired"),
        "paper_p90_reduction_pct": table2["paper_p90_reduction_pct"],
        "test_mse_change_interval": table2.apply(_interval, axis=1, stem="test_mse_change_paired"),
        "paper_test_mse_change_pct": table2["paper_test_mse_change_pct"], "verdict": table2["verdict"]})
    shown.attrs["labels"] = {"pairs": "seeds paired",
                             "p90_reduction_interval": "p90 reduction % (ours, paired, 95% CI)",
                             "test_mse_change_interval": "test MSE change % (ours, paired, 95% CI, + = worse)"}
    return show(shown, CHAPTER)


def effects(row: pd.Series) -> str:
    """One family's Table-2 effects (a row of :func:`dreg_utils.studies.synthetic.table2` joined with
    :func:`~dreg_utils.studies.synthetic.paired_effects`), ours paired over seeds with their 95%
    intervals beside the paper's, in the book's signs: p90 reduction (+ = lower), test-MSE change
    (+ = worse)."""
    return (f"p90 reduction {_interval(row, 'p90_reduction_paired')} (paper {row['paper_p90_reduction_pct']:+.1f}%), "
            f"test MSE change {_interval(row, 'test_mse_change_paired')} "
            f"(paper {row['paper_test_mse_change_pct']:+.2f}%; + = worse)")


def p90_monotone_line(summary: pd.DataFrame) -> str:
    """Whether the seed-mean p90 gradient norm (:func:`dreg_utils.studies.synthetic.summarize`'s
    ``grad_p90``, finished groups only) falls monotonically in lambda over the run's grid, checked
    family by family: the families where it never rises from one lambda to the next (ties within
    :func:`~dreg_utils.verdicts.is_tie` are no rise), each other family with its first rise, and in
    how many families the largest lambda's p90 lies below lambda = 0's."""
    steady, rising, lower = [], [], 0
    for family, block in summary[summary["grad_p90"].notna()].groupby("family", sort=False):
        block = block.sort_values("lam")
        lams, p90 = block["lam"].tolist(), block["grad_p90"].tolist()
        rises = [(a, b) for a, b, x, y in zip(lams, lams[1:], p90, p90[1:]) if y > x and not is_tie(x, y)]
        if rises:
            rising.append(f"{family} (from lambda = {rises[0][0]:g} to {rises[0][1]:g})")
        else:
            steady.append(family)
        lower += bool(lams[0] == 0.0 and len(lams) > 1 and p90[-1] < p90[0] and not is_tie(p90[0], p90[-1]))
    n = len(steady) + len(rising)
    return (f"the seed-mean p90 of the gradient norm never rises from one lambda of the grid to the next in "
            f"{len(steady)} of the {n} families ({', '.join(steady) or 'none'}); it rises in "
            f"{', '.join(rising) or 'none'}; at the grid's largest lambda it lies below lambda = 0's in {lower} of "
            f"the {n}")


def scorecard_fields(row: pd.Series, lam: float, profile: str) -> dict[str, str]:
    """The scorecard row of one family's Table-2 row (with its verdict): the p90 reduction, the
    paper's and ours with its 95% interval, the verdict, its rule and the details, signed as the
    chapter's table."""
    return {"paper": f"p90 reduction {row['paper_p90_reduction_pct']:+.1f}%",
            "ours": f"p90 reduction {_interval(row, 'p90_reduction_paired')}" + (
                f"; BASE fits (beats a constant) in {row['base_fits']}/{row['pairs']} seeds"
                if row.get("base_fits", row["pairs"]) < row["pairs"] else ""), "verdict": row["verdict"],
            "rule": TABLE2_RULE,
            "details": f"p90 of the gradient norm and test MSE at lambda = {lam:g} against lambda = 0, each "
                       f"seed against its own lambda = 0 run ({row['pairs']} seeds): {effects(row)}; "
                       f"{profile} profile."}


def verdict_note(table2: pd.DataFrame, summary: pd.DataFrame, lam: float, profile: str) -> str:
    """Markdown: the verdict counts at ``lam``, one bullet per family (:func:`effects`, paired with
    their intervals, and the verdict of :func:`dreg_utils.studies.synthetic.verdict`), and which
    unregularised models do worse than predicting the mean."""
    counts = table2["verdict"].value_counts()
    lines = [f"- **{r.family}**: {effects(r)}: {r.verdict}" for _, r in table2.iterrows()]
    worse_than_mean = summary[(summary["lam"] == 0) & (summary["test_mse"] > 1.0)]["family"].tolist()
    notes = [f"\nThe unregularised model of {', '.join(worse_than_mean)} has a test MSE above 1, the "
             "variance of the standardised target: it does worse than predicting the mean, so a "
             "penalty that flattens it towards a constant improves its MSE."] if worse_than_mean else []
    return (f"At $\\lambda = {lam:g}$ under the `{profile}` profile "
            f"({', '.join(f'{n} {v}' for v, n in counts.items())}):\n\n" + "\n".join(lines + notes))


def glue_verdict(table2: pd.DataFrame, lam: float, profile: str) -> None:
    """Glue, for every family of the paper, the p90 reduction (ours paired, with its interval, and
    the paper's) and the verdict ("not run" for a family this run left out), and its scorecard row
    ``synthetic_FAMILY`` (:func:`scorecard_fields`)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    rows = table2.set_index("family")
    glue("profile", profile, display=False)
    glue("lam_ref", f"{lam:g}", display=False)
    glue("table2_rule", TABLE2_RULE, display=False)
    for family in FAMILIES:
        found = family in rows.index
        glue(f"p90_{family}", _interval(rows.loc[family], "p90_reduction_paired") if found else "not run",
             display=False)
        glue(f"p90_paper_{family}", f"{rows.loc[family, 'paper_p90_reduction_pct']:+.1f}%" if found else "-",
             display=False)
        glue(f"verdict_{family}", rows.loc[family, "verdict"] if found else "not run", display=False)
        if not found:
            scorecard.glue_row(f"synthetic_{family}", "-", "not run", scorecard.NOT_RUN, TABLE2_RULE,
                               f"The {family} family was not run.")
            continue
        scorecard.glue_row(f"synthetic_{family}", **scorecard_fields(rows.loc[family], lam, profile))


def _settings_per_seed(choices: pd.DataFrame, family: str, column: str) -> str:
    """The settings chosen for ``family`` seed by seed ("0.01 0.03 0.01"; "–": no eligible candidate)."""
    return " ".join("–" if pd.isna(v) else f"{v:g}" for v in choices.loc[choices["family"] == family, column])


def _eligibility_note(row: pd.Series) -> str:
    """Where BASE predicts no better than a constant and where no candidate was eligible ("" when neither)."""
    notes = [f"BASE no better than a constant in {row['base_unfit']}/{row['seeds']} seeds"] if row["base_unfit"] else []
    missing = [f"{who} in {row[column]}/{row['seeds']} seeds"
               for who, column in ((PAPER_LABELS["dreg"], "dreg_unchosen"), ("weight decay", "wd_unchosen"))
               if row[column]]
    if missing:
        notes.append("no eligible candidate (every one collapsed or too inaccurate): " + ", ".join(missing))
    return "; ".join(notes)


def weight_decay_display(comparison: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """DREG against tuned weight decay as the page shows it, per family: the settings chosen on
    validation seed by seed, DREG's test p90 reduction and test-MSE change against tuned weight
    decay with their 95% intervals, a note on BASE not fitting and on seeds without an eligible
    candidate (:func:`_eligibility_note`), and the verdict
    (:func:`dreg_utils.studies.synthetic_weight_decay.weight_decay_comparison` of ``choices``)."""
    shown = pd.DataFrame({
        "family": comparison["family"], "pairs": comparison["pairs"],
        "dreg_lambdas": [_settings_per_seed(choices, f, "dreg_setting") for f in comparison["family"]],
        "weight_decays": [_settings_per_seed(choices, f, "wd_setting") for f in comparison["family"]],
        "p90_vs_wd_interval": comparison.apply(_interval, axis=1, stem="p90_reduction_vs_wd"),
        "test_mse_vs_wd_interval": comparison.apply(_interval, axis=1, stem="test_mse_change_vs_wd"),
        "note": comparison.apply(_eligibility_note, axis=1), "verdict": comparison["verdict"]})
    shown.attrs["labels"] = {
        "pairs": "seeds paired", "dreg_lambdas": "DREG's lambda per seed", "weight_decays": "weight decay per seed",
        "p90_vs_wd_interval": "DREG's p90 reduction vs tuned weight decay % (95% CI)",
        "test_mse_vs_wd_interval": "DREG's test MSE change vs tuned weight decay % (95% CI, + = worse)"}
    return show(shown, CHAPTER)


def _tally(comparison: pd.DataFrame) -> str:
    """"p90 lower than tuned weight decay's in k/n families, higher in m/n (95% intervals)"."""
    n = len(comparison)
    lower, higher = (int((comparison["verdict"] == v).sum()) for v in (HOLDS, FAILS))
    return f"p90 lower than tuned weight decay's in {lower}/{n} families, higher in {higher}/{n} (95% intervals)"


def weight_decay_fields(comparison: pd.DataFrame, verdict: str, settings: Mapping, profile: str) -> dict[str, str]:
    """The scorecard row ``synthetic_weight_decay``: from
    :func:`dreg_utils.studies.synthetic_weight_decay.weight_decay_comparison` and its ``verdict`` over families
    (:func:`~dreg_utils.studies.synthetic_weight_decay.weight_decay_verdict`), the tally of the families, the rule,
    and every family's estimate, interval and verdict in the details."""
    families = "; ".join(f"{row['family']} {_interval(row, 'p90_reduction_vs_wd')}: {row['verdict']}"
                         + (f" ({_eligibility_note(row)})" if _eligibility_note(row) else "")
                         for _, row in comparison.iterrows())
    return {"paper": "not in the paper", "ours": _tally(comparison), "verdict": verdict, "rule": WEIGHT_DECAY_RULE,
            "details": (f"Per family and seed, each method's setting chosen on the validation split (the lowest "
                        f"validation p90 among settings that did not collapse to a constant and whose validation MSE "
                        f"is at most {TABLE2_MSE_TOLERANCE:g}% above that of lambda = 0 at weight decay "
                        f"{settings['weight_decay']:g}): DREG's lambda over "
                        f"{', '.join(f'{v:g}' for v in settings['lambdas'])}, the weight decay (lambda = 0) over "
                        f"{', '.join(f'{v:g}' for v in settings['weight_decays'])}; the chosen models compared on the "
                        f"test split seed by seed, each pair sharing initial weights and minibatch order. DREG's "
                        f"test p90 reduction against tuned weight decay (+ = DREG lower): {families}; "
                        f"{profile} profile.")}


def _unfit_sentence(row: pd.Series) -> str:
    """That BASE does not fit ``row``'s family, and what is left of its comparison."""
    left = ("no seed has an eligible candidate for both methods, so the family is inconclusive" if row["pairs"] == 0
            else f"its comparison rests on the {row['pairs']}/{row['seeds']} seeds with an eligible candidate for both")
    return (f"BASE does not fit {row['family']}: its validation MSE is no lower than that of predicting the training "
            f"mean in {row['base_unfit']}/{row['seeds']} seeds; {left}.")


def weight_decay_note(comparison: pd.DataFrame, verdict: str) -> str:
    """Markdown: the tally over families and the verdict, then each family where BASE does not fit."""
    text = (f"DREG's test {_tally(comparison)}: **{verdict}** (holds when lower in every family, partly in "
            f"some; families are not pooled, their effects differ in kind).")
    unfit = [_unfit_sentence(row) for _, row in comparison.iterrows() if row["base_unfit"]]
    return " ".join([text, *unfit])


def glue_weight_decay(comparison: pd.DataFrame, verdict: str, settings: Mapping, profile: str) -> None:
    """Glue the scorecard row ``synthetic_weight_decay`` (:func:`weight_decay_fields`)."""
    scorecard.glue_row("synthetic_weight_decay", **weight_decay_fields(comparison, verdict, settings, profile))
