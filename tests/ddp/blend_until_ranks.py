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
from torch import nn

from ganaug.data import ImageDataModule, LabelledImages, SyntheticBlendDataModule


class EpochRecorder(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(64, 10)
        self.rows: list[tuple[int, int, int, int]] = []

    def training_step(self, batch, batch_index):
        images, labels, synthetic = batch
        pixels = ((images + 1) * 127.5).round().long().flatten(1)
        checksums = (pixels * torch.arange(1, 65)).sum(1)
        self.rows += [(self.current_epoch, *row) for row in
                      zip(labels.tolist(), synthetic.long().tolist(), checksums.tolist())]
        return nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    labels = torch.arange(10).repeat_interleave(12)
    images = torch.randint(0, 256, (len(labels), 1, 8, 8), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    bank = LabelledImages(images, labels, num_classes=10)
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
