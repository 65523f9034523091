"""The teacher-cost study's timings (one row per output count, repeat and method) and the summary
notebook 04 shows, computed from them."""
import pandas as pd

from dreg_utils.studies import teacher_cost


def test_teacher_timings_time_every_method_in_every_repeat():
    rows = pd.DataFrame(teacher_cost.teacher_timings("feynman_I_14_4", [8], epochs=1, batch_size=256,
                                                     outputs=[1, 3], repeats=2))
    assert rows.columns.tolist() == ["outputs", "repeat", "method", "seconds"]
    assert len(rows) == 2 * 2 * len(teacher_cost.COST_METHODS) and (rows["seconds"] > 0).all()
    assert list(rows["method"].iloc[:len(teacher_cost.COST_METHODS)]) == list(teacher_cost.COST_METHODS)
    assert rows.groupby(["outputs", "method"])["repeat"].apply(list).map(lambda r: r == [0, 1]).all()


def test_teacher_cost_is_the_ratio_of_medians_of_the_timings(monkeypatch):
    seconds = {"base": [1.0, 3.0, 2.0], "dreg": [1.5, 1.0, 2.0], "jacobian": [4.0, 8.0, 6.0], "jacobian_rp": [2.0] * 3}
    timings = [{"outputs": 1, "repeat": r, "method": m, "seconds": seconds.get(m, [1.0] * 3)[r]}
               for r in range(3) for m in teacher_cost.COST_METHODS]
    monkeypatch.setattr(teacher_cost, "teacher_timings", lambda *args, **kwargs: timings)
    rows = pd.DataFrame(teacher_cost.teacher_cost("concrete", [100], 1, 64, [1], 3)).set_index("method")
    assert rows.loc["jacobian", "seconds"] == 6.0 and rows.loc["jacobian", "ratio_to_base"] == 3.0  # 6 / 2
    assert rows.loc["base", "ratio_to_base"] == 1.0 and rows.loc["dreg", "ratio_to_base"] == 0.75
