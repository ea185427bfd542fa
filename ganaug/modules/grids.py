"""``SampleGrids``: a GAN's fixed-noise sample grid, logged every n epochs.

The grid is the module's :meth:`~ganaug.modules.base.GANModule.sample_grid` (the EMA generator on
fixed noise, one row per class; DAGAN shows its fixed real images and their augmentations), so
grids of one fit, and of a resumed one, are comparable. Where it goes depends on the loggers:
a logger that takes images gets it (TensorBoard's ``add_image``, or the ``log_image`` of the
Weights & Biases, Neptune and Comet loggers); otherwise, or without a logger, it is written as
``samples/epoch=EEEE-iteration=IIIIIII.png`` under the first logger's folder or the Trainer's
``default_root_dir``. Only global rank 0 draws and logs.

``GANModule(sample_every_n_epochs=n)`` adds this callback itself (``configure_callbacks``).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from torch import Tensor

from ganaug.images import write_png

__all__ = ["SampleGrids"]


class SampleGrids(L.Callback):
    """Log the sample grid of a GAN module every ``every_n_epochs`` training epochs."""

    def __init__(self, every_n_epochs: int = 1) -> None:
        super().__init__()
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) \
                or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        self.every_n_epochs = every_n_epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 and trainer.is_global_zero:
            self.log_grid(trainer, pl_module)

    def log_grid(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Path | None:
        """Send the grid to the first logger that takes images, else write it as a PNG and
        return the PNG's path."""
        grid = pl_module.sample_grid()
        step = pl_module.iteration
        for logger in trainer.loggers:
            if _log_image(logger, grid, step):
                return None
        log_dir = trainer.loggers[0].log_dir if trainer.loggers else None
        root = Path(log_dir or trainer.default_root_dir)
        tag = f"epoch={trainer.current_epoch:04d}-iteration={step:07d}"
        return write_png(grid, root / "samples" / f"{tag}.png")


def _log_image(logger: Logger, grid: Tensor, step: int) -> bool:
    """Log ``grid`` (uint8 (C, H, W)) with ``logger`` if it takes images; whether it did."""
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image("samples", grid, step)
        return True
    log_image = getattr(logger, "log_image", None)  # Lightning's W&B, Neptune and Comet loggers
    if callable(log_image):
        log_image(key="samples", images=[grid.permute(1, 2, 0).numpy()], step=step)
        return True
    return False
