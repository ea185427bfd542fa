"""Crash-and-resume: a fit interrupted at an epoch boundary and resumed from its checkpoint ends
in exactly the state of an uninterrupted fit (G, D, EMA G, both optimizers, counters)."""

import torch

from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN
from tests_helpers import assert_same_training_state


def tiny_model():
    return ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28,
                          d_steps=2, ema_decay=0.9, ema_start=2, grid_size=10, seed=3)


def datamodule():
    # 10 digits per class, batches of 20: 5 batches per epoch, so G steps straddle epochs
    return ImageDataModule("digits", image_size=28, n_per_class=10, test_per_class=5,
                           batch_size=20, seed=1, hflip=True)


def test_resume_equals_uninterrupted(trainer_factory, tmp_path):
    torch.manual_seed(0)
    full = tiny_model()
    trainer_factory(max_epochs=3).fit(full, datamodule())

    torch.manual_seed(0)
    first = tiny_model()
    interrupted = trainer_factory(max_epochs=2)
    interrupted.fit(first, datamodule())
    path = tmp_path / "epoch2.ckpt"
    interrupted.save_checkpoint(path)

    torch.manual_seed(12345)  # the global RNG must not matter
    resumed = tiny_model()
    resumed_trainer = trainer_factory(max_epochs=3)
    resumed_trainer.fit(resumed, datamodule(), ckpt_path=path)

    assert resumed.d_steps_done == full.d_steps_done == 15
    assert resumed.iteration == full.iteration == 7
    assert_same_training_state(full, resumed)
