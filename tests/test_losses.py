"""Adversarial losses and penalties against closed forms computed independently with numpy."""

import math

import numpy as np
import pytest
import torch

from ganaug.losses import (
    LOSSES,
    class_loss_discriminator,
    class_loss_generator,
    get_loss,
    gradient_penalty,
    r1_penalty,
)

REAL = [2.0, -1.0, 0.5, 3.0]
FAKE = [-2.0, 0.0, 1.5]


def np_softplus(x):
    return np.log1p(np.exp(np.asarray(x, dtype=np.float64)))


@pytest.mark.parametrize(
    "name, d_expected, g_expected",
    [
        (
            "nonsaturating",
            np_softplus(-np.array(REAL)).mean() + np_softplus(np.array(FAKE)).mean(),
            np_softplus(-np.array(FAKE)).mean(),
        ),
        (
            "hinge",
            np.maximum(0, 1 - np.array(REAL)).mean() + np.maximum(0, 1 + np.array(FAKE)).mean(),
            -np.mean(FAKE),
        ),
        ("wasserstein", np.mean(FAKE) - np.mean(REAL), -np.mean(FAKE)),
    ],
)
def test_losses_match_closed_forms(name, d_expected, g_expected):
    loss = get_loss(name)
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    assert loss.discriminator(real, fake).item() == pytest.approx(d_expected, rel=1e-12)
    assert loss.generator(fake).item() == pytest.approx(g_expected, rel=1e-12)


def test_hinge_by_hand():
    # relu(1-2)=0, relu(1+1)=2 -> mean 1 ; relu(1-2)=0, relu(1+0)=1 -> mean 0.5
    loss = get_loss("hinge")
    assert loss.discriminator(torch.tensor([2.0, -1.0]), torch.tensor([-2.0, 0.0])).item() == 1.5


def test_nonsaturating_is_stable_for_extreme_logits():
    loss = get_loss("nonsaturating")
    d = loss.discriminator(torch.tensor([1000.0, -1000.0]), torch.tensor([-1000.0, 1000.0]))
    assert math.isfinite(d.item())
    assert d.item() == pytest.approx(1000.0)  # softplus(1000)/2 + softplus(1000)/2
    assert loss.generator(torch.tensor([-1000.0])).item() == pytest.approx(1000.0)
    assert loss.discriminator(torch.tensor([50.0]), torch.tensor([-50.0])).item() < 1e-20


def test_nonsaturating_is_the_minimax_objective():
    # -log(sigmoid(r)) - log(1 - sigmoid(f)) written with probabilities
    r, f = 0.3, -0.7
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -math.log(sig(r)) - math.log(1 - sig(f))
    got = get_loss("nonsaturating").discriminator(torch.tensor([r]), torch.tensor([f])).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown adversarial loss 'lsgan'.*hinge"):
        get_loss("lsgan")
    assert set(LOSSES) == {"nonsaturating", "hinge", "wasserstein"}


def test_gradient_penalty_of_linear_critic():
    # critic(x) = <w, x>: the gradient is w everywhere, so the penalty is (||w|| - 1)^2
    torch.manual_seed(0)
    w = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    fake = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    norm = w.detach().norm().item()
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-10)
    # and it is differentiable w.r.t. the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    expected = 2 * (norm - 1) * w.detach() / norm
    torch.testing.assert_close(w.grad, expected)


def test_gradient_penalty_of_quadratic_critic_uses_interpolates():
    # critic(x) = 0.5 ||x||^2 has gradient x: the penalty is (||x_hat|| - 1)^2 at the interpolates
    real = torch.full((2, 1, 1, 2), 2.0, dtype=torch.float64)
    fake = torch.zeros(2, 1, 1, 2, dtype=torch.float64)
    rng = torch.Generator().manual_seed(3)
    alpha = torch.rand(2, 1, 1, 1, generator=torch.Generator().manual_seed(3)).double()
    gp = gradient_penalty(lambda x: 0.5 * x.flatten(1).pow(2).sum(1), real, fake, generator=rng)
    norms = (alpha.flatten() * 2.0 * math.sqrt(2))
    assert gp.item() == pytest.approx(((norms - 1) ** 2).mean().item(), rel=1e-10)


def test_gradient_penalty_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(lambda x: x.sum((1, 2, 3)), torch.zeros(2, 1, 2, 2), torch.zeros(3, 1, 2, 2))


def test_r1_penalty_of_quadratic_discriminator():
    # D(x) = 0.5 ||x||^2 -> grad = x -> penalty = mean ||x||^2
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    logits = 0.5 * x.flatten(1).pow(2).sum(1)
    expected = x.detach().flatten(1).pow(2).sum(1).mean().item()
    assert r1_penalty(logits, x).item() == pytest.approx(expected, rel=1e-10)


def test_r1_needs_requires_grad():
    x = torch.randn(2, 1, 2, 2)
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(x.sum((1, 2, 3)), x)


def _cross_entropy_by_hand(logits: np.ndarray, targets: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(targets)), targets].mean())


def test_class_losses_with_uniform_logits_are_log_class_counts():
    """Equal logits make every class probability 1/M: AC's terms are log K, ADC's D term is
    2 log 2K and its G term log 2K - log 2K = 0."""
    k = 5
    labels = torch.tensor([0, 3, 4])
    ac = torch.zeros(3, k)
    adc = torch.zeros(3, 2 * k)
    assert class_loss_discriminator("ac", ac, labels, ac, labels).item() == pytest.approx(math.log(k))
    assert class_loss_generator("ac", ac, labels).item() == pytest.approx(math.log(k))
    assert class_loss_discriminator("adc", adc, labels, adc, labels).item() == pytest.approx(
        2 * math.log(2 * k))
    assert class_loss_generator("adc", adc, labels).item() == pytest.approx(0.0, abs=1e-7)


def test_class_losses_match_numpy():
    """AC ignores the fakes in D; ADC labels a fake of class c as K + c, and G's term is
    CE(c) - CE(K + c) on the fakes' logits."""
    rng = np.random.default_rng(3)
    k = 4
    real_logits, fake_logits = rng.normal(size=(6, 2 * k)), rng.normal(size=(6, 2 * k))
    labels, fake_labels = np.array([0, 1, 2, 3, 1, 0]), np.array([3, 3, 2, 0, 1, 2])
    t = lambda a: torch.tensor(a)  # noqa: E731
    d = class_loss_discriminator("adc", t(real_logits), t(labels), t(fake_logits), t(fake_labels))
    expected = (_cross_entropy_by_hand(real_logits, labels)
                + _cross_entropy_by_hand(fake_logits, fake_labels + k))
    assert d.item() == pytest.approx(expected, rel=1e-9)
    g = class_loss_generator("adc", t(fake_logits), t(fake_labels))
    assert g.item() == pytest.approx(_cross_entropy_by_hand(fake_logits, fake_labels)
                                     - _cross_entropy_by_hand(fake_logits, fake_labels + k), rel=1e-9)
    ac_real, ac_fake = real_logits[:, :k], fake_logits[:, :k]
    d_ac = class_loss_discriminator("ac", t(ac_real), t(labels), t(ac_fake), t(fake_labels))
    assert d_ac.item() == pytest.approx(_cross_entropy_by_hand(ac_real, labels), rel=1e-9)
    with pytest.raises(ValueError, match="class_loss must be one of"):
        class_loss_generator("tac", t(fake_logits), t(fake_labels))
