"""The BigGAN module: published defaults, a short fit, uniformly drawn fake classes, the speed
options and truncated sampling (its resume: tests/test_resume.py; its DDP fit: tests/test_ddp.py)."""

import pytest
import torch
from torch import nn

from ganaug.data import ImageDataModule
from ganaug.modules import BigGAN


def tiny_model(**options):
    defaults = dict(num_classes=10, latent_dim=8, g_width=1, d_width=1, channels=3, image_size=32,
                    d_steps=2, ema_decay=0.9, ema_start=2, grid_size=10, seed=3)
    return BigGAN(**{**defaults, **options})


def datamodule():
    # 5 digits per class at 32x32x3, batches of 10: 5 batches per epoch
    return ImageDataModule("digits", image_size=32, channels=3, n_per_class=5,
                           test_per_class=5, batch_size=10, seed=1, hflip=True)


def test_defaults_are_the_published_cifar10_setting():
    hp = BigGAN(g_width=1, d_width=1).hparams
    assert (hp.loss, hp.d_steps, hp.lr_g, hp.lr_d) == ("hinge", 4, 2e-4, 2e-4)
    assert tuple(hp.betas) == (0.0, 0.999)
    assert (hp.ema_decay, hp.ema_start, hp.augment_policy) == (0.9999, 1000, "translation,cutout")
    assert (hp.latent_dim, hp.num_classes, hp.image_size, hp.channels) == (128, 10, 32, 3)
    assert hp.fake_labels == "uniform" and not hp.shared_embedding and not hp.hierarchical
    assert (hp.g_attention, hp.d_attention, hp.init_std) == (0, 0, 0.02)


class RecordingBigGAN(BigGAN):
    def on_fit_start(self):
        self.seen = []  # (real labels, fake labels) of every step

    def draw_fake_labels(self, labels):
        fake = super().draw_fake_labels(labels)
        self.seen.append((labels.clone(), fake.clone()))
        return fake


def test_short_fit_trains_draws_uniform_fake_classes_and_samples(trainer_factory):
    torch.manual_seed(0)
    model = RecordingBigGAN(num_classes=10, latent_dim=8, g_width=1, d_width=1, d_steps=2,
                            ema_decay=0.9, ema_start=2, grid_size=10, seed=3)
    before = [p.detach().clone() for p in model.generator.parameters()]
    trainer_factory(max_epochs=1).fit(model, datamodule())
    assert model.d_steps_done == 5 and model.iteration == 2
    assert all(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))
    logged = model.trainer.logged_metrics
    assert torch.isfinite(logged["d/loss"]) and torch.isfinite(logged["g/loss"])

    # fake classes: one uniform draw per D step and per G step, not the real batch's
    assert len(model.seen) == 5 + 2
    real = torch.cat([r for r, _ in model.seen])
    fake = torch.cat([f for _, f in model.seen])
    assert not torch.equal(real, fake)
    assert set(fake.tolist()) == set(range(10))  # 70 uniform draws: P(a class missing) < 0.01
    assert torch.bincount(fake, minlength=10).max() < 20  # P(any count >= 20) < 1e-4

    # the same seed and step draw the same classes; "real" passes the batch's labels through
    labels = torch.arange(10)
    model._seed_step_rng()
    first = model.draw_fake_labels(labels)
    model._seed_step_rng()
    assert torch.equal(model.draw_fake_labels(labels), first)
    assert tiny_model(fake_labels="real").draw_fake_labels(labels) is labels

    # class-balanced, truncated sampling from the EMA generator
    images, classes = model.generate(2, torch.Generator().manual_seed(0), truncation=0.5)
    assert images.shape == (20, 3, 32, 32)
    assert classes.tolist() == [c for c in range(10) for _ in (0, 1)]
    assert images.abs().max() <= 1


def test_fake_labels_option_is_validated():
    with pytest.raises(ValueError, match="fake_labels"):
        BigGAN(g_width=1, d_width=1, fake_labels="balanced")


def test_channels_last_bf16_fit(trainer_factory):
    model = tiny_model(channels_last=True)
    conv = model.generator.blocks[0].conv1.parametrizations.weight.original
    assert conv.is_contiguous(memory_format=torch.channels_last)
    trainer_factory(max_steps=3, precision="bf16-mixed").fit(model, datamodule())
    assert model.d_steps_done == 2 and model.iteration == 1
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all()
               for p in model.generator.parameters())
    assert torch.isfinite(model.trainer.logged_metrics["g/loss"])


def test_compile_networks_compiles_generator_and_discriminator_only(monkeypatch):
    compiled = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    model = tiny_model(compile_networks=True)
    model.setup("fit")
    model.setup("validate")  # a second setup does not compile again
    assert compiled == [model.generator, model.discriminator]

