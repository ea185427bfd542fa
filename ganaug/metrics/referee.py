"""How well a bank filter's referee serves each class, by the judge: per-class precision.

A bank filter keeps the synthetic images its *referee* (a classifier of the real training data)
gives their class, possibly above a confidence floor (:func:`ganaug.diversity.classifier_filter`).
On a long tail the referee is weakest on the rare classes, exactly where the filter matters, and
may pass wrong images there at high confidence. Given a pool of candidate images and the
independent *judge*, per class:

- ``accepted``: the fraction of the pool the filter keeps;
- ``precision``: of the kept images, the fraction the judge gives their class (the faithfulness
  the filtered bank will have; NaN when the filter keeps none);
- ``pool_faithful``: of the whole pool, the fraction the judge gives their class (what the
  filter starts from: precision above it is what the filter earned);
- ``rejected_faithful``: of the rejected images, the fraction the judge gives their class (good
  images the filter threw away; NaN when it rejects none).

Comparing referees on the same pool (plain classic classifiers against those of a real-only
remedy for the long tail) says which filter to draw banks with (``StudyConfig.
bank_referee_recipe``); ``benchmarks/referee_precision.py`` does that for a study's sources.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.diversity import classifier_filter
from ganaug.images import from_uint8

__all__ = ["FilterPrecision", "filter_precision"]


@dataclass(frozen=True)
class FilterPrecision:
    """Per-class fractions in [0, 1] (see the module docstring) and the pool behind each."""

    accepted: list[float]
    precision: list[float]
    pool_faithful: list[float]
    rejected_faithful: list[float]
    samples_per_class: list[int]

    @property
    def worst_precision(self) -> float:
        """The lowest per-class precision (classes where nothing was kept ignored)."""
        values = [v for v in self.precision if not math.isnan(v)]
        return min(values) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst_precision": self.worst_precision}


def _fraction(hits: Tensor, mask: Tensor) -> float:
    count = int(mask.sum())
    return float(hits[mask].float().mean()) if count else math.nan


@torch.no_grad()
def filter_precision(
    images: Tensor,  # (N, C, H, W): uint8, or float in [-1, 1]; a pool of candidates
    labels: Tensor,  # (N,) the classes the images were made for
    referee: nn.Module,  # images in [-1, 1] -> logits (N, K): the filter's classifier
    judge: nn.Module,  # images in [-1, 1] -> logits (N, K): the independent judge
    *,
    num_classes: int,
    drop_misclassified: bool = True,  # the filter's rules, as in DiversityControl
    min_confidence: float | None = None,
    drop_confident_above: float | None = None,
    batch_size: int = 500,
) -> FilterPrecision:
    """Per-class acceptance and precision of the filter ``referee`` applies, by ``judge``."""
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    labels = torch.as_tensor(labels).long().cpu()
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    referee_logits = _logits(referee, images, batch_size)
    judged = _logits(judge, images, batch_size).argmax(1) == labels
    kept = classifier_filter(referee_logits, labels, drop_misclassified=drop_misclassified,
                             min_confidence=min_confidence,
                             drop_confident_above=drop_confident_above)
    rows: dict[str, list] = {name: [] for name in ("accepted", "precision", "pool_faithful",
                                                   "rejected_faithful", "samples_per_class")}
    for label in range(num_classes):
        own = labels == label
        rows["accepted"].append(_fraction(kept, own))
        rows["precision"].append(_fraction(judged, own & kept))
        rows["pool_faithful"].append(_fraction(judged, own))
        rows["rejected_faithful"].append(_fraction(judged, own & ~kept))
        rows["samples_per_class"].append(int(own.sum()))
    return FilterPrecision(**rows)


def _logits(model: nn.Module, images: Tensor, batch_size: int) -> Tensor:
    """``model``'s logits of ``images`` (in eval mode, on its device), on the CPU."""
    was_training = model.training
    model.eval()
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    out = []
    for batch in images.split(batch_size):
        batch = batch.to(device)
        if not batch.is_floating_point():
            batch = from_uint8(batch)
        out.append(model(batch).float().cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)
