"""``GAN``: an unconditional GAN over the DCGAN-style networks of ``ganaug.networks.dcgan``."""

from __future__ import annotations

from typing import Any

from torch import nn

from ganaug.modules.base import GANModule
from ganaug.modules.checkpoint import register_gan
from ganaug.networks.dcgan import DCGANDiscriminator, DCGANGenerator


@register_gan
class GAN(GANModule):
    """Unconditional GAN: noise in, images out; class labels in the batches are ignored.

    All training options are those of ``ganaug.modules.base.GANModule``.
    """

    def __init__(
        self,
        *,
        num_classes: int = 0,  # ignored: accepted so that one config can link any module to data
        g_width: int = 32,  # channels of the generator's last feature map
        d_width: int = 32,  # channels of the discriminator's first feature map
        architecture: tuple[int, tuple[int, ...]] | None = None,  # both networks' width table
        # row, (start size, multipliers), e.g. [4, [4, 2, 1]] for 16x16; None = ARCHITECTURES'
        **kwargs: Any,  # GANModule options (latent_dim, channels, image_size, loss, ...)
    ) -> None:
        super().__init__(num_classes=0, **kwargs)

    def build_generator(self) -> nn.Module:
        hp = self.hparams
        return DCGANGenerator(latent_dim=hp.latent_dim, channels=hp.channels,
                              image_size=hp.image_size, width=hp.g_width,
                              architecture=hp.architecture)

    def build_discriminator(self) -> nn.Module:
        hp = self.hparams
        return DCGANDiscriminator(channels=hp.channels, image_size=hp.image_size, width=hp.d_width,
                                  architecture=hp.architecture)
