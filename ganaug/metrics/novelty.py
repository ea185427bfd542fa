"""Are synthetic images copies of the training images, and how close are they to one another?

A GAN trained on a few images per class can give back near-copies of them. Those add nothing to
a classifier that already sees the originals. It can also draw images that differ from the
training images but lie close together. :func:`bank_novelty` measures both, by nearest-neighbour
distances within each class (in pixels, or in the features of a classifier such as the study's
referee), and sets each against what real images give:

- ``to_train``: how far a synthetic image is from its nearest training image of its class. It is
  compared with ``reference_to_train``, the same distance for held-out real images: a new real
  image is that far from the training set. A ratio well below 1 means copies.
- ``within``: how far a synthetic image is from its nearest other synthetic image of its class.
  It is compared with ``reference_within``, the same for the training images among themselves. A
  ratio below 1 means a tighter cluster than the real data. Nearest-neighbour distances shrink
  as a set grows, so compare sets of equal size per class.

Each distance is the median over images, so a few outliers do not move it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["NoveltyResult", "bank_novelty", "class_novelty", "nearest_same_class_distances"]


@dataclass(frozen=True)
class NoveltyResult:
    """Median nearest-neighbour distances within classes (see the module's description)."""

    to_train: float  # synthetic -> nearest training image
    reference_to_train: float  # held-out real -> nearest training image
    within: float  # synthetic -> nearest other synthetic image
    reference_within: float  # training image -> nearest other training image

    @property
    def novelty(self) -> float:
        """``to_train / reference_to_train``: about 1 for images as new as unseen real ones."""
        return self.to_train / self.reference_to_train

    @property
    def spread(self) -> float:
        """``within / reference_within``: below 1 when the synthetic images cluster more tightly
        than the real ones."""
        return self.within / self.reference_within

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "novelty": self.novelty, "spread": self.spread}


def nearest_same_class_distances(queries: Tensor, query_labels: Tensor, pool: Tensor,
                                 pool_labels: Tensor, *, exclude_self: bool = False) -> Tensor:
    """Euclidean distance from every row of ``queries`` (N, ...) to the nearest row of ``pool``
    (M, ...) with the same label; float64 (N,). With ``exclude_self``, ``queries`` *is* ``pool``
    and each row's distance to itself is left out. A class that ``pool`` lacks (or holds once,
    with ``exclude_self``) gives an error rather than an infinite distance."""
    queries, pool = queries.flatten(1).double(), pool.flatten(1).double()
    if len(queries) != len(query_labels) or len(pool) != len(pool_labels):
        raise ValueError(f"got {len(queries)} queries with {len(query_labels)} labels and a pool "
                         f"of {len(pool)} with {len(pool_labels)} labels")
    distances = torch.empty(len(queries), dtype=torch.float64)
    for label in query_labels.unique().tolist():
        mine, theirs = query_labels == label, pool_labels == label
        matrix = torch.cdist(queries[mine], pool[theirs])
        if exclude_self:
            matrix.fill_diagonal_(float("inf"))
        if matrix.shape[1] - int(exclude_self) < 1:
            raise ValueError(f"class {label} has no {'other ' if exclude_self else ''}image in "
                             f"the pool to measure a distance to")
        distances[mine] = matrix.min(1).values
    return distances


def bank_novelty(synthetic: Tensor, labels: Tensor, train: Tensor, train_labels: Tensor,
                 held_out: Tensor, held_out_labels: Tensor, *,
                 features: Callable[[Tensor], Tensor] | None = None,
                 batch_size: int = 500) -> NoveltyResult:
    """Novelty and spread of ``synthetic`` images (float, [-1, 1]) against the ``train`` images
    their generator learnt from and ``held_out`` real images, in pixels or in ``features``."""
    def embed(images: Tensor) -> Tensor:
        if features is None:
            return images.flatten(1)
        with torch.no_grad():
            return torch.cat([features(part).flatten(1) for part in images.split(batch_size)])

    synthetic, train, held_out = embed(synthetic), embed(train), embed(held_out)
    median = lambda values: float(values.median())  # noqa: E731
    return NoveltyResult(
        to_train=median(nearest_same_class_distances(synthetic, labels, train, train_labels)),
        reference_to_train=median(nearest_same_class_distances(held_out, held_out_labels, train,
                                                               train_labels)),
        within=median(nearest_same_class_distances(synthetic, labels, synthetic, labels,
                                                   exclude_self=True)),
        reference_within=median(nearest_same_class_distances(train, train_labels, train,
                                                             train_labels, exclude_self=True)))


def class_novelty(synthetic: Tensor, labels: Tensor, train: Tensor, train_labels: Tensor,
                  held_out: Tensor, held_out_labels: Tensor, num_classes: int
                  ) -> list[NoveltyResult | None]:
    """Novelty and spread of each class of ``synthetic`` (float, [-1, 1]) in pixels, against
    *held-out* real images of that class in equal number: per class ``k``, the first
    ``m = min(synthetic of k, held-out of k)`` images of each, so that both nearest-neighbour
    distances are taken among sets of the same size.

    - ``within`` / ``reference_within``: median distance to the nearest other image of the set,
      for the synthetic images and for the held-out real ones; ``spread`` is 1 for a class whose
      synthetic images are as varied as unseen real images of it, and near 0 for a tight cluster
      (issue 26: 245 variations of 5 digits);
    - ``to_train`` / ``reference_to_train``: median distance to the nearest training image of the
      class; ``novelty`` near 0 means copies of the training images.

    Returns one :class:`NoveltyResult` per class, None where ``m < 2`` or the class has no
    training image (nothing to measure)."""
    flat = lambda images: images.flatten(1).double()  # noqa: E731
    synthetic, train, held_out = flat(synthetic), flat(train), flat(held_out)
    results: list[NoveltyResult | None] = []
    for k in range(num_classes):
        mine, theirs, real = labels == k, held_out_labels == k, train_labels == k
        m = min(int(mine.sum()), int(theirs.sum()))
        if m < 2 or not bool(real.any()):
            results.append(None)
            continue
        fake, held, anchors = synthetic[mine][:m], held_out[theirs][:m], train[real]
        same = torch.zeros(m, dtype=torch.long)
        anchor_labels = torch.zeros(len(anchors), dtype=torch.long)
        median = lambda values: float(values.median())  # noqa: E731
        results.append(NoveltyResult(
            to_train=median(nearest_same_class_distances(fake, same, anchors, anchor_labels)),
            reference_to_train=median(nearest_same_class_distances(held, same, anchors,
                                                                   anchor_labels)),
            within=median(nearest_same_class_distances(fake, same, fake, same,
                                                       exclude_self=True)),
            reference_within=median(nearest_same_class_distances(held, same, held, same,
                                                                 exclude_self=True))))
    return results
