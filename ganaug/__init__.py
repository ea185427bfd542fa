"""ganaug: PyTorch Lightning modules for GAN-based data augmentation.

The main parts, importable from the top level:

- ``DiffAugment``: the differentiable augmentation every GAN module applies to D's inputs;
- ``GANModule`` and its GANs ``GAN`` and ``ConditionalGAN``;
- ``ImageDataModule``: named datasets as class-balanced, few-shot train / val / test loaders.
"""

from ganaug.augment import DiffAugment
from ganaug.data import ImageDataModule
from ganaug.modules import GAN, ConditionalGAN, GANModule

__version__ = "0.1.0.dev0"
__all__ = ["ConditionalGAN", "DiffAugment", "GAN", "GANModule", "ImageDataModule", "__version__"]
