"""``GenerativeEvaluator``: one extractor pass per batch feeding FID, IS, KID, precision / recall.

The evaluator owns a :class:`~ganaug.metrics.extractors.FeatureExtractor` and the torchmetrics
metrics of :mod:`ganaug.metrics.scores`; ``update`` converts images to features once and hands
them to every metric; ``compute`` syncs across processes (call it on *every* rank) and returns
an :class:`EvaluationResult` that carries the protocol: extractor identity, sample counts and
metric settings, next to the numbers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor, nn

from ganaug.metrics.extractors import FeatureExtractor
from ganaug.metrics.scores import (
    ClassFrechetDistance,
    FrechetDistance,
    InceptionScore,
    KernelDistance,
    PrecisionRecall,
)

__all__ = ["METRICS", "EvaluationResult", "GenerativeEvaluator"]

METRICS = ("fid", "is", "kid", "pr", "class_fid")
"""Metric groups: ``pr`` gives precision and recall, ``class_fid`` the per-class FIDs."""


@dataclass
class EvaluationResult:
    """Metric values with everything needed to compare them: extractor, counts, settings."""

    values: dict[str, float]  # fid, is, is_std, kid, kid_std, precision, recall, fid/class_k
    counts: dict[str, Any]  # samples behind each metric group, real and generated
    extractor: dict[str, Any]  # FeatureExtractor.identity(): name, weights hash, protocol
    settings: dict[str, Any] = field(default_factory=dict)  # KID subsets, IS splits, k, reference

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def table(self) -> str:
        """A plain-text table: one metric per line with its sample counts, then the protocol."""
        lines = [f"{'metric':<14} {'value':>12}  samples (real / generated)"]
        for name, value in self.values.items():
            group = _group_of(name)
            counts = self.counts.get(group, {})
            real = counts.get("real", "-")
            if isinstance(real, list):  # per class: this class's count
                c = int(name.rsplit("_", 1)[1])
                real, generated = counts["real"][c], counts["generated"][c]
            else:
                generated = counts.get("generated", "-")
            lines.append(f"{name:<14} {value:>12.6g}  {real} / {generated}")
        lines.append("")
        for key, value in self.extractor.items():
            lines.append(f"{key + ':':<14} {value}")
        for key, value in self.settings.items():
            lines.append(f"{key + ':':<14} {value}")
        return "\n".join(lines)


def _group_of(name: str) -> str:
    if name.startswith("faithfulness"):
        return "faithfulness"
    if name.startswith("fid/class"):
        return "class_fid"
    return {"is": "is", "is_std": "is", "kid": "kid", "kid_std": "kid", "precision": "pr",
            "recall": "pr"}.get(name, "fid")


class GenerativeEvaluator(nn.Module):
    """Accumulates real and generated images (never stores pixels) and computes the metrics.

    Call ``update(images, real=...)`` per batch, or ``set_reference(...)`` with cached real
    features, then ``compute()`` on every process. Under DDP each rank updates with its own
    images and ``compute`` gathers them all.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,  # images -> (features, logits)
        *,
        image_shape: tuple[int, int, int],  # (C, H, W) of the images to evaluate
        metrics: tuple[str, ...] = ("fid", "is", "kid", "pr"),  # groups from METRICS
        num_classes: int = 0,  # classes for "class_fid"; 0 = no per-class FID
        kid_subsets: int = 100,  # KID subset pairs (torch-fidelity's default)
        kid_subset_size: int = 1000,  # KID samples per subset, lowered to what is available
        is_splits: int = 10,  # Inception Score splits
        pr_k: int = 3,  # neighbourhood size of precision / recall
        seed: int = 2020,  # KID subsets and IS shuffle (torch-fidelity's default)
    ) -> None:
        super().__init__()
        unknown = set(metrics) - set(METRICS)
        if unknown or not metrics:
            raise ValueError(f"metrics must be a non-empty subset of {METRICS}, got {metrics}")
        if "class_fid" in metrics and num_classes < 1:
            raise ValueError("per-class FID ('class_fid') needs num_classes >= 1")
        self.extractor = extractor
        self.image_shape = tuple(image_shape)
        dim, logits = extractor.feature_dims(self.image_shape)
        if "is" in metrics and logits is None:
            raise ValueError(f"the Inception Score needs logits, but extractor {extractor.name!r} "
                             "returns only features; drop 'is' from metrics or return "
                             "(features, logits)")
        self.metric_names = tuple(metrics)
        self.settings = {"feature_dim": dim}
        scores: dict[str, nn.Module] = {}
        if "fid" in metrics:
            scores["fid"] = FrechetDistance(dim)
        if "kid" in metrics:
            scores["kid"] = KernelDistance(subsets=kid_subsets, subset_size=kid_subset_size,
                                           seed=seed)
            self.settings.update(kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                                 kid_kernel="(x.y / D + 1)^3")
        if "is" in metrics:
            scores["is"] = InceptionScore(splits=is_splits, seed=seed)
            self.settings["is_splits"] = is_splits
        if "pr" in metrics:
            scores["pr"] = PrecisionRecall(k=pr_k)
            self.settings["pr_k"] = pr_k
        if "class_fid" in metrics:
            scores["class_fid"] = ClassFrechetDistance(num_classes)
        self.settings["seed"] = seed
        self.scores = nn.ModuleDict(scores)
        self.reference_info: dict[str, Any] | None = None

    def update(self, images: Tensor, *, real: bool, labels: Tensor | None = None) -> None:
        """Extract features of a batch of real or generated images in [-1, 1] and accumulate."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, self.image_shape))}),"
                             f" got {tuple(images.shape)}")
        features, logits = self.extractor(images)
        for name, metric in self.scores.items():
            if name == "is":
                if not real:
                    metric.update(logits)
            elif name == "class_fid":
                if labels is None:
                    raise ValueError("per-class FID needs the labels of every batch")
                metric.update(features, labels, real=real)
            else:
                metric.update(features, real=real)

    def set_reference(self, features: Tensor, labels: Tensor | None = None,
                      info: dict[str, Any] | None = None) -> None:
        """Use cached real features (and labels for per-class FID) instead of real updates."""
        for name, metric in self.scores.items():
            if name == "class_fid":
                metric.set_reference(features, labels)
            elif name != "is":
                metric.set_reference(features)
        self.reference_info = info

    def compute(self) -> EvaluationResult:
        """All metrics, synced across processes: call it on every rank."""
        values: dict[str, float] = {}
        counts: dict[str, Any] = {}
        for name, metric in self.scores.items():
            result = metric.compute()
            counts[name] = metric.last_counts
            if name == "fid":
                values["fid"] = float(result)
            elif name == "kid":
                values["kid"], values["kid_std"] = float(result[0]), float(result[1])
                self.settings["kid_subset_size_used"] = metric.last_subset_size
            elif name == "is":
                values["is"], values["is_std"] = float(result[0]), float(result[1])
            elif name == "pr":
                values["precision"], values["recall"] = float(result[0]), float(result[1])
            else:
                values.update({f"fid/class_{c}": float(v) for c, v in enumerate(result)})
        settings = dict(self.settings)
        if self.reference_info is not None:
            settings["reference"] = self.reference_info
        return EvaluationResult(values, counts, self.extractor.identity(), settings)

    def reset(self) -> None:
        """Forget the accumulated images (a reference set by ``set_reference`` stays)."""
        for metric in self.scores.values():
            metric.reset()
