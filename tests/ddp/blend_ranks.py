"""Two-process (gloo) run over a SyntheticBlendDataModule, run by tests/test_blend.py.

Each rank records one row (label, is_synthetic, pixel checksum) per training image it saw in the
first epoch, and saves them to OUT/rank{r}.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch
from torch import nn

from ganaug.data import ImageDataModule, LabelledImages, SyntheticBlendDataModule


def checksum_rows(images, labels, synthetic) -> list[tuple[int, int, int]]:
    """One row (label, is_synthetic, pixel checksum) per image of an 8x8 batch."""
    pixels = ((images + 1) * 127.5).round().long().flatten(1)
    checksums = (pixels * torch.arange(1, 65)).sum(1)
    return list(zip(labels.tolist(), synthetic.long().tolist(), checksums.tolist()))


def random_bank() -> LabelledImages:
    """12 seeded random 8x8 images of each of 10 classes."""
    labels = torch.arange(10).repeat_interleave(12)
    images = torch.randint(0, 256, (len(labels), 1, 8, 8), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return LabelledImages(images, labels, num_classes=10)


class Recorder(L.LightningModule):
    """Records the rows of the first epoch's batches."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(64, 10)
        self.rows: list[tuple] = []

    def record(self, images, labels, synthetic) -> None:
        if self.current_epoch == 0:
            self.rows += checksum_rows(images, labels, synthetic)

    def training_step(self, batch, batch_index):
        images, labels, synthetic = batch
        self.record(images, labels, synthetic)
        return nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    bank = random_bank()
    real = ImageDataModule("digits", n_per_class=11, test_per_class=2, batch_size=5, seed=0)
    blend = SyntheticBlendDataModule(real, bank, mode="augment", ratio=0.5, seed=1)  # 110 + 60
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out))
    model = Recorder()
    trainer.fit(model, blend)
    torch.save({"rows": model.rows, "per_rank": (110 + 60) // 2}, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
