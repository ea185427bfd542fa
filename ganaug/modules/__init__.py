"""LightningModules: the shared ``GANModule`` method and its GANs."""

from ganaug.modules.base import GANModule
from ganaug.modules.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    register_gan,
    registered_gans,
    resolve_gan,
)
from ganaug.modules.cgan import ConditionalGAN
from ganaug.modules.gan import GAN
from ganaug.modules.grids import SampleGrids
from ganaug.modules.loading import load_gan

__all__ = ["CheckpointError", "CheckpointMismatchError", "ConditionalGAN", "GAN", "GANModule",
           "SampleGrids", "load_gan", "register_gan", "registered_gans", "resolve_gan"]
from ganaug.modules.biggan import BigGAN  # noqa: E402

__all__ += ["BigGAN"]
from ganaug.modules.dagan import DAGAN, DAGANSource  # noqa: E402

__all__ += ["DAGAN", "DAGANSource"]
