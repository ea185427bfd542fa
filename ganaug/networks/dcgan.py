"""DCGAN-style generator and discriminator for 28x28, 32x32 and 64x64 images, 1 or 3 channels.

After Radford et al. 2016 ("Unsupervised Representation Learning with Deep Convolutional GANs"),
with two changes that make the pair robust for small-data training: the discriminator uses
spectral normalisation (Miyato et al. 2018) instead of batch norm, and it pools its last feature
map into a vector so that a projection head (Miyato & Koyama 2018) can condition it on the class.

One code path serves unconditional and conditional models: ``num_classes=0`` means no labels,
and ``forward(z, y=None)`` / ``forward(x, y=None)`` take the label when there is one.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ganaug.nn import ProjectionHead, label_channels, sn_conv2d

# Width multipliers of the base width per feature-map resolution, from the generator's first
# map to its last; the discriminator walks the same table backwards.
# resolution: (start size, multipliers)
ARCHITECTURES: dict[int, tuple[int, tuple[int, ...]]] = {
    28: (7, (4, 2, 1)),  # 7x7 -> 14x14 -> 28x28
    32: (4, (8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32
    64: (4, (8, 8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32 -> 64
}

Conditioning = Literal["projection", "onehot"]


def _check_resolution(image_size: int) -> tuple[int, tuple[int, ...]]:
    if image_size not in ARCHITECTURES:
        raise ValueError(
            f"DCGAN networks exist for image sizes {sorted(ARCHITECTURES)}, got {image_size}; "
            "resize the data (ImageDataModule(image_size=...)) or override build_generator()"
        )
    return ARCHITECTURES[image_size]


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases, as in the DCGAN paper; batch-norm gains N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """Maps noise ``z`` (N, latent_dim) and optional labels (N,) to images (N, C, H, W) in [-1, 1].

    The label enters through a learned embedding concatenated with the noise.
    """

    def __init__(
        self,
        *,
        latent_dim: int = 64,  # size of the noise vector z
        num_classes: int = 0,  # 0 = unconditional
        channels: int = 1,  # output image channels
        image_size: int = 28,  # output height = width; a key of ARCHITECTURES
        width: int = 32,  # channels of the last feature map; earlier maps are multiples of it
        embed_dim: int | None = None,  # label embedding size; None = latent_dim
    ) -> None:
        super().__init__()
        start, multipliers = _check_resolution(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.channels, self.image_size = channels, image_size
        widths = [m * width for m in multipliers]
        embed_dim = embed_dim or latent_dim
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        in_features = latent_dim + (embed_dim if num_classes > 0 else 0)

        self.stem = nn.Sequential(
            nn.Linear(in_features, widths[0] * start * start, bias=False),
            nn.Unflatten(1, (widths[0], start, start)),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(*[
            nn.Sequential(
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in zip(widths[:-1], widths[1:])
        ])
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh())
        init_dcgan_weights(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.to_image(self.blocks(self.stem(z)))


class DCGANDiscriminator(nn.Module):
    """Maps images (N, C, H, W) and optional labels (N,) to real/fake logits (N,).

    ``conditioning="projection"`` (default) adds a class-projection term to the logit;
    ``"onehot"`` appends one constant one-hot plane per class to the input image instead.
    """

    def __init__(
        self,
        *,
        num_classes: int = 0,  # 0 = unconditional
        channels: int = 1,  # input image channels
        image_size: int = 28,  # input height = width; a key of ARCHITECTURES
        width: int = 32,  # channels of the first feature map; later maps are multiples of it
        conditioning: Conditioning = "projection",
    ) -> None:
        super().__init__()
        _, multipliers = _check_resolution(image_size)
        if conditioning not in ("projection", "onehot"):
            raise ValueError(f"conditioning must be 'projection' or 'onehot', got {conditioning!r}")
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.conditioning = conditioning
        widths = [m * width for m in reversed(multipliers)]
        onehot = conditioning == "onehot" and num_classes > 0
        in_channels = channels + (num_classes if onehot else 0)

        self.stem = nn.Sequential(sn_conv2d(in_channels, widths[0], 3, padding=1),
                                  nn.LeakyReLU(0.2, inplace=True))
        self.blocks = nn.Sequential(*[
            nn.Sequential(sn_conv2d(c_in, c_out, 4, stride=2, padding=1),
                          nn.LeakyReLU(0.2, inplace=True))
            for c_in, c_out in zip(widths[:-1], widths[1:])
        ])
        self.head = ProjectionHead(widths[-1], 0 if onehot else num_classes)
        init_dcgan_weights(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.channels, self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape (N, {self.channels}, {self.image_size}, "
                f"{self.image_size}), got {tuple(x.shape)}"
            )
        if self.num_classes > 0 and y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y")
        if self.conditioning == "onehot" and self.num_classes > 0:
            x = label_channels(x, y, self.num_classes)
            y = None
        features = self.blocks(self.stem(x)).sum(dim=(2, 3))  # (N, C) global sum pooling
        return self.head(features, y)
