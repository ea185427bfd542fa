"""DAGAN training beyond one process and one run: crash-and-resume equals an uninterrupted fit,
and a two-process DDP fit (gloo) keeps the ranks in sync on pair batches of their own."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import torch

from ganaug.data.pairs import PairedImageDataModule
from ganaug.modules import load_gan
from ganaug.modules.dagan import DAGAN
from tests_helpers import assert_same_training_state

SCRIPT = Path(__file__).parent / "ddp" / "fit_dagan.py"


def tiny_model():
    return DAGAN(latent_dim=8, g_width=4, d_width=4, image_size=28, d_steps=2, ema_decay=0.9,
                 ema_start=2, grid_size=4, sample_every_n_epochs=0, seed=3)


def datamodule():
    # 10 digits per class = 50 pairs, batches of 10 pairs: 5 batches an epoch, so G steps
    # straddle epochs; mirrored views exercise the per-epoch view choice
    return PairedImageDataModule("digits", image_size=28, n_per_class=10, test_per_class=5,
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
    loaded = load_gan(path)
    assert type(loaded) is DAGAN and loaded.hparams.g_width == 4
    assert torch.equal(loaded.sample_grid(), first.sample_grid())

    torch.manual_seed(12345)  # the global RNG must not matter
    resumed = tiny_model()
    trainer_factory(max_epochs=3).fit(resumed, datamodule(), ckpt_path=path)

    assert resumed.d_steps_done == full.d_steps_done == 15
    assert resumed.iteration == full.iteration == 7
    assert_same_training_state(full, resumed)
    assert torch.equal(resumed.fixed_sources, full.fixed_sources)
    assert torch.equal(resumed.sample_grid(), full.sample_grid())


def test_two_process_ddp_fit(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    # 80 training digits = 40 pairs = 10 batches of 8, 5 per rank an epoch, 2 epochs
    assert [r["d_steps_done"] for r in ranks] == [10, 10]
    assert [r["iteration"] for r in ranks] == [5, 5]
    for name in ("generator", "discriminator", "generator_ema"):
        for key, value in ranks[0]["state"][name].items():
            if value.is_floating_point() and "running" not in key:  # BN stats are per rank
                assert torch.equal(value, ranks[1]["state"][name][key]), f"{name}.{key}"
    assert not torch.allclose(ranks[0]["first_noise"], ranks[1]["first_noise"])

    # every batch on every rank is made of same-class pairs, and the ranks' batches differ
    for rank in ranks:
        for labels, _ in rank["seen"]:
            assert min(Counter(labels.tolist()).values()) >= 2
    first_epoch = [set(torch.cat([s for _, s in r["seen"][:5]]).tolist()) for r in ranks]
    assert not first_epoch[0] & first_epoch[1]
