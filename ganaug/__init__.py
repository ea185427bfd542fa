"""ganaug: PyTorch Lightning modules for GAN-based data augmentation.

The main parts, importable from the top level:

- ``DiffAugment``: the differentiable augmentation every GAN module applies to D's inputs;
- ``GANModule`` and its GANs ``GAN``, ``ConditionalGAN``, ``BigGAN`` and ``DAGAN``; ``load_gan``
  loads any of their checkpoints safely, ``register_gan`` lets it load a subclass of your own;
- ``ImageDataModule``: named datasets as class-balanced, few-shot train / val / test loaders;
- ``SyntheticBlendDataModule``: real training images blended with synthetic ones per class;
- ``ClassifierModule``: the downstream classifier that judges synthetic data;
- ``GenerativeMetrics``: FID / IS / KID / precision / recall during training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganaug._lazy import lazy_attributes

if TYPE_CHECKING:
    from ganaug.augment import DiffAugment
    from ganaug.classify import ClassifierModule
    from ganaug.data import ImageDataModule, SyntheticBlendDataModule
    from ganaug.metrics import GenerativeMetrics
    from ganaug.modules import (
        DAGAN,
        GAN,
        BigGAN,
        ConditionalGAN,
        GANModule,
        load_gan,
        register_gan,
    )

# public name -> its package; loaded on first use (PEP 562), so that importing a light part of
# ganaug (the dataset registry, the losses) does not import Lightning and torchvision
_HOMES = {
    "DiffAugment": "ganaug.augment",
    "ClassifierModule": "ganaug.classify",
    **dict.fromkeys(["ImageDataModule", "SyntheticBlendDataModule"], "ganaug.data"),
    "GenerativeMetrics": "ganaug.metrics",
    **dict.fromkeys(["DAGAN", "GAN", "BigGAN", "ConditionalGAN", "GANModule", "load_gan",
                     "register_gan"], "ganaug.modules"),
}

__version__ = "0.2.0"  # the release; pyproject.toml reads it from here
__all__ = [
    "BigGAN",
    "ClassifierModule",
    "ConditionalGAN",
    "DAGAN",
    "DiffAugment",
    "GAN",
    "GANModule",
    "GenerativeMetrics",
    "ImageDataModule",
    "SyntheticBlendDataModule",
    "__version__",
    "load_gan",
    "register_gan",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
