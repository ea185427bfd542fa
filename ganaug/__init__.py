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

from ganaug.augment import DiffAugment
from ganaug.classify import ClassifierModule
from ganaug.data import ImageDataModule, SyntheticBlendDataModule
from ganaug.metrics import GenerativeMetrics
from ganaug.modules import DAGAN, GAN, BigGAN, ConditionalGAN, GANModule, load_gan, register_gan

__version__ = "0.1.0.dev0"
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
