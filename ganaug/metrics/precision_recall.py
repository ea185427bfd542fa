"""Improved precision and recall of generative models, from k-nearest-neighbour balls.

Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models", https://arxiv.org/abs/1904.06991. Each real sample's ball has the radius of its
distance to its ``k``-th nearest other real sample; *precision* is the fraction of generated
samples inside at least one real ball (are the samples realistic?), *recall* the fraction of
real samples inside at least one generated ball (is the real data covered?). A generator that
collapses onto a few modes keeps its precision and loses recall. ``k = 3`` as in the paper and in
torch-fidelity.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["coverage_fraction", "knn_radii", "precision_recall"]


def knn_radii(features: Tensor, k: int = 3, *, batch_size: int = 4096) -> Tensor:
    """Distance from each row of ``features`` to its ``k``-th nearest other row, (N,)."""
    if not 1 <= k < len(features):
        raise ValueError(f"k must lie in [1, N - 1] = [1, {len(features) - 1}], got {k}")
    radii = [torch.cdist(chunk, features).kthvalue(k + 1, dim=1).values  # +1: itself at distance 0
             for chunk in features.split(batch_size)]
    return torch.cat(radii)


def coverage_fraction(points: Tensor, centres: Tensor, radii: Tensor, *,
                      batch_size: int = 4096) -> Tensor:
    """Fraction of ``points`` within ``radii[i]`` of at least one ``centres[i]``."""
    inside = [(torch.cdist(chunk, centres) <= radii).any(dim=1) for chunk in points.split(batch_size)]
    return torch.cat(inside).double().mean()


def precision_recall(real: Tensor, fake: Tensor, *, k: int = 3,
                     batch_size: int = 4096) -> tuple[Tensor, Tensor]:
    """Precision and recall of ``fake`` (M, D) with respect to ``real`` (N, D), float64 scalars."""
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, D) with the same D, got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}")
    real, fake = real.double(), fake.double()
    precision = coverage_fraction(fake, real, knn_radii(real, k, batch_size=batch_size),
                                  batch_size=batch_size)
    recall = coverage_fraction(real, fake, knn_radii(fake, k, batch_size=batch_size),
                               batch_size=batch_size)
    return precision, recall
