"""Two-process (gloo) run over a SyntheticBlendDataModule with ``synthetic_until``, run by
tests/test_blend.py.

110 real digits and 60 marked synthetic images, batches of 5: 17 batches per rank and blend
epoch, 11 per rank and real epoch. 45 steps with synthetic_until=0.5 (round(22.5) = 22
batches): epochs 0 and 1 are blended (34 batches), epoch 2 holds the real images alone (11
batches). Each rank records one row (epoch, label, is_synthetic, pixel checksum) per training
image it saw and saves them to OUT/rank{r}.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from blend_ranks import Recorder, checksum_rows, random_bank
from ganaug.data import ImageDataModule, SyntheticBlendDataModule


class EpochRecorder(Recorder):
    """Records the rows of every epoch's batches, each with its epoch in front."""

    def record(self, images, labels, synthetic) -> None:
        rows = checksum_rows(images, labels, synthetic)
        self.rows += [(self.current_epoch, *row) for row in rows]


def main(out: Path) -> None:
    torch.set_num_threads(1)
    bank = random_bank()
    real = ImageDataModule("digits", n_per_class=11, test_per_class=2, batch_size=5, seed=0)
    blend = SyntheticBlendDataModule(real, bank, mode="augment", ratio=0.5, seed=1,
                                     synthetic_until=0.5)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=45, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out),
                        reload_dataloaders_every_n_epochs=1)
    model = EpochRecorder()
    trainer.fit(model, blend)
    torch.save({"rows": model.rows}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
