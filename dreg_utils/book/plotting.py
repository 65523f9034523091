"""The book's figure theme and what every figure shares; where figure code lives.

Where figure code lives (one home per kind):

* a figure a chapter draws is a function returning a matplotlib ``Figure``, in the figure module
  of its study: ``synthetic_figures``, ``mnist_figures``, ``statistics_figures``,
  ``distillation_figures``, ``surrogate_figures``, ``performance_figures``, ``ablation_figures``
  (chapters 07 and 08) and ``own_model_figures``; it draws and returns, never displays or saves;
* what figures share (the theme, colours, method labels and axis helpers) and a figure turned
  into HTML that another page pastes (:func:`figure_html`, :func:`glue_figure`) live here;
* nothing under ``dreg_utils/studies`` draws.
"""
from __future__ import annotations

import base64
import html
import io

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import seaborn as sns


PALETTE = {"gradient": "#c0392b", "mse": "#2471a3"}


def set_theme() -> None:
    """The book's figure style: white grid, colour-blind palette, readable font sizes."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def lambda_axis(ax: plt.Axes, lambdas: np.ndarray) -> None:
    """Symmetric-log x axis so that lambda = 0 shows beside 1e-4 ... 1e-2."""
    positive = lambdas[lambdas > 0]
    ax.set_xscale("symlog", linthresh=positive.min() if positive.size else 1e-4)
    ax.set_xlabel("DREG strength lambda (symlog)")


def plain_log_axis(axis) -> None:
    """Log scale with plain numbers (0.5, 1, 2) instead of 5x10^-1 on ``ax.xaxis``/``ax.yaxis``."""
    axis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def method_legend(ax: plt.Axes, **kwargs) -> None:
    """One legend entry per method, however many lines each method drew."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, **kwargs)


def figure_html(fig: plt.Figure, alt: str, caption: str, dpi: int = 150) -> str:
    """A matplotlib figure as a self-contained HTML figure (PNG data URI, alt text, caption),
    so that another page of the book can paste it with the cross-document ``{glue}`` role."""
    for name, text in (("alt", alt), ("caption", caption)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure class="headline-figure"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(alt.strip())}" style="width: 100%; height: auto;">'
            f"<figcaption>{html.escape(caption.strip())}</figcaption></figure>")


def glue_figure(key: str, fig: plt.Figure, alt: str, caption: str) -> None:
    """Glue ``fig`` as a self-contained HTML figure (:func:`figure_html`) and close it."""
    from IPython.display import HTML
    from myst_nb import glue

    glue(key, HTML(figure_html(fig, alt, caption)), display=False)
    plt.close(fig)
