"""Crash-and-resume: a fit interrupted anywhere (in the middle of an epoch or at its end, killed
with SIGKILL, or saved after ``fit`` returned) and resumed from its checkpoint ends in exactly the
state of an uninterrupted fit (G, D, EMA G with its running statistics, both optimizers,
counters; a classifier's weights, optimizer and schedule), for every GAN family and the
classifier."""

import multiprocessing
import signal
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import make_trainer
from ganaug.modules import load_gan
from ganaug.classify import ClassifierModule
from ganaug.data import (
    ImageDataModule,
    LabelledImages,
    PairedImageDataModule,
    SyntheticBlendDataModule,
)
from ganaug.modules import DAGAN, BigGAN, ConditionalGAN
from tests_helpers import KillAfterCheckpoint


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
    # 10 digits per class, batches of 20: 5 batches an epoch, a G step after every 2nd D step,
    # so G steps straddle epochs; global_step 4 after 3 batches
    "cgan": (lambda: ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4,
                                    image_size=28, d_steps=2, ema_decay=0.9, ema_start=2,
                                    grid_size=10, seed=3),
             lambda: ImageDataModule("digits", image_size=28, n_per_class=10, test_per_class=5,
                                     batch_size=20, seed=1, hflip=True),
             3, 4),
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


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """``uninterrupted(family)``: the module of a fit of ``epochs`` epochs, made once per family
    and shared by the tests below."""
    fits = {}

    def fit(family: str):
        if family not in fits:
            make_model, make_data, epochs, _ = FAMILIES[family]
            torch.manual_seed(0)
            fits[family] = make_model()
            make_trainer(tmp_path_factory.mktemp(family), max_epochs=epochs).fit(
                fits[family], make_data())
        return fits[family]

    return fit


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
@pytest.mark.parametrize("family", FAMILIES)
def test_a_fit_killed_anywhere_resumes_exactly(family, uninterrupted, tmp_path):
    """A fit killed with SIGKILL right after a checkpoint written in the middle of an epoch
    (``ModelCheckpoint(every_n_train_steps)``) or at its end, resumed with ``ckpt_path``."""
    make_model, make_data, epochs, _ = FAMILIES[family]
    full = uninterrupted(family)
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


COUNTS = {  # (d_steps_done, iteration) after epochs - 1 epochs and after all of them
    "cgan": ((10, 5), (15, 7)),  # resumed at an even D step: the G steps straddle other epochs
    # 5 D steps an epoch: the G step after the 6th straddles the resume, the EMA averages
    # from the 3rd iteration, after the resume
    "biggan": ((5, 2), (10, 5)),
    "dagan": ((5, 2), (10, 5)),
}


@pytest.mark.parametrize("family", COUNTS)
def test_a_gan_saved_after_fit_returned_resumes_exactly(family, uninterrupted, tmp_path):
    """A GAN fit of ``epochs - 1`` epochs saved with ``trainer.save_checkpoint`` after ``fit``
    returned loads with ``load_gan`` (same class, options and sample grid) and, resumed for
    one more epoch, ends in the state of an uninterrupted fit."""
    make_model, make_data, epochs, _ = FAMILIES[family]
    torch.manual_seed(0)
    first = make_model()
    interrupted = make_trainer(tmp_path, max_epochs=epochs - 1)
    interrupted.fit(first, make_data())
    path = tmp_path / "saved.ckpt"
    interrupted.save_checkpoint(path)
    loaded = load_gan(path)
    assert type(loaded) is type(first) and dict(loaded.hparams) == dict(first.hparams)
    assert torch.equal(loaded.sample_grid(), first.sample_grid())

    torch.manual_seed(12345)  # the global RNG must not matter
    resumed = make_model()
    make_trainer(tmp_path, max_epochs=epochs).fit(resumed, make_data(), ckpt_path=path)

    full = uninterrupted(family)
    before, after = COUNTS[family]
    assert (first.d_steps_done, first.iteration) == before
    assert (resumed.d_steps_done, resumed.iteration) == (full.d_steps_done, full.iteration) == after
    _assert_same(_training_state(full), _training_state(resumed), "saved after fit")
    assert torch.equal(resumed.sample_grid(), full.sample_grid())
