"""Generative metrics: FID, IS, KID, precision / recall and per-class FID, on device and across
processes, with pluggable feature extractors, cached reference statistics, a training callback
the ``ganaug evaluate`` command and the classification accuracy score. The image protocol is in :mod:`ganaug.metrics.protocol`."""

from ganaug.metrics.callback import GenerativeMetrics
from ganaug.metrics.cas import classification_accuracy_score
from ganaug.metrics.evaluator import METRICS, EvaluationResult, GenerativeEvaluator
from ganaug.metrics.extractors import (
    FeatureExtractor,
    InceptionV3,
    ModuleExtractor,
    TorchScriptExtractor,
    build_extractor,
)
from ganaug.metrics.frechet import frechet_distance, gaussian_from_sums
from ganaug.metrics.inception_score import inception_score
from ganaug.metrics.kernel import kernel_distance
from ganaug.metrics.novelty import (
    NoveltyResult,
    bank_novelty,
    class_novelty,
    nearest_same_class_distances,
)
from ganaug.metrics.precision_recall import precision_recall
from ganaug.metrics.reference import ReferenceFeatures, load_or_compute_reference
from ganaug.metrics.referee import FilterPrecision, filter_precision
from ganaug.metrics.scores import (
    ClassFrechetDistance,
    FrechetDistance,
    InceptionScore,
    KernelDistance,
    PrecisionRecall,
)

__all__ = [
    "METRICS",
    "ClassFrechetDistance",
    "EvaluationResult",
    "FeatureExtractor",
    "FilterPrecision",
    "FrechetDistance",
    "GenerativeEvaluator",
    "GenerativeMetrics",
    "InceptionScore",
    "InceptionV3",
    "KernelDistance",
    "ModuleExtractor",
    "NoveltyResult",
    "PrecisionRecall",
    "ReferenceFeatures",
    "TorchScriptExtractor",
    "bank_novelty",
    "class_novelty",
    "build_extractor",
    "classification_accuracy_score",
    "filter_precision",
    "frechet_distance",
    "gaussian_from_sums",
    "inception_score",
    "kernel_distance",
    "load_or_compute_reference",
    "nearest_same_class_distances",
    "precision_recall",
]
