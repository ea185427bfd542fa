"""Load any ganaug GAN checkpoint (or ``save_pretrained`` folder) without knowing its class in
advance, and without trusting it.

The class is found among the registered GAN modules (:func:`ganaug.register_gan`), never imported
because the file names it, and the file is read with ``weights_only=True``
(:mod:`ganaug.modules.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganaug.modules.base import GANModule
from ganaug.modules.pretrained import is_pretrained_folder, load_pretrained

__all__ = ["load_gan"]


def load_gan(
    checkpoint: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    model_class: type[GANModule] | None = None,  # the class to load as; None = the stored one
) -> GANModule:
    """Load a checkpoint written by a ganaug GAN module, or a folder written by its
    ``save_pretrained``, finding its class from the file.

    The stored class must be registered (ganaug's own are); a class of your own can be passed
    as ``model_class`` (or registered with ``ganaug.register_gan``). Raises
    ``FileNotFoundError``, ``CheckpointError`` (unreadable, unsafe or foreign files) or
    ``CheckpointMismatchError`` (a checkpoint of another class), each naming the path.
    """
    cls = model_class or GANModule
    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise TypeError(f"model_class must be a GANModule subclass, got {model_class!r}")
    if is_pretrained_folder(checkpoint):
        return cls.from_pretrained(Path(checkpoint), map_location=map_location)
    if Path(checkpoint).is_dir():
        raise FileNotFoundError(f"{checkpoint} is a folder without a config.json: give a "
                                "checkpoint file, or a folder written by save_pretrained")
    return cls.load_from_checkpoint(Path(checkpoint), map_location=map_location)
