"""CIFAR ResNets (He, Zhang, Ren & Sun 2016, "Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385, section 4.2): ResNet-20, ResNet-56 and any depth 6n + 2.

A 3x3 stem of 16 channels, three stages of n basic blocks (two 3x3 conv + BN, ReLU after the
sum) at 16, 32 and 64 channels, the last two starting with stride 2, global average pooling and
one linear layer.

Shortcuts: **option B** of the paper, an identity where the shape is kept and a 1x1 convolution
with stride 2 plus batch norm where it changes (two places per network). He et al. used option A
(zero-padded identity) on CIFAR; we use B because it is what the official DIANet code builds its
ResNet-56 base with, so ``resnet56`` here is exactly DIANet's backbone, and because it is the
more common choice in current code. It adds 2 * (16·32 + 32·64) weights + BN, so ResNet-20 has
272,474 parameters for 10 classes (option A: 269,722; the paper's "0.27M").

Any input size works (28 px maps go 28 → 14 → 7 before pooling); 1 or 3 channels.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["STAGES", "BasicBlock", "ResNet", "resnet20", "resnet56"]

# (channels, stride of the first block) per stage; every stage holds (depth - 2) / 6 blocks.
STAGES: tuple[tuple[int, int], ...] = (
    (16, 1),  # full resolution
    (32, 2),  # 1/2
    (64, 2),  # 1/4
)
STEM_CHANNELS = 16


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """A bias-free convolution ('same' padding for odd kernels) followed by batch norm."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class BasicBlock(nn.Module):
    """``relu(branch(x) + shortcut(x))`` with ``branch`` = conv-BN-ReLU-conv-BN (3x3)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            conv_bn(c_in, c_out, 3, stride), nn.ReLU(inplace=True), conv_bn(c_out, c_out, 3)
        )
        # option B: project only where the shape changes
        keep = stride == 1 and c_in == c_out
        self.shortcut = nn.Identity() if keep else conv_bn(c_in, c_out, 1, stride)

    def forward(self, x: Tensor) -> Tensor:
        return (self.branch(x) + self.shortcut(x)).relu_()


def make_stages(depth: int) -> list[list[BasicBlock]]:
    """The blocks of the three stages of a CIFAR ResNet of ``depth`` = 6n + 2 layers."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    n = (depth - 2) // 6
    stages, c_in = [], STEM_CHANNELS
    for c_out, stride in STAGES:
        stages.append([BasicBlock(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1)
                       for i in range(n)])
        c_in = c_out
    return stages


def init_resnet_weights(module: nn.Module) -> None:
    """He-normal (fan-out) convolutions, unit BN gains, zero BN biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(nn.Module):
    """A CIFAR ResNet of ``depth`` = 6n + 2 layers with option-B shortcuts; features are the
    pooled 64 channels of the last stage."""

    def __init__(
        self,
        *,
        depth: int = 20,  # 6n + 2: 20, 32, 44, 56, 110
        num_classes: int = 10,  # output logits
        channels: int = 3,  # input image channels
        image_size: int = 32,  # input height = width; only checked to be at least 4
    ) -> None:
        super().__init__()
        if image_size < 4:
            raise ValueError(f"{type(self).__name__} needs images of at least 4x4, got {image_size}")
        self.depth = depth
        self.stem = nn.Sequential(conv_bn(channels, STEM_CHANNELS, 3), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*[self.build_stage(blocks, width)
                                      for blocks, (width, _) in zip(make_stages(depth), STAGES)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.feature_dim = STAGES[-1][0]
        self.head = nn.Linear(self.feature_dim, num_classes)
        init_resnet_weights(self)

    def build_stage(self, blocks: list[BasicBlock], width: int) -> nn.Module:
        """One stage from its basic blocks: run in sequence (DIANet adds shared attention)."""
        return nn.Sequential(*blocks)

    def features(self, x: Tensor) -> Tensor:
        """Pooled last-stage features (N, 64)."""
        return self.pool(self.stages(self.stem(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes)."""
        return self.head(self.features(x))


def resnet20(*, num_classes: int = 10, channels: int = 3, image_size: int = 32) -> ResNet:
    """ResNet-20 (n = 3), 272,474 parameters for 10 classes."""
    return ResNet(depth=20, num_classes=num_classes, channels=channels, image_size=image_size)


def resnet56(*, num_classes: int = 10, channels: int = 3, image_size: int = 32) -> ResNet:
    """ResNet-56 (n = 9), 855,770 parameters for 10 classes."""
    return ResNet(depth=56, num_classes=num_classes, channels=channels, image_size=image_size)
