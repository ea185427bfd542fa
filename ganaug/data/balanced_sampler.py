"""Class-balanced re-sampling: every class drawn equally often, whatever its count.

The classic re-sampling remedy for a long tail (e.g. Buda, Maki & Mazurowski 2018, "A systematic
study of the class imbalance problem in convolutional neural networks",
https://arxiv.org/abs/1710.05381): draw training items with replacement, each with probability
proportional to ``1 / count`` of its class, so that each class present makes ``1 / K`` of the
draws in expectation and a 5-image class is seen as often as a 250-image one (its images repeated).
It serves a classifier's real data (the study's ``sampling: class_balanced`` recipe) and a GAN's
discriminator (real batches in which the tail is not 2 % of the images).

:func:`class_balanced_indices` is the draw, a pure function of ``(seed, epoch)``;
:class:`ClassBalancedSampler` shards it across processes. It is a ``DistributedSampler`` so that
Lightning leaves it in place under DDP (it replaces any other sampler with its own, which would
undo the balance).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DistributedSampler

from ganaug.seeding import epoch_rng

__all__ = ["ClassBalancedSampler", "class_balanced_indices", "class_balanced_probabilities"]


def class_balanced_probabilities(labels: Tensor | Sequence[int]) -> np.ndarray:
    """The probability of drawing each item, ``1 / (K * count of its class)``, with ``K`` the
    number of classes that have at least one item: float64 (N,), summing to 1."""
    labels = _check_labels(labels)
    counts = np.bincount(labels)
    present = int((counts > 0).sum())
    return 1.0 / (present * counts[labels].astype(np.float64))


def class_balanced_indices(
    labels: Tensor | Sequence[int],  # (N,) class of every item, >= 0
    size: int,  # how many indices to draw
    *,
    seed: int = 0,  # with epoch, fixes the draw
    epoch: int = 0,
    num_views: int = 1,  # views per item: view v of item i at index v * N + i (random flips)
) -> np.ndarray:
    """``size`` item indices (int64) drawn with replacement, class-balanced
    (:func:`class_balanced_probabilities`); with ``num_views > 1`` each draw also picks one view
    uniformly. A pure function of its arguments; the global RNG is never touched."""
    if size < 0 or num_views < 1:
        raise ValueError(f"need size >= 0 and num_views >= 1, got {size} and {num_views}")
    probabilities = class_balanced_probabilities(labels)
    rng = epoch_rng(seed, epoch)
    # Inverse-CDF draw: one uniform per index, so a longer draw extends a shorter one.
    cdf = np.cumsum(probabilities)
    indices = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    indices = np.minimum(indices, len(probabilities) - 1)
    if num_views > 1:
        indices = indices + len(probabilities) * rng.integers(0, num_views, size)
    return indices.astype(np.int64)


def _check_labels(labels: Tensor | Sequence[int]) -> np.ndarray:
    labels = torch.as_tensor(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one class index per item, shape (N,), got shape "
                         f"{tuple(labels.shape)}")
    if len(labels) == 0:
        raise ValueError("labels is empty: a class-balanced draw needs at least one item")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if int(labels.min()) < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(labels.min())}")
    return labels.long().numpy()


class ClassBalancedSampler(DistributedSampler):
    """Class-balanced indices with replacement (:func:`class_balanced_indices`), sharded across
    processes: all processes draw the same ``num_samples * num_replicas`` indices for the epoch
    and process ``rank`` takes places ``rank, rank + num_replicas, ...``.

    An epoch has ``num_samples = ceil(N / num_replicas)`` draws per process (as many as a plain
    epoch of the data), or ``ceil(epoch_size / num_replicas)`` when ``epoch_size`` is given.
    Lightning calls ``set_epoch``; the draw is a pure function of ``(seed, epoch)``. One process:
    ``num_replicas=1, rank=0`` (the defaults).
    """

    def __init__(
        self,
        labels: Tensor | Sequence[int],  # (N,) class of every item, >= 0
        *,
        seed: int = 0,  # with the epoch, fixes the draw
        num_views: int = 1,  # views per item (see class_balanced_indices)
        epoch_size: int | None = None,  # draws per epoch over all processes; None = N
        num_replicas: int = 1,  # processes
        rank: int = 0,  # this process
    ) -> None:
        labels_np = _check_labels(labels)
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got "
                             f"{num_replicas} and {rank}")
        if num_views < 1:
            raise ValueError(f"num_views must be >= 1, got {num_views}")
        if epoch_size is not None and epoch_size < 1:
            raise ValueError(f"epoch_size must be >= 1 or None, got {epoch_size}")
        self.labels = torch.from_numpy(labels_np)
        super().__init__(self.labels, num_replicas=num_replicas, rank=rank, shuffle=True,
                         seed=seed, drop_last=False)
        self.num_views = num_views
        self.num_samples = math.ceil((epoch_size or len(labels_np)) / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        indices = class_balanced_indices(self.labels, self.total_size, seed=self.seed,
                                         epoch=self.epoch, num_views=self.num_views)
        return iter(indices[self.rank :: self.num_replicas].tolist())
