"""The synthetic chapters' words (notebooks 01 and 07): the data line of "This run", and chapter
01's Table 1 and stability plateau as shown, its verdict, its glued values and its scorecard rows."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..data.synthetic import make_family
from ..vocabulary import FAMILIES
from . import scorecard
from .labels import TABLE1_LABELS, show

CHAPTER = "01_synthetic_families"  # whose labels its tables show
COLLAPSED = "model collapsed to a near-constant"


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


def effects(row: pd.Series) -> str:
    """One family's Table-2 effects (a row of :func:`dreg_utils.studies.synthetic.table2`), ours
    beside the paper's, in the book's signs: p90 reduction (+ = lower), test-MSE change (+ = worse)."""
    return (f"p90 reduction {row['p90_reduction_pct']:+.1f}% (paper {row['paper_p90_reduction_pct']:+.1f}%), "
            f"test MSE change {row['test_mse_change_pct']:+.1f}% "
            f"(paper {row['paper_test_mse_change_pct']:+.2f}%; + = worse)")


def scorecard_fields(row: pd.Series, lam: float, profile: str) -> dict[str, str]:
    """The scorecard row of one family's Table-2 row (with its verdict): the p90 reduction, the
    paper's and ours, the verdict and the details, signed as the chapter's table."""
    return {"paper": f"p90 reduction {row['paper_p90_reduction_pct']:+.1f}%",
            "ours": f"p90 reduction {row['p90_reduction_pct']:+.1f}%", "verdict": row["verdict"],
            "details": f"p90 of the gradient norm and test MSE at lambda = {lam:g} against lambda = 0: "
                       f"{effects(row)}; {profile} profile."}


def verdict_note(table2: pd.DataFrame, summary: pd.DataFrame, lam: float, profile: str) -> str:
    """Markdown: the verdict counts at ``lam``, one bullet per family (:func:`effects` and the
    verdict of :func:`dreg_utils.studies.synthetic.verdict`), and which unregularised models do
    worse than predicting the mean."""
    counts = table2["verdict"].value_counts()
    lines = [f"- **{r.family}**: {effects(r)}: {r.verdict}" for _, r in table2.iterrows()]
    worse_than_mean = summary[(summary["lam"] == 0) & (summary["test_mse"] > 1.0)]["family"].tolist()
    notes = [f"\nThe unregularised model of {', '.join(worse_than_mean)} has a test MSE above 1, the "
             "variance of the standardised target: it does worse than predicting the mean, so a "
             "penalty that flattens it towards a constant improves its MSE."] if worse_than_mean else []
    return (f"At $\\lambda = {lam:g}$ under the `{profile}` profile "
            f"({', '.join(f'{n} {v}' for v, n in counts.items())}):\n\n" + "\n".join(lines + notes))


def glue_verdict(table2: pd.DataFrame, lam: float, profile: str) -> None:
    """Glue, for every family of the paper, the p90 reduction (ours and the paper's) and the verdict
    the chapter's prose pastes ("not run" for a family this run left out), and its scorecard row
    ``synthetic_FAMILY`` (:func:`scorecard_fields`)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    rows = table2.set_index("family")
    glue("profile", profile, display=False)
    glue("lam_ref", f"{lam:g}", display=False)
    for family in FAMILIES:
        found = family in rows.index
        glue(f"p90_{family}", f"{rows.loc[family, 'p90_reduction_pct']:+.1f}%" if found else "not run",
             display=False)
        glue(f"p90_paper_{family}", f"{rows.loc[family, 'paper_p90_reduction_pct']:+.1f}%" if found else "-",
             display=False)
        glue(f"verdict_{family}", rows.loc[family, "verdict"] if found else "not run", display=False)
        if not found:
            scorecard.glue_row(f"synthetic_{family}", "-", "not run", scorecard.NOT_RUN,
                               f"The {family} family was not run.")
            continue
        scorecard.glue_row(f"synthetic_{family}", **scorecard_fields(rows.loc[family], lam, profile))
