"""Classifiers by name: ``build_classifier("resnet20", num_classes=10, channels=3, image_size=32)``.

Every classifier is a plain ``nn.Module`` with ``forward(x) -> logits (N, K)``,
``features(x) -> (N, feature_dim)`` (the penultimate layer) and a ``feature_dim`` attribute.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ganaug.classify.densenet import densenet40
from ganaug.classify.dianet import dianet56
from ganaug.classify.resnet import resnet20, resnet56
from ganaug.classify.small_cnn import SmallCNN

__all__ = ["CLASSIFIERS", "build_classifier"]


def _small_cnn(*, num_classes: int, channels: int, image_size: int) -> nn.Module:
    return SmallCNN(num_classes=num_classes, channels=channels, image_size=image_size)


# name: constructor taking (num_classes, channels, image_size) as keywords
CLASSIFIERS: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": _small_cnn,  # 2 conv + 2 fc, fast on CPU
    "resnet20": resnet20,  # He et al. 2016, 0.27 M parameters
    "resnet56": resnet56,  # He et al. 2016, 0.86 M
    "densenet40": densenet40,  # Huang et al. 2017, L = 40, k = 12, 1.0 M
    "dianet56": dianet56,  # Huang et al. 2020, ResNet-56 base, reduction 4, 0.87 M
}


def build_classifier(name: str, *, num_classes: int, channels: int, image_size: int) -> nn.Module:
    """A freshly initialised classifier named in ``CLASSIFIERS``."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose one of {sorted(CLASSIFIERS)}")
    if num_classes < 2:
        raise ValueError(f"a classifier needs num_classes >= 2, got {num_classes}")
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    return CLASSIFIERS[name](num_classes=num_classes, channels=channels, image_size=image_size)
