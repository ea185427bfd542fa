"""LightningModules: the shared ``GANModule`` method and its GANs."""

from ganaug.modules.base import CheckpointMismatchError, GANModule
from ganaug.modules.cgan import ConditionalGAN
from ganaug.modules.gan import GAN

__all__ = ["CheckpointMismatchError", "ConditionalGAN", "GAN", "GANModule"]
