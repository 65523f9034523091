"""The book's executable chapters: each notebook, the settings type of its study, the folder of
its results, its title, and the parameters its page takes, with their declared types and checks
(what the runner refuses before a kernel starts)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import paths
from ..constraints import PathTo
from ..settings import StudySettings
from ..studies.distillation import DistillationSettings
from ..studies.distillation_ablation import DistillationAblationSettings
from ..studies.mnist import MNISTSettings
from ..studies.own_model import OwnModelSettings
from ..studies.performance import PerformanceSettings
from ..studies.statistics import StatisticsSettings
from ..studies.surrogate import SurrogateSettings
from ..studies.synthetic import SyntheticSettings
from ..studies.synthetic_ablation import AblationSettings

CHAPTER_SETTINGS: dict[str, type[StudySettings]] = {
    "01_synthetic_families": SyntheticSettings,
    "02_mnist_sweep": MNISTSettings,
    "03_statistical_tests": StatisticsSettings,
    "04_sr_distillation": DistillationSettings,
    "05_surrogate_optimization": SurrogateSettings,
    "06_performance": PerformanceSettings,
    "07_synthetic_ablation": AblationSettings,
    "08_distillation_ablation": DistillationAblationSettings,
    "09_own_model": OwnModelSettings,
}
# The folder of each chapter's results under $DREG_RESULTS_DIR (paths.results_dir); None: the
# page writes none.
RESULTS_FOLDERS: dict[str, str | None] = {
    "01_synthetic_families": "synthetic", "02_mnist_sweep": "mnist", "03_statistical_tests": "stats",
    "04_sr_distillation": "symbolic", "05_surrogate_optimization": "surrogate", "06_performance": None,
    "07_synthetic_ablation": "synthetic_ablation", "08_distillation_ablation": "distillation_ablation",
    "09_own_model": "own_model",
}
# The title of each chapter that another page links to (the scorecard's evidence links).
CHAPTER_TITLES = {"01_synthetic_families": "Synthetic families", "02_mnist_sweep": "MNIST sweep",
                  "03_statistical_tests": "Statistical tests",
                  "04_sr_distillation": "SR distillation", "06_performance": "Performance"}
# What a page's parameters cell may set besides its study's knobs (and ``profile``): the folder of
# its results (None: paths.results_dir's default).
PAGE_PARAMETERS: dict[str, Any] = {"results_dir": str | None}


def parameter_types(chapter: str) -> dict[str, Any]:
    """The declared type of each parameter of ``chapter`` (a notebook's file stem): its study's
    knobs and :data:`PAGE_PARAMETERS`; empty for a page that is not a chapter."""
    if chapter not in CHAPTER_SETTINGS:
        return {}
    return {**CHAPTER_SETTINGS[chapter].knob_types(), **PAGE_PARAMETERS}


WRITABLE_FOLDER = PathTo("folder", writable=True)  # a results_dir is tried, not judged by its mode bits


def check_page(chapter: str, profile: str, parameters: Mapping[str, Any]) -> None:
    """Build the settings ``chapter``'s page builds from ``profile`` and ``parameters`` (and check
    its ``results_dir``: a folder that can be created and written), so a bad value raises as the page
    would; relative paths are read from the working directory. A page that is not a chapter is not
    checked."""
    if chapter not in CHAPTER_SETTINGS:
        return
    settings_type = CHAPTER_SETTINGS[chapter]
    settings_type.from_profile(profile, **{name: value for name, value in parameters.items()
                                           if name in settings_type.knobs()})
    if parameters.get("results_dir") is not None:
        paths.results_dir(chapter, parameters["results_dir"])
        WRITABLE_FOLDER.check("results_dir", parameters["results_dir"])
