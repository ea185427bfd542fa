"""Two-process (gloo) DDP fit of a tiny BigGAN, run by tests/test_biggan_ddp.py as a script.

Each rank saves its final G / D / EMA G state, its counters and the first noise and fake classes
it drew to OUT/rank{r}.pt. Plain ``strategy="ddp"``: the module must make it work by itself.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from ganaug.data import ImageDataModule
from ganaug.modules import BigGAN


class RecordingBigGAN(BigGAN):
    first_noise = None
    first_fake_labels = None

    def draw_noise(self, n):
        z = super().draw_noise(n)
        if self.first_noise is None:
            self.first_noise = z.clone()
        return z

    def draw_fake_labels(self, labels):
        fake = super().draw_fake_labels(labels)
        if self.first_fake_labels is None:
            self.first_fake_labels = fake.clone()
        return fake


def main(out: Path) -> None:
    torch.set_num_threads(1)
    model = RecordingBigGAN(num_classes=10, latent_dim=8, g_width=1, d_width=1, d_steps=2,
                            ema_start=1, ema_decay=0.9, grid_size=10, seed=7)
    data = ImageDataModule("digits", image_size=32, channels=3, n_per_class=8, test_per_class=4,
                           batch_size=10, seed=0)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out))
    trainer.fit(model, data)
    state = {name: getattr(model, name).state_dict()
             for name in ("generator", "discriminator", "generator_ema")}
    torch.save({"state": state, "first_noise": model.first_noise,
                "first_fake_labels": model.first_fake_labels, "iteration": model.iteration,
                "d_steps_done": model.d_steps_done, "world_size": trainer.world_size},
               out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
