"""The book's executable chapters: each notebook and the settings type of its study."""
from __future__ import annotations

from ..settings import StudySettings
from ..studies.distillation import DistillationSettings
from ..studies.distillation_ablation import DistillationAblationSettings
from ..studies.mnist import MNISTSettings
from ..studies.own_model import OwnModelSettings
from ..studies.statistics import StatisticsSettings
from ..studies.surrogate import SurrogateSettings
from ..studies.synthetic import SyntheticSettings
from ..studies.synthetic_ablation import AblationSettings
from .performance import PerformanceSettings

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
