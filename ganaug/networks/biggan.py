"""BigGAN generator and projection discriminator (Brock et al. 2019, "Large Scale GAN Training
for High Fidelity Natural Image Synthesis", https://arxiv.org/abs/1809.11096) for 32x32, 64x64
and 128x128 images, as released in BigGAN-PyTorch and used by DiffAugment's CIFAR experiments
(Zhao et al. 2020, https://arxiv.org/abs/2006.10738).

Generator: ``z -> SN-linear -> 4x4 map -> residual up-blocks with class-conditional batch norm
-> BN - ReLU - SN-conv3x3 - tanh``. Discriminator: ``residual down-blocks -> ReLU -> global sum
pooling -> SN-linear + class projection`` (Miyato & Koyama 2018). Options beyond the CIFAR
setting: a shared class embedding feeding every conditional batch norm through linear maps,
hierarchical latents (z split into one chunk for the stem and one per block), and one
self-attention block (Zhang et al. 2019) at a chosen resolution.

With the published CIFAR-10 settings (``width=64``, ``latent_dim=128``, 10 classes, no shared
embedding, no hierarchical latents, no attention) the generator has 4,304,387 parameters and the
discriminator 4,207,361, BigGAN-PyTorch's counts: spectral norm keeps its power-iteration
vectors in buffers there as here, so both count weights and biases only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn import (
    ResBlockDown,
    ResBlockUp,
    SelfAttention2d,
    normal_sn_conv2d,
    normal_sn_embedding,
    normal_sn_linear,
)
from ganaug.nn.sn_init import normal_

__all__ = ["BIGGAN_D_ARCHITECTURES", "BIGGAN_G_ARCHITECTURES", "BigGANDiscriminator",
           "BigGANGenerator"]

# Widths as multiples of the channel multiplier ``width`` (BigGAN's ``ch``, 64 for CIFAR).
# Generator: the 4x4 map's width, then each up-block's output width (every block doubles H, W).
# resolution: widths from the 4x4 map to the last block
BIGGAN_G_ARCHITECTURES: dict[int, tuple[int, ...]] = {
    32: (4, 4, 4, 4),  # 4 -> 8 -> 16 -> 32; 256 channels throughout at ch=64
    64: (16, 16, 8, 4, 2),  # 4 -> 8 -> 16 -> 32 -> 64
    128: (16, 16, 8, 4, 2, 1),  # 4 -> 8 -> 16 -> 32 -> 64 -> 128
}
# Discriminator: each down-block's output width and whether it halves the resolution.
# resolution: ((width, downsample), ...) from the image to the pooled features
BIGGAN_D_ARCHITECTURES: dict[int, tuple[tuple[int, bool], ...]] = {
    32: ((4, True), (4, True), (4, False), (4, False)),  # 32 -> 16 -> 8 -> 8 -> 8
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),  # 64 -> ... -> 4 -> 4
    128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),  # 128 -> ... -> 4
}


def _check_resolution(image_size: int) -> None:
    if image_size not in BIGGAN_G_ARCHITECTURES:
        raise ValueError(
            f"BigGAN networks exist for image sizes {sorted(BIGGAN_G_ARCHITECTURES)}, got "
            f"{image_size}; resize the data (ImageDataModule(image_size=...)) or pass the "
            "networks their own rows (architecture=, g_architecture / d_architecture in BigGAN)"
        )


def generator_table(image_size: int, architecture: Sequence[int] | None) -> tuple[int, ...]:
    """G's widths for ``image_size``: ``architecture`` when given (checked), else the table's."""
    if architecture is None:
        _check_resolution(image_size)
        return BIGGAN_G_ARCHITECTURES[image_size]
    table = tuple(int(m) for m in architecture)
    if len(table) < 2 or min(table) < 1:
        raise ValueError("a BigGAN generator architecture is the 4x4 map's width then one width "
                         f"per up-block, each >= 1, got {architecture!r}")
    if 4 * 2 ** (len(table) - 1) != image_size:
        raise ValueError(f"generator architecture {architecture!r} makes "
                         f"{4 * 2 ** (len(table) - 1)}x{4 * 2 ** (len(table) - 1)} images (4x4 "
                         f"doubled by each of {len(table) - 1} up-blocks), not {image_size}")
    return table


def discriminator_table(image_size: int, architecture: Sequence[Sequence[Any]] | None,
                        ) -> tuple[tuple[int, bool], ...]:
    """D's (width, downsample) rows: ``architecture`` when given (checked), else the table's."""
    if architecture is None:
        _check_resolution(image_size)
        return BIGGAN_D_ARCHITECTURES[image_size]
    try:
        table = tuple((int(m), bool(down)) for m, down in architecture)
    except (TypeError, ValueError):
        raise ValueError("a BigGAN discriminator architecture is one (width, downsample) pair per "
                         f"down-block, e.g. ((4, True), (4, False)), got {architecture!r}") from None
    if not table or min(m for m, _ in table) < 1 or image_size % 2 ** sum(d for _, d in table):
        raise ValueError(f"discriminator architecture {architecture!r} needs at least one block, "
                         f"widths >= 1 and downsamplings that divide image_size {image_size}")
    return table


def _check_attention(attention: int, resolutions: list[int], network: str) -> None:
    if attention and attention not in resolutions:
        raise ValueError(f"{network} self-attention resolution must be 0 (off) or one of "
                         f"{sorted(set(resolutions))}, got {attention}")


class BigGANGenerator(nn.Module):
    """Maps noise ``z`` (N, latent_dim) and labels (N,) to images (N, C, H, W) in [-1, 1].

    ``forward(z, y=None)``: ``y`` is required when ``num_classes > 0`` and ignored otherwise.
    """

    def __init__(
        self,
        *,
        latent_dim: int = 128,  # size of z
        num_classes: int = 10,  # 0 = unconditional
        channels: int = 3,  # output image channels
        image_size: int = 32,  # output height = width; a key of BIGGAN_G_ARCHITECTURES
        width: int = 64,  # channel multiplier (BigGAN's G_ch)
        architecture: Sequence[int] | None = None,  # widths from the 4x4 map to the last block,
        # as multiples of width; None = the BIGGAN_G_ARCHITECTURES row of image_size
        shared_embedding: bool = False,  # one class embedding feeding every CBN via linear maps
        shared_dim: int = 0,  # size of the shared embedding; 0 = latent_dim
        hierarchical: bool = False,  # split z: one chunk for the stem, one per block's CBN
        attention: int = 0,  # resolution of a self-attention block; 0 = none
        bn_eps: float = 1e-5,  # batch-norm epsilon
        init_std: float = 0.02,  # weight initialisation N(0, init_std)
        sn_eps: float = 1e-8,  # spectral-norm epsilon
    ) -> None:
        super().__init__()
        widths = [m * width for m in generator_table(image_size, architecture)]
        resolutions = [4 * 2 ** (i + 1) for i in range(len(widths) - 1)]
        _check_attention(attention, resolutions, "generator")
        if shared_embedding and num_classes < 1:
            raise ValueError("a shared class embedding needs num_classes >= 1")
        num_slots = len(resolutions) + 1 if hierarchical else 1
        if latent_dim % num_slots:
            raise ValueError(
                f"hierarchical latents split z into {num_slots} equal chunks (stem + "
                f"{num_slots - 1} blocks); latent_dim {latent_dim} is not divisible by "
                f"{num_slots}: use {latent_dim // num_slots * num_slots}"
            )
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.channels, self.image_size = channels, image_size
        self.hierarchical, self.chunk = hierarchical, latent_dim // num_slots
        sn = dict(std=init_std, sn_eps=sn_eps)

        # how the batch norms see the class: per-class embeddings, or linear maps of a vector
        shared_dim = shared_dim or latent_dim
        self.shared = (normal_(nn.Embedding(num_classes, shared_dim), init_std)
                       if shared_embedding else None)
        condition_dim = ((shared_dim if shared_embedding else 0)
                         + (self.chunk if hierarchical else 0))
        label_classes = num_classes if condition_dim == 0 else 0

        # stem, blocks (plus attention after one of them), output layer
        self.linear = normal_sn_linear(self.chunk, widths[0] * 16, std=init_std, eps=sn_eps)
        self.blocks = nn.ModuleList([
            ResBlockUp(c_in, c_out, num_classes=label_classes, condition_dim=condition_dim,
                       bn_eps=bn_eps, **sn)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        ])
        self.attention_after = resolutions.index(attention) if attention else -1
        self.attention = (SelfAttention2d(widths[self.attention_after + 1], **sn)
                          if attention else None)
        self.output = nn.Sequential(
            nn.BatchNorm2d(widths[-1], eps=bn_eps),
            nn.ReLU(),
            normal_sn_conv2d(widths[-1], channels, 3, padding=1, std=init_std, eps=sn_eps),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        if self.num_classes > 0 and y is None:
            raise ValueError("this generator is class-conditional: pass labels y")

        # the condition of each block
        chunks = z.split(self.chunk, dim=1)
        z = chunks[0]
        if self.hierarchical:  # [shared class embedding, own chunk of z]
            shared = [self.shared(y)] if self.shared is not None else []
            conditions = [torch.cat([*shared, chunk], 1) for chunk in chunks[1:]]
        elif self.shared is not None:
            conditions = [self.shared(y)] * len(self.blocks)
        else:
            conditions = [y if self.num_classes > 0 else None] * len(self.blocks)

        h = self.linear(z).view(z.shape[0], -1, 4, 4)  # (N, widths[0], 4, 4)
        for index, (block, condition) in enumerate(zip(self.blocks, conditions)):
            h = block(h, condition)
            if index == self.attention_after:
                h = self.attention(h)
        return self.output(h)


class BigGANDiscriminator(nn.Module):
    """Maps images (N, C, H, W) and labels (N,) to real/fake logits (N,).

    ``forward(x, y=None)``: ``y`` is required when ``num_classes > 0`` (projection term).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,  # 0 = unconditional (no projection term)
        channels: int = 3,  # input image channels
        image_size: int = 32,  # input height = width; a key of BIGGAN_D_ARCHITECTURES
        width: int = 64,  # channel multiplier (BigGAN's D_ch)
        architecture: Sequence[tuple[int, bool]] | None = None,  # (width, downsample) per block
        # from the image on; None = the BIGGAN_D_ARCHITECTURES row of image_size
        attention: int = 0,  # self-attention after the first block at this resolution; 0 = none
        wide: bool = True,  # hidden width of a block = its output width (BigGAN); False = SN-GAN's
        init_std: float = 0.02,  # weight initialisation N(0, init_std)
        sn_eps: float = 1e-8,  # spectral-norm epsilon
    ) -> None:
        super().__init__()
        table = discriminator_table(image_size, architecture)
        widths = [channels] + [m * width for m, _ in table]
        resolutions = [image_size // 2 ** sum(down for _, down in table[: i + 1])
                       for i in range(len(table))]
        _check_attention(attention, resolutions, "discriminator")
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        sn = dict(std=init_std, sn_eps=sn_eps)

        self.blocks = nn.ModuleList([
            ResBlockDown(c_in, c_out, downsample=down, preactivation=index > 0, wide=wide, **sn)
            for index, (c_in, c_out, (_, down)) in enumerate(zip(widths[:-1], widths[1:], table))
        ])
        self.attention_after = resolutions.index(attention) if attention else -1
        self.attention = (SelfAttention2d(widths[self.attention_after + 1], **sn)
                          if attention else None)
        self.linear = normal_sn_linear(widths[-1], 1, std=init_std, eps=sn_eps)
        self.embed = (normal_sn_embedding(num_classes, widths[-1], std=init_std, eps=sn_eps)
                      if num_classes > 0 else None)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.channels, self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape (N, {self.channels}, {self.image_size}, "
                f"{self.image_size}), got {tuple(x.shape)}"
            )
        if self.embed is not None and y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y")

        h = x
        for index, block in enumerate(self.blocks):
            h = block(h)
            if index == self.attention_after:
                h = self.attention(h)
        features = F.relu(h).sum(dim=(2, 3))  # global sum pooling, (N, C)

        logits = self.linear(features).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(y) * features).sum(dim=1)
        return logits
