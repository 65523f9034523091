"""The distillation chapter's words (notebook 04): the paper's headline numbers beside ours, each
verdict from a 95% interval by :mod:`dreg_utils.verdicts` with the interval beside it, where a
distilled student does not beat GP fitted to y, the students' formulas in LaTeX with Markdown
captions, the datasets, the stage times and recovery table as shown, the cost line and the
verdict with its glued values and scorecard rows."""
from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import sympy
from pandas.io.formats.style import Styler

from .. import published
from ..data.regression import RegressionData
from ..studies.distillation import NULL
from ..studies.distillation_tables import NO_TEACHER, STABLE_BASE, interval, over_seeds, stable, teacher_retention
from ..verdicts import (DIRECTION_RULE, FAILS, HOLDS, INTERVAL_RULE, TEACHER_R2_RULE, interval_verdict, is_tie,
                        teacher_r2_verdict, tree_students_verdict)
from . import scorecard
from .tables import with_interval

TEACHERS = {"on_y": "on y", "lambda_0": "lambda=0"}  # recovery_table's teachers; the others "<method> <lambda>"

# The headline's rows, by key: what the prose glues (<key>_paper, <key>_ours, <key>_verdict) and
# the scorecard rows read.
IMPROVEMENT, ALL, ORACLE, ORACLE_NULL = "improvement", "improvement_all", "oracle", "oracle_null"
VALIDATION_NULL = "validation_null"
CONCRETE, GP_ON_Y, TREES, TEACHER = "concrete", "gp_on_y", "tree", "teacher"
NO_VERDICT = "-"  # a row that is no claim of the paper
# The distilled students of each chapter table (column -> words) that gp_on_y_note sets against GP on y.
STUDENTS = {"student_r2_base": "student of the lambda = 0 teacher",
            "student_r2_validation": "student of the validation-chosen teacher"}
ORACLE_STUDENTS = {"student_r2_oracle": "oracle student (lambda chosen on test)"}
BRIDGE_STUDENTS = {"jacobian_student_r2": "student of the Jacobian teacher (validation-chosen lambda)",
                   "dreg_student_r2": "student of the DREG teacher (validation-chosen lambda)"}
CLEAN_STUDENTS = {"student_clean_r2_base": "student of the lambda = 0 teacher (R2 against the clean signal)",
                  "student_clean_r2_validation": "student of the validation-chosen teacher (R2 against the clean "
                                                 "signal)"}


def over_sample(mean: float, low: float, high: float, n: int, unit: str = "%", digits: int = 1,
                over: str = "datasets") -> str:
    """:func:`~dreg_utils.book.tables.with_interval` naming the sample, e.g. "+26.2% (95% CI -35.4%
    to +87.8%, 6 datasets)"; "(no interval: 1 dataset)" when there is none."""
    noun = f"{n} {over.rstrip('s') if n == 1 else over}"
    return with_interval(mean, low, high, unit=unit, digits=digits, sample=noun, no_interval=f"no interval: {noun}")


def _row(key: str, claim: str, paper: str, ours: str, verdict: str = NO_VERDICT, rule: str = "") -> dict:
    return {"key": key, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict, "rule": rule}


def _teacher_units(table: pd.DataFrame, retention: pd.DataFrame) -> tuple[list[tuple[float, float, float]], bool]:
    """The units of the teacher's verdict and whether they are datasets: each dataset with its
    interval over seeds when the run has several seeds, else one unit, the mean drop over
    datasets with its interval over datasets."""
    if len(retention) and retention["seeds"].max() >= 2:
        return list(retention[["teacher_r2_drop", "ci_low", "ci_high"]].itertuples(index=False, name=None)), True
    return [interval(table["teacher_r2_drop"])[:3]], False


def _teacher_row(table: pd.DataFrame, retention: pd.DataFrame) -> dict:
    """The teacher keeps its test R^2 under the penalty (at the validation-chosen lambda)."""
    units, per_dataset = _teacher_units(table, retention)
    drop = table["teacher_r2_drop"]
    ours = "mean drop " + over_sample(*interval(drop), unit="", digits=3)
    if drop.notna().any():
        worst = table.loc[drop.idxmax()]
        ours += (f"; largest: {worst['dataset']} {worst['teacher_r2_base']:.3f} → "
                 f"{worst['teacher_r2_validation']:.3f} at lambda = {worst['lambda_validation']:g}")
    if per_dataset:
        each = [teacher_r2_verdict([unit]) for unit in units]
        ours += f"; kept on {each.count(HOLDS)}, lost on {each.count(FAILS)} of {len(each)} datasets"
    how = "each dataset, its interval over seeds" if per_dataset else "the mean over datasets, its interval"
    lo, hi = published.TEACHING_THE_TEACHER["teacher_r2"]
    return _row(TEACHER, "the teacher keeps its test R2 under the penalty (drop from lambda = 0 to the "
                         f"validation-chosen lambda, R2 points; units: {how})",
                f"R2 {lo:.2f}-{hi:.2f} under the penalty", ours, teacher_r2_verdict(units),
                TEACHER_R2_RULE)


def headline(table: pd.DataFrame, selection: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The paper's headline numbers beside ours (``key``, ``claim``, ``paper``, ``ours``,
    ``verdict``, ``rule``): every lambda chosen on validation, each verdict from a 95% interval
    by :mod:`dreg_utils.verdicts` ("-": a row that is no claim of the paper).

    ``table``: :func:`~dreg_utils.studies.distillation_tables.dataset_table`; ``selection``:
    :func:`~dreg_utils.studies.distillation_tables.lambda_selection`; ``seeds``:
    :func:`~dreg_utils.studies.distillation_tables.seed_table`. Relative gains are judged on the
    datasets whose lambda = 0 student has |R^2| >= ``STABLE_BASE`` (a relative change of an R^2
    near zero is meaningless); their intervals are over datasets (each dataset's mean over seeds).
    The oracle (lambda chosen on test) is shown only as an upper bound, beside its null.
    """
    paper = published.TEACHING_THE_TEACHER
    kept = stable(table)
    picked = selection[selection["dataset"].isin(table.loc[kept, "dataset"])]
    gain = interval(table.loc[kept, "improvement_pct_validation"])
    which = f"datasets with |R2(lambda=0)| >= {STABLE_BASE} ({int(kept.sum())} of {len(table)})"
    students = int(selection["null_students"].max()) if len(selection) else 0
    rows = [
        _row(IMPROVEMENT, f"mean student R2 improvement, lambda chosen on validation (%), {which}",
             f"+{paper['mean_improvement_pct']:.0f}%", over_sample(*gain),
             interval_verdict(*gain[:3], paper_effect=paper["mean_improvement_pct"]), INTERVAL_RULE),
        _row(ALL, "same, all datasets (%)", f"+{paper['mean_improvement_pct']:.0f}%",
             over_sample(*interval(table["improvement_pct_validation"]))),
        _row(ORACLE, f"oracle: lambda chosen on test, an upper bound (%), {which}", "-",
             over_sample(*interval(picked["improvement_pct_oracle"]))),
        _row(ORACLE_NULL, "its null: the same test choice among as many students of the lambda = 0 teacher, GP "
                          "re-seeded, where the penalty can do nothing (%), same datasets", "-",
             f"{over_sample(*interval(picked['null_improvement_pct_oracle']))}, {students} students each"
             if students else "not run"),
        _row(VALIDATION_NULL, "the validation choice among the same re-seeded students: what GP restarts alone "
                              "give (%), same datasets", "-",
             over_sample(*interval(picked["null_improvement_pct_validation"])) if students else "not run"),
    ]
    concrete = seeds[seeds["dataset"] == "concrete"]
    if len(concrete):
        one = over_seeds(concrete, "improvement_pct_validation").iloc[0]
        est = (one["improvement_pct_validation"], one["ci_low"], one["ci_high"])
        rows.append(_row(CONCRETE, "improvement on Concrete, lambda chosen on validation (%)",
                         f"+{paper['max_improvement_pct']:.0f}%",
                         over_sample(*est, int(one["seeds"]), over="seeds"),
                         interval_verdict(*est, paper_effect=paper["max_improvement_pct"]),
                         INTERVAL_RULE))
    rows.append(_row(GP_ON_Y, "validation-chosen student minus GP fitted to y (R2 points), all datasets", "-",
                     over_sample(*interval(table["student_r2_validation"] - table["gp_on_y_r2"]),
                                   unit="", digits=3)))
    both = table[kept & (table["tree_r2_base"].abs() >= STABLE_BASE)]
    difference = interval(both["improvement_pct_validation"] - both["tree_improvement_pct"])
    rows.append(_row(TREES, "tree students profit less than symbolic ones (symbolic minus tree gain, "
                            "% points, each lambda chosen on validation), same datasets",
                     "no gain", f"{over_sample(*difference)}; tree gain alone "
                                f"{over_sample(*interval(both['tree_improvement_pct']))}",
                     tree_students_verdict(*difference[:3]), DIRECTION_RULE))
    rows.append(_teacher_row(table, teacher_retention(seeds)))
    return pd.DataFrame(rows)


def headline_display(headline: pd.DataFrame) -> Styler:
    """The headline as the page shows it: claim, paper, ours (with its interval), verdict."""
    return headline[["claim", "paper", "ours", "verdict"]].style.hide(axis="index")


def _name(row: pd.Series) -> str:
    """A table row's name in a sentence: its dataset, and its noise level when it has one."""
    return row["dataset"] + (f" at noise {row['noise']:g}" if "noise" in row else "")


def gp_on_y_note(table: pd.DataFrame, students: Mapping[str, str], reference: str = "gp_on_y_r2") -> str:
    """Markdown: for each distilled student (column of ``table`` -> its words), the rows where it
    does not beat GP fitted to y (``reference``: its R^2 is not above it; a tie is no win), with
    both R^2, or that it beats GP on y everywhere."""
    lines = []
    for column, words in students.items():
        compared = table[table[column].notna() & table[reference].notna()]
        if compared.empty:
            continue
        losing = [r for _, r in compared.iterrows()
                  if r[column] < r[reference] or is_tie(r[column], r[reference])]
        if losing:
            cases = ", ".join(f"{_name(r)} ({r[column]:.3f} vs {r[reference]:.3f})" for r in losing)
            lines.append(f"- The {words} does **not** beat GP fitted to y on {len(losing)} of {len(compared)}: "
                         f"{cases}.")
        else:
            lines.append(f"- The {words} beats GP fitted to y on all {len(compared)}.")
    return "**Against GP fitted directly to y** (the student without a teacher):\n\n" + "\n".join(lines)


def selection_line(selection: pd.DataFrame) -> str:
    """How often validation picks the oracle's lambda, the test R^2 it leaves, and the mean
    relative improvement of each choice and of the oracle's null over all datasets."""
    hits = int((selection["lambda_validation"] == selection["lambda_oracle"]).sum())
    mean = selection.mean(numeric_only=True)
    null = ("" if math.isnan(mean["null_improvement_pct_oracle"]) else
            f", the oracle's null {mean['null_improvement_pct_oracle']:+.1f}% (validation's null "
            f"{mean['null_improvement_pct_validation']:+.1f}%)")
    return (f"Validation picks the oracle's lambda on {hits} of {len(selection)} datasets; mean test R2 left on "
            f"the table: {mean['gap_to_oracle']:.3f}. Mean relative improvement over all datasets: validation "
            f"{mean['improvement_pct_validation']:+.1f}%, oracle {mean['improvement_pct_oracle']:+.1f}%{null}.")


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
    LaTeX equation) pairs, the caption naming the teacher ("lambda = 0" or "validation lambda = <lam>")."""
    blocks = []
    for _, row in table.iterrows():
        teacher = "lambda = 0" if row["teacher"] == "lambda_0" else f"validation lambda = {row['lam']:g}"
        blocks.append((f"**{row['dataset']}**, teacher at {teacher}: length {row['length']}, "
                       f"test R² = {row['test_r2']:.3f}",
                       rf"\hat y = {formula_latex(row['formula'])}"))
        if row["truth"] is not None:
            blocks.append(("in raw units, and the truth:",
                           rf"\begin{{gathered}} \hat y = {formula_latex(row['raw_units'])} \\ "
                           rf"y = {formula_latex(row['truth'])} \end{{gathered}}"))
    return blocks


def datasets_table(datasets: Mapping[str, RegressionData]) -> pd.DataFrame:
    """One row per dataset: its name, size, splits and label noise (:meth:`RegressionData.describe`)."""
    return pd.DataFrame([data.describe() for data in datasets.values()])


NULL_METHOD = "lambda=0, students re-seeded (null)"  # how the stage times name the null runs


def stage_times_display(times: pd.DataFrame) -> pd.DataFrame:
    """:func:`dreg_utils.studies.distillation_tables.stage_times` as the page shows it: the direct runs'
    method named "none (controls on y)", the null runs' :data:`NULL_METHOD`."""
    method = times["method"].replace({NO_TEACHER: "none (controls on y)"}).where(times["kind"] != NULL, NULL_METHOD)
    return times.assign(method=method)


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


def projection_cost_line(cost: pd.DataFrame) -> str:
    """Per number of outputs k of :func:`dreg_utils.studies.teacher_cost.run_cost`'s table, the
    training time of the exact Jacobian penalty and of the one-projection estimate against the
    unregularised teacher's, as measured (e.g. "k = 1: exact 1.73x, one projection 2.05x")."""
    ratios = cost.set_index(["outputs", "method"])["ratio_to_base"]
    return "; ".join(f"k = {k}: exact {ratios[(k, 'jacobian')]:.2f}x, one projection {ratios[(k, 'jacobian_rp')]:.2f}x"
                     for k in dict.fromkeys(cost["outputs"]))


def verdict_note(headline: pd.DataFrame, settings) -> str:
    """Markdown: the profile and GP budget, one bullet per headline row (paper, ours with its
    interval, verdict), then the rule behind each verdict."""
    lines = [f"- **{r.claim}**: paper {r.paper}, ours {r.ours}: {r.verdict}" for r in headline.itertuples()]
    rules = dict.fromkeys(r.rule for r in headline.itertuples() if r.verdict != NO_VERDICT)
    return (f"Under the `{settings['profile']}` profile ({len(settings['seeds'])} seed(s), GP "
            f"{settings['population_size']} x {settings['generations']}):\n\n" + "\n".join(lines)
            + "\n\nRules: " + "; ".join(f"*{rule}*" for rule in rules) + ".")


def glue_verdict(headline: pd.DataFrame, profile: str) -> None:
    """Glue what the chapter's prose pastes (``profile``, ``stable_base`` and, per headline row key, ``<key>_paper``,
    ``<key>_ours`` and ``<key>_verdict``) and the scorecard rows ``ttt_improvement`` (the
    validation-chosen gain; the oracle and its null in the details), ``ttt_teacher`` and ``ttt_tree``."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    rows = headline.set_index("key")
    glue("profile", profile, display=False)
    glue("stable_base", f"{STABLE_BASE:g}", display=False)
    glue("interval_rule", INTERVAL_RULE, display=False)
    for key, row in rows.iterrows():
        for field in ("paper", "ours", "verdict"):
            glue(f"{key}_{field}", row[field], display=False)
    details = {IMPROVEMENT: (f"{rows.loc[IMPROVEMENT, 'claim']}: ours {rows.loc[IMPROVEMENT, 'ours']}; all datasets "
                             f"{rows.loc[ALL, 'ours']}. The oracle (lambda chosen on test, an upper bound) gives "
                             f"{rows.loc[ORACLE, 'ours']}; its null (the same choice where the penalty does nothing) "
                             f"gives {rows.loc[ORACLE_NULL, 'ours']}, and choosing on validation among those "
                             f"re-seeded students gives {rows.loc[VALIDATION_NULL, 'ours']}."),
               TEACHER: f"{rows.loc[TEACHER, 'claim']}: {rows.loc[TEACHER, 'ours']}.",
               TREES: f"{rows.loc[TREES, 'claim']}: {rows.loc[TREES, 'ours']}."}
    for card, key in (("ttt_improvement", IMPROVEMENT), ("ttt_teacher", TEACHER), ("ttt_tree", TREES)):
        row = rows.loc[key]
        scorecard.glue_row(card, paper=row["paper"], ours=row["ours"], verdict=row["verdict"], rule=row["rule"],
                           details=details[key])


def snr_line(rho: float, p: float, n: int) -> str:
    """The Spearman rank correlation of the SNR proxy and the student's gain over ``n`` datasets,
    or why there is none (rho is undefined when every gain, or every proxy, is the same)."""
    if math.isnan(rho):
        return (f"Spearman rank correlation of SNR proxy and gain over {n} datasets: undefined (the gains, or the "
                "proxies, do not vary).")
    return f"Spearman rank correlation of SNR proxy and gain over {n} datasets: rho = {rho:.2f} (p = {p:.2f})."
