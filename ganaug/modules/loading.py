"""Load any ganaug GAN checkpoint without knowing its class in advance."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from ganaug.modules.base import GANModule

__all__ = ["load_gan"]


def load_gan(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> GANModule:
    """Load a checkpoint written by any ganaug GAN module, finding its class from the file."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    meta = state.get("ganaug") if isinstance(state, dict) else None
    if meta is None:
        raise ValueError(f"{path} is not a checkpoint written by a ganaug GAN module")
    module_name, _, class_name = meta["class"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.load_from_checkpoint(path, map_location=map_location)
