"""Two-process (gloo) fits of tiny GANs, run by tests/test_ddp.py as a script:
``fit_gan.py OUT --family cgan [dagan biggan] --strategy ddp|ddp_spawn``, the families one after
the other in the same processes (``ddp``: they start once, which is most of a fit's time here).

Each rank saves to OUT/<family>/rank{r}.pt its final G / D / EMA G state, its counters and world
size, the first noise and fake classes it drew, and the labels and a fingerprint of every training
image it saw; rank 0 of the launching process saves the EMA G weights it holds after ``fit`` to
OUT/<family>/parent.pt (with ``ddp_spawn``, those Lightning brought back from the workers). Plain
strategy names are used on purpose: the modules (and ``PairedImageDataModule``) must make DDP
work by themselves, and ``ddp_spawn`` pickles the module into two new processes.
"""

import argparse
from pathlib import Path

import lightning as L
import torch

from ganaug.data import ImageDataModule
from ganaug.data.pairs import PairedImageDataModule
from ganaug.modules import DAGAN, BigGAN, ConditionalGAN


class Recording:
    """What a rank drew and saw (a mixin; the classes below are importable, so they pickle)."""

    first_noise = None
    first_fake_labels = None

    def draw_noise(self, n):
        z = super().draw_noise(n)
        if self.first_noise is None:
            self.first_noise = z.clone()
        return z

    def draw_fake_labels(self, labels):
        fake = super().draw_fake_labels(labels)
        if self.first_fake_labels is None and fake is not labels:
            self.first_fake_labels = fake.clone()
        return fake

    def training_step(self, batch, batch_idx):
        if not hasattr(self, "seen"):
            self.seen = []
        pixels = batch[0].flatten(1)
        weights = torch.linspace(1, 2, pixels.shape[1], dtype=pixels.dtype)
        self.seen.append((batch[1].clone(), (pixels @ weights).clone()))
        return super().training_step(batch, batch_idx)


class RecordingGAN(Recording, ConditionalGAN):
    pass


class RecordingDAGAN(Recording, DAGAN):
    pass


class RecordingBigGAN(Recording, BigGAN):
    pass


TINY = dict(latent_dim=8, d_steps=2, seed=7)
# 80 training digits, 40 per rank: batches of 8 (DAGAN: 4 pairs) for 2 epochs, BigGAN's of 10
# for 1 epoch
FAMILIES = {
    "cgan": (lambda: RecordingGAN(num_classes=10, g_width=4, d_width=4, image_size=28,
                                  grid_size=10, **TINY),
             lambda: ImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=4,
                                     batch_size=8, seed=0),
             2),
    "dagan": (lambda: RecordingDAGAN(g_width=4, d_width=4, image_size=28, grid_size=4,
                                     sample_every_n_epochs=0, **TINY),
              lambda: PairedImageDataModule("digits", image_size=28, n_per_class=8,
                                            test_per_class=4, batch_size=8, seed=0),
              2),
    "biggan": (lambda: RecordingBigGAN(num_classes=10, g_width=1, d_width=1, ema_start=1,
                                       ema_decay=0.9, grid_size=10, **TINY),
               lambda: ImageDataModule("digits", image_size=32, channels=3, n_per_class=8,
                                       test_per_class=4, batch_size=10, seed=0),
               1),
}


class SaveEachRank(L.Callback):
    def __init__(self, out: Path, family: str) -> None:
        self.out, self.family = out, family

    def on_train_end(self, trainer, model):
        state = {name: getattr(model, name).state_dict()
                 for name in ("generator", "discriminator", "generator_ema")}
        torch.save({"state": state, "iteration": model.iteration,
                    "d_steps_done": model.d_steps_done, "world_size": trainer.world_size,
                    "first_noise": model.first_noise,
                    "first_fake_labels": model.first_fake_labels, "seen": model.seen},
                   self.out / self.family / f"rank{trainer.global_rank}.pt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--family", choices=FAMILIES, nargs="+", required=True)
    parser.add_argument("--strategy", choices=("ddp", "ddp_spawn"), default="ddp")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for family in args.family:
        (args.out / family).mkdir(exist_ok=True)
        make_model, make_data, epochs = FAMILIES[family]
        model = make_model()
        trainer = L.Trainer(accelerator="cpu", devices=2, strategy=args.strategy,
                            max_epochs=epochs, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=str(args.out),
                            callbacks=[SaveEachRank(args.out, family)])
        trainer.fit(model, make_data())
        if trainer.global_rank == 0:
            torch.save(model.generator_ema.state_dict(), args.out / family / "parent.pt")


if __name__ == "__main__":
    main()
