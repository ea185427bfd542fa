"""Conversions at the edge of the library's image convention (float in [-1, 1], (N, C, H, W)).

``to_uint8`` is the one place where model outputs become 8-bit pixels: it clamps instead of
wrapping around (``(x * 255).byte()`` on values outside [0, 1] wraps silently), so metrics,
grids and exported images all see the same quantisation.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor
from torchvision.utils import make_grid

__all__ = ["check_images", "image_grid", "save_image_grid", "to_uint8", "write_png"]


def to_uint8(images: Tensor) -> Tensor:
    """Map images in [-1, 1] to uint8 in [0, 255]: ``round(127.5 * x + 127.5)``, clamped."""
    return (images.float() * 127.5 + 128.0).clamp_(0, 255).to(torch.uint8)


def check_images(
    images: Tensor,
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    check_range: bool = True,
    name: str = "images",
) -> None:
    """Raise ``ValueError`` unless ``images`` follow the library's convention.

    Args:
        images: the tensor to check; expected float (N, C, H, W) in [-1, 1].
        channels: the expected channel count, or None to accept any.
        size: the expected (H, W), or None to accept any.
        check_range: also check the value range (a device-to-host sync on accelerators).
        name: what to call the tensor in the message.
    """
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
    if check_range and images.numel() > 0:
        low, high = images.min().item(), images.max().item()
        if not (math.isfinite(low) and math.isfinite(high)) or low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
            raise ValueError(
                f"{name} must lie in [-1, 1], got values in [{low:.3g}, {high:.3g}]; "
                "images in [0, 1] need x * 2 - 1, uint8 pixels x / 127.5 - 1"
            )


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> Tensor:
    """Tile images in [-1, 1] into one uint8 (C, H, W) grid; ``nrow`` images per row."""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(path)
    return path


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write ``images`` in [-1, 1] as one PNG grid at ``path`` and return the path."""
    return write_png(image_grid(images, nrow), path)
