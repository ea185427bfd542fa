"""A two-process (gloo) fit of a tiny conditional GAN with adaptive augmentation, run by
tests/test_augment_schedule.py as a script: ``ada_ranks.py OUT``.

Each rank saves to OUT/rank{r}.pt, for every D step, its own real images' sign sum (positive
minus negative logits) and count, and the augment probability it holds after the step, with
the schedule's interval and images.
"""

import argparse
from pathlib import Path

import lightning as L
import torch

from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN

INTERVAL, IMAGES = 2, 160


class RecordingGAN(ConditionalGAN):
    """Keeps each D step's real sign sum and count, and p after the step."""

    def training_step(self, batch, batch_idx):
        if not hasattr(self, "signs"):
            self.signs, self.probabilities = [], []
        super().training_step(batch, batch_idx)
        self.probabilities.append(self.augment_probability)

    def total_discriminator_loss(self, losses, real_logits, fake_logits):
        losses = super().total_discriminator_loss(losses, real_logits, fake_logits)
        self.signs.append((int(real_logits.detach().sign().sum()), real_logits.numel()))
        return losses


class SaveEachRank(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, trainer, model):
        torch.save({"signs": model.signs, "probabilities": model.probabilities,
                    "interval": INTERVAL, "images": IMAGES},
                   self.out / f"rank{trainer.global_rank}.pt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = RecordingGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28,
                         grid_size=10, sample_every_n_epochs=0, seed=7, ada_target=0.6,
                         ada_interval=INTERVAL, ada_images=IMAGES)
    data = ImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=4,
                           batch_size=8, seed=0)  # 40 digits a rank: 5 batches of 8
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=3,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(args.out),
                        callbacks=[SaveEachRank(args.out)])
    trainer.fit(model, data)


if __name__ == "__main__":
    main()
