"""Crash-and-resume: a fit interrupted anywhere (in the middle of an epoch or at its end, killed
with SIGKILL) and resumed from its checkpoint ends in exactly the state of an uninterrupted fit
(G, D, EMA G, both optimizers, counters; a classifier's weights, optimizer and schedule)."""

import multiprocessing
import signal
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import make_trainer
from ganaug.classify import ClassifierModule
from ganaug.data import (
    ImageDataModule,
    LabelledImages,
    PairedImageDataModule,
    SyntheticBlendDataModule,
)
from ganaug.modules import DAGAN, BigGAN, ConditionalGAN
from tests_helpers import KillAfterCheckpoint, assert_same_training_state


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


# ---------------------------------------------------------------------------------------------
# crash and resume anywhere: a fit killed with SIGKILL right after a checkpoint written in the
# middle of an epoch (ModelCheckpoint every_n_train_steps) or at its end, resumed with ckpt_path


def classifier_blend(share: float | None):
    real = ImageDataModule("digits", image_size=8, n_per_class=10, test_per_class=5,
                           batch_size=16, seed=1, hflip=True)
    labels = torch.arange(10).repeat_interleave(6)
    bank = LabelledImages(torch.randint(0, 256, (60, 1, 8, 8), dtype=torch.uint8,
                                        generator=torch.Generator().manual_seed(5)),
                          labels, num_classes=10)
    return SyntheticBlendDataModule(real, bank, mode="augment", ratio=0.5, seed=2,
                                    synthetic_share=share)


FAMILIES = {  # model, data, epochs, every_n_train_steps of the mid-epoch checkpoint
    # 5 batches an epoch, a G step after every 2nd D step: global_step 4 after 3 batches
    "cgan": (tiny_model, datamodule, 3, 4),
    "biggan": (lambda: BigGAN(num_classes=10, latent_dim=8, g_width=1, d_width=1, channels=3,
                              image_size=32, d_steps=2, ema_decay=0.9, ema_start=2, grid_size=10,
                              seed=3),
               lambda: ImageDataModule("digits", image_size=32, channels=3, n_per_class=5,
                                       test_per_class=5, batch_size=10, seed=1, hflip=True),
               2, 4),
    # 50 pairs in batches of 10 pairs: 5 batches an epoch
    "dagan": (lambda: DAGAN(latent_dim=8, g_width=4, d_width=4, image_size=28, d_steps=2,
                            ema_decay=0.9, ema_start=2, grid_size=4, sample_every_n_epochs=0,
                            seed=3),
              lambda: PairedImageDataModule("digits", image_size=28, n_per_class=10,
                                            test_per_class=5, batch_size=20, seed=1, hflip=True),
              2, 4),
    # 150 images in batches of 16: 9 batches an epoch; a scheduler milestone after the resume
    "classifier-blend": (
        lambda: ClassifierModule(num_classes=10, image_size=8, classic_augment="flip", seed=4,
                                 lr=0.05, lr_milestones=(0.8,)),
        lambda: classifier_blend(None), 2, 4),
    # 100 real images, 12 real + 4 synthetic a batch: 8 batches an epoch
    "classifier-share": (
        lambda: ClassifierModule(num_classes=10, image_size=8, classic_augment="flip", seed=4,
                                 optimizer="adam", lr=1e-3, lr_milestones=()),
        lambda: classifier_blend(0.25), 2, 5),
}


def _fit_until_killed(family: str, folder: Path, at: str) -> None:
    make_model, make_data, epochs, every_n_steps = FAMILIES[family]
    torch.manual_seed(0)
    checkpoint = ModelCheckpoint(dirpath=folder, save_top_k=-1,
                                 **(dict(every_n_train_steps=every_n_steps) if at == "mid-epoch"
                                    else dict(every_n_epochs=1, save_on_train_epoch_end=True)))
    trainer = make_trainer(folder, max_epochs=epochs, enable_checkpointing=True,
                           callbacks=[checkpoint, KillAfterCheckpoint(folder)])
    trainer.fit(make_model(), make_data())


def _training_state(model) -> dict[str, object]:
    """Every tensor and counter that shapes the next step."""
    trainer = model.trainer
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    for i, optimizer in enumerate(trainer.optimizers):
        for index, values in optimizer.state_dict()["state"].items():
            state.update({f"optimizer{i}.{index}.{k}": v for k, v in values.items()})
    for i, config in enumerate(trainer.lr_scheduler_configs):
        state[f"scheduler{i}"] = config.scheduler.state_dict()
    state["global_step"] = trainer.global_step
    state["epoch"] = trainer.current_epoch
    for name in ("iteration", "d_steps_done"):
        if hasattr(model, name):
            state[name] = int(getattr(model, name))
    return state


def _assert_same(full: dict[str, object], resumed: dict[str, object], at: str) -> None:
    assert full.keys() == resumed.keys()
    for key, value in full.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, resumed[key]), f"{at}: {key} differs"
        else:
            assert value == resumed[key], f"{at}: {key}: {value} uninterrupted, {resumed[key]} resumed"


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
@pytest.mark.parametrize("family", FAMILIES)
def test_a_fit_killed_anywhere_resumes_exactly(family, tmp_path):
    make_model, make_data, epochs, _ = FAMILIES[family]
    torch.manual_seed(0)
    full = make_model()
    make_trainer(tmp_path, max_epochs=epochs).fit(full, make_data())
    expected = _training_state(full)

    fork = multiprocessing.get_context("fork")
    for at in ("mid-epoch", "epoch-end"):
        folder = tmp_path / at
        child = fork.Process(target=_fit_until_killed, args=(family, folder, at))
        child.start()
        child.join(timeout=300)
        assert child.exitcode == -signal.SIGKILL, f"{at}: exit code {child.exitcode}"
        (path,) = folder.glob("*.ckpt")
        progress = torch.load(path, weights_only=True)["loops"]["fit_loop"][
            "epoch_loop.batch_progress"]["current"]["completed"]
        batches = full.trainer.num_training_batches
        assert (0 < progress < batches) if at == "mid-epoch" else progress == batches, \
            f"{at}: {progress} of {batches} batches into the epoch"

        torch.manual_seed(12345)  # the global RNG must not matter
        resumed = make_model()
        make_trainer(folder, max_epochs=epochs).fit(resumed, make_data(), ckpt_path=path)
        _assert_same(expected, _training_state(resumed), at)
