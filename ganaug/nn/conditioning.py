"""Ways a discriminator sees the class label.

- ``ProjectionHead``: the projection discriminator of Miyato & Koyama 2018 ("cGANs with Projection
  Discriminator"): ``logit = linear(h) + <embed(y), h>`` on pooled features ``h``.
- ``label_channels``: the older input-concatenation scheme (Mirza & Osindero 2014 style): one
  constant one-hot plane per class appended to the image channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn.spectral import sn_embedding, sn_linear


class ProjectionHead(nn.Module):
    """Unconditional linear logit plus, when ``num_classes > 0``, a class-projection term."""

    def __init__(self, features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.linear = sn_linear(features, 1)
        self.embed = sn_embedding(num_classes, features) if num_classes > 0 else None

    def forward(self, features: Tensor, labels: Tensor | None = None, *,
                scale: float = 1.0) -> Tensor:
        """Logits (N,); ``scale`` weighs the class-projection term (0 = unconditional)."""
        logits = self.linear(features).squeeze(1)  # (N,)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a class-conditional projection head needs labels")
            if scale:
                logits = logits + scale * (self.embed(labels) * features).sum(dim=1)
        return logits


def label_channels(images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Append ``num_classes`` one-hot planes to ``images``: (N, C, H, W) -> (N, C + K, H, W)."""
    n, _, h, w = images.shape
    planes = F.one_hot(labels, num_classes).to(images.dtype)  # (N, K)
    return torch.cat([images, planes.view(n, num_classes, 1, 1).expand(n, num_classes, h, w)], 1)
