"""Several classifiers of one task voting as one: the mean of their class probabilities.

A referee that filters synthetic images is one classifier trained on the few real images there
are, and it accepts some images of another class with confidence. Classifiers of the same images
trained from other seeds err on different images, so an image that all of them give its class is
more likely of that class. :class:`ClassifierEnsemble` wraps them as one module wherever a single
classifier is expected, as ``DiversityControl``'s referee for example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ClassifierEnsemble"]


class ClassifierEnsemble(nn.Module):
    """The mean of the class probabilities of ``members`` (modules mapping images to logits).

    ``forward`` returns the log of that mean. Its softmax is the mean probability and its argmax
    the ensemble's class, so it can stand in for a classifier's logits. ``features`` concatenates
    the members' ``features`` (for k-centre selection).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a ClassifierEnsemble needs at least one member classifier")
        self.members = nn.ModuleList(members)

    def forward(self, images: Tensor) -> Tensor:
        log_probabilities = torch.stack([member(images).log_softmax(1) for member in self.members])
        return torch.logsumexp(log_probabilities, 0) - math.log(len(self.members))

    def features(self, images: Tensor) -> Tensor:
        """The members' penultimate-layer features side by side, (B, sum of their widths)."""
        missing = [type(member).__name__ for member in self.members
                   if not callable(getattr(member, "features", None))]
        if missing:
            raise TypeError(f"features: members {missing} of this ClassifierEnsemble have no "
                            f"features(images) method; give every member one, or select without "
                            f"features")
        return torch.cat([member.features(images).flatten(1) for member in self.members], 1)
