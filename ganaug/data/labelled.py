"""``LabelledImages``: a labelled image set kept in memory as uint8, served as ganaug's convention.

Every dataset loader, synthetic bank and blend holds its images in one of these: uint8
(N, C, H, W) pixels and int64 labels, a quarter of the memory of float32, converted to float
[-1, 1] one item at a time (:func:`ganaug.images.from_uint8`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from ganaug.images import from_uint8

__all__ = ["LabelledImages"]

_LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")


class LabelledImages(torch.utils.data.Dataset):
    """Images kept as uint8 (N, C, H, W) with int64 labels; items are float [-1, 1] and int64.

    Keeping uint8 in memory costs a quarter of float32; conversion happens per item.
    """

    def __init__(
        self,
        images: Tensor,  # uint8 (N, C, H, W)
        labels: Tensor | Sequence[int],  # (N,) class indices
        *,
        num_classes: int | None = None,  # None = max label + 1
        class_names: Sequence[str] | None = None,  # None = "0", "1", ...
    ) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                "images must be a uint8 tensor of shape (N, C, H, W), got "
                f"{type(images).__name__} {getattr(images, 'dtype', '')} "
                f"{tuple(getattr(images, 'shape', ()))}; convert floats in [-1, 1] (ganaug's "
                "convention) with ganaug.images.to_uint8(x), floats in [0, 1] with "
                "(x * 255).round().to(torch.uint8)"
            )
        labels = torch.as_tensor(labels).long().reshape(-1)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels; they must match")
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if len(labels) else 0
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(
                f"labels must lie in [0, {num_classes}), got values from {int(labels.min())} "
                f"to {int(labels.max())}"
            )
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.images = images
        self.labels = labels
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(c) for c in range(num_classes)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return from_uint8(self.images[index]), self.labels[index]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def class_counts(self) -> Tensor:
        """Images per class, int64 (num_classes,)."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: Tensor) -> LabelledImages:
        """The images at ``indices``, same classes and names."""
        return LabelledImages(self.images[indices], self.labels[indices],
                              num_classes=self.num_classes, class_names=self.class_names)

    def with_channels(self, channels: int) -> LabelledImages:
        """Grey repeated to 3 channels, or RGB reduced to luminance (0.299 R + 0.587 G + 0.114 B)."""
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        stored = self.images.shape[1]
        if stored == channels:
            return self
        if stored == 1:
            images = self.images.repeat(1, 3, 1, 1)
        elif stored == 3:
            weights = torch.tensor(_LUMINANCE, dtype=torch.float64).view(1, 3, 1, 1)
            grey = (self.images.double() * weights).sum(1, keepdim=True)
            images = grey.round().clamp(0, 255).to(torch.uint8)
        else:
            raise ValueError(f"cannot convert {stored}-channel images; only 1 and 3 are supported")
        return LabelledImages(images, self.labels, num_classes=self.num_classes,
                              class_names=self.class_names)

    def resized(self, size: int | tuple[int, int]) -> LabelledImages:
        """Resized to ``size`` (square int or (H, W)) with antialiased bilinear interpolation."""
        height, width = (size, size) if isinstance(size, int) else size
        if (height, width) == self.images.shape[2:]:
            return self
        resized = []
        for chunk in self.images.split(1024):
            scaled = F.interpolate(chunk.float(), size=(height, width), mode="bilinear",
                                   align_corners=False, antialias=True)
            resized.append(scaled.round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(resized) if resized else self.images.new_zeros(0, self.images.shape[1], height, width)
        return LabelledImages(images, self.labels, num_classes=self.num_classes,
                              class_names=self.class_names)
