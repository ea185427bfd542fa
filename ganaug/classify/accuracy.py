"""Accuracy per group (class, or real / synthetic) and confusion counts as torchmetrics ``Metric``s.

One state pair, correct and total counts per group, summed across processes, gives overall,
per-class and per-source accuracy alike; groups without samples come out as NaN instead of a
misleading 0 or 1.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

__all__ = ["ConfusionCounts", "GroupAccuracy"]


class GroupAccuracy(Metric):
    """Counts of correct predictions and of samples in each of ``num_groups`` groups."""

    full_state_update = False
    correct: Tensor
    total: Tensor

    def __init__(self, num_groups: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_groups < 1:
            raise ValueError(f"num_groups must be positive, got {num_groups}")
        self.num_groups = num_groups
        self.add_state("correct", torch.zeros(num_groups, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(num_groups, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, correct: Tensor, groups: Tensor) -> None:
        """``correct``: bool (N,) per sample; ``groups``: int64 (N,) in [0, num_groups)."""
        if correct.shape != groups.shape or correct.ndim != 1:
            raise ValueError(f"expected correct and groups of one shape (N,), got "
                             f"{tuple(correct.shape)} and {tuple(groups.shape)}")
        # The range check reads the values back, so it runs on CPU tensors only; on an
        # accelerator an out-of-range index fails inside scatter_add_ instead, without a sync.
        if groups.device.type == "cpu" and groups.numel() and (
                int(groups.min()) < 0 or int(groups.max()) >= self.num_groups):
            raise ValueError(f"groups must lie in [0, {self.num_groups}), got "
                             f"{int(groups.min())}..{int(groups.max())}")
        groups = groups.long()
        self.total.scatter_add_(0, groups, torch.ones_like(groups))
        self.correct.scatter_add_(0, groups, correct.long())

    def compute(self) -> tuple[Tensor, Tensor]:
        """``(correct, total)`` per group, int64 (num_groups,) each, summed over processes."""
        return self.correct, self.total


class ConfusionCounts(Metric):
    """How many samples of each true class were predicted as each class, summed over processes.

    ``compute()`` is an int64 (K, K) matrix: row = true class, column = predicted class, so its
    diagonal over its row sums is the per-class recall. It says where a class's errors go, which
    the per-class error alone does not.
    """

    full_state_update = False
    counts: Tensor

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.add_state("counts", torch.zeros(num_classes * num_classes, dtype=torch.long),
                       dist_reduce_fx="sum")

    def update(self, predicted: Tensor, labels: Tensor) -> None:
        """``predicted`` and ``labels``: int (N,) class indices in [0, num_classes)."""
        if predicted.shape != labels.shape or labels.ndim != 1:
            raise ValueError(f"expected predicted and labels of one shape (N,), got "
                             f"{tuple(predicted.shape)} and {tuple(labels.shape)}")
        k = self.num_classes
        if labels.device.type == "cpu" and labels.numel() and (
                int(torch.minimum(labels.min(), predicted.min())) < 0
                or int(torch.maximum(labels.max(), predicted.max())) >= k):
            raise ValueError(f"classes must lie in [0, {k}), got labels "
                             f"{int(labels.min())}..{int(labels.max())} and predictions "
                             f"{int(predicted.min())}..{int(predicted.max())}")
        cells = labels.long() * k + predicted.long()
        self.counts.scatter_add_(0, cells, torch.ones_like(cells))

    def compute(self) -> Tensor:
        """The (K, K) counts: row = true class, column = predicted class."""
        return self.counts.view(self.num_classes, self.num_classes)
