"""The image protocol every ganaug metric uses, in one place.

Metrics differ between libraries mostly by what happens to the pixels before the network sees
them (torchmetrics #3130, pytorch-fid #63). ganaug fixes it:

1. Images arrive as float (N, C, H, W) in [-1, 1] (checked; values outside are an error).
2. They become uint8 with :func:`ganaug.images.to_uint8`: ``round(127.5 x + 127.5)``, clamped,
   so a sample at 1.0001 is 255, never 0 (``(x * 255).byte()`` would wrap around).
3. Grayscale is repeated to three channels for extractors that need RGB.
4. Resizing, where the extractor needs a fixed size, is the bilinear filter of TensorFlow 1.x
   ``tf.image.resize_bilinear(align_corners=False)`` *without antialiasing*, as in the reference
   TTUR FID code and in torch-fidelity (``interpolate_compat_tensorflow.py``). torchmetrics >= 1.8
   antialiases by default and so gives other numbers.

Features and statistics are then float64 (see :mod:`ganaug.metrics.frechet`).
"""

from __future__ import annotations

from torch import Tensor

from ganaug.images import check_images, to_uint8

__all__ = ["QUANTISATION", "RESIZE_TF1X_BILINEAR", "resize_tf1x_bilinear", "to_extractor_uint8"]

QUANTISATION = "uint8 = round(127.5 x + 127.5) clamped to [0, 255]"
RESIZE_TF1X_BILINEAR = "bilinear like TF1.x resize_bilinear(align_corners=False), no antialias"


def to_extractor_uint8(images: Tensor, *, rgb: bool, repeat_grayscale: bool = True) -> Tensor:
    """Check ``images`` (float (N, C, H, W) in [-1, 1]) and convert them to uint8 pixels.

    Args:
        images: the images to convert.
        rgb: the extractor needs 3 channels.
        repeat_grayscale: with ``rgb``, repeat a single channel three times instead of refusing.
    """
    check_images(images, name="images given to a generative metric")
    if len(images) < 1:
        raise ValueError("images given to a generative metric are empty (N = 0)")
    channels = images.shape[1]
    if rgb and channels != 3:
        if channels == 1 and repeat_grayscale:
            images = images.expand(-1, 3, -1, -1)
        else:
            hint = "; pass repeat_grayscale=True to repeat it" if channels == 1 else ""
            raise ValueError(f"this feature extractor needs RGB images (3 channels), got "
                             f"{channels} channel(s) in shape {tuple(images.shape)}{hint}")
    return to_uint8(images)


def resize_tf1x_bilinear(images: Tensor, size: int) -> Tensor:
    """Resize (N, C, H, W) to ``size`` x ``size`` with TensorFlow 1.x's bilinear filter (float32)."""
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    if images.shape[-2:] == (size, size):
        return images.float()
    return interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(size, size),
                                                     align_corners=False)
