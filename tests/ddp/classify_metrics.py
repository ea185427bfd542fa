"""Two-process (gloo) DDP fit and test of a ClassifierModule, run by tests/test_classify_ddp.py.

Each rank saves its test metrics and final weights to OUT/rank{r}.pt; rank 0 also saves the test
set, so that the test can compare with a single-process evaluation of the same weights.
"""

import sys
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule


def labelled(n: int, seed: int, flag: bool = False) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    labels = torch.randint(0, 4, (n,), generator=g)
    images[:, :, :2, :2] = labels[:, None, None, None] / 2 - 0.75  # a learnable cue
    extra = [torch.arange(n) % 2 == 0] if flag else []
    return TensorDataset(images, labels, *extra)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    train, test = labelled(64, seed=0, flag=True), labelled(42, seed=1)
    model = ClassifierModule(architecture="small_cnn", num_classes=4, channels=1, image_size=8,
                             optimizer="adam", lr=1e-2, weight_decay=0.0, lr_milestones=(0.5,),
                             classic_augment="flip", seed=5)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=8, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out))
    trainer.fit(model, DataLoader(train, batch_size=8, shuffle=True))
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    trainer.test(model, DataLoader(test, batch_size=8), verbose=False)
    record = {"metrics": model.test_metrics(), "confusion": model.test_confusion(),
              "state": model.state_dict(),
              "world_size": trainer.world_size, "logged": logged}
    if trainer.global_rank == 0:
        record["test_set"] = test.tensors
    torch.save(record, out / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
