"""The figure of the "Use it in your own model" chapter (notebook 09): what each penalty did."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

PANELS = (("test_mse", "test MSE"), ("grad_p99", "p99 of ||grad_x f|| on the test split"))


def penalty_effect_figure(runs: pd.DataFrame) -> plt.Figure:
    """Per metric (panels): the seed mean per penalty (bars) and each seed (dots), one colour
    per activation."""
    methods = list(dict.fromkeys(runs["method"]))
    fig, axes = plt.subplots(1, len(PANELS), figsize=(8.0, 3.4))
    for ax, (metric, label) in zip(axes, PANELS):
        sns.barplot(data=runs, x="method", y=metric, hue="activation", order=methods, errorbar=None,
                    alpha=0.55, ax=ax)
        sns.stripplot(data=runs, x="method", y=metric, hue="activation", order=methods, dodge=True,
                      size=4, legend=False, ax=ax)
        ax.set_xlabel("penalty")
        ax.set_ylabel(label)
        ax.set_title(label.split(" on ")[0])
    axes[0].get_legend().set_title("activation")
    axes[1].get_legend().remove()
    fig.tight_layout()
    return fig
