"""``BigGAN``: the DiffAugment-BigGAN training method for class-conditional image synthesis.

Brock et al. 2019 ("Large Scale GAN Training for High Fidelity Natural Image Synthesis",
https://arxiv.org/abs/1809.11096) with DiffAugment (Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training", https://arxiv.org/abs/2006.10738). The defaults are
the published DiffAugment-BigGAN CIFAR-10 setting (``DiffAugment-biggan-cifar10.sh``): hinge loss,
Adam with learning rate 2e-4 and betas (0, 0.999) for both networks, 4 discriminator steps per
generator step, an EMA of G with decay 0.9999 from iteration 1000, policy ``translation,cutout``.
Batch size 50 and mirrored real images belong to the datamodule (``configs/biggan_cifar10.yaml``).

What a step sees, as in BigGAN-PyTorch: every D step takes its own real batch (``GANModule`` runs
one D step per batch and a G step after every ``d_steps``-th), and fake images get classes drawn
uniformly at random (``fake_labels="uniform"``, :mod:`ganaug.modules.fake_labels`), not the real
batch's.

Speed options: ``channels_last`` memory format for both networks and the real batches (a
``GANModule`` option),
``compile_networks`` to ``torch.compile`` the generator and the discriminator (never the
LightningModule), and bf16 autocast through the Trainer (``precision: bf16-mixed``). The
non-finite-loss check syncs with the device, so it runs every ``check_finite_every_n_steps`` D
steps (100 by default here) rather than every step.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganaug.modules.base import GANModule
from ganaug.modules.checkpoint import register_gan
from ganaug.networks.biggan import BigGANDiscriminator, BigGANGenerator

__all__ = ["BigGAN"]


@register_gan
class BigGAN(GANModule):
    """DiffAugment-BigGAN: BigGAN networks and the published CIFAR training setting.

    Options not listed here are those of ``ganaug.modules.base.GANModule``; the defaults of the
    ones the published setting fixes are changed to its values.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,  # number of classes (linked from the datamodule); 0 = unconditional
        g_width: int = 64,  # generator channel multiplier (BigGAN's G_ch)
        d_width: int = 64,  # discriminator channel multiplier (BigGAN's D_ch)
        g_architecture: tuple[int, ...] | None = None,  # G widths from the 4x4 map to the last
        # block, as multiples of g_width; None = the BIGGAN_G_ARCHITECTURES row of image_size
        d_architecture: tuple[tuple[int, bool], ...] | None = None,  # D (width, downsample) per
        # block; None = the BIGGAN_D_ARCHITECTURES row of image_size
        shared_embedding: bool = False,  # G: one shared class embedding for every batch norm
        shared_dim: int = 0,  # G: size of the shared embedding; 0 = latent_dim
        hierarchical: bool = False,  # G: hierarchical latents (z split across the blocks)
        g_attention: int = 0,  # G: resolution of a self-attention block; 0 = none
        d_attention: int = 0,  # D: resolution of a self-attention block; 0 = none
        init_std: float = 0.02,  # weights of both networks start N(0, init_std)
        fake_labels: str | list[float] = "uniform",  # classes of fake images: "uniform", the
        # real batch's ("real") or K class weights (ganaug.modules.fake_labels)
        compile_networks: bool = False,  # torch.compile the generator and the discriminator
        latent_dim: int = 128,  # size of z
        channels: int = 3,  # image channels
        image_size: int = 32,  # 32, 64 or 128 (others with g_architecture and d_architecture)
        loss: str = "hinge",  # adversarial loss
        d_steps: int = 4,  # discriminator steps (batches) per generator step
        lr_g: float = 2e-4,  # Adam learning rate of G
        lr_d: float = 2e-4,  # Adam learning rate of D
        betas: tuple[float, float] = (0.0, 0.999),  # Adam betas of both
        augment_policy: str = "translation,cutout",  # DiffAugment policy
        ema_decay: float = 0.9999,  # decay of the EMA generator
        ema_start: int = 1000,  # iteration from which the EMA averages (before: copies G)
        check_finite_every_n_steps: int = 100,  # non-finite-loss check interval (a device sync)
        **kwargs: Any,  # further GANModule options (seed, gp_weight, r1_gamma, grid_size, ...)
    ) -> None:
        if kwargs.get("class_loss_weight", 0.0) > 0:
            raise ValueError("BigGAN's discriminator has no auxiliary classifier: class_loss_weight "
                             "must be 0 (ConditionalGAN offers the AC-GAN term)")
        for name, value in (("g_width", g_width), ("d_width", d_width)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        super().__init__(
            num_classes=num_classes, latent_dim=latent_dim, channels=channels,
            image_size=image_size, loss=loss, d_steps=d_steps, lr_g=lr_g, lr_d=lr_d, betas=betas,
            augment_policy=augment_policy, ema_decay=ema_decay, ema_start=ema_start,
            fake_labels=fake_labels,
            check_finite_every_n_steps=check_finite_every_n_steps, **kwargs,
        )
        self._compiled = False

    # networks

    def build_generator(self) -> nn.Module:
        hp = self.hparams
        return BigGANGenerator(
            latent_dim=hp.latent_dim, num_classes=self.num_classes, channels=hp.channels,
            image_size=hp.image_size, width=hp.g_width, architecture=hp.g_architecture,
            shared_embedding=hp.shared_embedding,
            shared_dim=hp.shared_dim, hierarchical=hp.hierarchical, attention=hp.g_attention,
            init_std=hp.init_std,
        )

    def build_discriminator(self) -> nn.Module:
        hp = self.hparams
        return BigGANDiscriminator(
            num_classes=self.num_classes, channels=hp.channels, image_size=hp.image_size,
            width=hp.d_width, architecture=hp.d_architecture, attention=hp.d_attention, init_std=hp.init_std,
        )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.hparams.compile_networks and not self._compiled:
            # compile the networks in place (state-dict keys unchanged), never the LightningModule
            self.generator.compile()
            self.discriminator.compile()
            self._compiled = True
