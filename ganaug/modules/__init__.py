"""LightningModules: the shared ``GANModule`` method and its GANs."""

from ganaug.modules.base import CheckpointMismatchError, GANModule
from ganaug.modules.biggan import BigGAN
from ganaug.modules.cgan import ConditionalGAN
from ganaug.modules.gan import GAN
from ganaug.modules.loading import load_gan

__all__ = ["BigGAN", "CheckpointMismatchError", "ConditionalGAN", "GAN", "GANModule", "load_gan"]
