"""Teaching the Teacher's verdicts without optimism (chapter 04): lambda chosen on validation, the
test-chosen oracle beside its null, every verdict from a 95% interval, GP fitted to y beside every
student, and the teacher's accuracy under the penalty. Run tables are built by hand, so every
answer is known."""
import math

import myst_nb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dreg_utils.book import distillation_text as text
from dreg_utils.studies import distillation as study
from dreg_utils.studies import distillation_tables as tables
from dreg_utils.studies.distillation import DistillationSettings
from dreg_utils.verdicts import (DIRECTION_RULE, INTERVAL_RULE, TEACHER_R2_RULE, TEACHER_R2_TOLERANCE, interval_verdict,
                                 teacher_r2_verdict, tree_students_verdict)

LAMBDAS = (0.0, 0.1, 0.5)


def runs_table(datasets: dict, null: dict | None = None, gp_on_y: float = 0.3) -> pd.DataFrame:
    """Runs of the distillation study: ``datasets`` maps a dataset to one list per seed of
    (val R^2, test R^2, teacher test R^2) per lambda of LAMBDAS; ``null`` maps a dataset to one
    list per seed of (val R^2, test R^2) per null replica."""
    rows = []
    for dataset, seeds in datasets.items():
        for seed, students in enumerate(seeds):
            rows.append({"kind": "direct", "dataset": dataset, "noise": np.nan, "seed": seed, "method": np.nan,
                         "lam": np.nan, "gp_val_r2": gp_on_y, "gp_test_r2": gp_on_y, "tree_val_r2": 0.5,
                         "tree_test_r2": 0.5, "boost_test_r2": 0.9, "snr_proxy": 3.0, "diverged": False})
            for lam, (val, test, teacher) in zip(LAMBDAS, students):
                rows.append({"kind": "distill", "dataset": dataset, "noise": np.nan, "seed": seed,
                             "method": "base" if lam == 0 else "jacobian", "lam": lam, "gp_val_r2": val,
                             "gp_test_r2": test, "teacher_test_r2": teacher, "teacher_jacobian_sq": 1.0,
                             "tree_val_r2": 0.6, "tree_test_r2": 0.6, "gp_fidelity_r2": test, "gp_length": 5,
                             "diverged": False})
            for replica, (val, test) in enumerate((null or {}).get(dataset, [[]] * len(seeds))[seed], start=1):
                rows.append({"kind": study.NULL, "dataset": dataset, "noise": np.nan, "seed": seed,
                             "method": "base", "lam": 0.0, "replica": replica, "gp_val_r2": val, "gp_test_r2": test,
                             "teacher_test_r2": students[0][2], "tree_val_r2": 0.6, "tree_test_r2": 0.6,
                             "gp_fidelity_r2": test, "gp_length": 5, "diverged": False})
    return pd.DataFrame(rows)


def analyse(runs: pd.DataFrame):
    """What chapter 04 computes from its runs: the per-dataset table, the selection, the seeds, the headline."""
    summary = tables.summarize(runs)
    table = tables.dataset_table(summary)
    selection = tables.lambda_selection(summary, tables.null_summary(runs))
    seeds = tables.seed_table(runs, table)
    return table, selection, seeds, text.headline(table, selection, seeds).set_index("key")


# 'a': test picks lambda = 0.1 (+50%), validation picks 0.5 (+10%); 'b': both pick 0.1 (+10%).
TWO_DATASETS = {"a": [[(0.50, 0.40, 0.9), (0.45, 0.60, 0.9), (0.60, 0.44, 0.9)]],
                "b": [[(0.50, 0.50, 0.9), (0.70, 0.55, 0.9), (0.40, 0.52, 0.9)]]}


def test_the_headline_gain_is_the_lambda_chosen_on_validation():
    """Reproduction: the headline took the best lambda on the test split (here +30%)."""
    table, selection, seeds, head = analyse(runs_table(TWO_DATASETS))
    assert table.set_index("dataset")["lambda_validation"].to_dict() == {"a": 0.5, "b": 0.1}
    assert table["improvement_pct_validation"].tolist() == pytest.approx([10.0, 10.0])
    assert selection.set_index("dataset").loc["a", "lambda_oracle"] == 0.1
    assert seeds.set_index("dataset").loc["a", "student_r2_validation"] == 0.44  # the seed at lambda = 0.5
    assert head.loc[text.IMPROVEMENT, "ours"] == "+10.0% (95% CI +10.0% to +10.0%, 2 datasets)"
    assert head.loc[text.IMPROVEMENT, "verdict"] == "does not hold"  # wholly below half of +120%
    assert head.loc[text.IMPROVEMENT, "rule"] == INTERVAL_RULE
    assert head.loc[text.ORACLE, "ours"].startswith("+30.0% (95% CI") and head.loc[text.ORACLE, "verdict"] == "-"


def test_a_gain_whose_interval_straddles_zero_is_inconclusive():
    """Reproduction: a positive mean gain was "partly" whatever its interval."""
    straddling = {"a": [[(0.5, 0.5, 0.9), (0.6, 0.8, 0.9), (0.4, 0.5, 0.9)]],   # +60%
                  "b": [[(0.5, 0.5, 0.9), (0.6, 0.4, 0.9), (0.4, 0.5, 0.9)]]}   # -20%
    _, _, _, head = analyse(runs_table(straddling))
    half = stats.t.ppf(0.975, 1) * np.std([60.0, -20.0], ddof=1) / math.sqrt(2)
    assert head.loc[text.IMPROVEMENT, "ours"] == f"+20.0% (95% CI {20 - half:+.1f}% to {20 + half:+.1f}%, 2 datasets)"
    assert head.loc[text.IMPROVEMENT, "verdict"] == "inconclusive"
    assert head.loc[text.TREES, "verdict"] == "inconclusive"  # symbolic minus tree: +60 and -20 points
    assert interval_verdict(20.0, 20 - half, 20 + half, paper_effect=120.0) == "inconclusive"


def exchangeable(n_datasets: int, seed: int = 0) -> tuple[dict, dict]:
    """Runs where the penalty does nothing: every student, at every lambda and in every null
    replica, scores 0.5 plus independent noise on validation and on test."""
    rng = np.random.default_rng(seed)
    draw = lambda: tuple(0.5 + 0.03 * rng.standard_normal(2))  # noqa: E731
    datasets = {f"d{i}": [[(*draw(), 0.9) for _ in LAMBDAS]] for i in range(n_datasets)}
    null = {name: [[draw() for _ in LAMBDAS[1:]]] for name in datasets}
    return datasets, null


def test_the_null_shows_the_oracle_gain_that_validation_choice_does_not_have():
    """Where the penalty does nothing, choosing on test still "gains"; its null, the same choice
    among re-seeded lambda = 0 students, gains as much; choosing on validation gains nothing."""
    datasets, null = exchangeable(40)
    table, selection, _, head = analyse(runs_table(datasets, null))
    oracle = tables.interval(selection["improvement_pct_oracle"])
    its_null = tables.interval(selection["null_improvement_pct_oracle"])
    validation = tables.interval(table["improvement_pct_validation"])
    null_validation = tables.interval(selection["null_improvement_pct_validation"])
    assert oracle[1] > 0 and its_null[1] > 0  # both intervals above zero: selection alone
    assert its_null[1] <= oracle[0] <= its_null[2]  # the oracle's "gain" is within its null's interval
    assert interval_verdict(*validation[:3]) == "inconclusive"
    assert interval_verdict(*null_validation[:3]) == "inconclusive"
    assert (selection["null_students"] == len(LAMBDAS)).all()
    # against the paper's +120%: the interval, around zero, lies wholly below half of it
    assert head.loc[text.IMPROVEMENT, "verdict"] == "does not hold"
    assert head.loc[text.ORACLE_NULL, "ours"].endswith(f"{len(LAMBDAS)} students each")


def test_the_null_choice_by_hand():
    null = {"a": [[(0.3, 0.7), (0.9, 0.3)]], "b": [[(0.1, 0.1), (0.2, 0.2)]]}
    selection = analyse(runs_table(TWO_DATASETS, null))[1].set_index("dataset")
    # 'a': the lambda = 0 student (val 0.5, test 0.4) and two replicas: test picks 0.7, validation 0.3
    assert selection.loc["a", "null_improvement_pct_oracle"] == pytest.approx(75.0)
    assert selection.loc["a", "null_improvement_pct_validation"] == pytest.approx(-25.0)
    assert selection.loc["b", "null_improvement_pct_oracle"] == 0.0  # no replica beats lambda = 0
    assert selection.loc["b", "null_students"] == 3
    without = analyse(runs_table(TWO_DATASETS))[1]
    assert without["null_students"].eq(0).all() and without["null_improvement_pct_oracle"].isna().all()


def retention_runs(seeds: int) -> pd.DataFrame:
    """'concrete' keeps its teacher (validation picks lambda = 0); 'feynman_I_12_2' validation
    picks lambda = 0.5, where the teacher falls from 0.955 to about 0.628 (paper: 0.84-0.98)."""
    concrete = [(0.6, 0.5, 0.88), (0.5, 0.5, 0.85), (0.4, 0.4, 0.75)]
    feynman = [(0.3, 0.30, 0.955), (0.3, 0.30, 0.85), (0.5, 0.33, 0.628)]
    jitter = (0.0, 0.004, -0.004, 0.002)
    return runs_table({"concrete": [concrete] * seeds,
                       "feynman_I_12_2": [[*feynman[:2], (0.5, 0.33, 0.628 + jitter[s])] for s in range(seeds)]})


def test_the_teacher_that_loses_accuracy_under_the_penalty_shows_as_a_loss():
    """Reproduction: the teacher's verdict scored an absolute R^2 range, not what the penalty costs it."""
    table, _, seeds, head = analyse(retention_runs(seeds=3))
    retention = tables.teacher_retention(seeds).set_index("dataset")
    assert retention.loc["feynman_I_12_2", "teacher_r2_drop"] == pytest.approx(0.955 - 0.628)
    assert retention.loc["feynman_I_12_2", "ci_low"] > TEACHER_R2_TOLERANCE
    assert retention.loc["concrete", ["teacher_r2_drop", "ci_low", "ci_high", "seeds"]].tolist() == [0, 0, 0, 3]
    assert head.loc[text.TEACHER, "verdict"] == "partly"  # kept on concrete, lost on feynman_I_12_2
    assert "largest: feynman_I_12_2 0.955 → 0.628 at lambda = 0.5" in head.loc[text.TEACHER, "ours"]
    assert head.loc[text.TEACHER, "ours"].endswith("kept on 1, lost on 1 of 2 datasets")
    assert head.loc[text.TEACHER, "rule"] == TEACHER_R2_RULE
    one_seed = analyse(retention_runs(seeds=1))[3]  # no interval per dataset: the mean over datasets decides
    assert one_seed.loc[text.TEACHER, "verdict"] == "inconclusive"
    assert "units: the mean over datasets" in one_seed.loc[text.TEACHER, "claim"]
    assert table["teacher_r2_drop"].tolist() == pytest.approx([0.0, 0.955 - 0.628])


@pytest.mark.parametrize("drops, verdict", [
    ([(0.0, -0.01, 0.01)], "holds"), ([(0.3, 0.25, 0.35)], "does not hold"), ([(0.05, -0.04, 0.19)], "inconclusive"),
    ([(0.0, 0.0, 0.0), (0.3, 0.25, 0.35)], "partly"), ([(0.0, 0.0, 0.0), (0.01, -0.2, 0.2)], "inconclusive"),
    ([(0.0, 0.0, 0.0), (0.01, 0.0, 0.02)], "inconclusive"),  # an interval ending at the tolerance decides nothing
    ([(math.nan,) * 3], "inconclusive"), ([], "inconclusive"), ([(-0.1, -0.2, 0.0)], "holds")])
def test_teacher_rule(drops, verdict):
    assert teacher_r2_verdict(drops) == verdict


def test_teacher_rule_refuses_bad_units():
    with pytest.raises(ValueError, match=r"drops holds \(0.5, 0.1, 0.2\); give each as \(estimate, low, high\)"):
        teacher_r2_verdict([(0.5, 0.1, 0.2)])
    with pytest.raises(ValueError, match=r"drops must hold \(estimate, low, high\) triples, got \(0.1, 0.2\)"):
        teacher_r2_verdict([(0.1, 0.2)])
    with pytest.raises(TypeError, match="drops must be a sequence of"):
        teacher_r2_verdict(0.1)


@pytest.mark.parametrize("difference, low, high, verdict", [
    (40.0, 10.0, 70.0, "holds"), (26.9, -36.2, 90.0, "inconclusive"), (-30.0, -50.0, -10.0, "does not hold"),
    (math.nan, math.nan, math.nan, "inconclusive")])
def test_tree_rule_reads_the_interval(difference, low, high, verdict):
    """Reproduction: a tree gain below half the symbolic one "held" from two point means."""
    assert tree_students_verdict(difference, low, high) == verdict


def test_every_student_is_set_against_gp_on_y():
    table = analyse(runs_table(TWO_DATASETS, gp_on_y=0.5))[0]
    note = text.gp_on_y_note(table, text.STUDENTS)
    # lambda = 0 students: a 0.40 < 0.5, b 0.50 ties 0.5; validation students: a 0.44 < 0.5, b 0.55 beats it
    assert "- The student of the lambda = 0 teacher does **not** beat GP fitted to y on 2 of 2: a (0.400 vs 0.500), " \
           "b (0.500 vs 0.500)." in note
    assert "- The student of the validation-chosen teacher does **not** beat GP fitted to y on 1 of 2: " \
           "a (0.440 vs 0.500)." in note
    assert text.gp_on_y_note(table.assign(gp_on_y_r2=0.1), text.STUDENTS).endswith(
        "- The student of the validation-chosen teacher beats GP fitted to y on all 2.")
    noisy = pd.DataFrame({"dataset": ["f"], "noise": [0.5], "student_clean_r2_base": [0.2],
                          "student_clean_r2_validation": [0.4], "gp_on_y_clean_r2": [0.3]})
    assert "f at noise 0.5 (0.200 vs 0.300)" in text.gp_on_y_note(noisy, text.CLEAN_STUDENTS, "gp_on_y_clean_r2")
    for column in ("gp_on_y_r2", "tree_on_y_r2"):
        assert column in table
    assert "gp_on_y_r2" in tables.bridge_table(tables.summarize(runs_table(TWO_DATASETS))).columns


def test_null_runs_one_per_lambda_above_zero_in_a_task_of_their_own():
    s = DistillationSettings.from_profile("smoke", lambdas=[0.0, 0.01, 0.1, 0.5], dreg_lambdas=[])
    plain = study.make_configs(s, ["concrete"], [0.1])
    configs = study.make_configs(s, ["concrete"], [0.1], with_null=True)
    assert configs[:len(plain)] == plain  # the other runs, their cache keys included, are unchanged
    null = configs[len(plain):]
    assert [c["replica"] for c in null] == [1, 2, 3] and {(c["kind"], c["method"], c["lam"]) for c in null} == {
        ("null", "base", 0.0)}
    assert len({study.task_key(c) for c in null}) == 1
    assert study.task_key(null[0]) != study.task_key(plain[1])  # the lambda = 0 teacher trains alone for them
    assert [study.student_seed(c) for c in null] == [1000, 2000, 3000] and study.student_seed(plain[1]) == 0
    assert study.result_schema(null[0]) is study.DISTILL_SCHEMA


def test_null_runs_stay_out_of_the_summary_and_the_recovery_table():
    runs = runs_table(TWO_DATASETS, {"a": [[(0.3, 0.7), (0.9, 0.3)]], "b": [[(0.1, 0.1), (0.2, 0.2)]]})
    runs["gp_equals_truth"] = np.where(runs["kind"] == "null", 1.0, 0.0)
    assert set(tables.summarize(runs)["kind"]) == {"direct", "distill"}
    assert tables.recovery_table(runs).to_numpy().max() == 0.0
    assert list(tables.null_summary(runs)["replica"]) == [1, 2, 1, 2]
    times = tables.stage_times(runs.assign(teacher_seconds=1.0, gp_seconds=1.0, tree_seconds=1.0, boost_seconds=1.0))
    assert text.NULL_METHOD in set(text.stage_times_display(times)["method"])


def test_a_tiny_study_runs_its_null(tmp_path):
    s = DistillationSettings.from_profile("smoke", datasets=["feynman_I_14_4"], lambdas=[0.0, 0.1], dreg_lambdas=[],
                                          hidden=[8], epochs=1, population_size=20, generations=1, tournament_size=5)
    runs = study.run_runs(s, s["datasets"], [0.1], tmp_path, "runs", progress=False, with_null=True)
    assert runs["kind"].tolist() == ["direct", "distill", "distill", "null"]
    base, null = runs[runs["method"] == "base"].iloc[0], runs[runs["kind"] == "null"].iloc[0]
    assert null["teacher_test_r2"] == pytest.approx(base["teacher_test_r2"], abs=1e-4)  # the lambda = 0 teacher
    again = study.run_runs(s, s["datasets"], [0.1], tmp_path, "runs", progress=False, with_null=True)
    assert again["cached"].all()


def test_scorecard_rows_carry_the_interval_and_the_rule(monkeypatch):
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    datasets, null = exchangeable(6)
    headline = analyse(runs_table(datasets, null))[3].reset_index()
    text.glue_verdict(headline, "smoke")
    assert glued["sc_ttt_improvement_rule"] == INTERVAL_RULE
    assert glued["sc_ttt_improvement_ours"] == glued["improvement_ours"] and "95% CI" in glued["improvement_ours"]
    assert "The oracle (lambda chosen on test, an upper bound) gives" in glued["sc_ttt_improvement_details"]
    assert "its null (the same choice where the penalty does nothing)" in glued["sc_ttt_improvement_details"]
    assert glued["validation_null_ours"] in glued["sc_ttt_improvement_details"]
    assert glued["sc_ttt_teacher_rule"] == TEACHER_R2_RULE
    assert glued["sc_ttt_tree_rule"] == DIRECTION_RULE
    assert glued["oracle_null_ours"].endswith("students each") and glued["stable_base"] == "0.1"
    note = text.verdict_note(headline, DistillationSettings.from_profile("smoke"))
    assert all(rule in note for rule in (INTERVAL_RULE, DIRECTION_RULE, TEACHER_R2_RULE))


def test_over_sample_words():
    assert text.over_sample(26.2, -35.4, 87.9, 6) == "+26.2% (95% CI -35.4% to +87.9%, 6 datasets)"
    assert text.over_sample(0.0, math.nan, math.nan, 1, over="seeds") == "0.0% (no interval: 1 seed)"  # zero has no sign
    assert text.over_sample(math.nan, math.nan, math.nan, 0) == "not measured"
    assert text.over_sample(0.077, -0.041, 0.195, 7, unit="", digits=3) == (
        "+0.077 (95% CI -0.041 to +0.195, 7 datasets)")
