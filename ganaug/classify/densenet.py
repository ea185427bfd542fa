"""DenseNet for CIFAR-sized images (Huang, Liu, van der Maaten & Weinberger 2017, "Densely
Connected Convolutional Networks", https://arxiv.org/abs/1608.06993), the basic variant without
bottleneck layers or compression: DenseNet-40 with growth rate k = 12 has about 1.0 M parameters
(Table 2 of the paper; 1,019,722 here for 10 classes).

A 3x3 stem of 16 channels, three dense blocks of (L - 4) / 3 layers each (BN-ReLU-conv 3x3
producing k channels, concatenated to everything before it), transitions of BN-ReLU-conv 1x1
(same channel count)-average pool 2 between blocks, and BN-ReLU-global pool-linear at the end.
The paper uses dropout 0.2 after each convolution only when training without augmentation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["DenseNet", "densenet40"]

STEM_CHANNELS = 16  # the paper's first convolution for the basic (non-BC) DenseNet
NUM_BLOCKS = 3


def bn_relu_conv(c_in: int, c_out: int, kernel: int, dropout: float) -> nn.Sequential:
    """The pre-activation composite function H of the paper."""
    layers: list[nn.Module] = [
        nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DenseBlock(nn.Module):
    """``layers`` composite functions, each seeing the concatenation of all earlier maps."""

    def __init__(self, c_in: int, layers: int, growth: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            bn_relu_conv(c_in + i * growth, growth, 3, dropout) for i in range(layers)
        )
        self.out_channels = c_in + layers * growth

    def forward(self, x: Tensor) -> Tensor:
        maps = [x]
        for layer in self.layers:
            maps.append(layer(torch.cat(maps, dim=1)))
        return torch.cat(maps, dim=1)


class DenseNet(nn.Module):
    """Basic DenseNet of ``depth`` = 3n + 4 layers and growth rate ``growth``.

    | part | channels out (L = 40, k = 12) | resolution |
    | --- | --- | --- |
    | stem conv 3x3 | 16 | 1 |
    | dense block 1 (12 layers) | 16 + 12·12 = 160 | 1 |
    | transition (1x1 conv, avg pool 2) | 160 | 1/2 |
    | dense block 2 | 160 + 144 = 304 | 1/2 |
    | transition | 304 | 1/4 |
    | dense block 3 | 304 + 144 = 448 | 1/4 |
    | BN, ReLU, global average pool = the features | 448 | 1 x 1 |
    """

    def __init__(
        self,
        *,
        depth: int = 40,  # 3n + 4 layers: 40, 100
        growth: int = 12,  # k: channels each layer adds
        num_classes: int = 10,  # output logits
        channels: int = 3,  # input image channels
        image_size: int = 32,  # input height = width; at least 4 (two halvings)
        dropout: float = 0.0,  # after each convolution; the paper uses 0.2 without augmentation
    ) -> None:
        super().__init__()
        if depth < 7 or (depth - 4) % 3:
            raise ValueError(f"a basic DenseNet has depth 3n + 4 (40, 100), got {depth}")
        if image_size < 4:
            raise ValueError(f"DenseNet needs images of at least 4x4, got {image_size}")
        layers = (depth - 4) // NUM_BLOCKS
        parts: list[nn.Module] = [nn.Conv2d(channels, STEM_CHANNELS, 3, padding=1, bias=False)]
        c = STEM_CHANNELS
        for b in range(NUM_BLOCKS):
            block = DenseBlock(c, layers, growth, dropout)
            parts.append(block)
            c = block.out_channels
            if b < NUM_BLOCKS - 1:
                parts += [bn_relu_conv(c, c, 1, dropout), nn.AvgPool2d(2)]
        parts += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*parts)
        self.feature_dim = c
        self.head = nn.Linear(c, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # He-normal convolutions, as in the authors' Torch code; zero linear bias
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> Tensor:
        """Pooled features (N, channels of the last block): 448 for DenseNet-40, k = 12."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes)."""
        return self.head(self.features(x))


def densenet40(*, num_classes: int = 10, channels: int = 3, image_size: int = 32) -> DenseNet:
    """DenseNet (L = 40, k = 12), 1,019,722 parameters for 10 classes and RGB input."""
    return DenseNet(depth=40, growth=12, num_classes=num_classes, channels=channels,
                    image_size=image_size)
