"""Group spectral regularisation (gSR) of a conditional generator's class-conditional batch norm.

Rangwani, Jaswani, Karmali, Jampani & Babu, "Improving GANs for Long-Tailed Data through Group
Spectral Regularization", ECCV 2022 (https://arxiv.org/abs/2208.09932). On long-tailed data the
tail classes of a conditional GAN collapse to a few images (class-specific mode collapse); the
paper finds this goes with a *spectral explosion* of the class-conditional batch-norm parameters:
each class's gain vector ``gamma_y`` (length ``C``), cut into ``groups`` groups and arranged as a
``groups x C / groups`` matrix, develops a large top singular value for the collapsed classes.
gSR adds ``sum over layers and classes of sigma_max(grouped gamma_y) ** 2`` to G's loss.

Here the regularised vectors are the learnt per-class embeddings of
:class:`ganaug.nn.ConditionalBatchNorm2d`: the gain embedding (the layer scales by
``1 + gain``, so the identity part is not penalised) and the bias embedding. ``sigma_max`` is
computed exactly (``torch.linalg.matrix_norm(ord=2)``), which at these sizes (a few classes of
vectors of a few hundred entries) costs less than the power iteration's bookkeeping.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganaug.modules.penalties import GeneratorPenalty
from ganaug.nn import ConditionalBatchNorm2d

__all__ = ["GroupSpectralPenalty", "class_conditional_norms", "grouped_spectral_norms"]


def grouped_spectral_norms(vectors: Tensor, groups: int) -> Tensor:
    """The largest singular value of each row of ``vectors`` (K, C) cut into ``groups`` groups:
    row ``y`` becomes the ``(groups, C // groups)`` matrix whose row ``g`` is entries
    ``g * C // groups`` to ``(g + 1) * C // groups - 1``; returns (K,)."""
    if vectors.ndim != 2:
        raise ValueError(f"expected per-class vectors (K, C), got shape {tuple(vectors.shape)}")
    k, c = vectors.shape
    if groups < 1 or c % groups:
        raise ValueError(f"group_spectral_groups must be >= 1 and divide every conditional batch "
                         f"norm's {c} channels, got {groups}")
    matrices = vectors.reshape(k, groups, c // groups).float()
    return torch.linalg.matrix_norm(matrices, ord=2)


def class_conditional_norms(generator: nn.Module) -> list[ConditionalBatchNorm2d]:
    """The label-conditioned batch norms of ``generator`` (per-class embeddings), in order."""
    return [m for m in generator.modules()
            if isinstance(m, ConditionalBatchNorm2d) and m.num_classes > 0]


class GroupSpectralPenalty(GeneratorPenalty):
    """gSR: ``sum_layers sum_classes sigma_max(grouped gain_y) ** 2 + sigma_max(grouped
    bias_y) ** 2`` over the generator's class-conditional batch norms (see module docstring)."""

    name = "group_spectral"

    def __init__(self, weight: float, groups: int = 4) -> None:
        super().__init__(weight)
        if groups < 1:
            raise ValueError(f"group_spectral_groups must be >= 1, got {groups}")
        self.groups = groups

    def __call__(self, generator: nn.Module) -> Tensor:
        norms = class_conditional_norms(generator)
        if not norms:
            raise ValueError("group spectral regularisation acts on class-conditional batch "
                             "norm: the generator has none (ConditionalGAN needs "
                             "g_conditioning='cbn')")
        total = torch.zeros((), device=norms[0].gain.weight.device)
        for norm in norms:
            for embedding in (norm.gain, norm.bias):
                total = total + grouped_spectral_norms(embedding.weight, self.groups).pow(2).sum()
        return total
