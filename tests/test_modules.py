"""GANModule, GAN and ConditionalGAN: steps, augmentation, EMA, sampling, checkpoints, errors."""

import copy
import pickle

import pytest
import torch
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.utils.data import DataLoader

from ganaug.data import LabelledImages
from ganaug.modules import GAN, CheckpointMismatchError, ConditionalGAN, SampleGrids
from ganaug.modules.ema import update_ema

TINY = dict(latent_dim=8, g_width=4, d_width=4, image_size=28, channels=1, grid_size=4)


def random_images(n=32, num_classes=2, channels=1, size=28, seed=0):
    rng = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), generator=rng, dtype=torch.uint8)
    return LabelledImages(images, torch.arange(n) % num_classes, num_classes=num_classes)


def loader(dataset, batch_size=8):
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=True)


@pytest.mark.parametrize("d_steps", [1, 2, 3])
def test_step_counting(trainer_factory, d_steps):
    model = ConditionalGAN(num_classes=2, d_steps=d_steps, **TINY)
    trainer = trainer_factory(max_epochs=2)  # 2 epochs x 4 batches = 8 D steps
    trainer.fit(model, loader(random_images()))
    assert model.d_steps_done == 8
    assert model.iteration == 8 // d_steps
    assert trainer.global_step == 8 + 8 // d_steps  # optimizer steps, D and G alike


class MarkInputs(nn.Module):
    """A stand-in augmentation that shifts images by +10 so that D's inputs show it was applied."""

    def forward(self, images, generator=None):
        return images + 10.0


class SpyDiscriminator(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.minima = inner, []

    def forward(self, x, y=None):
        self.minima.append(x.min().item())
        return self.inner(x, y)


def test_every_discriminator_input_is_augmented(trainer_factory):
    model = ConditionalGAN(num_classes=2, d_steps=2, gp_weight=1.0, **TINY)
    model.diff_augment = MarkInputs()
    model.discriminator = SpyDiscriminator(model.discriminator)
    model.configure_optimizers = lambda: [
        torch.optim.Adam(model.generator.parameters()),
        torch.optim.Adam(model.discriminator.parameters()),
    ]
    trainer_factory(max_steps=6).fit(model, loader(random_images()))
    # 4 D steps (real+fake forward, gradient-penalty forward) and 2 G steps
    assert len(model.discriminator.minima) == 4 * 2 + 2
    assert min(model.discriminator.minima) >= 9.0  # every input went through the augment


def test_update_ema_by_hand():
    ema, live = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        ema.weight.fill_(1.0), ema.bias.fill_(0.0), live.weight.fill_(3.0), live.bias.fill_(2.0)
    update_ema(ema, live, decay=0.75)
    torch.testing.assert_close(ema.weight, torch.full((1, 2), 0.75 * 1 + 0.25 * 3))
    torch.testing.assert_close(ema.bias, torch.full((1,), 0.25 * 2))
    update_ema(ema, live, decay=0.0)
    torch.testing.assert_close(ema.weight, live.weight)


def test_ema_copies_before_start_and_averages_after(trainer_factory):
    model = GAN(ema_decay=0.9, ema_start=3, **TINY)
    snapshots = []

    class Recorder(torch.nn.Module):
        pass

    original = model.training_step

    def step(batch, batch_idx):
        before = [p.detach().clone() for p in model.generator_ema.parameters()]
        original(batch, batch_idx)
        after_ema = [p.detach().clone() for p in model.generator_ema.parameters()]
        live = [p.detach().clone() for p in model.generator.parameters()]
        snapshots.append((model.iteration, before, after_ema, live))

    model.training_step = step
    trainer_factory(max_epochs=1).fit(model, loader(random_images()))
    for iteration, before, ema, live in snapshots:
        for b, e, g in zip(before, ema, live):
            expected = g if iteration <= 3 else 0.9 * b + 0.1 * g
            torch.testing.assert_close(e, expected)
    # the EMA's batch-norm statistics follow the live generator
    for b_ema, b in zip(model.generator_ema.buffers(), model.generator.buffers()):
        assert torch.equal(b_ema, b)


def test_sample_and_generate():
    model = ConditionalGAN(num_classes=3, **TINY)
    x = model.sample(5, [0, 1, 2, 0, 1], torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    again = model.sample(5, [0, 1, 2, 0, 1], torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    images, labels = model.generate(4, batch_size=5)
    assert images.shape == (12, 1, 28, 28)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert model.sample(7).shape[0] == 7  # random labels
    assert model.sample(0).shape == (0, 1, 28, 28)


def test_sample_rejects_bad_labels():
    model = ConditionalGAN(num_classes=3, **TINY)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\], got \[0, 3\]"):
        model.sample(2, [0, 3])
    with pytest.raises(ValueError, match="2 integer class indices"):
        model.sample(2, [0, 1, 2])
    with pytest.raises(ValueError, match="unconditional"):
        GAN(**TINY).sample(2, [0, 1])


def test_unconditional_generate_has_no_labels():
    images, labels = GAN(**TINY).generate(6)
    assert images.shape == (6, 1, 28, 28) and labels is None


def test_sample_grid_is_class_major():
    model = ConditionalGAN(num_classes=3, **{**TINY, "grid_size": 6})
    grid = model.sample_grid()
    assert grid.dtype == torch.uint8 and grid.shape[0] == 1
    # 3 rows (one per class) of 2 images of 28 px with 2 px padding
    assert grid.shape[1:] == (2 + 3 * 30, 2 + 2 * 30)


def test_sample_grid_png_when_logger_takes_no_images(trainer_factory, tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    model = ConditionalGAN(num_classes=2, **TINY)
    trainer = trainer_factory(max_epochs=1, logger=CSVLogger(tmp_path))
    trainer.fit(model, loader(random_images()))
    pngs = list(tmp_path.rglob("samples/*.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 0


class ImageLogger(Logger):
    """A logger of any kind that takes images through ``log_image``, as W&B's does."""

    def __init__(self):
        super().__init__()
        self.images = []

    name, version = "images", 0

    def log_image(self, key, images, step):
        self.images.append((key, images[0].shape, step))

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def test_sample_grids_go_to_a_logger_that_takes_images_every_n_epochs(trainer_factory, tmp_path):
    model = ConditionalGAN(num_classes=2, **{**TINY, "sample_every_n_epochs": 2})
    logger = ImageLogger()
    trainer = trainer_factory(max_epochs=5, logger=logger)
    trainer.fit(model, loader(random_images()))
    grid = model.sample_grid()
    steps_per_epoch = model.iteration // 5
    assert logger.images == [("samples", (*grid.shape[1:], grid.shape[0]), e * steps_per_epoch)
                              for e in (2, 4)]
    assert not list(tmp_path.rglob("*.png"))


def test_no_sample_grids_when_asked_for_none(trainer_factory, tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    model = ConditionalGAN(num_classes=2, **{**TINY, "sample_every_n_epochs": 0})
    trainer = trainer_factory(max_epochs=1, logger=CSVLogger(tmp_path))
    trainer.fit(model, loader(random_images()))
    assert not any(isinstance(c, SampleGrids) for c in trainer.callbacks)
    assert not list(tmp_path.rglob("*.png"))
    with pytest.raises(ValueError, match="every_n_epochs must be an integer >= 1"):
        SampleGrids(0)


def test_checkpoint_load_and_sample(trainer_factory, tmp_path):
    model = ConditionalGAN(num_classes=2, **TINY)
    trainer = trainer_factory(max_epochs=1)
    trainer.fit(model, loader(random_images()))
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)

    loaded = ConditionalGAN.load_from_checkpoint(path, map_location="cpu")
    images = loaded.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1))
    expected = model.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1))
    torch.testing.assert_close(images, expected)
    assert loaded.iteration == model.iteration and loaded.d_steps_done == model.d_steps_done
    assert torch.equal(loaded.fixed_z, model.fixed_z)


def test_checkpoint_of_another_architecture(trainer_factory, tmp_path):
    trainer = trainer_factory(max_steps=2)
    trainer.fit(ConditionalGAN(num_classes=2, **TINY), loader(random_images()))
    path = tmp_path / "two_classes.ckpt"
    trainer.save_checkpoint(path)
    other = ConditionalGAN(num_classes=5, **TINY)
    with pytest.raises(CheckpointMismatchError, match="num_classes: checkpoint 2, model 5"):
        trainer_factory(max_steps=4).fit(other, loader(random_images(num_classes=5)),
                                         ckpt_path=path)


def test_non_finite_loss_names_the_loss_and_step(trainer_factory):
    model = ConditionalGAN(num_classes=2, **TINY)
    real_loss = model.adversarial_loss.discriminator
    calls = {"n": 0}

    def poisoned(real, fake):
        calls["n"] += 1
        return real_loss(real, fake) * (float("nan") if calls["n"] == 3 else 1.0)

    model.adversarial_loss.discriminator = poisoned
    with pytest.raises(FloatingPointError, match=r"discriminator loss 'adversarial'.*D step 2"):
        trainer_factory(max_epochs=1).fit(model, loader(random_images()))


def test_bad_training_images(trainer_factory):
    with pytest.raises(ValueError, match="1 channel"):
        trainer_factory(max_steps=2).fit(ConditionalGAN(num_classes=2, **TINY),
                                         loader(random_images(channels=3)))
    bright = [(torch.full((1, 28, 28), 200.0), torch.tensor(0))] * 8
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        trainer_factory(max_steps=2).fit(ConditionalGAN(num_classes=2, **TINY), loader(bright))
    out_of_range = random_images(num_classes=4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        trainer_factory(max_steps=2).fit(ConditionalGAN(num_classes=2, **TINY),
                                         loader(out_of_range))


@pytest.mark.parametrize("bad, message", [
    (dict(d_steps=0), "d_steps must be >= 1"),
    (dict(ema_decay=1.0), r"ema_decay must be in \[0, 1\)"),
    (dict(lr_g=-1.0), "lr_g must be a positive number"),
    (dict(loss="lsgan"), "unknown adversarial loss"),
    (dict(augment_policy="colour"), "colour"),
    (dict(num_classes=0), "use GAN for unconditional"),
])
def test_bad_options(bad, message):
    with pytest.raises(ValueError, match=message):
        ConditionalGAN(**{"num_classes": 2, **TINY, **bad})


@pytest.mark.parametrize("options", [
    dict(loss="wasserstein", gp_weight=10.0),
    dict(loss="nonsaturating", r1_gamma=1.0),
    dict(loss="hinge", conditioning="onehot", augment_policy=""),
])
def test_loss_variants_train(trainer_factory, options):
    model = ConditionalGAN(num_classes=2, **{**TINY, **options})
    trainer_factory(max_epochs=1).fit(model, loader(random_images()))
    assert model.iteration == 4
    metrics = model.trainer.callback_metrics
    assert torch.isfinite(metrics["loss_d"])


def test_conditional_generator_learns_its_conditioning(trainer_factory):
    """Class 0 is dark, class 1 bright: after a short fit, samples of each class show it."""
    torch.manual_seed(0)
    n = 256
    labels = torch.arange(n) % 2
    base = torch.where(labels == 0, 40, 215).view(n, 1, 1, 1)
    noise = torch.randint(-25, 26, (n, 1, 28, 28))
    data = LabelledImages((base + noise).clamp(0, 255).to(torch.uint8), labels, num_classes=2)
    model = ConditionalGAN(num_classes=2, latent_dim=16, g_width=8, d_width=8, image_size=28,
                           channels=1, augment_policy="translation", loss="nonsaturating",
                           lr_g=1e-3, lr_d=1e-3, ema_decay=0.0, seed=0)
    trainer_factory(max_epochs=12).fit(model, DataLoader(data, batch_size=32, shuffle=True))
    means = [model.sample(64, [c] * 64, torch.Generator().manual_seed(2)).mean().item()
             for c in (0, 1)]
    # the real class means are 40/127.5 - 1 = -0.69 and 215/127.5 - 1 = +0.69; a generator that
    # ignored its label would give both classes the same mean (this short fit reaches a gap of
    # 0.7-1.4 over initialisation seeds 0-3)
    assert means[0] < -0.4 and means[1] - means[0] > 0.6, means


def test_initialisation_depends_on_the_seed_only():
    torch.manual_seed(123)
    a = ConditionalGAN(num_classes=2, seed=5, **TINY)
    torch.manual_seed(456)
    b = ConditionalGAN(num_classes=2, seed=5, **TINY)
    c = ConditionalGAN(num_classes=2, seed=6, **TINY)
    for key, value in a.state_dict().items():
        torch.testing.assert_close(value, b.state_dict()[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(a.generator.stem[0].weight, c.generator.stem[0].weight)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), (torch.manual_seed(123), torch.rand(3))[1])  # global RNG


@pytest.mark.parametrize("kind", ["ac", "adc"])
def test_class_loss_is_the_cross_entropy_of_the_auxiliary_head(kind):
    """AC-GAN: D's class term is the cross-entropy of its K-way head on the real images only, G's
    on its fakes with the classes asked for. ADC-GAN: the head has 2K outputs, D's term also
    labels the fakes K + k, G's is CE(k) - CE(K + k). Both enter "loss" with class_loss_weight."""
    model = ConditionalGAN(num_classes=3, class_loss_weight=0.5, class_loss=kind,
                           augment_policy="", **TINY)
    model.eval()  # fixed spectral-norm estimates and BN statistics: repeated forwards agree
    assert model.discriminator.classifier.out_features == (6 if kind == "adc" else 3)
    ce = torch.nn.functional.cross_entropy
    real, labels = torch.rand(6, 1, 28, 28) * 2 - 1, torch.tensor([0, 1, 2, 2, 1, 0])
    model._seed_step_rng()
    d_losses = model.discriminator_losses(real, labels)
    model._seed_step_rng()
    with torch.no_grad():
        fake = model.generator(model.draw_noise(6), labels)
    _, class_logits = model.discriminator(torch.cat([real, fake]), torch.cat([labels, labels]),
                                          with_class_logits=True)
    expected = ce(class_logits[:6], labels)
    if kind == "adc":
        expected = expected + ce(class_logits[6:], labels + 3)
    torch.testing.assert_close(d_losses["class"], expected)
    torch.testing.assert_close(d_losses["loss"], d_losses["adversarial"] + 0.5 * expected)

    model._seed_step_rng()
    g_losses = model.generator_losses(real, labels)
    model._seed_step_rng()
    fake = model.generator(model.draw_noise(6), labels)
    _, fake_logits = model.discriminator(fake, labels, with_class_logits=True)
    expected = ce(fake_logits, labels)
    if kind == "adc":
        expected = expected - ce(fake_logits, labels + 3)
    torch.testing.assert_close(g_losses["class"], expected)
    torch.testing.assert_close(g_losses["loss"], g_losses["adversarial"] + 0.5 * g_losses["class"])


def test_class_loss_rejects_bad_settings():
    with pytest.raises(ValueError, match="num_classes >= 2"):
        GAN(class_loss_weight=1.0, **TINY)
    with pytest.raises(ValueError, match="class_loss must be one of"):
        ConditionalGAN(num_classes=3, class_loss_weight=1.0, class_loss="tac", **TINY)


@pytest.mark.parametrize("options", [dict(g_conditioning="cbn"), dict(class_loss_weight=1.0),
                                     dict(g_conditioning="cbn", class_loss_weight=1.0,
                                          mode_seeking_weight=1.0),
                                     dict(class_loss_weight=1.0, class_loss="adc")])
def test_conditioning_variants_train(trainer_factory, options):
    model = ConditionalGAN(num_classes=2, **{**TINY, **options})
    trainer_factory(max_epochs=1).fit(model, loader(random_images()))
    assert model.iteration == 4
    assert torch.isfinite(model.trainer.callback_metrics["loss_d"])


def test_condition_fade_ramps_the_label_in_linearly():
    """Transitional conditioning: strength 0 until start, linear, 1 from end; at 0 neither
    network depends on the label and G's class term has no weight."""
    model = ConditionalGAN(num_classes=3, condition_fade=(10, 30), class_loss_weight=1.0,
                           augment_policy="", **TINY)
    assert [model.condition_strength(i) for i in (0, 10, 15, 20, 30, 50)] == [0, 0, 0.25, 0.5, 1, 1]
    assert model.generator.condition_scale == model.discriminator.condition_scale == 0.0
    model.eval()
    z, images = torch.randn(4, TINY["latent_dim"]), torch.rand(4, 1, 28, 28) * 2 - 1
    a, b = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 0, 1, 1])
    torch.testing.assert_close(model.generator(z, a), model.generator(z, b), rtol=0, atol=0)
    torch.testing.assert_close(model.discriminator(images, a), model.discriminator(images, b),
                               rtol=0, atol=0)
    model._seed_step_rng()
    g_losses = model.generator_losses(images, a)
    torch.testing.assert_close(g_losses["loss"], g_losses["adversarial"])  # class term weighted 0

    model.iteration = 20
    model._apply_condition_strength()
    assert model.generator_ema.condition_scale == 0.5
    halved = copy.deepcopy(model.generator)  # the embedding at half strength = halved weights
    halved.condition_scale = 1.0
    with torch.no_grad():
        halved.embed.weight.mul_(0.5)
    torch.testing.assert_close(model.generator(z, a), halved(z, a))
    assert not torch.equal(model.generator(z, a), model.generator(z, b))
    restored = pickle.loads(pickle.dumps(model))
    assert restored.iteration == 20 and restored.generator.condition_scale == 0.5


def test_condition_fade_scales_one_hot_label_planes_too():
    model = ConditionalGAN(num_classes=3, conditioning="onehot", condition_fade=(0, 10),
                           augment_policy="", **TINY).eval()
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    a, b = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 0, 1, 1])
    torch.testing.assert_close(model.discriminator(images, a), model.discriminator(images, b),
                               rtol=0, atol=0)
    model.iteration = 10
    model._apply_condition_strength()
    assert not torch.equal(model.discriminator(images, a), model.discriminator(images, b))


def test_condition_fade_rejects_bad_settings():
    with pytest.raises(ValueError, match="0 <= start < end"):
        ConditionalGAN(num_classes=3, condition_fade=(30, 10), **TINY)
    with pytest.raises(ValueError, match="g_conditioning='concat'"):
        ConditionalGAN(num_classes=3, condition_fade=(0, 10), g_conditioning="cbn", **TINY)
    with pytest.raises(ValueError, match="needs num_classes"):
        GAN(condition_fade=(0, 10), **TINY)


def test_condition_fade_trains_and_resumes_at_its_strength(trainer_factory, tmp_path):
    model = ConditionalGAN(num_classes=2, condition_fade=(1, 9), class_loss_weight=1.0, **TINY)
    trainer = trainer_factory(max_epochs=1)
    trainer.fit(model, loader(random_images()))
    assert model.iteration == 4 and model.generator.condition_scale == pytest.approx(3 / 8)
    path = tmp_path / "faded.ckpt"
    trainer.save_checkpoint(path)
    loaded = ConditionalGAN.load_from_checkpoint(path)
    assert loaded.generator_ema.condition_scale == pytest.approx(3 / 8)


def _conv_weights(module):
    return [p for p in module.parameters() if p.dim() == 4]


def test_channels_last_keeps_the_initialisation_and_the_losses_and_loads_back(trainer_factory,
                                                                              tmp_path):
    options = dict(num_classes=2, class_loss_weight=1.0, class_loss="adc",
                   mode_seeking_weight=0.5, seed=3, **TINY)
    plain, fast = ConditionalGAN(**options), ConditionalGAN(channels_last=True, **options)
    for network in ("generator", "discriminator", "generator_ema"):
        weights = _conv_weights(getattr(fast, network))
        assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
        assert all(torch.equal(a, b) for a, b in zip(getattr(plain, network).state_dict().values(),
                                                     getattr(fast, network).state_dict().values()))
    real, labels = random_images(8).images.float() / 127.5 - 1, torch.arange(8) % 2
    for model in (plain, fast):
        model._rng = torch.Generator().manual_seed(0)
    for losses in ("discriminator_losses", "generator_losses"):
        for model in (plain, fast):
            model._rng.manual_seed(0)
        expected = getattr(plain, losses)(real, labels)
        got = getattr(fast, losses)(real.contiguous(memory_format=torch.channels_last), labels)
        for key in expected:  # the same sums in another order: equal to float precision
            torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)

    trainer = trainer_factory(max_steps=4)
    trainer.fit(fast, loader(random_images()))
    path = tmp_path / "fast.ckpt"
    trainer.save_checkpoint(path)
    loaded = ConditionalGAN.load_from_checkpoint(path, map_location="cpu")
    assert all(w.is_contiguous(memory_format=torch.channels_last)
               for w in _conv_weights(loaded.generator_ema))
    torch.testing.assert_close(loaded.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1)),
                               fast.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1)))
    # a checkpoint of either layout loads into the other
    plain.load_state_dict(loaded.state_dict())
    torch.testing.assert_close(plain.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1)),
                               fast.sample(4, [0, 1, 0, 1], torch.Generator().manual_seed(1)),
                               rtol=1e-5, atol=1e-5)
