"""DAGAN: network shapes, what the discriminator sees (pairs, shared augmentation, the pair
gradient penalty), a generator that uses both its input image and its noise, training, and the
sampling API (augment, with_source, sample, generate, the blend datamodule)."""

from collections import Counter

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganaug.augment import DiffAugment
from ganaug.data import ImageDataModule, LabelledImages
from ganaug.data.pairs import ClassPairSampler, PairedImageDataModule
from ganaug.modules import ConditionalGAN
from ganaug.modules.dagan import DAGAN
from ganaug.sampling import ClassConditionalSampler
from ganaug.networks.dagan import DAGANDiscriminator, DAGANGenerator

TINY = dict(latent_dim=8, g_width=4, d_width=4, grid_size=4, sample_every_n_epochs=0)


# networks


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_network_shapes(size, channels):
    g = DAGANGenerator(channels=channels, image_size=size, latent_dim=8, width=4)
    d = DAGANDiscriminator(channels=channels, image_size=size, width=4)
    x = torch.rand(3, channels, size, size) * 2 - 1
    out = g(torch.randn(3, 8), x)  # G(z, c), the condition c the real image
    assert out.shape == x.shape and out.abs().max() <= 1
    assert d(out, x).shape == (3,)


def test_networks_refuse_bad_shapes():
    with pytest.raises(ValueError, match="image sizes"):
        DAGANGenerator(image_size=64)
    g, d = DAGANGenerator(latent_dim=8, width=4), DAGANDiscriminator(width=4)
    x = torch.zeros(2, 1, 28, 28)
    with pytest.raises(ValueError, match="z of shape"):
        g(torch.zeros(3, 8), x)
    with pytest.raises(ValueError, match="condition images c"):
        g(torch.zeros(2, 8), torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="expected images of shape"):
        d(torch.zeros(2, 1, 32, 32), x)


def test_generator_output_for_one_image_depends_on_that_image_only():
    torch.manual_seed(0)
    g = DAGANGenerator(latent_dim=8, width=4).eval()
    x, z = torch.rand(4, 1, 28, 28) * 2 - 1, torch.randn(1, 8).expand(4, 8)
    out = g(z, x)
    assert torch.cdist(out.flatten(1), out.flatten(1))[~torch.eye(4, dtype=torch.bool)].min() > 0.1
    changed = x.clone()
    changed[2] = -changed[2]
    new = g(z, changed)
    assert (new[2] - out[2]).abs().max() > 0.01
    assert torch.equal(new[[0, 1, 3]], out[[0, 1, 3]])


# what the discriminator sees


class Recorder(nn.Module):
    """A stand-in discriminator that keeps the augmented pair and returns zeros."""

    def forward(self, other, x):
        self.seen = (x.detach().clone(), other.detach().clone())
        return (x * 0).flatten(1).sum(1) + (other * 0).flatten(1).sum(1)


def recording_model(**options):
    model = DAGAN(**TINY, **options)
    model.discriminator = Recorder()
    return model


@pytest.mark.parametrize("policy", ["color,translation,cutout", "translation", "color"])
def test_shared_augmentation_keeps_a_copy_a_copy(policy):
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    shared = recording_model(augment_policy=policy)
    shared._rng = torch.Generator().manual_seed(0)
    shared.discriminate(x.clone(), x)
    first, second = shared.discriminator.seen
    assert torch.equal(first, second) and not torch.equal(first, x)

    independent = recording_model(augment_policy=policy, pair_augment="independent")
    independent._rng = torch.Generator().manual_seed(0)
    independent.discriminate(x.clone(), x)
    first, second = independent.discriminator.seen
    assert not torch.allclose(first, second)


def test_shared_augmentation_is_the_pair_draw_applied_to_each_image_alone():
    # RGB and colour ops: saturation averages over channels, so augmenting the channel-stacked
    # pair would mix the two images; the module must not do that.
    x, other = torch.rand(5, 3, 28, 28) * 2 - 1, torch.rand(5, 3, 28, 28) * 2 - 1
    model = recording_model(channels=3, augment_policy="color,translation")
    model._rng = torch.Generator().manual_seed(4)
    model.discriminate(other, x)
    first, second = model.discriminator.seen

    augment = DiffAugment("color,translation")
    params = augment.sample_parameters(x, torch.Generator().manual_seed(4))
    assert torch.allclose(first, augment.apply(x, params), atol=1e-6)
    assert torch.allclose(second, augment.apply(other, params), atol=1e-6)
    stacked = augment.apply(torch.cat([x, other], 1), params)  # the pitfall, for contrast
    assert not torch.allclose(stacked[:, :3], first, atol=1e-3)

    model._rng = torch.Generator().manual_seed(4)
    model.discriminate(torch.zeros_like(other), x)  # another partner: x's view is the same
    assert torch.equal(model.discriminator.seen[0], first)


class BilinearCritic(nn.Module):
    """D(x, m) = <a, x> * <b, m>: the gradient in m is <a, x> b, so the penalty is known."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.randn(784) / 28)
        self.b = nn.Parameter(torch.randn(784) / 20)

    def forward(self, other, x):
        return (x.flatten(1) @ self.a) * (other.flatten(1) @ self.b)


def test_pair_gradient_penalty_is_taken_in_the_second_image_with_the_first_fixed():
    torch.manual_seed(0)
    model = DAGAN(**TINY, augment_policy="")
    model.discriminator = BilinearCritic()
    model._rng = torch.Generator().manual_seed(0)
    x, other, fake = (torch.rand(8, 1, 28, 28) * 2 - 1 for _ in range(3))
    penalty = model.pair_gradient_penalty(x, other, fake)
    a, b = model.discriminator.a.detach(), model.discriminator.b.detach()
    expected = (((x.flatten(1) @ a).abs() * b.norm() - 1) ** 2).mean()
    assert torch.allclose(penalty, expected, rtol=1e-5)
    penalty.backward()  # differentiable in D's parameters
    assert model.discriminator.b.grad is not None and model.discriminator.b.grad.abs().sum() > 0


def test_discriminator_losses_pair_same_class_images_and_never_an_image_with_itself():
    model = recording_model(augment_policy="", gp_weight=0.0)  # the last D call: the pairs
    model._rng = torch.Generator().manual_seed(0)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    labels = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])
    model.discriminator_losses(real, labels)
    first, second = model.discriminator.seen
    assert torch.equal(first[:8], real) and torch.equal(first[8:], real)
    for i in range(8):  # the real partner of image i is another image of its class
        j = [k for k in range(8) if torch.equal(second[i], real[k])]
        assert j and j[0] != i and labels[j[0]] == labels[i]
    with pytest.raises(ValueError, match="occur once"):
        model.discriminator_losses(real[:3], labels[:3])


def test_options_are_validated():
    with pytest.raises(ValueError, match="pair_augment"):
        DAGAN(pair_augment="both")
    with pytest.raises(ValueError, match="g_width"):
        DAGAN(g_width=0)


# training


def two_halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes: bright top half (class 0) or bright bottom half (class 1), plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    sign = (1 - 2 * labels).float().view(-1, 1, 1, 1)
    rows = torch.linspace(-1, 1, 28).view(1, 1, 28, 1)
    images = -0.7 * sign * torch.sign(rows) + 0.25 * torch.randn(n, 1, 28, 28, generator=g)
    return images.clamp(-1, 1), labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A DAGAN trained for 50 D steps on two_halves (about 7 s on one core)."""
    from conftest import make_trainer

    torch.manual_seed(0)
    images, labels = two_halves(64, seed=0)
    loader = DataLoader(TensorDataset(images, labels), batch_size=16, drop_last=True,
                        sampler=ClassPairSampler(labels, batch_size=16, seed=0))
    model = DAGAN(**TINY, d_steps=1, lr_g=2e-3, lr_d=2e-3, ema_decay=0.0,
                  augment_policy="translation")
    make_trainer(tmp_path_factory.mktemp("halves"), max_steps=100).fit(model, loader)
    return model


def test_trained_generator_follows_its_input_image(trained):
    x, labels = two_halves(20, seed=100)  # images it never saw
    out = trained.augment(x, 1, torch.Generator().manual_seed(0))
    # Each output is positively correlated with its own input, and closer to the inputs of its
    # class than to those of the other class: a generator that ignored x could not do this.
    own = (out.flatten(1) * x.flatten(1)).mean(1)
    assert (own > 0).all()
    similarity = out.flatten(1) @ x.flatten(1).T
    same = labels[:, None] == labels[None, :]
    to_same = (similarity * same).sum(1) / same.sum(1)
    to_other = (similarity * ~same).sum(1) / (~same).sum(1)
    assert (to_same > to_other).all()


def test_trained_generator_uses_its_noise(trained):
    x, _ = two_halves(4, seed=101)
    out = trained.augment(x, 6, torch.Generator().manual_seed(0)).view(4, 6, -1)
    spread = out.std(dim=1).mean(dim=1)  # per input, over 6 noise draws
    assert (spread > 1e-3).all(), spread  # a generator that ignored z would give exactly 0


def test_fit_counts_steps_and_keeps_the_grid_sources(trainer_factory):
    torch.manual_seed(0)
    model = DAGAN(**TINY, d_steps=2, loss="hinge", gp_weight=0.0, d_spectral_norm=True,
                  pair_augment="independent", r1_gamma=1.0, mode_seeking_weight=0.1,
                  ema_decay=0.9)
    data = PairedImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=4,
                                 batch_size=8, seed=0, train_classes=[0, 1, 2, 3, 4])
    trainer = trainer_factory(max_epochs=2)
    trainer.fit(model, data)
    assert model.d_steps_done == 2 * (20 // 8) and model.iteration == 2
    metrics = trainer.callback_metrics
    assert {"d/r1", "g/mode_seeking"} <= metrics.keys()
    assert all(torch.isfinite(v) for v in metrics.values())
    assert bool(model.fixed_sources_ready) and model.fixed_sources.abs().sum() > 0
    grid = model.sample_grid()  # 2 rows of (source + 2 samples), 28 px + 2 px padding
    assert grid.shape == (1, 2 + 2 * 30, 2 + 3 * 30)


def test_fit_without_pair_batches_fails_clearly(trainer_factory):
    model = DAGAN(**TINY)
    data = ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=4,
                           batch_size=5, seed=0)
    with pytest.raises(ValueError, match="ClassPairSampler"):
        trainer_factory(max_steps=2).fit(model, data)


# sampling


class Copy(nn.Module):
    """A stand-in generator returning its input image: shows which source each output used."""

    def forward(self, z, x):
        return x + 0 * z.sum(1).view(-1, 1, 1, 1)


def copying_model():
    model = DAGAN(**TINY)
    model.generator_ema = Copy()
    return model


def test_augment_is_input_major_and_seeded(trained):
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    copies = copying_model().augment(x, 4)
    assert torch.equal(copies, x.repeat_interleave(4, 0))
    a = trained.augment(x, 2, torch.Generator().manual_seed(5), batch_size=4)
    assert torch.allclose(a, trained.augment(x, 2, torch.Generator().manual_seed(5)), atol=1e-5)
    assert not torch.equal(a, trained.augment(x, 2, torch.Generator().manual_seed(6)))
    assert trained.augment(x, 0).shape == (0, 1, 28, 28)
    with pytest.raises(ValueError, match="n must be"):
        trained.augment(x, -1)
    with pytest.raises(ValueError, match="in \\[-1, 1\\]"):
        trained.augment(x * 3, 1)


def test_sample_uses_real_images_of_each_class_evenly():
    images = torch.rand(7, 1, 28, 28) * 2 - 1
    labels = torch.tensor([3, 3, 3, 8, 8, 3, 8])  # classes never seen in training
    source = copying_model().with_source((images, labels), num_classes=10)
    wanted = torch.tensor([3] * 9 + [8] * 6)
    out = source.sample(15, wanted, torch.Generator().manual_seed(0))
    used = []
    for image, label in zip(out, wanted):
        (index,) = [i for i in range(7) if torch.equal(images[i], image)]
        assert labels[index] == label
        used.append(index)
    counts = Counter(used)
    assert sorted(counts[i] for i in (0, 1, 2, 5)) == [2, 2, 2, 3]  # 9 requests, 4 images
    assert [counts[i] for i in (3, 4, 6)] == [2, 2, 2]
    with pytest.raises(ValueError, match="no source image"):
        source.sample(1, [5])


def test_every_family_binds_real_data_through_one_method():
    images = torch.rand(6, 1, 28, 28) * 2 - 1
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    cgan = ConditionalGAN(num_classes=3, channels=1, image_size=28, latent_dim=8, g_width=4,
                          d_width=4)
    assert ConditionalGAN.conditions_on == "label" and cgan.bind((images, labels)) is cgan
    source = copying_model().bind((images, labels))
    assert DAGAN.conditions_on == "image" and isinstance(source, ClassConditionalSampler)
    assert source.model.bind(source) is source  # a bound source is read once, never rebound
    out, out_labels = source.generate(2, torch.Generator().manual_seed(0))
    assert out_labels.tolist() == [0, 0, 1, 1, 2, 2]
    for image, label in zip(out, out_labels):  # a copy of a real image of its class
        assert any(torch.equal(image, images[i]) for i in range(6) if labels[i] == label)


def test_generate_returns_a_class_sorted_bank_like_a_conditional_gan(trained):
    images, labels = two_halves(6, seed=7)
    bank, bank_labels = trained.generate(4, torch.Generator().manual_seed(0),
                                         source=(images, labels + 5))
    assert bank.shape == (8, 1, 28, 28) and bank.device.type == "cpu"
    assert bank_labels.tolist() == [5] * 4 + [6] * 4
    data = LabelledImages(((images + 1) * 127.5).round().to(torch.uint8), labels, num_classes=2)
    _, from_dataset = trained.generate(1, source=data)
    assert from_dataset.tolist() == [0, 1]
    with pytest.raises(ValueError, match="source="):
        trained.generate(2)


def test_a_dagan_is_a_synthetic_source_for_the_blend_datamodule(trained):
    from ganaug.data.blend import SyntheticBlendDataModule

    real = ImageDataModule("digits", image_size=28, n_per_class=5, test_per_class=5,
                           batch_size=10, seed=0)
    real.setup()
    blend = SyntheticBlendDataModule(real, trained.with_source(real.train_dataset),
                                     mode="augment", ratio=1.0)
    blend.setup()
    assert len(blend.train_dataset) == 100
    assert int(blend.train_dataset.synthetic.sum()) == 50
    synthetic = blend.train_dataset.labels[blend.train_dataset.synthetic]
    assert torch.bincount(synthetic, minlength=10).tolist() == [5] * 10
