"""The words of the statistics chapter (notebook 03) and of the MNIST chapter's findings
(notebook 02): each claim's measured evidence and verdict as text and tables, the synthetic
readings and the closing note.

The tests themselves are in :mod:`dreg_utils.studies.statistics` and
:mod:`dreg_utils.studies.statistics_synthetic`, the verdict rules in :mod:`dreg_utils.claims`
(the paper's numbers in :mod:`dreg_utils.published`); this module only turns tables of tests into
what the chapters show.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .. import claims, published
from ..claims import (ALPHA, MNIST_CLAIMS, P99, POLY_MAX, POLY_P99, POLY_RATIO, RATIO, RELATIVE, SIGN_TESTS,
                      SN_ACC, SN_P99, TREND, VERDICTS, accuracy_cost, alternative, support)
from ..significance import min_pairs_for_sign_test, min_sign_test_p
from ..studies.statistics import SEED_MEAN, mnist_tests
from ..studies.statistics_inputs import N_RUNS, Mismatch, Origin
from ..studies.statistics_synthetic import ALL_FAMILIES, DECIDING_TEST, SEED_VARIANCE
from ..validation import check_choice, check_unit_interval
from ..vocabulary import paper_cell_label
from . import scorecard
from .labels import show

MAIN_TESTS = ("paired_t", "welch_t", "spearman")  # the test whose effect and CI a summary shows


def _get(tests: pd.DataFrame, comparison: str, test: str | Sequence[str]) -> pd.Series | None:
    names = [test] if isinstance(test, str) else list(test)
    rows = tests[(tests["comparison"] == comparison) & tests["test"].isin(names)]
    return None if rows.empty else rows.iloc[0]


def format_p(p: float) -> str:
    """A p-value to two significant digits (n/a when missing)."""
    return "n/a" if p is None or math.isnan(p) else f"{p:.2g}"


def _pairs_text(tests: pd.DataFrame, comparison: str, what: str, direction: int) -> str:
    """E.g. "p99 lower in 22/24 pairs (sign p = 2.1e-05 decides; supporting: Wilcoxon p = 3.6e-06,
    t p = 1e-08)"; all three supporting when the sign test decides nothing."""
    t = _get(tests, comparison, ("paired_t", "none"))
    if t is None or t["test"] == "none":
        return f"{what}: {0 if t is None else int(t['n'])} matched pairs, no test"
    sign, wil = _get(tests, comparison, SIGN_TESTS), _get(tests, comparison, "wilcoxon")
    k = int(sign["statistic"]) if direction > 0 else int(sign["n"] - sign["statistic"])
    sign_p = f"sign p = {format_p(sign['p_value'])}"
    rest = f"Wilcoxon p = {format_p(wil['p_value'])}, t p = {format_p(t['p_value'])}"
    decides = sign["role"] == "deciding"
    ps = f"{sign_p} decides; supporting: {rest}" if decides else f"supporting: {sign_p}, {rest}"
    return f"{what} in {k}/{int(t['n'])} pairs ({ps})"


def _capacity_ends(tests: pd.DataFrame) -> str:
    """BASE's seed means at the smallest and largest capacity per activation (the trend's
    :data:`~dreg_utils.studies.statistics.SEED_MEAN` rows), e.g. "RELU_BASE 1.20 at 32-16 -> 1.60 at 512-256"."""
    means = tests[(tests["comparison"] == TREND) & (tests["test"] == SEED_MEAN)]
    return "; ".join(f"{paper_cell_label(activation, 'base')} {ends['statistic'].iloc[0]:.2f} at "
                     f"{ends['capacity'].iloc[0]} -> {ends['statistic'].iloc[-1]:.2f} at {ends['capacity'].iloc[-1]}"
                     for activation, ends in means.groupby("activation", sort=False))


def _claim5_text(tests: pd.DataFrame) -> str:
    block = tests[tests["claim"] == 5]
    trend = _get(tests, TREND, ("spearman", "none"))
    if trend["test"] == "none":
        text = f"BASE p99/mean vs capacity: no test ({trend['note']})"
    else:
        text = (f"BASE p99/mean vs capacity: Spearman rho = {trend['statistic']:.2f}, "
                f"p = {format_p(trend['p_value'])} over {int(trend['n'])} runs ({_capacity_ends(tests)})")
    welch = [f"{r.capacity}: {r.mean_a:.2f} vs {r.mean_b:.2f}, p = {format_p(r.p_value)}"
             for r in block.itertuples() if r.test == "welch_t"]
    missing = [r.comparison for r in block.itertuples() if r.test == "none" and r.comparison != TREND]
    text += ". DREG vs BASE p99/mean (Welch): " + "; ".join(welch)
    return text + (f". No test for: {', '.join(missing)}" if missing else "")


def ours_text(tests: pd.DataFrame, claim: int, confidence: float = 0.95) -> str:
    """Our statistics for one claim, in a sentence (CIs: paired t at ``confidence``)."""
    level = f"{confidence:.0%} CI"
    if claim == 1:
        cost, low, high = accuracy_cost(tests)
        return (_pairs_text(tests, P99, "p99 lower", -1) + "; "
                + _pairs_text(tests, RATIO, "p99/mean lower", -1)
                + f"; accuracy cost {cost:.2f} points ({level} {low:.2f} to {high:.2f})")
    if claim == 2:
        sign = _get(tests, RELATIVE, "relative_reduction_sign")
        medians = ("" if sign is None else
                   f"; median reduction: p99 {sign['median_rel_reduction_p99']:.0%}, "
                   f"mean {sign['median_rel_reduction_mean']:.0%}")
        return _pairs_text(tests, RELATIVE, "relative p99 reduction > relative mean reduction", +1) + medians
    if claim == 3:
        return "; ".join(_pairs_text(tests, c, f"POLY_BASE {w} above RELU_BASE", +1)
                         for c, w in ((POLY_P99, "p99"), (POLY_MAX, "max (supporting)"),
                                      (POLY_RATIO, "p99/mean (supporting)")))
    if claim == 4:
        t = _get(tests, SN_ACC, "paired_t")
        gap = ("" if t is None else
               f", mean {t['effect']:+.2f} points ({level} {t['ci_low']:+.2f} to {t['ci_high']:+.2f})")
        return (_pairs_text(tests, SN_ACC, "DREG more accurate than SN", +1) + gap + "; "
                + _pairs_text(tests, SN_P99, "SN p99 below DREG's", +1))
    return _claim5_text(tests)


def _pairs_count(tests: pd.DataFrame, comparison: str, direction: int) -> str:
    """"k/n": the matched pairs that point the claimed way, by the comparison's sign test."""
    sign = _get(tests, comparison, SIGN_TESTS)
    if sign is None or not np.isfinite(sign["statistic"]):
        return "no test"
    k = int(sign["statistic"]) if direction > 0 else int(sign["n"] - sign["statistic"])
    return f"{k}/{int(sign['n'])}"


def short_ours(tests: pd.DataFrame, claim: int, alpha: float = ALPHA) -> str:
    """Our value for one claim in a few words (a scorecard's cell): the matched pairs that point
    the paper's way, the accuracy cost (claim 1), the Welch tests below ``alpha`` (claim 5)."""
    check_unit_interval("alpha", alpha)
    check_choice("claim", claim, MNIST_CLAIMS)
    if claim == 1:
        cost = accuracy_cost(tests)[0]
        return f"p99 lower in {_pairs_count(tests, P99, -1)}; cost {cost:.2f} pt"
    if claim == 2:
        return f"{_pairs_count(tests, RELATIVE, +1)} pairs"
    if claim == 3:
        return f"POLY p99 higher in {_pairs_count(tests, POLY_P99, +1)}"
    if claim == 4:
        return (f"DREG more accurate in {_pairs_count(tests, SN_ACC, +1)}; "
                f"SN p99 lower in {_pairs_count(tests, SN_P99, +1)}")
    trend = _get(tests, TREND, "spearman")
    welch = tests[(tests["claim"] == 5) & (tests["test"] == "welch_t")]
    lower = int(((welch["p_value"] < alpha) & (welch["mean_a"] < welch["mean_b"])).sum())
    rho = "no trend test" if trend is None else f"rho {trend['statistic']:+.2f}"
    return f"{rho}; lower at {lower}/{len(welch)} sizes"


def _holm_note(tests: pd.DataFrame, claim: int, alpha: float) -> list[str]:
    """The claim's deciding tests that could reach alpha alone but not after Holm."""
    family = tests[tests["p_holm"].notna()]
    lost = family[(family["claim"] == claim) & (family["p_floor"] < alpha)
                  & (family["p_holm_floor"] >= alpha)]
    if lost.empty:
        return []
    return [f"after Holm over the {len(family)} deciding tests no outcome could be significant: "
            + ", ".join(f"{r.comparison} p ≥ {r.p_holm_floor:.2g}" for r in lost.itertuples())]


def sample_size_note(tests: pd.DataFrame, claim: int, alpha: float = ALPHA) -> str:
    """Whether our sample can reach alpha (alone and after Holm) and the paper's reported p-value."""
    return "; ".join(_sample_size_notes(tests, claim, alpha) + _holm_note(tests, claim, alpha))


def _sample_size_notes(tests: pd.DataFrame, claim: int, alpha: float) -> list[str]:
    if claim == 5:
        trend = tests[(tests["claim"] == 5) & (tests["test"] == "spearman")]
        welch = tests[(tests["claim"] == 5) & (tests["test"] == "welch_t")]
        notes = [f"Spearman's test on {int(r.n)} BASE runs cannot go below p = {r.p_floor:.2g} ≥ α"
                 for r in trend.itertuples() if r.p_floor >= alpha]
        if len(welch):
            small, large = published.PAPER_WELCH_P
            bounds = [small] + [large] * (len(welch) - 1)
            met = sum(p < b for p, b in zip(welch["p_value"], bounds))
            notes.append(f"Welch's t has no discreteness floor; {int(welch['n'].iloc[0])} runs per "
                         f"capacity (DREG + BASE); the paper's p < {small:g} / < {large:g} met at "
                         f"{met}/{len(welch)} capacities")
        return notes
    comparison, paper_n, bound = MNIST_CLAIMS[claim].headline
    sign = _get(tests, comparison, SIGN_TESTS)
    if sign is None:
        return ["no matched pairs"]
    n, side = int(sign["n"]), alternative(comparison)
    floor = min_sign_test_p(n, side)
    what = (f"a {'two' if side == 'two-sided' else 'one'}-sided exact sign test on {n} pairs cannot go "
            f"below {'2·' if side == 'two-sided' else ''}0.5^{n} = {floor:.3g}")
    notes = [] if n == paper_n else [f"{n} non-tied pairs (paper: {paper_n})"]
    if floor >= alpha:
        notes.append(f"{what} ≥ α = {alpha:g}, so no outcome could be significant")
    elif floor >= bound:
        notes.append(f"{what}, above the paper's p < {bound:g} (that needs ≥ "
                     f"{min_pairs_for_sign_test(bound, side)} pairs)")
    return notes


def paper_table3_checks() -> dict[int, str]:
    """What the paper's own Table 3 (seed means per cell) shows for each claim, as counts of cells."""
    capacities = list(published.TABLE3)
    cells = [(cap, act) for cap in capacities for act in ("RELU", "POLY")]

    def value(cap: tuple, label: str, metric: str) -> float:
        row = published.TABLE3[cap][label]
        return row[5] if metric == "ratio" else row[published.TABLE3_COLUMNS.index(metric)][0]

    def cells_where(a: str, b: str, metric: str, acts: Sequence[str] = ("RELU", "POLY")) -> str:
        """How many cells have value(a) < value(b), e.g. "8/8"."""
        chosen = [(cap, act) for cap, act in cells if act in acts]
        k = sum(value(cap, f"{act}_{a}", metric) < value(cap, f"{act}_{b}", metric) for cap, act in chosen)
        return f"{k}/{len(chosen)}"

    def relative(cap: tuple, act: str, metric: str) -> float:
        return 1 - value(cap, f"{act}_DREG", metric) / value(cap, f"{act}_BASE", metric)

    cost = np.mean([value(c, f"{a}_BASE", "test_acc") - value(c, f"{a}_DREG", "test_acc") for c, a in cells])
    selective = sum(relative(c, a, "ig_p99") > relative(c, a, "ig_mean") for c, a in cells)
    poly = {m: sum(value(c, "RELU_BASE", m) < value(c, "POLY_BASE", m) for c in capacities)
            for m in ("ig_p99", "ig_max")}
    rises = ", ".join(f"{a} {value(capacities[0], f'{a}_BASE', 'ratio'):.2f} → "
                      f"{value(capacities[-1], f'{a}_BASE', 'ratio'):.2f}" for a in ("RELU", "POLY"))
    return {
        1: f"p99 lower in {cells_where('DREG', 'BASE', 'ig_p99')} cells, p99/mean lower in "
           f"{cells_where('DREG', 'BASE', 'ratio')}; mean accuracy cost {cost:.2f} points",
        2: f"relative p99 reduction > relative mean reduction in {selective}/{len(cells)} cells",
        3: f"POLY_BASE p99 above RELU_BASE at {poly['ig_p99']}/{len(capacities)} capacities, max above "
           f"at {poly['ig_max']}/{len(capacities)}",
        4: f"DREG more accurate than SN in {cells_where('SN', 'DREG', 'test_acc')} cells (ReLU "
           f"{cells_where('SN', 'DREG', 'test_acc', ['RELU'])}, "
           f"poly {cells_where('SN', 'DREG', 'test_acc', ['POLY'])}); "
           f"SN p99 below DREG in {cells_where('SN', 'DREG', 'ig_p99')}",
        5: f"BASE p99/mean {rises}; DREG p99/mean below BASE in {cells_where('DREG', 'BASE', 'ratio')} cells",
    }


def verdict_table(tests: pd.DataFrame, alpha: float = ALPHA, confidence: float = 0.95) -> pd.DataFrame:
    """One row per claim 1-5: the claim in our words, the paper's statistic, what the paper's own
    Table 3 shows, our statistic, the verdict (:func:`claims.mnist_verdicts`) on raw p-values (the
    paper's rule) and on Holm p-values, and what our sample size can and cannot show."""
    check_unit_interval("alpha", alpha)
    check_unit_interval("confidence", confidence)
    raw, holm = claims.mnist_verdicts(tests, alpha, "p_value"), claims.mnist_verdicts(tests, alpha, "p_holm")
    table3 = paper_table3_checks()
    return pd.DataFrame([{"claim": c, "claim_text": claim.wording, "paper": claim.paper_statistic,
                          "paper_table3": table3[c], "ours": ours_text(tests, c, confidence),
                          "verdict": raw[c], "verdict_holm": holm[c],
                          "sample_size": sample_size_note(tests, c, alpha)}
                         for c, claim in MNIST_CLAIMS.items()])


DECIDING_NAMES = {"sign_test": "sign", "relative_reduction_sign": "sign", "welch_t": "Welch t",
                  "spearman": "Spearman"}


def summary_view(tests: pd.DataFrame, keys: Sequence[str] = ("claim", "comparison")) -> pd.DataFrame:
    """One row per comparison: n, the main effect (mean difference, difference of means or rho)
    with its CI, the bootstrap CI, d_z, median ratio, the raw p of each test, which test decides
    (the others are supporting; "none: supporting" when no test decides) and its Holm p."""
    rows = []
    for key, block in tests.groupby(list(keys), sort=False):
        by_test = block.set_index("test")

        def get(test: str | None, col: str) -> float:
            return float(by_test.loc[test, col]) if test in by_test.index else math.nan

        main = next((t for t in MAIN_TESTS if t in by_test.index), None)
        sign = next((t for t in SIGN_TESTS if t in by_test.index), "sign_test")
        deciding = next(iter(block.loc[block["role"] == "deciding", "test"]), None)
        shown = "no test" if (block["role"] == "no test").all() else "none: supporting"
        row = dict(zip(keys, key))
        row.update({"n": block["n"].max(), "effect": get(main, "effect"), "ci_low": get(main, "ci_low"),
                    "ci_high": get(main, "ci_high"), "bootstrap_low": get("bootstrap_mean_diff", "ci_low"),
                    "bootstrap_high": get("bootstrap_mean_diff", "ci_high"),
                    "d_z": get("cohen_dz", "effect"), "median_ratio": get("median_ratio", "effect"),
                    "p_main": get(main, "p_value"), "p_wilcoxon": get("wilcoxon", "p_value"),
                    "p_sign": get(sign, "p_value"),
                    "deciding_test": DECIDING_NAMES.get(deciding, shown),
                    "holm_deciding": get(deciding, "p_holm")})
        rows.append(row)
    return pd.DataFrame(rows)


def findings(runs: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """The paper's five Section-6.3 findings on our MNIST runs (notebook 02): per claim the paper's
    statistic, ours and the verdict. The tests are the statistics chapter's
    (:func:`dreg_utils.studies.statistics.mnist_tests`, each claim with its declared sidedness)
    and so is the rule (:func:`claims.mnist_verdicts`), so both chapters give every claim the
    same verdict."""
    tests = mnist_tests(runs)
    verdicts = claims.mnist_verdicts(tests, alpha)
    return pd.DataFrame([{"finding": number, "paper": claim.paper_statistic,
                          "ours": ours_text(tests, number), "verdict": verdicts[number]}
                         for number, claim in MNIST_CLAIMS.items()])


def synthetic_comparison(comparison: str, lam: float) -> str:
    """A synthetic comparison in words: "lambda=0.01 / lambda=0: grad_p90" for a metric's key, or
    the seed-variance ratio's (:data:`~dreg_utils.studies.statistics_synthetic.SEED_VARIANCE`)."""
    if comparison == SEED_VARIANCE:
        return "seed variance of test MSE, per family: lambda / lambda=0"
    return f"lambda={lam:g} / lambda=0: {comparison}"


def synthetic_by_family(tests: pd.DataFrame) -> pd.DataFrame:
    """:func:`summary_view` of the synthetic tests family by family (the pooled rows left out),
    each comparison in words (:func:`synthetic_comparison`)."""
    rows = tests[tests["family"] != ALL_FAMILIES]
    words = [synthetic_comparison(c, lam) for c, lam in zip(rows["comparison"], rows["lam"])]
    return summary_view(rows.assign(comparison=words), keys=("family", "comparison"))


def synthetic_readings(tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """The pooled synthetic comparisons in words (:func:`synthetic_comparison`): pairs, how many went
    down with DREG, the median ratio, the mean log ratio with its CI, raw p of each test, the Holm
    p of the deciding test (the sign test), and a reading decided by that test."""
    check_unit_interval("alpha", alpha)
    readings = {"yes": "lower with DREG", "opposite": "higher with DREG", "no": "no significant change",
                "unreachable": f"too few pairs to reach p < {alpha:g}", "missing": "no test"}
    rows = []
    pooled = tests[tests["family"] == ALL_FAMILIES]
    for comparison, block in pooled.groupby("comparison", sort=False):
        by_test, words = block.set_index("test"), synthetic_comparison(comparison, block["lam"].iloc[0])
        if "paired_t" not in by_test.index:
            rows.append({"comparison": words, "pairs": int(block["n"].max()), "reading": "no test"})
            continue
        t, sign = by_test.loc["paired_t"], by_test.loc["sign_test"]
        status = support(pooled, comparison, -1, alpha)
        rows.append({"comparison": words, "pairs": int(t["n"]),
                     "lower_with_dreg": f"{int(sign['n'] - sign['statistic'])}/{int(t['n'])}",
                     "median_ratio": by_test.loc["median_ratio", "effect"],
                     "mean_log_ratio": t["effect"], "ci_low": t["ci_low"], "ci_high": t["ci_high"],
                     "p_t": t["p_value"], "p_wilcoxon": by_test.loc["wilcoxon", "p_value"],
                     "p_sign": sign["p_value"], "holm_deciding": by_test.loc[DECIDING_TEST, "p_holm"],
                     "reading": readings[status]})
    return pd.DataFrame(rows)


def closing_note(verdicts: pd.DataFrame, readings: pd.DataFrame, designs: pd.DataFrame) -> str:
    """Markdown: one bullet per claim (verdict, ours, the paper's, sample-size note), the tally,
    a warning when our designs have fewer pairs than the paper's, and the synthetic readings."""
    lines = []
    for r in verdicts.to_dict("records"):
        note = f" *Sample size:* {r['sample_size']}." if r["sample_size"] else ""
        lines.append(f"- **Claim {r['claim']}**: {r['claim_text']} → **{r['verdict']}** "
                     f"(after Holm: {r['verdict_holm']}). *Ours:* {r['ours']}. "
                     f"*Paper:* {r['paper']}.{note}")
    tally = verdicts["verdict"].value_counts()
    lines.append("\nTally: " + ", ".join(f"{v} {tally.get(v, 0)}" for v in VERDICTS) + ".")
    short = designs[designs["pairs_ours"] < designs["pairs_paper"]].to_dict("records")
    if short:
        lines.append("These designs are smaller than the paper's ("
                     + ", ".join(f"{d['design']}: {d['pairs_ours']} pairs, paper {d['pairs_paper']}"
                                 for d in short)
                     + "), so these verdicts say little about the claims themselves.")
    if len(readings):
        lines.append("\nSynthetic families, DREG against λ = 0, pooled over families and seeds:\n")
        for r in readings.to_dict("records"):
            detail = ("" if "median_ratio" not in r or pd.isna(r.get("median_ratio")) else
                      f" (median ratio {r['median_ratio']:.3f}, lower in {r['lower_with_dreg']} pairs, "
                      f"sign p = {format_p(r['p_sign'])}, Wilcoxon p = {format_p(r['p_wilcoxon'])}, "
                      f"t p = {format_p(r['p_t'])})")
            lines.append(f"- {r['comparison']}: **{r['reading']}**{detail}")
    return "\n".join(lines)


def p_style(table: pd.DataFrame) -> Styler:
    """The table with its labels; p-values (columns starting "p ", "Holm" or "smallest") to 2
    significant digits, the rest to 3 decimals."""
    table = show(table, "03_statistical_tests")
    p_columns = [c for c in table.columns if str(c).startswith(("p ", "Holm", "smallest"))]
    return (table.style.format(precision=3, na_rep="-").format("{:.2g}", subset=p_columns, na_rep="-")
            .hide(axis="index"))


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


def glue_verdicts(verdicts: pd.DataFrame, tests: pd.DataFrame, alpha: float, profile: str) -> None:
    """Glue each claim's text, the paper's statistic, ours and the verdict that the chapter's prose
    pastes, and its scorecard row ``mnist_claimN`` (ours in a few words: :func:`short_ours`)."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    glue("profile", profile, display=False)
    for row in verdicts.itertuples():
        for field, value in (("text", row.claim_text), ("paper", row.paper), ("ours", row.ours),
                             ("verdict", row.verdict)):
            glue(f"claim{row.claim}_{field}", value, display=False)
        scorecard.glue_row(f"mnist_claim{row.claim}", paper=MNIST_CLAIMS[row.claim].paper_value,
                           ours=short_ours(tests, row.claim, alpha), verdict=row.verdict,
                           details=f"Ours: {row.ours}. Paper: {row.paper}. Verdict after Holm: {row.verdict_holm}.")
