"""Two-process (gloo) run over a SyntheticBlendDataModule in balance mode, run by
tests/test_blend.py.

The real split is a long tail of 12 down to 1 digits per class; the blend tops every class up to
12 with marked synthetic images (120 in all, 60 per rank). Each rank records one row (label,
is_synthetic, pixel checksum) per training image it saw in the first epoch and saves them to
OUT/rank{r}.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch

from blend_ranks import Recorder, random_bank
from ganaug.data import ImageDataModule, SyntheticBlendDataModule

REAL_COUNTS = [12, 10, 8, 6, 5, 4, 3, 2, 2, 1]


def main(out: Path) -> None:
    torch.set_num_threads(1)
    bank = random_bank()
    real = ImageDataModule("digits", class_counts=REAL_COUNTS, test_per_class=2, batch_size=5, seed=0)
    blend = SyntheticBlendDataModule(real, bank, mode="balance", seed=1)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out))
    model = Recorder()
    trainer.fit(model, blend)
    torch.save({"rows": model.rows, "per_rank": 120 // 2, "real_counts": REAL_COUNTS},
               out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
