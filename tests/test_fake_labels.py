"""How conditional GANs draw their fake classes (ganaug.modules.fake_labels): the policies'
frequencies against their closed forms, seeded reproducibility, the option on ConditionalGAN
and its validation."""

import pytest
import torch

from ganaug.modules import ConditionalGAN
from ganaug.modules.fake_labels import (
    PriorFakeLabels,
    RealFakeLabels,
    UniformFakeLabels,
    fake_label_policy,
)

N = 20_000


def long_tail_batch(n: int = N) -> torch.Tensor:
    """A batch of a long tail: 90 % class 0, the rest class 1; classes 2-4 absent."""
    return (torch.arange(n) % 10 == 9).long()


def frequencies(labels: torch.Tensor, k: int) -> torch.Tensor:
    return torch.bincount(labels, minlength=k).double() / labels.numel()


def test_real_policy_passes_the_batch_through():
    labels = long_tail_batch(8)
    assert fake_label_policy("real", 5)(labels, torch.Generator().manual_seed(0)) is labels
    assert isinstance(fake_label_policy("real", 5), RealFakeLabels)


def test_uniform_policy_gives_every_class_the_same_share_whatever_the_batch():
    policy = fake_label_policy("uniform", 5)
    assert isinstance(policy, UniformFakeLabels)
    drawn = policy(long_tail_batch(), torch.Generator().manual_seed(0))
    assert drawn.shape == (N,) and drawn.dtype == torch.long
    # each share is 1/5; its binomial standard deviation is sqrt(.2 * .8 / N) = 0.0028: 5 sd
    assert torch.allclose(frequencies(drawn, 5), torch.full((5,), 0.2, dtype=torch.float64),
                          atol=0.015)


def test_prior_policy_follows_the_given_weights():
    policy = fake_label_policy([1.0, 0.0, 3.0, 0.0], 4)
    assert isinstance(policy, PriorFakeLabels)
    drawn = policy(long_tail_batch(), torch.Generator().manual_seed(1))
    expected = torch.tensor([0.25, 0.0, 0.75, 0.0], dtype=torch.float64)
    assert torch.allclose(frequencies(drawn, 4), expected, atol=0.015)  # sd 0.003
    assert not bool(((drawn == 1) | (drawn == 3)).any())  # weight 0: never drawn


def test_same_seed_same_classes():
    for option in ("uniform", [2, 1, 1]):
        policy = fake_label_policy(option, 3)
        labels = torch.zeros(50, dtype=torch.long)
        first = policy(labels, torch.Generator().manual_seed(7))
        assert torch.equal(policy(labels, torch.Generator().manual_seed(7)), first)
        assert not torch.equal(policy(labels, torch.Generator().manual_seed(8)), first)


@pytest.mark.parametrize("option, match", [
    ("balanced", "one of"),
    ([1.0, 2.0], "3 numbers"),
    ([1.0, -1.0, 1.0], ">= 0"),
    ([0, 0, 0], "not all 0"),
    ([1.0, float("nan"), 1.0], "finite"),
])
def test_bad_options_are_refused_with_what_to_do(option, match):
    with pytest.raises(ValueError, match="fake_labels") as error:
        fake_label_policy(option, 3)
    assert match in str(error.value)


def tiny_cgan(**options):
    return ConditionalGAN(num_classes=5, latent_dim=4, g_width=2, d_width=2, image_size=28,
                          grid_size=5, seed=0, **options)


def test_conditional_gan_draws_fake_classes_by_its_option_from_the_step_rng():
    labels = long_tail_batch(500)
    assert tiny_cgan().hparams.fake_labels == "real"  # the default keeps the batch's classes
    assert tiny_cgan().draw_fake_labels(labels) is labels

    model = tiny_cgan(fake_labels="uniform")
    model._seed_step_rng()
    first = model.draw_fake_labels(labels)
    assert set(first.tolist()) == set(range(5))  # P(a class missing in 500 draws) < 1e-40
    model._seed_step_rng()  # the same step reseeds to the same draw (a resumed fit's)
    assert torch.equal(model.draw_fake_labels(labels), first)

    prior = tiny_cgan(fake_labels=[0, 0, 0, 0, 1])
    prior._seed_step_rng()
    assert prior.draw_fake_labels(labels).tolist() == [4] * 500


def test_conditional_gan_refuses_a_prior_of_the_wrong_length():
    with pytest.raises(ValueError, match="5 numbers"):
        tiny_cgan(fake_labels=[1, 1])
