"""The surrogate study's comparisons and verdicts (notebook 05), from the runs of
:mod:`dreg_utils.studies.surrogate`: what predicts the optimisers' regret (:func:`correlations`,
:func:`regret_predictors`) and whether each regulariser is worth its accuracy cost
(:func:`paired_differences`, :func:`method_worth`).

Each regulariser is compared with BASE pair by pair: the surrogates of one (objective,
activation, seed) share their initial weights, minibatch order and optimiser starts. Differences
of regret within floating-point tolerance (:func:`dreg_utils.verdicts.is_tie`) are ties (0), and
every verdict comes from a 95% interval: the median paired difference with its distribution-free
order-statistic interval (:func:`dreg_utils.intervals.median_interval`), Spearman's rho with its
Fisher-z interval (:func:`dreg_utils.intervals.spearman_interval`).
Among the variants of spectral normalisation the one with the lowest median validation MSE
(an independent uniform draw) speaks for SN (:func:`best_sn_variant`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as sps

from ..intervals import median_interval, spearman_interval
from ..verdicts import HOLDS, INCONCLUSIVE, interval_verdict, is_tie
from ..vocabulary import SN_METHODS, finished
from .surrogate import OPTIMIZERS, OUTCOMES

PREDICTORS = ("grad_p99_over_mean", "test_mse")  # the quantity DREG targets, and the yardstick
CONFIDENCE = 0.95  # of every interval of the chapter


def correlations(runs: pd.DataFrame, predictors: tuple[str, ...] = PREDICTORS,
                 outcomes: tuple[str, ...] = OUTCOMES) -> pd.DataFrame:
    """Spearman rank correlation of each predictor with each outcome across the surrogates of
    one objective (all methods, activations and seeds pooled), with its 95% interval
    (:func:`dreg_utils.intervals.spearman_interval`, ``low`` and ``high``). A good predictor of downstream quality has
    rho > 0 with regret and exits and rho < 0 with the cosines."""
    rows = []
    for objective, block in finished(runs).groupby("objective"):
        for p in predictors:
            for o in outcomes:
                x, y = block[p].to_numpy(float), block[o].to_numpy(float)
                varies = np.ptp(x) > 0 and np.ptp(y) > 0
                rho = sps.spearmanr(x, y).statistic if varies else float("nan")
                low, high = spearman_interval(rho, len(block))
                rows.append({"objective": objective, "predictor": p, "outcome": o, "rho": rho, "low": low,
                             "high": high, "n": len(block)})
    return pd.DataFrame(rows)


def tie_free_difference(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a - b elementwise, exactly 0 where a and b are equal within floating-point tolerance
    (:func:`dreg_utils.verdicts.is_tie`), NaN where either is NaN."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    tied = np.array([bool(np.isfinite(x) and np.isfinite(y) and is_tie(x, y)) for x, y in zip(a.ravel(), b.ravel())],
                    dtype=bool).reshape(a.shape)
    return np.where(tied, 0.0, a - b)


def versus_base(summary: pd.DataFrame) -> pd.DataFrame:
    """Each regulariser against BASE in the same (objective, activation), seed means: relative
    change of test MSE and of p99/mean (percent, + = higher), and differences of the downstream
    measures (ties within floating-point tolerance are 0, :func:`tie_free_difference`).
    Settings whose surrogates (or BASE's) all diverged have no row."""
    summary = summary[summary["test_mse"].notna()]
    base = summary[summary["method"] == "base"].set_index(["objective", "activation"])
    rows = []
    for r in summary[summary["method"] != "base"].itertuples(index=False):
        if (r.objective, r.activation) not in base.index:
            continue
        b = base.loc[(r.objective, r.activation)]
        rows.append({"objective": r.objective, "activation": r.activation, "method": r.method,
                     "test_mse_change_pct": 100 * (r.test_mse / b["test_mse"] - 1),
                     "p99_over_mean_change_pct": 100 * (r.grad_p99_over_mean / b["grad_p99_over_mean"] - 1),
                     "cos_p10_diff": r.cos_p10 - b["cos_p10"],
                     "gd_regret_diff": float(tie_free_difference(r.gd_regret_median, b["gd_regret_median"])),
                     "lbfgs_regret_diff": float(tie_free_difference(r.lbfgs_regret_median, b["lbfgs_regret_median"])),
                     "gd_exits_diff": r.gd_left_domain - b["gd_left_domain"],
                     "lbfgs_exits_diff": r.lbfgs_left_domain - b["lbfgs_left_domain"]})
    return pd.DataFrame(rows)


PAIR_KEYS = ("objective", "activation", "seed")  # one pair: a surrogate and BASE's of its seed


def paired_differences(runs: pd.DataFrame) -> pd.DataFrame:
    """Each regulariser's finished surrogates against BASE's of the same (objective, activation,
    seed), one row per pair: each optimiser's median-regret difference (``gd_regret_diff``,
    ``lbfgs_regret_diff``; + = worse, ties 0), the test-MSE and p99/mean changes (percent, + = higher),
    and the surrogate's own validation MSE. Pairs where either surrogate diverged are left out."""
    keys = list(PAIR_KEYS)
    ok = finished(runs)
    base = ok[ok["method"] == "base"].set_index(keys)
    rows = []
    for r in ok[ok["method"] != "base"].itertuples(index=False):
        key = tuple(getattr(r, k) for k in keys)
        if key not in base.index:
            continue
        b = base.loc[key]
        rows.append({**dict(zip(keys, key)), "method": r.method,
                     "gd_regret_diff": float(tie_free_difference(r.gd_regret_median, b["gd_regret_median"])),
                     "lbfgs_regret_diff": float(tie_free_difference(r.lbfgs_regret_median, b["lbfgs_regret_median"])),
                     "test_mse_change_pct": 100 * (r.test_mse / b["test_mse"] - 1),
                     "p99_over_mean_change_pct": 100 * (r.grad_p99_over_mean / b["grad_p99_over_mean"] - 1),
                     "val_mse": r.val_mse})
    return pd.DataFrame(rows, columns=[*keys, "method", "gd_regret_diff", "lbfgs_regret_diff", "test_mse_change_pct",
                                       "p99_over_mean_change_pct", "val_mse"])


PREDICTS_RHO = 0.3  # ours: rho at which a predictor "predicts" regret (its interval above 0)
WORTH_MAX_MSE_CHANGE_PCT = 50.0  # ours: the median test-MSE rise a regulariser worth it may cost
REGRET_OUTCOMES = ("gd_regret_median", "lbfgs_regret_median")
RELATIONS = {HOLDS: "predicts", "does not hold": "opposite", INCONCLUSIVE: "none"}  # by the direction of rho


def regret_predictors(corr: pd.DataFrame, threshold: float = PREDICTS_RHO) -> pd.DataFrame:
    """Does a low p99/mean (or test MSE, the yardstick) predict a low regret? The rows of
    :func:`correlations` with each optimiser's median regret, each with its ``relation`` from
    rho's 95% interval (:func:`dreg_utils.verdicts.interval_verdict`, by direction): "predicts" when the
    interval lies above 0 and rho >= ``threshold``, "weak" when it lies above 0 and rho < ``threshold``,
    "opposite" when it lies below 0, "none" when it includes 0 (or has no bounds), "undefined"
    where rho is NaN."""
    block = corr[corr["outcome"].isin(REGRET_OUTCOMES)]
    relation = []
    for r in block.itertuples(index=False):
        direction = interval_verdict(r.rho, r.low, r.high) if np.isfinite(r.rho) else None
        relation.append("undefined" if direction is None else
                        "weak" if direction == HOLDS and r.rho < threshold else RELATIONS[direction])
    return block[["predictor", "outcome", "objective", "rho", "low", "high"]].assign(relation=relation)


OPTIMIZER_REGRETS = {o: f"{o}_regret_diff" for o in OPTIMIZERS}
REGRET_VERDICTS = {"holds": "lower", "does not hold": "higher", INCONCLUSIVE: INCONCLUSIVE}
COST_VERDICTS = {"holds": "within", "does not hold": "over", INCONCLUSIVE: INCONCLUSIVE}
WORTH_COLUMNS = ["method", "n", *(f"{o}_{k}" for o in OPTIMIZERS for k in (
    "regret_diff", "low", "high", "lower", "higher", "tied", "verdict")),
    "median_test_mse_change_pct", "mse_low", "mse_high", "cost", "median_p99_over_mean_change_pct",
    "median_val_mse", "worth"]


def worth_verdict(regret: Sequence[str], cost: str) -> str:
    """"worth_it" when every optimiser's regret is "lower" and the cost "within" the budget;
    "not_worth_it" when none is lower and one is "higher" or the cost "over"; "mixed" when one is
    lower and another higher or the cost over; else "inconclusive"."""
    against = "higher" in regret or cost == "over"
    if all(v == "lower" for v in regret) and cost == "within":
        return "worth_it"
    if against:
        return "mixed" if "lower" in regret else "not_worth_it"
    return INCONCLUSIVE


def method_worth(pairs: pd.DataFrame, max_mse_change: float = WORTH_MAX_MSE_CHANGE_PCT,
                 confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Is each regulariser worth its accuracy cost? Per method, over its pairs with BASE
    (:func:`paired_differences`, ``n``): for each optimiser the median regret difference with its
    interval (:func:`dreg_utils.intervals.median_interval`; ``<opt>_regret_diff``, ``_low``, ``_high``), the pairs where it
    is lower, higher or tied, and its ``<opt>_verdict``: "lower" when the interval lies below 0,
    "higher" above, else inconclusive; the median test-MSE change with its interval (``mse_low``,
    ``mse_high``) and ``cost``: "within" when the interval lies below ``max_mse_change``, "over"
    above, else inconclusive; the median p99/mean change and validation MSE; and ``worth``
    (:func:`worth_verdict`)."""
    rows = []
    for method, block in pairs.groupby("method", sort=False) if not pairs.empty else ():
        row = {"method": method, "n": len(block)}
        for o, column in OPTIMIZER_REGRETS.items():
            d = block[column].to_numpy(float)
            median, low, high = median_interval(d, confidence)
            row.update({f"{o}_regret_diff": median, f"{o}_low": low, f"{o}_high": high,
                        f"{o}_lower": int((d < 0).sum()), f"{o}_higher": int((d > 0).sum()),
                        f"{o}_tied": int((d == 0).sum()),
                        f"{o}_verdict": REGRET_VERDICTS[interval_verdict(-median, -high, -low)]})
        mse, mse_low, mse_high = median_interval(block["test_mse_change_pct"], confidence)
        cost = COST_VERDICTS[interval_verdict(max_mse_change - mse, max_mse_change - mse_high,
                                              max_mse_change - mse_low)]
        row.update(median_test_mse_change_pct=mse, mse_low=mse_low, mse_high=mse_high, cost=cost,
                   median_p99_over_mean_change_pct=float(block["p99_over_mean_change_pct"].median()),
                   median_val_mse=float(block["val_mse"].median()),
                   worth=worth_verdict([row[f"{o}_verdict"] for o in OPTIMIZERS], cost))
        rows.append(row)
    return pd.DataFrame(rows, columns=WORTH_COLUMNS)


def best_sn_variant(worth: pd.DataFrame) -> str | None:
    """The SN method (:data:`~dreg_utils.vocabulary.SN_METHODS`) of ``worth`` with the lowest median
    validation MSE, the first in the vocabulary's order on a tie; None when none ran. Chosen on the
    validation inputs, so the verdict on SN (regret and test MSE) is not a selection on its outcome."""
    block = worth[worth["method"].isin(SN_METHODS) & worth["median_val_mse"].notna()]
    if block.empty:
        return None
    order = block.assign(rank=block["method"].map(SN_METHODS.index)).sort_values(["median_val_mse", "rank"])
    return str(order["method"].iloc[0])


def true_regret(starts: pd.DataFrame) -> pd.Series:
    """The median regret of each optimiser driven by the true gradient, per (objective, optimizer)."""
    return starts[starts["method"] == "true"].groupby(["objective", "optimizer"])["regret"].median()
