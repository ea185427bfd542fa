"""Two-process (gloo) DDP crash and resume of a ConditionalGAN, run by tests/test_ddp.py.

``resume_cgan.py OUT full`` fits 2 epochs; ``OUT crash`` fits with a checkpoint in the middle of
the first epoch and SIGKILLs both processes at the next batch; ``OUT resume`` resumes from that
checkpoint. ``full`` and ``resume`` save each rank's final state to OUT/<mode>-rank{r}.pt.
"""

import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the shared helpers
from tests_helpers import KillAfterCheckpoint  # noqa: E402


def main(out: Path, mode: str) -> None:
    torch.set_num_threads(1)
    model = ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28,
                           d_steps=2, grid_size=10, ema_decay=0.9, ema_start=2, seed=7)
    # 160 training digits, 80 per rank, batches of 8: 10 batches per epoch and rank
    data = ImageDataModule("digits", image_size=28, n_per_class=16, test_per_class=4,
                           batch_size=8, seed=0, hflip=True)
    folder = out / "checkpoints"
    callbacks = [ModelCheckpoint(dirpath=folder, every_n_train_steps=6, save_top_k=-1),
                 KillAfterCheckpoint(folder)] if mode == "crash" else []
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                        enable_checkpointing=mode == "crash", enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out),
                        callbacks=callbacks)
    path = next(folder.glob("*.ckpt")) if mode == "resume" else None
    trainer.fit(model, data, ckpt_path=path)
    state = {f"{name}.{key}": value for name in ("generator", "discriminator", "generator_ema")
             for key, value in getattr(model, name).state_dict().items()}
    for i, optimizer in enumerate(trainer.optimizers):
        for index, values in optimizer.state_dict()["state"].items():
            state.update({f"optimizer{i}.{index}.{k}": v for k, v in values.items()})
    torch.save({"state": state, "iteration": model.iteration, "d_steps_done": model.d_steps_done,
                "global_step": trainer.global_step},
               out / f"{mode}-rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
