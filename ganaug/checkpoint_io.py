"""``SafeCheckpointIO``: the Lightning checkpoint plugin of ganaug's trainers.

Lightning reads a checkpoint (``Trainer.fit(ckpt_path=...)``, ``ddp_spawn``'s weights coming
back) through its strategy's ``CheckpointIO``. This one reads with
:func:`ganaug.serialization.load_file`, so the file is read with ``weights_only=True`` and a
crafted, truncated or corrupt file is refused with a message naming its path; it writes with
:func:`ganaug.atomic.atomic_save`, so a checkpoint is never seen half written. ganaug's GAN and
classifier modules put it in place of Lightning's default plugin when they are set up
(:func:`use_safe_checkpoint_io`); pass ``plugins=[SafeCheckpointIO()]`` to a ``Trainer`` to
have it for any module.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ganaug.atomic import atomic_save
from ganaug.serialization import load_file

__all__ = ["SafeCheckpointIO", "use_safe_checkpoint_io"]


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with ganaug's reading (``weights_only=True``, errors
    naming the file) and atomic writing. Remote (``fsspec``) paths keep Lightning's own."""

    def load_checkpoint(self, path: Any, map_location: Any = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        """The checkpoint at ``path``, on the CPU (Lightning moves it to the module's device)."""
        if weights_only is False:
            raise ValueError(f"refusing to read {path} with weights_only=False: ganaug's "
                             "trainers read checkpoints with weights_only=True only")
        if _remote(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        content = load_file(path, kind="checkpoint")
        if not isinstance(content, dict):
            raise ValueError(f"{path} holds a {type(content).__name__}, not a checkpoint")
        return content

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        """Write ``checkpoint`` to ``path`` under a temporary name, then rename it."""
        if _remote(path) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options=storage_options)
            return
        atomic_save(checkpoint, path)


def use_safe_checkpoint_io(trainer: L.Trainer | None) -> None:
    """Put a :class:`SafeCheckpointIO` in place of the trainer's default plugin (Lightning's
    plain ``TorchCheckpointIO``); a plugin the user chose is left as it is."""
    strategy = getattr(trainer, "strategy", None)
    if strategy is not None and type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = SafeCheckpointIO()


def _remote(path: Any) -> bool:
    return "://" in str(path)
