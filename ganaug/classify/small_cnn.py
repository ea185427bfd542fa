"""A small convolutional classifier for fast CPU runs on 28x28 / 32x32 grey or colour images.

Two 3x3 convolutions (each followed by ReLU and 2x2 max pooling) and two fully connected layers,
the shape of the MNIST baseline of the issue tracker ("2 conv + 2 fc CNN"). No batch norm, so a
model behaves the same in training and evaluation apart from dropout.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """``conv(C→w) → pool → conv(w→2w) → pool → fc(2w·(H/4)·(W/4) → hidden) → fc(hidden → K)``.

    | layer | output (28 px input) |
    | --- | --- |
    | conv 3x3, ReLU, max-pool 2 | (w, 14, 14) |
    | conv 3x3, ReLU, max-pool 2 | (2w, 7, 7) |
    | flatten, fc, ReLU, dropout | (hidden,) = the features |
    | fc | (num_classes,) |
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,  # output logits
        channels: int = 1,  # input image channels
        image_size: int = 28,  # input height = width; any size divisible by 4
        width: int = 32,  # channels of the first convolution; the second has 2 * width
        hidden: int = 128,  # size of the penultimate (feature) layer
        dropout: float = 0.0,  # dropout on the features during training; 0 = none
    ) -> None:
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"SmallCNN needs an image size divisible by 4, got {image_size}")
        side = image_size // 4
        self.feature_dim = hidden
        self.body = nn.Sequential(
            # pooling before ReLU gives the same values and gradients (ReLU is monotone) with
            # a quarter of the ReLU work; indices 0 and 3 keep the checkpoints' keys
            nn.Conv2d(channels, width, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(2 * width * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, hidden) of images (N, C, H, W)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes)."""
        return self.head(self.features(x))
