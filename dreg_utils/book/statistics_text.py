"""The five Section-6.3 claims in words, for the statistics chapter (notebook 03) and the MNIST
chapter's findings (notebook 02): each claim's measured evidence, each part's deciding interval
and status, what our sample size can show, what the paper's own Table 3 shows, and the verdict
table and findings built from them.

The tests themselves are in :mod:`dreg_utils.studies.statistics`, the verdict rules in
:mod:`dreg_utils.claims` (the paper's numbers in :mod:`dreg_utils.published`); this module only
turns tables of tests into what the chapters show. The chapter's other words are in
:mod:`~dreg_utils.book.statistics_tables` (its tables of tests),
:mod:`~dreg_utils.book.statistics_synthetic_text` (the synthetic readings and seed stability) and
:mod:`~dreg_utils.book.statistics_notes` (its inputs and closing note).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import claims, published
from ..claims import (ACC, ALPHA, COMPARISONS, MISSING, MNIST_CLAIMS, MODEST_ACCURACY_COST, P99, POLY_MAX,
                      POLY_P99, POLY_RATIO, RATIO, REFUTED, RELATIVE, SIGN_TESTS, SN_ACC, SN_P99, SUPPORTED, TREND,
                      UNDECIDED, UNREACHABLE, WELCH, accuracy_cost, alternative)
from ..significance import min_pairs_for_sign_test, min_sign_test_p
from ..studies.statistics import SEED_MEAN, mnist_tests
from ..validation import check_choice, check_unit_interval
from ..vocabulary import paper_cell_label
from . import scorecard
from .statistics_tables import format_p


def _get(tests: pd.DataFrame, comparison: str, test: str | Sequence[str]) -> pd.Series | None:
    names = [test] if isinstance(test, str) else list(test)
    rows = tests[(tests["comparison"] == comparison) & tests["test"].isin(names)]
    return None if rows.empty else rows.iloc[0]


def _share_interval(sign: pd.Series, direction: int, confidence: float) -> str:
    """The Clopper-Pearson interval of the share of pairs pointing the claimed way (``direction``
    +1: a > b), e.g. "95% CI of the share 47% to 100%"."""
    low, high = (sign["ci_low"], sign["ci_high"]) if direction > 0 else (1 - sign["ci_high"], 1 - sign["ci_low"])
    return f"{confidence:.0%} CI of the share {low:.0%} to {high:.0%}"


def _count(sign: pd.Series, direction: int) -> str:
    """"k/n": a sign test's non-tied pairs that point the claimed way."""
    n, greater = int(sign["n"]), int(sign["statistic"])
    return f"{greater if direction > 0 else n - greater}/{n}"


def share_text(sign: pd.Series, direction: int, confidence: float = 0.95) -> str:
    """A sign test's pairs that point the claimed way with the interval of their share, e.g.
    "7/8 pairs (95% CI of the share 47% to 100%)"."""
    if sign["n"] == 0:
        return "no untied pairs"
    return f"{_count(sign, direction)} pairs ({_share_interval(sign, direction, confidence)})"


def _pairs_text(tests: pd.DataFrame, comparison: str, what: str, direction: int, confidence: float) -> str:
    """E.g. "p99 lower in 22/24 pairs (95% CI of the share 73% to 99%; sign p = 2.1e-05 decides;
    supporting: Wilcoxon p = 3.6e-06, t p = 1e-08)"; all three supporting when the sign test decides
    nothing."""
    t = _get(tests, comparison, ("paired_t", "none"))
    if t is None or t["test"] == "none":
        return f"{what}: {0 if t is None else int(t['n'])} matched pairs, no test"
    sign, wil = _get(tests, comparison, SIGN_TESTS), _get(tests, comparison, "wilcoxon")
    sign_p = f"sign p = {format_p(sign['p_value'])}"
    rest = f"Wilcoxon p = {format_p(wil['p_value'])}, t p = {format_p(t['p_value'])}"
    decides = sign["role"] == "deciding"
    ps = f"{sign_p} decides; supporting: {rest}" if decides else f"supporting: {sign_p}, {rest}"
    return f"{what} in {_count(sign, direction)} pairs ({_share_interval(sign, direction, confidence)}; {ps})"


def _capacity_ends(tests: pd.DataFrame) -> str:
    """BASE's seed means at the smallest and largest capacity per activation (the trend's
    :data:`~dreg_utils.studies.statistics.SEED_MEAN` rows), e.g. "RELU_BASE 1.20 at 32-16 -> 1.60 at 512-256"."""
    means = tests[(tests["comparison"] == TREND) & (tests["test"] == SEED_MEAN)]
    return "; ".join(f"{paper_cell_label(activation, 'base')} {ends['statistic'].iloc[0]:.2f} at "
                     f"{ends['capacity'].iloc[0]} -> {ends['statistic'].iloc[-1]:.2f} at {ends['capacity'].iloc[-1]}"
                     for activation, ends in means.groupby("activation", sort=False))


def _interval(low: float, high: float, confidence: float, fmt: str = "+.2f") -> str:
    """E.g. "95% CI -0.30 to +1.37" ("no interval" when a bound is NaN)."""
    if math.isnan(low) or math.isnan(high):
        return "no interval"
    return f"{confidence:.0%} CI {low:{fmt}} to {high:{fmt}}"


def _claim5_text(tests: pd.DataFrame, confidence: float) -> str:
    block = tests[tests["claim"] == 5]
    trend = _get(tests, TREND, ("spearman", "none"))
    if trend["test"] == "none":
        text = f"BASE p99/mean vs capacity: no test ({trend['note']})"
    else:
        text = (f"BASE p99/mean vs capacity: Spearman rho = {trend['statistic']:+.2f} "
                f"({_interval(trend['ci_low'], trend['ci_high'], confidence)}), "
                f"p = {format_p(trend['p_value'])} over {int(trend['n'])} runs ({_capacity_ends(tests)})")
    welch = [f"{r.capacity}: {r.mean_a:.2f} vs {r.mean_b:.2f}, difference {r.effect:+.2f} "
             f"({_interval(r.ci_low, r.ci_high, confidence)}), p = {format_p(r.p_value)}"
             for r in block.itertuples() if r.test == "welch_t"]
    missing = [r.comparison for r in block.itertuples() if r.test == "none" and r.comparison != TREND]
    text += ". DREG vs BASE p99/mean (Welch): " + "; ".join(welch)
    return text + (f". No test for: {', '.join(missing)}" if missing else "")


def ours_text(tests: pd.DataFrame, claim: int, confidence: float = 0.95) -> str:
    """Our statistics for one claim, in a sentence (CIs: paired t at ``confidence``)."""
    check_unit_interval("confidence", confidence)
    if claim == 1:
        cost, low, high = accuracy_cost(tests)
        return (_pairs_text(tests, P99, "p99 lower", -1, confidence) + "; "
                + _pairs_text(tests, RATIO, "p99/mean lower", -1, confidence)
                + f"; accuracy cost {cost:.2f} points ({_interval(low, high, confidence, '.2f')})")
    if claim == 2:
        sign = _get(tests, RELATIVE, "relative_reduction_sign")
        medians = ("" if sign is None else
                   f"; median reduction: p99 {sign['median_rel_reduction_p99']:.0%}, "
                   f"mean {sign['median_rel_reduction_mean']:.0%}")
        return _pairs_text(tests, RELATIVE, "relative p99 reduction > relative mean reduction", +1,
                           confidence) + medians
    if claim == 3:
        return "; ".join(_pairs_text(tests, c, f"POLY_BASE {w} above RELU_BASE", +1, confidence)
                         for c, w in ((POLY_P99, "p99"), (POLY_MAX, "max (supporting)"),
                                      (POLY_RATIO, "p99/mean (supporting)")))
    if claim == 4:
        t = _get(tests, SN_ACC, "paired_t")
        gap = ("" if t is None else
               f", mean {t['effect']:+.2f} points ({_interval(t['ci_low'], t['ci_high'], confidence)})")
        return (_pairs_text(tests, SN_ACC, "DREG more accurate than SN", +1, confidence) + gap + "; "
                + _pairs_text(tests, SN_P99, "SN p99 below DREG's", +1, confidence))
    return _claim5_text(tests, confidence)


def _pairs_count(tests: pd.DataFrame, comparison: str, direction: int, confidence: float, noun: str = "") -> str:
    """"k/n (95% CI of the share ...)" (``noun`` after k/n): the matched pairs that point the claimed
    way, by the comparison's sign test, with the interval of their share."""
    sign = _get(tests, comparison, SIGN_TESTS)
    if sign is None or not np.isfinite(sign["statistic"]):
        return "no test"
    if sign["n"] == 0:
        return "0/0 (every pair tied)"
    return f"{_count(sign, direction)}{noun} ({_share_interval(sign, direction, confidence)})"


def short_ours(tests: pd.DataFrame, claim: int, alpha: float = ALPHA, confidence: float = 0.95) -> str:
    """Our value for one claim in a few words (a scorecard's cell), each deciding statistic with
    its interval: the matched pairs that point the paper's way, the accuracy cost (claim 1),
    Spearman's rho and the capacities whose Welch interval lies below 0 (claim 5)."""
    check_unit_interval("alpha", alpha)
    check_unit_interval("confidence", confidence)
    check_choice("claim", claim, MNIST_CLAIMS)
    if claim == 1:
        cost, low, high = accuracy_cost(tests)
        return (f"p99 lower in {_pairs_count(tests, P99, -1, confidence)}; cost {cost:.2f} pt "
                f"({_interval(low, high, confidence, '.2f')})")
    if claim == 2:
        return _pairs_count(tests, RELATIVE, +1, confidence, " pairs")
    if claim == 3:
        return f"POLY p99 higher in {_pairs_count(tests, POLY_P99, +1, confidence)}"
    if claim == 4:
        return (f"DREG more accurate in {_pairs_count(tests, SN_ACC, +1, confidence)}; "
                f"SN p99 lower in {_pairs_count(tests, SN_P99, +1, confidence)}")
    trend = _get(tests, TREND, "spearman")
    welch = tests[(tests["claim"] == 5) & (tests["test"] == "welch_t")]
    below = int((welch["ci_high"] < 0).sum())
    rho = ("no trend test" if trend is None else
           f"rho {trend['statistic']:+.2f} ({_interval(trend['ci_low'], trend['ci_high'], confidence)})")
    return f"{rho}; DREG's p99/mean lower ({confidence:.0%} CI below 0) at {below}/{len(welch)} sizes"


# Each part of a claim in words: what the paper's direction says (Welch: per capacity, below).
PART_WORDS = {P99: "p99 lower", RATIO: "p99/mean lower", ACC: f"accuracy cost ≤ {MODEST_ACCURACY_COST:g} point",
              RELATIVE: "relative p99 reduction > relative mean reduction", POLY_P99: "POLY_BASE p99 above RELU_BASE",
              SN_ACC: "DREG more accurate than SN", SN_P99: "SN p99 below DREG's",
              TREND: "BASE p99/mean rises with capacity"}
STATUS_WORDS = {SUPPORTED: "supported", REFUTED: "refuted", UNDECIDED: "undecided",
                UNREACHABLE: "cannot decide at this size", MISSING: "no test"}


def _part_words(comparison: str) -> str:
    return PART_WORDS.get(comparison, "DREG p99/mean lower at " + comparison.rsplit(" at ", 1)[-1])


def part_interval(tests: pd.DataFrame, comparison: str, confidence: float = 0.95) -> str:
    """The deciding statistic of one part with its interval: the share of pairs pointing the
    paper's way (sign tests), the difference of means (Welch), rho (Spearman), the accuracy cost."""
    if comparison == ACC:
        cost, low, high = accuracy_cost(tests)
        return f"{cost:.2f} points ({_interval(low, high, confidence, '.2f')})"
    direction = COMPARISONS.get(comparison, COMPARISONS[WELCH]).direction
    row = tests[(tests["comparison"] == comparison) & (tests["role"] == "deciding")]
    if row.empty:
        return "no test"
    row = row.iloc[0]
    if row["test"] in SIGN_TESTS:
        return share_text(row, direction, confidence)
    name = "rho" if row["test"] == "spearman" else "difference"
    return f"{name} {row['effect']:+.2f} ({_interval(row['ci_low'], row['ci_high'], confidence)})"


def parts_text(tests: pd.DataFrame, claim: int, alpha: float = ALPHA, confidence: float = 0.95) -> str:
    """Each part of a claim with its deciding interval and status on raw p-values, and after Holm
    where that differs, e.g. "p99 lower: 7/8 pairs (95% CI of the share 47% to 100%): supported
    (after Holm: undecided)"; a part that cannot decide says how many pairs could."""
    check_choice("claim", claim, MNIST_CLAIMS)
    raw = claims.claim_parts(tests, alpha, "p_value")[claim]
    holm = {part.comparison: part.status for part in claims.claim_parts(tests, alpha, "p_holm")[claim]}
    texts = []
    for part in raw:
        status = STATUS_WORDS[part.status] + _needed(tests, part.comparison, part.status)
        after = holm.get(part.comparison)
        if after is None:  # claim 1's cost counts only once a tail reduction is supported
            status += " (after Holm: no tail reduction to qualify)"
        elif after != part.status:
            status += f" (after Holm: {STATUS_WORDS[after]})"
        texts.append(f"{_part_words(part.comparison)}: {part_interval(tests, part.comparison, confidence)}: {status}")
    return "; ".join(texts)


def _needed(tests: pd.DataFrame, comparison: str, status: str) -> str:
    """", needs ≥ N pairs" for a part that cannot decide on its sample, when an exact test decides it."""
    row = tests[(tests["comparison"] == comparison) & (tests["role"] == "deciding")]
    if status != UNREACHABLE or row.empty or "pairs_to_decide" not in row or row["pairs_to_decide"].isna().all():
        return ""
    return f", needs ≥ {int(row['pairs_to_decide'].iloc[0])} pairs"


def _holm_note(tests: pd.DataFrame, claim: int, alpha: float) -> list[str]:
    """The claim's deciding tests that could reach alpha alone but not after Holm."""
    family = tests[tests["p_holm"].notna()]
    lost = family[(family["claim"] == claim) & (family["p_floor"] < alpha)
                  & (family["p_holm_floor"] >= alpha)]
    if lost.empty:
        return []
    return [f"after Holm over the {len(family)} deciding tests that can reach α, no outcome could be "
            "significant: " + ", ".join(f"{r.comparison} p ≥ {r.p_holm_floor:.2g}" for r in lost.itertuples())]


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
    if n == 0:
        return ["every matched pair is tied: no sign test"]
    floor = min_sign_test_p(n, side)
    what = (f"a {'two' if side == 'two-sided' else 'one'}-sided exact sign test on {n} pairs cannot go "
            f"below {'2·' if side == 'two-sided' else ''}0.5^{n} = {floor:.3g}")
    notes = [] if n == paper_n else [f"{n} non-tied pairs (paper: {paper_n})"]
    if floor >= alpha:
        notes.append(f"{what} ≥ α = {alpha:g}, so no outcome could be significant (that needs ≥ "
                     f"{min_pairs_for_sign_test(alpha, side)} pairs); the test is left out of the Holm family")
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
    paper's rule) and after Holm (the scorecard's: supports and refutations both adjusted), beside them each part's deciding interval and status
    (:func:`parts_text`), and what our sample size can and cannot show."""
    check_unit_interval("alpha", alpha)
    check_unit_interval("confidence", confidence)
    raw, holm = claims.mnist_verdicts(tests, alpha, "p_value"), claims.mnist_verdicts(tests, alpha, "p_holm")
    table3 = paper_table3_checks()
    return pd.DataFrame([{"claim": c, "claim_text": claim.wording, "paper": claim.paper_statistic,
                          "paper_table3": table3[c], "ours": ours_text(tests, c, confidence),
                          "verdict": raw[c], "verdict_holm": holm[c],
                          "parts": parts_text(tests, c, alpha, confidence),
                          "sample_size": sample_size_note(tests, c, alpha)}
                         for c, claim in MNIST_CLAIMS.items()])


def findings(runs: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """The paper's five Section-6.3 findings on our MNIST runs (notebook 02): per claim the paper's
    statistic, ours, the verdict on raw p-values and after Holm, and beside them each part's
    deciding interval and status (:func:`parts_text`). The tests are the statistics chapter's
    (:func:`dreg_utils.studies.statistics.mnist_tests`, each claim with its declared sidedness)
    and so is the rule (:func:`claims.mnist_verdicts`), so both chapters give every claim the
    same verdicts."""
    tests = mnist_tests(runs, alpha=alpha)
    verdicts = claims.mnist_verdicts(tests, alpha)
    holm = claims.mnist_verdicts(tests, alpha, "p_holm")
    return pd.DataFrame([{"finding": number, "paper": claim.paper_statistic,
                          "ours": ours_text(tests, number), "verdict": verdicts[number],
                          "verdict_holm": holm[number], "parts": parts_text(tests, number, alpha)}
                         for number, claim in MNIST_CLAIMS.items()])


def glue_verdicts(verdicts: pd.DataFrame, tests: pd.DataFrame, alpha: float, profile: str) -> None:
    """Glue each claim's text, the paper's statistic, ours and the verdict on raw p-values that the
    chapter's prose pastes, and its scorecard row ``mnist_claimN``: the verdict after Holm (supports
    and refutations under the same multiplicity control), ours in a few words (:func:`short_ours`),
    the raw verdict in the details."""
    from myst_nb import glue  # the book extra: pages run in a kernel

    glue("profile", profile, display=False)
    for row in verdicts.itertuples():
        for field, value in (("text", row.claim_text), ("paper", row.paper), ("ours", row.ours),
                             ("verdict", row.verdict)):
            glue(f"claim{row.claim}_{field}", value, display=False)
        scorecard.glue_row(f"mnist_claim{row.claim}", paper=MNIST_CLAIMS[row.claim].paper_value,
                           ours=short_ours(tests, row.claim, alpha), verdict=row.verdict_holm, rule=claims.TEST_RULE,
                           details=f"Verdict after Holm over the {_family_size(tests)} deciding tests that can "
                                   f"reach α (shown); on raw p-values (the paper's rule): {row.verdict}. "
                                   f"Parts: {row.parts}. Ours: {row.ours}. Paper: {row.paper}.")


def _family_size(tests: pd.DataFrame) -> int:
    """The number of tests in the Holm family (those with a Holm p-value)."""
    return int(tests["p_holm"].notna().sum())
