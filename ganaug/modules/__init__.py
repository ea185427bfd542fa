"""LightningModules: the shared ``GANModule`` method and its GANs."""

from ganaug.modules.base import CheckpointMismatchError, GANModule
from ganaug.modules.cgan import ConditionalGAN
from ganaug.modules.gan import GAN
from ganaug.modules.loading import load_gan

__all__ = ["CheckpointMismatchError", "ConditionalGAN", "GAN", "GANModule", "load_gan"]
from ganaug.modules.biggan import BigGAN  # noqa: E402

__all__ += ["BigGAN"]
from ganaug.modules.dagan import DAGAN, DAGANSource  # noqa: E402

__all__ += ["DAGAN", "DAGANSource"]
