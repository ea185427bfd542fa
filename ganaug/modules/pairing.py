"""Partners of the same class inside a training batch, for methods that discriminate pairs.

DAGAN (Antoniou, Storkey & Edwards 2017, https://arxiv.org/abs/1711.04340) shows its
discriminator pairs ``(x, x')`` of two different real images of one class; the pairs are drawn
inside each batch, whose order ``ganaug.data.pairs.ClassPairSampler`` makes pairable.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pair_within_batch"]


def pair_within_batch(
    labels: Tensor,  # (N,) int64 class of every image in the batch
    generator: torch.Generator | None = None,  # RNG of the draw; None = global
    *,
    allow_self: bool = False,  # an image alone in its class is its own partner; False = error
) -> Tensor:
    """For every image, the index of a partner drawn uniformly from the *other* images of its
    class in the batch: (N,) int64 on ``labels``' device.
    """
    if labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"labels must be a 1-d integer tensor, got {labels.dtype} "
                         f"{tuple(labels.shape)}")
    n = labels.shape[0]
    order = torch.argsort(labels, stable=True)
    _, counts = torch.unique_consecutive(labels[order], return_counts=True)
    size = torch.repeat_interleave(counts, counts)  # group size of each sorted position
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    position = torch.arange(n, device=labels.device) - start
    if not allow_self and bool((size == 1).any()):
        alone = labels[order][size == 1].unique().tolist()
        raise ValueError(
            f"class(es) {alone[:10]} occur once in this batch and have no partner; draw batches "
            "with ClassPairSampler (PairedImageDataModule does), or allow self-pairs"
        )

    # draw one of the size - 1 other positions, skipping the image's own
    device = generator.device if generator is not None else labels.device
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64).to(labels.device)
    others = (size - 1).clamp(min=1)
    r = torch.minimum((u * others).long(), others - 1)
    chosen = torch.where(size == 1, position, r + (r >= position).long())
    partner = torch.empty_like(order)
    partner[order] = order[start + chosen]
    return partner
