"""The distillation chapter's words (notebook 04): the paper's headline numbers beside ours with
their verdicts, the students' formulas in LaTeX with Markdown captions, the datasets, the stage
times and recovery table as shown, the cost line and the verdict with its glued values and
scorecard rows."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import sympy

from .. import claims, published
from ..data.regression import RegressionData
from ..studies.distillation_tables import NO_TEACHER, STABLE_BASE
from . import scorecard

TEACHERS = {"on_y": "on y", "lambda_0": "lambda=0"}  # recovery_table's teachers; the others "<method> <lambda>"

# The headline rows each glued value and scorecard row reads, by the start of their claim.
MEAN_ALL, MEAN_STABLE = "mean student", "same, datasets"
TREES, TEACHER = "tree students", "teacher test R2 (lambda=0)"


def headline(table: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """The paper's headline numbers beside ours, each with a verdict from :mod:`dreg_utils.claims`
    ("-" for rows that are no claim of the paper).

    A relative change of an R^2 near zero is meaningless (Diabetes: -0.02 -> 0.14 is
    "+750%"), so the verdicts use the datasets whose lambda = 0 student has
    |R^2| >= ``STABLE_BASE``; the all-dataset means are shown too.
    """
    paper = published.TEACHING_THE_TEACHER
    stable = table["student_r2_base"].abs() >= STABLE_BASE
    kept = table[stable]
    chosen = selection[selection["dataset"].isin(kept["dataset"])]
    top = kept.loc[kept["improvement_pct"].idxmax()] if len(kept) else None
    mean_stable = kept["improvement_pct"].mean()
    rows = [
        {"claim": "mean student R2 improvement, best lambda per dataset (%), all datasets",
         "paper": f"+{paper['mean_improvement_pct']:.0f}", "ours": f"{table['improvement_pct'].mean():+.1f}",
         "verdict": "-"},
        {"claim": f"same, datasets with |R2(lambda=0)| >= {STABLE_BASE} ({len(kept)} of {len(table)})",
         "paper": f"+{paper['mean_improvement_pct']:.0f}", "ours": f"{mean_stable:+.1f}",
         "verdict": claims.half_effect_verdict(mean_stable, paper["mean_improvement_pct"])},
        {"claim": "same, lambda chosen on validation instead of test (%)", "paper": "-",
         "ours": f"{chosen['improvement_pct_validation'].mean():+.1f}", "verdict": "-"},
    ]
    if top is not None:
        rows.append({"claim": "largest improvement (%)",
                     "paper": f"+{paper['max_improvement_pct']:.0f} ({paper['max_dataset']})",
                     "ours": f"{top['improvement_pct']:+.1f} ({top['dataset']})",
                     "verdict": claims.half_effect_verdict(top["improvement_pct"], paper["max_improvement_pct"])})
    concrete = table[table["dataset"] == "concrete"]
    if not concrete.empty:
        ours = concrete["improvement_pct"].iloc[0]
        rows.append({"claim": "improvement on Concrete (%)", "paper": f"+{paper['max_improvement_pct']:.0f}",
                     "ours": f"{ours:+.1f}",
                     "verdict": claims.half_effect_verdict(ours, paper["max_improvement_pct"])})
    tree = kept["tree_improvement_pct"].mean()
    rows.append({"claim": "tree students gain much less than symbolic ones (mean %, same datasets)",
                 "paper": "no gain", "ours": f"tree {tree:+.1f} vs symbolic {mean_stable:+.1f}",
                 "verdict": claims.tree_students_verdict(tree, mean_stable)})
    lo, hi = paper["teacher_r2"]
    for column, which in (("teacher_r2_base", "lambda=0"), ("teacher_r2_best", "best lambda")):
        ours_lo, ours_hi = table[column].min(), table[column].max()
        rows.append({"claim": f"teacher test R2 ({which}), range over datasets",
                     "paper": f"{lo:.2f}-{hi:.2f}", "ours": f"{ours_lo:.2f}-{ours_hi:.2f}",
                     "verdict": claims.teacher_r2_verdict(ours_lo, ours_hi)})
    return pd.DataFrame(rows)


def _latex_name(name: str) -> str:
    """Short names and Greek letters as sympy writes them; long names upright, underscores kept."""
    if len(name) <= 3 or name in ("epsilon",):
        return sympy.latex(sympy.Symbol(name))
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def formula_latex(expr: sympy.Expr) -> str:
    """LaTeX of a formula; a standardised input z_<name> is written with a tilde over its name."""
    names = {s: (r"\tilde{" + _latex_name(s.name[2:]) + "}" if s.name.startswith("z_")
                 else _latex_name(s.name)) for s in expr.free_symbols}
    return sympy.latex(expr, symbol_names=names)


def formula_blocks(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The formulas of :func:`dreg_utils.studies.distillation_tables.formulas` as (Markdown caption,
    LaTeX equation) pairs, the caption naming the teacher ("lambda = 0" or "best lambda = <lam>")."""
    blocks = []
    for _, row in table.iterrows():
        teacher = "lambda = 0" if row["teacher"] == "lambda_0" else f"best lambda = {row['lam']:g}"
        blocks.append((f"**{row['dataset']}**, teacher at {teacher}: length {row['length']}, "
                       f"test R² = {row['test_r2']:.3f}",
                       rf"\hat y = {formula_latex(row['formula'])}"))
        if row["truth"] is not None:
            blocks.append(("in raw units, and the truth:",
                           rf"\hat y = {formula_latex(row['raw_units'])} \qquad "
                           rf"y = {formula_latex(row['truth'])}"))
    return blocks


def datasets_table(datasets: Mapping[str, RegressionData]) -> pd.DataFrame:
    """One row per dataset: its name, size, splits and label noise (:meth:`RegressionData.describe`)."""
    return pd.DataFrame([data.describe() for data in datasets.values()])


def stage_times_display(times: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.distillation_tables.stage_times` as the page shows it: the direct runs'
    method named "none (controls on y)"."""
    return times.assign(method=times["method"].replace({NO_TEACHER: "none (controls on y)"}))


def recovery_display(recovery: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.distillation_tables.recovery_table` as the page shows it: one row per
    teacher ("on y", "lambda=0", "<method> <lambda>"), one column per dataset."""
    shown = recovery.T.rename_axis(index="teacher")
    return shown.rename(index=lambda key: TEACHERS.get(key, " ".join(key.rsplit("_", 1))))


def cost_line(cost: pd.DataFrame) -> str:
    """The exact Jacobian penalty's cost against the unregularised teacher with the fewest outputs,
    beside the paper's factor."""
    exact = cost[cost["method"] == "jacobian"].set_index("outputs")["ratio_to_base"]
    return (f"exact Jacobian penalty: {exact.iloc[0]:.1f}x the unregularised teacher with {exact.index[0]} "
            f"output(s) (paper: about {published.TEACHING_THE_TEACHER['teacher_overhead']:.0f}x)")


def verdict_note(headline: pd.DataFrame, settings) -> str:
    """Markdown: the profile and GP budget, then one bullet per headline row (paper, ours, verdict)."""
    lines = [f"- **{r.claim}**: paper {r.paper}, ours {r.ours}: {r.verdict}" for r in headline.itertuples()]
    return (f"Under the `{settings['profile']}` profile ({len(settings['seeds'])} seed(s), GP "
            f"{settings['population_size']} x {settings['generations']}):\n\n" + "\n".join(lines))


def glue_verdict(headline: pd.DataFrame, profile: str) -> None:
    """Glue the values the chapter's prose pastes (improvements, tree and teacher rows) and the
    scorecard rows ``ttt_improvement``, ``ttt_teacher`` and ``ttt_tree``."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    row = {k: headline[headline["claim"].str.startswith(k)].iloc[0] for k in (MEAN_ALL, MEAN_STABLE, TREES, TEACHER)}
    glue("profile", profile, display=False)
    glue("improvement_all", row[MEAN_ALL].ours + "%", display=False)
    glue("improvement_stable", row[MEAN_STABLE].ours + "%", display=False)
    glue("improvement_verdict", row[MEAN_STABLE].verdict, display=False)
    glue("improvement_paper", row[MEAN_STABLE].paper + "%", display=False)
    for key, prefix in (("tree", TREES), ("teacher", TEACHER)):
        for field in ("paper", "ours", "verdict"):
            glue(f"{key}_{field}", row[prefix][field], display=False)
    for key, prefix, unit in (("ttt_improvement", MEAN_STABLE, "%"), ("ttt_teacher", TEACHER, ""),
                              ("ttt_tree", TREES, "")):
        r = row[prefix]
        scorecard.glue_row(key, paper=r.paper + unit, ours=r.ours + unit, verdict=r.verdict,
                           details=f"{r.claim}: ours {r.ours}{unit}, paper {r.paper}{unit} "
                                   f"(all students: {row[MEAN_ALL].ours}%).")
