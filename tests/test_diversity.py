"""Diversity controls: latent truncation, the classifier filter, greedy k-centre, MSGAN's term."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ganaug.diversity import DiversityControl, classifier_filter, draw_class_bank, k_center_greedy
from ganaug.modules import ConditionalGAN
from ganaug.modules.noise import latent_noise

# ---------------------------------------------------------------------------------------------
# latent truncation and temperature


def test_truncated_noise_follows_the_truncated_normal():
    z = latent_noise(4000, 8, generator=torch.Generator().manual_seed(0), truncation=0.7)
    assert float(z.abs().max()) <= 0.7
    result = stats.kstest(z.flatten().numpy(), stats.truncnorm(-0.7, 0.7).cdf)
    assert result.pvalue > 1e-3
    plain = latent_noise(4000, 8, generator=torch.Generator().manual_seed(0))
    assert stats.kstest(plain.flatten().numpy(), stats.norm.cdf).pvalue > 1e-3


def test_temperature_scales_the_noise_exactly():
    base = latent_noise(10, 4, generator=torch.Generator().manual_seed(3))
    hot = latent_noise(10, 4, generator=torch.Generator().manual_seed(3), temperature=1.5)
    assert torch.allclose(hot, 1.5 * base)


@pytest.mark.parametrize(("options", "message"), [
    (dict(truncation=0.0), "truncation must be > 0"),
    (dict(temperature=-1.0), "temperature must be a positive number"),
])
def test_bad_noise_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        latent_noise(2, 2, **options)


# ---------------------------------------------------------------------------------------------
# greedy k-centre


def reference_k_center(points: np.ndarray, k: int, first: int) -> list[int]:
    """Greedy k-centre written plainly: distances recomputed from scratch at every step."""
    chosen = [first]
    while len(chosen) < k:
        gaps = [min(np.linalg.norm(p - points[c]) for c in chosen) for p in points]
        chosen.append(int(np.argmax(gaps)))
    return chosen


def test_k_center_hand_case():
    points = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    # the mean 3.25 is nearest to 2; the farthest from 2 is 10; then 0 (2 away from 2)
    assert k_center_greedy(points, 3).tolist() == [2, 3, 0]


def test_k_center_matches_a_plain_reference():
    points = np.random.default_rng(0).normal(size=(40, 5))
    chosen = k_center_greedy(torch.from_numpy(points), 8, first=4)
    assert chosen.tolist() == reference_k_center(points, 8, first=4)


def test_k_center_covers_within_twice_the_optimal_radius():
    points = np.random.default_rng(1).normal(size=(12, 2))
    distance = np.linalg.norm(points[:, None] - points[None], axis=-1)

    def radius(centres):
        return distance[:, list(centres)].min(axis=1).max()

    optimum = min(radius(c) for c in itertools.combinations(range(12), 3))
    assert radius(k_center_greedy(torch.from_numpy(points), 3).tolist()) <= 2 * optimum + 1e-12


def test_k_center_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="cannot choose k=5 of 3"):
        k_center_greedy(torch.zeros(3, 2), 5)


# ---------------------------------------------------------------------------------------------
# the classifier filter and the bank of one class


def test_classifier_filter_hand_case():
    logits = torch.log(torch.tensor([[0.7, 0.3], [0.4, 0.6], [0.95, 0.05], [0.55, 0.45]]))
    labels = torch.tensor([0, 0, 0, 0])
    assert classifier_filter(logits, labels).tolist() == [True, False, True, True]
    kept = classifier_filter(logits, labels, drop_confident_above=0.9)
    assert kept.tolist() == [True, False, False, True]
    only_confidence = classifier_filter(logits, labels, drop_misclassified=False,
                                        drop_confident_above=0.5)
    assert only_confidence.tolist() == [False, True, False, False]
    # GaFi's threshold: p(label) of the four samples is 0.7, 0.4, 0.95, 0.55
    kept = classifier_filter(logits, labels, min_confidence=0.6)
    assert kept.tolist() == [True, False, True, False]
    assert classifier_filter(logits, labels, drop_misclassified=False,
                             min_confidence=0.4).tolist() == [True, True, True, True]
    band = classifier_filter(logits, labels, min_confidence=0.6, drop_confident_above=0.9)
    assert band.tolist() == [True, False, False, False]


class SignReferee(nn.Module):
    """Class 1 when the mean pixel is positive, else class 0; features are the mean pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def features(self, x):
        return x.flatten(1).mean(1, keepdim=True)

    def forward(self, x):
        mean = self.features(x)
        return torch.cat([-mean, mean], 1) * 10


def uniform_sampler(n, label, generator):
    """Constant images with a value uniform in [-1, 1]."""
    values = torch.rand(n, generator=generator) * 2 - 1
    return values.view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()


def test_the_filter_keeps_only_images_the_referee_gives_the_class():
    control = DiversityControl(filter_misclassified=True)
    images = draw_class_bank(uniform_sampler, 1, 50, control,
                             generator=torch.Generator().manual_seed(0), referee=SignReferee())
    assert images.shape == (50, 1, 4, 4) and bool((images > 0).all())


def test_min_confidence_keeps_only_images_the_referee_is_sure_of():
    # SignReferee: p(class 1 | mean m) = sigmoid(20 m), at least 0.99 where m >= ln(99) / 20
    control = DiversityControl(filter_misclassified=True, min_confidence=0.99)
    images = draw_class_bank(uniform_sampler, 1, 200, control,
                             generator=torch.Generator().manual_seed(0), referee=SignReferee())
    threshold = math.log(99) / 20
    assert float(images.min()) >= threshold - 1e-6
    plain = draw_class_bank(uniform_sampler, 1, 200, DiversityControl(filter_misclassified=True),
                            generator=torch.Generator().manual_seed(0), referee=SignReferee())
    assert float(plain.min()) < threshold  # the plain filter keeps the unsure ones


def test_k_center_selection_spreads_over_the_referee_features():
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    spread = draw_class_bank(uniform_sampler, 0, 5, DiversityControl(pool_factor=20, selection="kcenter"),
                             generator=generator(), referee=SignReferee())
    values = spread[:, 0, 0, 0].sort().values
    assert float(values[0]) < -0.85 and float(values[-1]) > 0.85  # both ends of [-1, 1] reached
    assert float(values.diff().min()) > 0.3  # and nothing bunched


def test_a_filter_that_rejects_everything_warns_and_keeps_the_most_class_like():
    values = iter(torch.linspace(-0.9, -0.1, 30).tolist())  # all below 0: never class 1
    sampler = lambda n, label, generator: torch.tensor(  # noqa: E731
        [next(values) for _ in range(n)]).view(n, 1, 1, 1).expand(n, 1, 4, 4).clone()
    with pytest.warns(UserWarning, match="accepted only 0 of 15 images of class 1"):
        images = draw_class_bank(sampler, 1, 5, DiversityControl(filter_misclassified=True),
                                 generator=torch.Generator(), referee=SignReferee(), max_rounds=3)
    # the five closest to class 1 (the largest means) of the fifteen drawn
    expected = torch.linspace(-0.9, -0.1, 30)[10:15]
    assert torch.allclose(images[:, 0, 0, 0].sort().values, expected)
    with pytest.raises(ValueError, match="pass referee"):
        draw_class_bank(sampler, 1, 5, DiversityControl(filter_misclassified=True),
                        generator=torch.Generator())


@pytest.mark.parametrize(("options", "message"), [
    (dict(pool_factor=0), "pool_factor must be >= 1"),
    (dict(selection="best"), "selection must be"),
    (dict(drop_confident_above=1.5), "drop_confident_above must be in"),
    (dict(min_confidence=0.0), "min_confidence must be in"),
    (dict(min_confidence=0.9, drop_confident_above=0.8), "keeps no sample"),
])
def test_bad_controls_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        DiversityControl(**options)


# ---------------------------------------------------------------------------------------------
# MSGAN's mode-seeking term


class LinearGenerator(nn.Module):
    """G(z, y) = tanh(W z) reshaped to images; ignores y."""

    def __init__(self, latent_dim=4):
        super().__init__()
        self.linear = nn.Linear(latent_dim, 16, bias=False)

    def forward(self, z, y=None):
        return torch.tanh(self.linear(z)).view(-1, 1, 4, 4)


def test_mode_seeking_term_matches_its_closed_form():
    model = ConditionalGAN(num_classes=2, latent_dim=4, g_width=4, d_width=4, image_size=28,
                           mode_seeking_weight=2.0, augment_policy="")
    model.generator = LinearGenerator()
    model.discriminate = lambda images, labels: images.flatten(1).mean(1)
    z1, z2 = torch.randn(6, 4), torch.randn(6, 4)
    draws = iter([z1, z2])
    model.draw_noise = lambda n: next(draws)
    losses = model.generator_losses(torch.zeros(6, 1, 4, 4), torch.zeros(6, dtype=torch.long))

    fake1, fake2 = model.generator(z1), model.generator(z2)
    ratio = (fake1 - fake2).abs().mean() / (z1 - z2).abs().mean()
    expected_term = 1 / (ratio + 1e-5)
    expected_adversarial = -torch.cat([fake1, fake2]).flatten(1).mean(1).mean()  # hinge G loss
    assert torch.allclose(losses["mode_seeking"], expected_term)
    assert torch.allclose(losses["adversarial"], expected_adversarial)
    assert torch.allclose(losses["loss"], expected_adversarial + 2.0 * expected_term)


class ConstantGenerator(nn.Module):
    def forward(self, z, y=None):
        return torch.zeros(len(z), 1, 4, 4)


def test_mode_seeking_term_punishes_a_generator_that_ignores_noise():
    model = ConditionalGAN(num_classes=2, latent_dim=4, g_width=4, d_width=4, image_size=28,
                           mode_seeking_weight=1.0, augment_policy="")
    model.generator = ConstantGenerator()
    model.discriminate = lambda images, labels: images.flatten(1).mean(1)
    losses = model.generator_losses(torch.zeros(4, 1, 4, 4), torch.zeros(4, dtype=torch.long))
    assert float(losses["mode_seeking"]) == pytest.approx(1e5)


class RecordingGenerator(LinearGenerator):
    """LinearGenerator that remembers the labels of its last call."""

    def forward(self, z, y=None):
        self.labels = y
        return super().forward(z, y)


@pytest.mark.parametrize("pairs_option, n, pairs",
                         [("extra", 6, 6), ("split", 6, 3), ("split", 7, 3)])
def test_mode_seeking_pairs_extra_doubles_the_batch_and_split_halves_it(pairs_option, n, pairs):
    model = ConditionalGAN(num_classes=3, latent_dim=4, g_width=4, d_width=4, image_size=28,
                           mode_seeking_weight=0.5, mode_seeking_pairs=pairs_option,
                           augment_policy="")
    model.generator = RecordingGenerator()
    model.discriminate = lambda images, labels: images.flatten(1).mean(1)
    z1, z2 = torch.randn(pairs, 4), torch.randn(pairs, 4)
    draws = iter([z1, z2])
    asked = []
    model.draw_noise = lambda k: (asked.append(k), next(draws))[1]
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 1])[:n]
    losses = model.generator_losses(torch.zeros(n, 1, 4, 4), labels)

    assert asked == [pairs, pairs]  # one noise vector per image and pair member, no more
    assert torch.equal(model.generator.labels, torch.cat([labels[:pairs], labels[:pairs]]))
    fake1 = LinearGenerator.forward(model.generator, z1)
    fake2 = LinearGenerator.forward(model.generator, z2)
    expected_term = 1 / ((fake1 - fake2).abs().mean() / (z1 - z2).abs().mean() + 1e-5)
    expected_adversarial = -torch.cat([fake1, fake2]).flatten(1).mean(1).mean()
    assert torch.allclose(losses["mode_seeking"], expected_term)
    assert torch.allclose(losses["loss"], expected_adversarial + 0.5 * expected_term)


def test_mode_seeking_pairs_are_checked():
    with pytest.raises(ValueError, match="mode_seeking_pairs must be one of"):
        ConditionalGAN(num_classes=2, mode_seeking_pairs="halves")
    model = ConditionalGAN(num_classes=2, latent_dim=4, g_width=4, d_width=4,
                           mode_seeking_weight=1.0, mode_seeking_pairs="split")
    with pytest.raises(ValueError, match="at least 2 images"):
        model.generator_inputs(1, torch.zeros(1, dtype=torch.long))


@pytest.mark.parametrize(("options", "needs", "uses"), [
    (dict(), False, False),
    (dict(filter_misclassified=True), True, True),
    (dict(min_confidence=0.9), True, True),
    (dict(drop_confident_above=0.9), True, True),
    (dict(pool_factor=4, selection="kcenter"), False, True),  # its features, not a verdict
])
def test_which_controls_need_and_which_use_the_referee(options, needs, uses):
    control = DiversityControl(**options)
    assert (control.needs_referee, control.uses_referee) == (needs, uses)
