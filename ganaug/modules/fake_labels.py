"""How a conditional GAN draws the classes of its fake images: :class:`FakeLabelPolicy`.

Which classes the fakes of a training step get decides how many generator steps each class
receives. Taking the real batch's classes (``"real"``) gives every class a share of G's steps
proportional to its share of the real data: on a long tail, a 5-image class gets 1/50 of the
steps of a 250-image one. Drawing them uniformly (``"uniform"``, BigGAN-PyTorch's way) gives every
class the same number; a given prior (a list of K weights) anything in between.

A policy is a small callable ``policy(labels, generator) -> fake labels``; ``GANModule`` is
handed one through its ``fake_labels`` option (:func:`fake_label_policy` builds it) and calls it
in both D and G steps with the step's random generator, so a resumed fit draws what an
uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["FAKE_LABEL_POLICIES", "FakeLabelPolicy", "PriorFakeLabels", "RealFakeLabels",
           "UniformFakeLabels", "fake_label_policy"]

FAKE_LABEL_POLICIES = ("real", "uniform")
"""The named policies of ``fake_labels``; a list of K class weights is the third form."""

FakeLabelsOption = str | Sequence[float]


class FakeLabelPolicy:
    """Classes for a batch of fakes, given the real batch's ``labels`` (N,) and the step's RNG."""

    def __call__(self, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError


class RealFakeLabels(FakeLabelPolicy):
    """The real batch's classes: G's steps per class follow the real data's class frequencies."""

    def __call__(self, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        return labels


class UniformFakeLabels(FakeLabelPolicy):
    """Classes drawn uniformly at random: every class gets the same share of G's steps."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def __call__(self, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else labels.device
        drawn = torch.randint(0, self.num_classes, labels.shape, generator=generator, device=device)
        return drawn.to(labels.device, non_blocking=True)


class PriorFakeLabels(FakeLabelPolicy):
    """Classes drawn from a given prior: class ``k`` with probability ``weights[k] / sum``."""

    def __init__(self, weights: Sequence[float]) -> None:
        self.probabilities = torch.tensor([float(w) for w in weights], dtype=torch.float64)
        self.probabilities /= self.probabilities.sum()

    def __call__(self, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else labels.device
        probabilities = self.probabilities.to(device)
        if labels.numel() == 0:
            return labels.clone()
        drawn = torch.multinomial(probabilities, labels.numel(), replacement=True,
                                  generator=generator)
        return drawn.reshape(labels.shape).to(labels.device, non_blocking=True)


def fake_label_policy(option: FakeLabelsOption, num_classes: int) -> FakeLabelPolicy:
    """The policy ``fake_labels=option`` names: ``"real"``, ``"uniform"`` or ``num_classes``
    non-negative class weights (not all zero). Raises ``ValueError`` for anything else."""
    if isinstance(option, str):
        if option == "real":
            return RealFakeLabels()
        if option == "uniform":
            return UniformFakeLabels(max(num_classes, 1))
        raise ValueError(f"fake_labels must be one of {FAKE_LABEL_POLICIES} or a list of "
                         f"{num_classes} class weights, got {option!r}")
    weights = list(option)
    if len(weights) != num_classes or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
        raise ValueError(f"fake_labels as class weights must be {num_classes} numbers (one per "
                         f"class), got {option!r}")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"fake_labels class weights must be finite, >= 0 and not all 0, "
                         f"got {option!r}")
    return PriorFakeLabels(weights)
