"""DAGAN networks: an image-conditioned U-Net generator and a pair discriminator.

After Antoniou, Storkey & Edwards 2017, "Data Augmentation Generative Adversarial Networks",
https://arxiv.org/abs/1711.04340. The generator takes a real image ``x`` and noise ``z`` and
returns another plausible image of ``x``'s class: a residual encoder maps ``x`` to a small
bottleneck, noise enters there and again at every coarser decoder level (a learned linear map of
``z`` to a few feature planes at that resolution, concatenated), and the decoder climbs back up
with U-Net skip connections from the encoder. The discriminator never sees a class label: it
judges a *pair* ``(x, x')`` concatenated along channels, real when ``x'`` is another real image of
``x``'s class and fake when ``x' = G(x, z)``. A copy of ``x`` is therefore an easy fake, which
pushes the generator towards new images rather than the identity.

Both networks take their condition last, as every ganaug network does (``G(z, c)``,
``D(images, c)``): here ``c`` is the real image ``x``, so the generator is called
``G(z, x)`` and the discriminator ``D(x', x)``.

The published networks (a UResNet generator and a DenseNet discriminator with dropout and layer
norm) are larger; these keep the shape of the method at the sizes of the DCGAN networks in
``ganaug.networks.dcgan``: pre-activation residual blocks (He et al. 2016), batch norm in the
generator only, and no normalisation in the discriminator so that the WGAN-GP penalty
(Gulrajani et al. 2017) stays per-sample and DDP has no discriminator buffers to synchronise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn import sn_conv2d, sn_linear

__all__ = ["ARCHITECTURES", "DAGANDiscriminator", "DAGANGenerator", "PreActBlock"]

ARCHITECTURES: dict[int, tuple[int, ...]] = {
    28: (1, 2, 4),  # 28 -> 14 -> 7
    32: (1, 2, 4, 8),  # 32 -> 16 -> 8 -> 4
}
"""Image size -> width multipliers of the base width per encoder level, from full resolution
down to the bottleneck (each level halves the side); the decoder walks the table back up, and
the discriminator uses the same levels."""


def resolve_architecture(image_size: int, architecture: Sequence[int] | None = None,
                         ) -> tuple[int, ...]:
    """The multipliers for ``image_size``: ``architecture`` when given (checked), else the table's."""
    if architecture is None:
        if image_size not in ARCHITECTURES:
            raise ValueError(
                f"DAGAN networks exist for image sizes {sorted(ARCHITECTURES)}, got {image_size}; "
                "resize the data (ImageDataModule(image_size=...)) or pass architecture= (width "
                "multipliers per level), e.g. (1, 2, 4) for 16x16"
            )
        return ARCHITECTURES[image_size]
    multipliers = tuple(int(m) for m in architecture)
    if len(multipliers) < 2 or min(multipliers) < 1:
        raise ValueError("a DAGAN architecture is at least two width multipliers >= 1 (full "
                         f"resolution, then one per coarser level), got {architecture!r}")
    if image_size % 2 ** (len(multipliers) - 1):
        raise ValueError(f"architecture {architecture!r} halves the side {len(multipliers) - 1} "
                         f"times, which does not divide image_size {image_size}")
    return multipliers


def _check_images(x: Tensor, channels: int, image_size: int, name: str) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != (channels, image_size, image_size):
        raise ValueError(f"expected {name} of shape (N, {channels}, {image_size}, {image_size}), "
                         f"got {tuple(x.shape)}")


# blocks


class PreActBlock(nn.Module):
    """A pre-activation residual block ``x + conv(act(norm(conv(act(norm(x))))))``.

    ``normalise=False`` drops the batch norms (discriminator); ``down=True`` average-pools the
    output to half the side (after the convolutions, on both paths). The shortcut is a 1x1
    convolution when the channel count changes, else the identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        normalise: bool = True,  # batch norm before each activation (generator); False = none
        down: bool = False,  # halve the side with 2x2 average pooling
        spectral_norm: bool = False,  # spectral-normalise the convolutions
        negative_slope: float = 0.0,  # activation slope below 0: 0 = ReLU, 0.2 = leaky ReLU
    ) -> None:
        super().__init__()
        conv = sn_conv2d if spectral_norm else nn.Conv2d
        self.norm1 = nn.BatchNorm2d(in_channels) if normalise else nn.Identity()
        self.conv1 = conv(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(out_channels) if normalise else nn.Identity()
        self.conv2 = conv(out_channels, out_channels, 3, padding=1)
        self.shortcut = (conv(in_channels, out_channels, 1) if in_channels != out_channels
                         else nn.Identity())
        self.down = down
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        act = lambda t: F.leaky_relu(t, self.negative_slope)  # noqa: E731
        h = self.conv1(act(self.norm1(x)))
        h = self.conv2(act(self.norm2(h)))
        out = h + self.shortcut(x)
        return F.avg_pool2d(out, 2) if self.down else out


class NoisePlanes(nn.Module):
    """``z`` (N, latent_dim) -> ``planes`` learned feature maps (N, planes, size, size)."""

    def __init__(self, latent_dim: int, planes: int, size: int) -> None:
        super().__init__()
        self.shape = (planes, size, size)
        self.linear = nn.Linear(latent_dim, planes * size * size)

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z).view(-1, *self.shape)


# networks


class DAGANGenerator(nn.Module):
    """Maps noise ``z`` (N, latent_dim) and a condition image ``c`` (N, C, H, W) in [-1, 1] to
    images of the same shape in [-1, 1]: new variants of each condition image.
    """

    def __init__(
        self,
        *,
        channels: int = 1,  # image channels, in and out
        image_size: int = 28,  # height = width; a key of ARCHITECTURES unless architecture
        latent_dim: int = 64,  # size of the noise vector z
        width: int = 32,  # channels at full resolution; coarser levels are multiples of it
        architecture: Sequence[int] | None = None,  # multipliers per level; None = the
        # ARCHITECTURES row of image_size
        noise_planes: int = 4,  # feature planes of noise concatenated at each coarse level
    ) -> None:
        super().__init__()
        multipliers = resolve_architecture(image_size, architecture)
        for name, value in (("channels", channels), ("latent_dim", latent_dim),
                            ("width", width), ("noise_planes", noise_planes)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.channels, self.image_size, self.latent_dim = channels, image_size, latent_dim
        widths = [m * width for m in multipliers]
        sizes = [image_size // 2 ** level for level in range(len(widths))]

        # encoder: full resolution, then one downsampling block per coarser level
        self.stem = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.encoder = nn.ModuleList(
            PreActBlock(c_in, c_out, down=True) for c_in, c_out in zip(widths[:-1], widths[1:])
        )

        # bottleneck with noise, then the decoder: upsample, concatenate skip (+ noise), block
        self.noise = nn.ModuleList(NoisePlanes(latent_dim, noise_planes, s) for s in sizes[1:])
        self.bottleneck = PreActBlock(widths[-1] + noise_planes, widths[-1])
        self.decoder = nn.ModuleList()
        for level in reversed(range(len(widths) - 1)):
            noise = noise_planes if level > 0 else 0  # no noise at full resolution
            self.decoder.append(PreActBlock(widths[level + 1] + widths[level] + noise,
                                            widths[level]))
        self.to_image = nn.Sequential(nn.BatchNorm2d(widths[0]), nn.ReLU(),
                                      nn.Conv2d(widths[0], channels, 3, padding=1), nn.Tanh())

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        x = c
        _check_images(x, self.channels, self.image_size, "condition images c")
        if z.ndim != 2 or z.shape != (x.shape[0], self.latent_dim):
            raise ValueError(f"expected z of shape ({x.shape[0]}, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        # encode, keeping each level's features for the skips
        h = self.stem(x)
        skips = [h]
        for block in self.encoder:
            h = block(h)
            skips.append(h)
        noise = [planes(z) for planes in self.noise]  # coarse levels 1..L-1

        h = self.bottleneck(torch.cat([skips.pop(), noise.pop()], 1))
        for block in self.decoder:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            parts = [h, skips.pop()] + ([noise.pop()] if noise else [])
            h = block(torch.cat(parts, 1))
        return self.to_image(h)


class DAGANDiscriminator(nn.Module):
    """Maps images ``other`` and their condition images ``c`` = ``x`` (N, C, H, W) each to logits
    (N,): is ``other`` a real image of ``x``'s class (high) or generated from ``x`` (low)?
    """

    def __init__(
        self,
        *,
        channels: int = 1,  # channels of each image of the pair
        image_size: int = 28,  # height = width; a key of ARCHITECTURES unless architecture
        width: int = 32,  # channels at full resolution; coarser levels are multiples of it
        architecture: Sequence[int] | None = None,  # multipliers per level; None = the
        # ARCHITECTURES row of image_size
        spectral_norm: bool = False,  # spectral-normalise every layer (suits the hinge loss)
    ) -> None:
        super().__init__()
        multipliers = resolve_architecture(image_size, architecture)
        if channels < 1 or width < 1:
            raise ValueError(f"channels and width must be >= 1, got {channels} and {width}")
        self.channels, self.image_size = channels, image_size
        widths = [m * width for m in multipliers]
        conv = sn_conv2d if spectral_norm else nn.Conv2d
        self.stem = conv(2 * channels, widths[0], 3, padding=1)
        self.blocks = nn.Sequential(*[
            PreActBlock(c_in, c_out, normalise=False, down=True, spectral_norm=spectral_norm,
                        negative_slope=0.2)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        ])
        self.head = sn_linear(widths[-1], 1) if spectral_norm else nn.Linear(widths[-1], 1)

    def forward(self, images: Tensor, c: Tensor) -> Tensor:
        x, other = c, images
        _check_images(x, self.channels, self.image_size, "condition images c")
        _check_images(other, self.channels, self.image_size, "images")
        h = self.blocks(self.stem(torch.cat([x, other], 1)))
        features = F.leaky_relu(h, 0.2).sum(dim=(2, 3))  # (N, C) global sum pooling
        return self.head(features).squeeze(1)
