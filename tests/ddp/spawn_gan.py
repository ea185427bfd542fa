"""A user's GAN class defined in the launching script, fitted with ``ddp_spawn`` on two CPU
processes (gloo); run by tests/test_ddp.py as ``spawn_gan.py OUT``.

The workers pickle the class as ``__mp_main__.ScriptGAN`` (the name their copy of this script
has). Rank 0 of the workers writes OUT/worker.ckpt at the end of the fit; the launching process
then writes OUT/parent.ckpt (its trainer did not run the fit, so it warns) and OUT/parent.json
with the counters it holds and the warnings it saw.
"""

import json
import sys
import warnings
from pathlib import Path

import lightning as L
import torch

from ganaug import register_gan
from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN


@register_gan
class ScriptGAN(ConditionalGAN):
    """A subclass of the user's own: only its name differs from ConditionalGAN."""


class SaveInWorkers(L.Callback):
    """Every worker calls save_checkpoint (a collective call); rank 0 writes the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_end(self, trainer: L.Trainer, model: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    model = ScriptGAN(num_classes=10, g_width=4, d_width=4, image_size=28, grid_size=10,
                      latent_dim=8, d_steps=2, seed=7)
    data = ImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=4,
                           batch_size=8, seed=0)  # 40 digits a rank: 5 batches of 8
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(out),
                        callbacks=[SaveInWorkers(out / "worker.ckpt")])
    trainer.fit(model, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.save_checkpoint(out / "parent.ckpt")
    (out / "parent.json").write_text(json.dumps({
        "d_steps_done": model.d_steps_done, "iteration": model.iteration,
        "global_step": trainer.global_step, "warnings": [str(w.message) for w in caught]}))


if __name__ == "__main__":
    main()
