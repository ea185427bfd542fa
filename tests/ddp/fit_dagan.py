"""Two-process (gloo) DDP fit of a DAGAN, run by tests/test_dagan_training.py as a script.

Each rank saves its final G / D / EMA G state, the first noise batch it drew and the label and
pixel sum of every training image it saw to OUT/rank{r}.pt. Plain ``strategy="ddp"``: the module
and PairedImageDataModule must make it work by themselves.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from ganaug.data.pairs import PairedImageDataModule
from ganaug.modules.dagan import DAGAN


class RecordingDAGAN(DAGAN):
    first_noise = None
    seen: list

    def draw_noise(self, n):
        z = super().draw_noise(n)
        if self.first_noise is None:
            self.first_noise = z.clone()
        return z

    def training_step(self, batch, batch_idx):
        if not hasattr(self, "seen"):
            self.seen = []
        self.seen.append((batch[1].clone(), batch[0].flatten(1).sum(1).clone()))
        return super().training_step(batch, batch_idx)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    model = RecordingDAGAN(latent_dim=8, g_width=4, d_width=4, image_size=28, d_steps=2,
                           grid_size=4, sample_every_n_epochs=0, seed=7)
    data = PairedImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=4,
                                 batch_size=8, seed=0)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out))
    trainer.fit(model, data)
    state = {name: getattr(model, name).state_dict()
             for name in ("generator", "discriminator", "generator_ema")}
    torch.save({"state": state, "first_noise": model.first_noise, "iteration": model.iteration,
                "d_steps_done": model.d_steps_done, "world_size": trainer.world_size,
                "seen": model.seen}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
