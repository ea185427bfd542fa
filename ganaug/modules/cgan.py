"""``ConditionalGAN``: a class-conditional GAN over the DCGAN-style networks.

The generator takes the label with the noise (a learned class embedding concatenated with z) or
through class-conditional batch norm in every layer; the discriminator sees it through a
projection head (Miyato & Koyama 2018, the default) or as one-hot input planes (Mirza &
Osindero 2014), and with ``class_loss_weight > 0`` also classifies real images with an auxiliary
head whose verdict on the fakes the generator minimises (AC-GAN; ``class_loss="adc"`` for
ADC-GAN's real-and-fake classes). With class-conditional batch norm, ``group_spectral_weight > 0``
adds group spectral regularisation of its per-class gains and biases to G's loss (gSR, Rangwani
et al. 2022, a remedy for the collapse of a long tail's rare classes:
:mod:`ganaug.modules.group_spectral`).
"""

from __future__ import annotations

from typing import Any, Literal

from torch import nn

from ganaug.modules.base import GANModule
from ganaug.modules.checkpoint import register_gan
from ganaug.modules.group_spectral import GroupSpectralPenalty
from ganaug.modules.penalties import GeneratorPenalty
from ganaug.networks.dcgan import DCGANDiscriminator, DCGANGenerator


@register_gan
class ConditionalGAN(GANModule):
    """Class-conditional GAN: ``sample(n, labels)`` draws images of the given classes.

    All training options are those of ``ganaug.modules.base.GANModule``.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,  # number of classes (linked from the datamodule by the CLI)
        g_width: int = 32,  # channels of the generator's last feature map
        d_width: int = 32,  # channels of the discriminator's first feature map
        architecture: tuple[int, tuple[int, ...]] | None = None,  # both networks' width table
        # row, (start size, multipliers), e.g. [4, [4, 2, 1]] for 16x16; None = ARCHITECTURES'
        conditioning: Literal["projection", "onehot"] = "projection",  # how D sees the label
        g_conditioning: Literal["concat", "cbn"] = "concat",  # how G sees it: embedding + z, or
        # class-conditional batch norm in every layer
        group_spectral_weight: float = 0.0,  # gSR weight on the cbn gains and biases (Rangwani
        # et al. 2022); 0 = off; needs g_conditioning="cbn"
        group_spectral_groups: int = 4,  # gSR groups: each class's C-vector as a (groups, C /
        # groups) matrix; must divide every layer's channels
        **kwargs: Any,  # GANModule options (latent_dim, channels, image_size, loss, ...)
    ) -> None:
        if kwargs.get("condition_fade") is not None and g_conditioning != "concat":
            raise ValueError("condition_fade fades the generator's label embedding in: it needs "
                             f"g_conditioning='concat', got {g_conditioning!r}")
        if num_classes < 1:
            raise ValueError(f"a conditional GAN needs num_classes >= 1, got {num_classes}; "
                             "use GAN for unconditional training")
        if not group_spectral_weight >= 0:
            raise ValueError(f"group_spectral_weight must be >= 0, got {group_spectral_weight}")
        if group_spectral_weight > 0 and g_conditioning != "cbn":
            raise ValueError("group_spectral_weight regularises the generator's class-conditional "
                             "batch norm: it needs g_conditioning='cbn', got "
                             f"{g_conditioning!r}")
        super().__init__(num_classes=num_classes, **kwargs)
        for penalty in self.generator_penalties():
            penalty(self.generator)  # refuses groups that do not divide a layer's channels

    def generator_penalties(self) -> list[GeneratorPenalty]:
        """gSR on the class-conditional batch norms when ``group_spectral_weight > 0``."""
        hp = self.hparams
        if hp.group_spectral_weight == 0:
            return []
        return [GroupSpectralPenalty(hp.group_spectral_weight, hp.group_spectral_groups)]

    def build_generator(self) -> nn.Module:
        hp = self.hparams
        return DCGANGenerator(latent_dim=hp.latent_dim, num_classes=hp.num_classes,
                              channels=hp.channels, image_size=hp.image_size, width=hp.g_width,
                              architecture=hp.architecture, conditioning=hp.g_conditioning)

    def build_discriminator(self) -> nn.Module:
        hp = self.hparams
        return DCGANDiscriminator(num_classes=hp.num_classes, channels=hp.channels,
                                  image_size=hp.image_size, width=hp.d_width,
                                  architecture=hp.architecture, conditioning=hp.conditioning,
                                  auxiliary_classifier=hp.class_loss_weight > 0,
                                  auxiliary_classes=hp.num_classes * (2 if hp.class_loss == "adc" else 1))
