"""Residual up- and down-sampling blocks of BigGAN (Brock et al. 2019,
https://arxiv.org/abs/1809.11096), after the SN-GAN ResNets (Miyato et al. 2018).

- :class:`ResBlockUp` (generator): ``CBN - ReLU - upsample x2 - conv3x3 - CBN - ReLU - conv3x3``
  plus a shortcut ``upsample - conv1x1``; the batch norms are class-conditional.
- :class:`ResBlockDown` (discriminator): ``[ReLU] - conv3x3 - ReLU - conv3x3 - [avgpool 2x2]``
  plus a shortcut ``avgpool - conv1x1``; the first block of a discriminator skips the leading ReLU
  (no pre-activation on images).

Every convolution is spectral-normed with N(0, std) weights. The shortcut's 1x1 convolution is
learned when the block changes the width or the resolution, as in BigGAN-PyTorch.

A 1x1 convolution acts on each pixel alone and nearest-neighbour upsampling and 2x2 average
pooling are per-channel linear maps that reproduce / average whole pixels, so the two commute
exactly (bias included). The shortcut therefore always runs its convolution at the lower
resolution: convolve then upsample in the generator, pool then convolve in the discriminator
(BigGAN-PyTorch's pre-activation blocks convolve first), a quarter of the shortcut arithmetic.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn.normalization import ConditionalBatchNorm2d
from ganaug.nn.sn_init import normal_sn_conv2d

__all__ = ["ResBlockDown", "ResBlockUp"]


class ResBlockUp(nn.Module):
    """Generator block: (N, C_in, H, W) and a condition -> (N, C_out, 2H, 2W).

    ``num_classes`` / ``condition_dim`` choose how the batch norms are conditioned (see
    :class:`~ganaug.nn.normalization.ConditionalBatchNorm2d`); both 0 means unconditional.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        num_classes: int = 0,  # label-conditional batch norms when > 0
        condition_dim: int = 0,  # vector-conditional batch norms when > 0
        upsample: bool = True,  # double the resolution (nearest neighbour)
        bn_eps: float = 1e-5,  # batch-norm epsilon
        std: float = 0.02,  # weight initialisation N(0, std)
        sn_eps: float = 1e-8,  # spectral-norm epsilon
    ) -> None:
        super().__init__()
        self.upsample = upsample
        def norm(c: int) -> ConditionalBatchNorm2d:
            return ConditionalBatchNorm2d(c, num_classes=num_classes, condition_dim=condition_dim,
                                          eps=bn_eps, std=std, sn_eps=sn_eps)

        self.bn1 = norm(in_channels)
        conv = dict(std=std, eps=sn_eps)
        self.conv1 = normal_sn_conv2d(in_channels, out_channels, 3, padding=1, **conv)
        self.bn2 = norm(out_channels)
        self.conv2 = normal_sn_conv2d(out_channels, out_channels, 3, padding=1, **conv)
        learned = in_channels != out_channels or upsample
        self.shortcut = (normal_sn_conv2d(in_channels, out_channels, 1, std=std, eps=sn_eps)
                         if learned else None)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        # residual path
        h = F.relu(self.bn1(x, condition))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), condition)))

        # shortcut: 1x1 convolution at the input resolution, then upsample (they commute)
        if self.shortcut is not None:
            x = self.shortcut(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return h + x


class ResBlockDown(nn.Module):
    """Discriminator block: (N, C_in, H, W) -> (N, C_out, H/2, W/2), or (N, C_out, H, W)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        downsample: bool = True,  # halve the resolution (2x2 average pooling)
        preactivation: bool = True,  # ReLU before the first convolution; False in a first block
        wide: bool = True,  # hidden width = out_channels (BigGAN); False: in_channels (SN-GAN)
        std: float = 0.02,  # weight initialisation N(0, std)
        sn_eps: float = 1e-8,  # spectral-norm epsilon
    ) -> None:
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        hidden = out_channels if wide else in_channels
        self.conv1 = normal_sn_conv2d(in_channels, hidden, 3, padding=1, std=std, eps=sn_eps)
        self.conv2 = normal_sn_conv2d(hidden, out_channels, 3, padding=1, std=std, eps=sn_eps)
        learned = in_channels != out_channels or downsample
        self.shortcut = (normal_sn_conv2d(in_channels, out_channels, 1, std=std, eps=sn_eps)
                         if learned else None)

    def forward(self, x: Tensor) -> Tensor:
        # residual path
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)

        # shortcut: pool first, then the 1x1 convolution on a quarter of the pixels
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.shortcut is not None:
            x = self.shortcut(x)
        return h + x
