"""Conversions and checks at the edge of the library's convention: images float (N, C, H, W) in
[-1, 1], labels int64 class indices (N,).

``to_uint8`` is the one place where model outputs become 8-bit pixels: it clamps instead of
wrapping around (``(x * 255).byte()`` on values outside [0, 1] wraps silently), so metrics,
grids and exported images all see the same quantisation. ``from_uint8`` is its inverse, the one
place where 8-bit pixels (stored datasets, banks) become images in [-1, 1].
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
from torch import Tensor

from ganaug.atomic import atomic_path

__all__ = ["check_batch", "check_images", "from_uint8", "image_grid", "save_image_grid", "to_uint8",
           "write_png"]

# A batch in [-1, 1] whose darkest pixel is at least mid-grey is rare; [0, 1] data always is.
UNIT_RANGE_WARNING = ("{name} are all >= 0: this looks like images in [0, 1], but ganaug expects "
                      "[-1, 1]; convert them with x * 2 - 1 (uint8 pixels: x / 127.5 - 1)")


def to_uint8(images: Tensor) -> Tensor:
    """Map images in [-1, 1] to uint8 in [0, 255]: ``round(127.5 * x + 127.5)``, clamped."""
    return (images.float() * 127.5 + 128.0).clamp_(0, 255).to(torch.uint8)


def from_uint8(pixels: Tensor) -> Tensor:
    """Map 8-bit pixels (any integer dtype, values in [0, 255]) to float32 images in [-1, 1]:
    ``p / 127.5 - 1``, so that ``to_uint8(from_uint8(p)) == p`` for every pixel value."""
    return pixels.float() / 127.5 - 1.0


def check_images(
    images: Tensor,
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    check_range: bool = True,
    name: str = "images",
) -> None:
    """Raise ``ValueError`` unless ``images`` follow the library's convention.

    Warns when every value is >= 0 (images in [0, 1] pass the range check but are wrong).

    Args:
        images: the tensor to check; expected float (N, C, H, W) in [-1, 1].
        channels: the expected channel count, or None to accept any.
        size: the expected (H, W), or None to accept any.
        check_range: also check the value range (one device-to-host sync on accelerators).
        name: what to call the tensor in the message.
    """
    check_batch(images, None, channels=channels, size=size, check_range=check_range, name=name)


def check_batch(
    images: Tensor,
    labels: Tensor | None,
    *,
    num_classes: int | None = None,  # labels must lie in [0, num_classes); None = no labels
    channels: int | None = None,  # expected channel count; None = any
    size: tuple[int, int] | None = None,  # expected (H, W); None = any
    check_range: bool = True,  # check the values (one device-to-host sync for images and labels)
    name: str = "images",  # what to call the images in messages
) -> None:
    """Raise ``ValueError`` unless ``images`` (and ``labels``, when ``num_classes`` is given)
    follow the library's convention; cheap enough for every training batch.

    Shapes and dtypes cost nothing; the ranges of images and labels cost one reduction each and
    a single device-to-host sync together.
    """
    _check_image_layout(images, channels, size, name)
    if num_classes is not None:
        if not isinstance(labels, Tensor):
            raise ValueError(f"{name} need int64 class labels in [0, {num_classes - 1}] in every "
                             f"batch, got {type(labels).__name__}; yield (image, label) pairs")
        if labels.dtype != torch.long or labels.shape != images.shape[:1]:
            raise ValueError(
                f"labels must be int64 class indices of shape ({images.shape[0]},), got "
                f"{labels.dtype} {tuple(labels.shape)}; convert class indices with labels.long()"
                + (" (float labels such as one-hot or soft targets are not class indices)"
                   if labels.is_floating_point() else ""))
    if not check_range or images.numel() == 0:
        return
    low, high = torch.aminmax(images.detach())
    numbers = [low.float(), high.float()]
    if num_classes is not None:
        numbers += [labels.min().float(), labels.max().float()]
    values = torch.stack(numbers).tolist()  # the one sync
    low, high = values[0], values[1]
    if not (math.isfinite(low) and math.isfinite(high)) or low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
        raise ValueError(
            f"{name} must lie in [-1, 1], got values in [{low:.3g}, {high:.3g}]; "
            "images in [0, 1] need x * 2 - 1, uint8 pixels x / 127.5 - 1"
        )
    if low >= 0.0:
        warnings.warn(UNIT_RANGE_WARNING.format(name=name), UserWarning, stacklevel=3)
    if num_classes is not None and (values[2] < 0 or values[3] >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] ({num_classes} classes), got labels from "
            f"{int(values[2])} to {int(values[3])}; check the dataset's labels or the model's "
            "num_classes"
        )


def _check_image_layout(images: Tensor, channels: int | None, size: tuple[int, int] | None,
                        name: str) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a tensor of shape (N, C, H, W), got {shape}")
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be floating point in [-1, 1], got dtype {images.dtype}; "
            "convert uint8 pixels with x.float() / 127.5 - 1"
        )
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got shape {tuple(images.shape)}")
    if size is not None and tuple(images.shape[2:]) != tuple(size):
        raise ValueError(f"{name} must be {size[0]}x{size[1]}, got shape {tuple(images.shape)}")


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> Tensor:
    """Tile images in [-1, 1] into one uint8 (C, H, W) grid; ``nrow`` images per row."""
    from torchvision.utils import make_grid  # here, so that reading data never imports torchvision

    nrow = nrow or max(1, math.isqrt(images.shape[0]))
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, pad_value=-1.0)
    return to_uint8(grid[: images.shape[1]])  # make_grid turns one channel into three


def write_png(pixels: Tensor, path: str | Path) -> Path:
    """Write one uint8 image (C, H, W), C = 1 or 3, as a PNG at ``path``; return the path."""
    from PIL import Image

    if pixels.dtype != torch.uint8 or pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise ValueError(f"expected uint8 pixels (1 or 3, H, W), got {pixels.dtype} "
                         f"{tuple(pixels.shape)}")
    array = pixels.permute(1, 2, 0).cpu().numpy()
    path = Path(path)
    with atomic_path(path) as temporary:  # a reader never sees half a picture
        Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(temporary,
                                                                              format="PNG")
    return path


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write ``images`` in [-1, 1] as one PNG grid at ``path`` and return the path."""
    return write_png(image_grid(images, nrow), path)
