"""Two-process fit of a ConditionalGAN (spectral-normed D) with ``strategy="ddp_spawn"``, run by
tests/test_pickling.py as a script: the module is pickled into two new processes (gloo).

Each rank saves its final G / D / EMA G state and counters to OUT/rank{r}.pt; the parent process
saves the weights Lightning brought back to OUT/parent.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN


class SaveEachRank(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer, model):
        state = {name: getattr(model, name).state_dict()
                 for name in ("generator", "discriminator", "generator_ema")}
        torch.save({"state": state, "iteration": model.iteration,
                    "d_steps_done": model.d_steps_done, "world_size": trainer.world_size},
                   self.out / f"rank{trainer.global_rank}.pt")


def main(out: Path) -> None:
    torch.set_num_threads(1)
    model = ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28,
                           d_steps=2, grid_size=10, seed=7, sample_every_n_epochs=0)
    data = ImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=2,
                           batch_size=8, seed=0)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out),
                        callbacks=[SaveEachRank(out)])
    trainer.fit(model, data)
    torch.save(model.generator_ema.state_dict(), out / "parent.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
