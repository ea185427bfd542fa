"""DCGAN-style generator and discriminator for 28x28, 32x32 and 64x64 images, 1 or 3 channels,
and any other size given its own row of the width table (``architecture=``).

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
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn import ConditionalBatchNorm2d, ProjectionHead, label_channels, sn_conv2d, sn_linear

# Width multipliers of the base width per feature-map resolution, from the generator's first
# map to its last; the discriminator walks the same table backwards.
# resolution: (start size, multipliers)
ARCHITECTURES: dict[int, tuple[int, tuple[int, ...]]] = {
    28: (7, (4, 2, 1)),  # 7x7 -> 14x14 -> 28x28
    32: (4, (8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32
    64: (4, (8, 8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32 -> 64
}

Architecture = tuple[int, tuple[int, ...]]  # (start size, multipliers): one row of ARCHITECTURES

Conditioning = Literal["projection", "onehot"]
GeneratorConditioning = Literal["concat", "cbn"]


def resolve_architecture(image_size: int, architecture: Architecture | None = None) -> Architecture:
    """The table row for ``image_size``: ``architecture`` when given (checked), else ARCHITECTURES'."""
    if architecture is None:
        if image_size not in ARCHITECTURES:
            raise ValueError(
                f"DCGAN networks exist for image sizes {sorted(ARCHITECTURES)}, got {image_size}; "
                "resize the data (ImageDataModule(image_size=...)) or pass architecture="
                "(start size, multipliers), e.g. (4, (4, 2, 1)) for 16x16"
            )
        return ARCHITECTURES[image_size]
    try:
        start, multipliers = int(architecture[0]), tuple(int(m) for m in architecture[1])
    except (TypeError, ValueError, IndexError):
        raise ValueError("architecture must be (start size, multipliers), e.g. (4, (4, 2, 1)), "
                         f"got {architecture!r}") from None
    if start < 1 or not multipliers or min(multipliers) < 1:
        raise ValueError("architecture needs a start size >= 1 and at least one multiplier >= 1, "
                         f"got {architecture!r}")
    final = start * 2 ** (len(multipliers) - 1)  # each multiplier after the first doubles H, W
    if final != image_size:
        raise ValueError(f"architecture {architecture!r} makes {final}x{final} images (start size "
                         f"doubled once per multiplier after the first), not {image_size}x{image_size}")
    return start, multipliers


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases, as in the DCGAN paper; batch-norm gains N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """Maps noise ``z`` (N, latent_dim) and optional labels (N,) to images (N, C, H, W) in [-1, 1].

    ``conditioning`` says how the label enters:

    - ``"concat"``: a learned class embedding concatenated with the noise (Mirza & Osindero 2014);
    - ``"cbn"``: class-conditional batch norm in every layer, a per-class gain and bias of each
      feature map (de Vries et al. 2017), as BigGAN conditions its generator. The label then acts
      at every resolution instead of once at the input, which a generator trained on few images
      per class needs to keep its classes apart (see ``docs/synthetic-data.md``).
    """

    def __init__(
        self,
        *,
        latent_dim: int = 64,  # size of the noise vector z
        num_classes: int = 0,  # 0 = unconditional
        channels: int = 1,  # output image channels
        image_size: int = 28,  # output height = width; a key of ARCHITECTURES unless architecture
        width: int = 32,  # channels of the last feature map; earlier maps are multiples of it
        architecture: Architecture | None = None,  # (start size, multipliers); None = the
        # ARCHITECTURES row of image_size
        embed_dim: int | None = None,  # label embedding size with "concat"; None = latent_dim
        conditioning: GeneratorConditioning = "concat",  # how the label enters (see above)
    ) -> None:
        super().__init__()
        start, multipliers = resolve_architecture(image_size, architecture)
        if conditioning not in ("concat", "cbn"):
            raise ValueError(f"conditioning must be 'concat' or 'cbn', got {conditioning!r}")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.channels, self.image_size = channels, image_size
        self.conditioning = conditioning
        self.condition_scale = 1.0  # weight of the label embedding; < 1 while it fades in
        widths = [m * width for m in multipliers]
        concat = conditioning == "concat" and num_classes > 0
        embed_dim = embed_dim or latent_dim
        self.embed = nn.Embedding(num_classes, embed_dim) if concat else None
        in_features = latent_dim + (embed_dim if concat else 0)
        norm_classes = num_classes if conditioning == "cbn" else 0

        def norm(features: int) -> nn.Module:
            if norm_classes:
                return ConditionalBatchNorm2d(features, num_classes=norm_classes)
            return nn.BatchNorm2d(features)

        self.stem = nn.Sequential(
            nn.Linear(in_features, widths[0] * start * start, bias=False),
            nn.Unflatten(1, (widths[0], start, start)),
        )
        self.upsamples = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.norms = nn.ModuleList(norm(c) for c in widths)  # after the stem and each upsample
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh())
        init_dcgan_weights(self)
        if self.embed is not None:
            # The label starts as loud as the noise. At DCGAN's N(0, 0.02) it is 1/50 of z, and
            # with 50 images per class the generator drew the class it was asked for only after
            # about 1,500 iterations (docs/synthetic-data.md, "What was tried").
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        if self.num_classes > 0 and y is None:
            raise ValueError("this generator is class-conditional: pass labels y")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y) * self.condition_scale], dim=1)
        condition = y if self.conditioning == "cbn" else None
        h = self.stem(z)
        for i, norm in enumerate(self.norms):
            if i:
                h = self.upsamples[i - 1](h)
            h = norm(h, condition) if isinstance(norm, ConditionalBatchNorm2d) else norm(h)
            h = F.relu(h)
        return self.to_image(h)


class DCGANDiscriminator(nn.Module):
    """Maps images (N, C, H, W) and optional labels (N,) to real/fake logits (N,).

    ``conditioning="projection"`` (default) adds a class-projection term to the logit;
    ``"onehot"`` appends one constant one-hot plane per class to the input image instead.
    With ``auxiliary_classifier=True`` a second linear head on the same pooled features predicts
    the class (AC-GAN, Odena et al. 2017, https://arxiv.org/abs/1610.09585), over
    ``auxiliary_classes`` outputs (2K for ADC-GAN's real and fake classes);
    ``forward(x, y, with_class_logits=True)`` then returns ``(logits (N,), class_logits (N, K))``.
    ``condition_scale`` (an attribute, 1 by default) multiplies the label's contribution to the
    real / fake logit (the projection term or the one-hot planes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 0,  # 0 = unconditional
        channels: int = 1,  # input image channels
        image_size: int = 28,  # input height = width; a key of ARCHITECTURES unless architecture
        width: int = 32,  # channels of the first feature map; later maps are multiples of it
        architecture: Architecture | None = None,  # the generator's (start size, multipliers),
        # walked backwards; None = the ARCHITECTURES row of image_size
        conditioning: Conditioning = "projection",
        auxiliary_classifier: bool = False,  # also predict the class from the features (AC-GAN)
        auxiliary_classes: int | None = None,  # outputs of that classifier; None = num_classes,
        # 2 * num_classes for ADC-GAN's real / fake classes
    ) -> None:
        super().__init__()
        _, multipliers = resolve_architecture(image_size, architecture)
        if conditioning not in ("projection", "onehot"):
            raise ValueError(f"conditioning must be 'projection' or 'onehot', got {conditioning!r}")
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.conditioning = conditioning
        self.condition_scale = 1.0  # weight of the label's contribution; < 1 while it fades in
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
        if auxiliary_classifier and num_classes < 2:
            raise ValueError(f"an auxiliary classifier needs num_classes >= 2, got {num_classes}")
        outputs = num_classes if auxiliary_classes is None else auxiliary_classes
        if auxiliary_classifier and outputs < 2:
            raise ValueError(f"an auxiliary classifier needs at least 2 outputs, got {outputs}")
        self.classifier = sn_linear(widths[-1], outputs) if auxiliary_classifier else None
        init_dcgan_weights(self)

    def forward(self, x: Tensor, y: Tensor | None = None, *,
                with_class_logits: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1:] != (self.channels, self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape (N, {self.channels}, {self.image_size}, "
                f"{self.image_size}), got {tuple(x.shape)}"
            )
        if self.num_classes > 0 and y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y")
        if self.conditioning == "onehot" and self.num_classes > 0:
            x = label_channels(x, y, self.num_classes)
            if self.condition_scale != 1.0:
                x = torch.cat([x[:, :self.channels], x[:, self.channels:] * self.condition_scale], 1)
            y = None
        features = self.blocks(self.stem(x)).sum(dim=(2, 3))  # (N, C) global sum pooling
        logits = self.head(features, y, scale=self.condition_scale)
        if not with_class_logits:
            return logits
        if self.classifier is None:
            raise ValueError("this discriminator has no auxiliary classifier: build it with "
                             "auxiliary_classifier=True")
        return logits, self.classifier(features)
