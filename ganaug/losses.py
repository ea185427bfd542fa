"""Adversarial losses and discriminator penalties.

Every adversarial loss is a tiny class with the same two methods, so that swapping the objective
of a GAN module is swapping one object:

- ``discriminator(real_logits, fake_logits)``: the loss the discriminator minimises;
- ``generator(fake_logits)``: the loss the generator minimises.

Logits are the raw, unbounded discriminator outputs of shape (N,). Penalties are plain functions.

References:
    Goodfellow et al. 2014, "Generative Adversarial Nets" (non-saturating loss).
    Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018 (hinge loss).
    Arjovsky et al. 2017, "Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of
    Wasserstein GANs" (gradient penalty).
    Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?" (R1).
    Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs" (AC-GAN).
    Hou et al. 2022, "Conditional GANs with Auxiliary Discriminative Classifier" (ADC-GAN).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "AdversarialLoss",
    "NonSaturatingLoss",
    "HingeLoss",
    "WassersteinLoss",
    "LOSSES",
    "get_loss",
    "gradient_penalty",
    "r1_penalty",
    "mode_seeking_penalty",
    "CLASS_LOSSES",
    "class_loss_discriminator",
    "class_loss_generator",
]


class AdversarialLoss:
    """The interface shared by every adversarial loss."""

    name: str = ""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def generator(self, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NonSaturatingLoss(AdversarialLoss):
    """The original GAN objective (Goodfellow et al. 2014) in its numerically stable logits form.

    D minimises ``-log sigmoid(real) - log(1 - sigmoid(fake))``; G minimises ``-log sigmoid(fake)``
    (the non-saturating variant). ``softplus(-x) = -log sigmoid(x)`` never overflows.
    """

    name = "nonsaturating"

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator(self, fake_logits: Tensor) -> Tensor:
        return F.softplus(-fake_logits).mean()


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017), the BigGAN / SNGAN default."""

    name = "hinge"

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def generator(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class WassersteinLoss(AdversarialLoss):
    """Wasserstein critic loss (Arjovsky et al. 2017); pair it with ``gradient_penalty``."""

    name = "wasserstein"

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


LOSSES: dict[str, type[AdversarialLoss]] = {
    cls.name: cls for cls in (NonSaturatingLoss, HingeLoss, WassersteinLoss)
}


def get_loss(name: str) -> AdversarialLoss:
    """Return the adversarial loss registered under ``name`` (see ``LOSSES``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown adversarial loss {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name]()


def _at_least_fp32(x: Tensor) -> Tensor:
    """Penalties are reduced in fp32 (or fp64 when given) even under bf16/fp16 autocast."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty ``E[(||grad_x critic(x)||_2 - 1)^2]`` at random real/fake interpolates.

    Args:
        critic: maps images (N, C, H, W) to logits (N,); close over labels for conditional D.
        real: real images (N, C, H, W).
        fake: generated images of the same shape (detached or not: only the interpolates are
            differentiated).
        generator: RNG for the interpolation weights.

    Returns the scalar penalty, differentiable w.r.t. the critic's parameters (create_graph).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {real.shape} and {fake.shape}")
    # Draw in float32 on the generator's device so that any dtype and device work.
    gen_device = generator.device if generator is not None else real.device
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=gen_device)
    alpha = alpha.to(device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    logits = critic(mixed)
    (grad,) = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    norm = _at_least_fp32(grad).flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 penalty ``E[||grad_x D(x)||_2^2]`` on real data (Mescheder et al. 2018).

    ``real`` must have ``requires_grad=True`` and ``real_logits`` must come from it. Multiply by
    ``gamma / 2`` for the usual weighting.
    """
    if not real.requires_grad:
        raise ValueError("r1_penalty needs real images with requires_grad=True before D sees them")
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return _at_least_fp32(grad).flatten(1).pow(2).sum(dim=1).mean()


def mode_seeking_penalty(fake_1: Tensor, fake_2: Tensor, z_1: Tensor, z_2: Tensor,
                         eps: float = 1e-5) -> Tensor:
    """MSGAN's mode-seeking term (Mao et al. 2019, https://arxiv.org/abs/1903.05628):
    ``1 / (mean|fake_1 - fake_2| / mean|z_1 - z_2| + eps)``, for images made from the same
    condition with noise ``z_1`` and ``z_2``. A generator minimising it cannot map different
    noise to the same image."""
    ratio = (fake_1 - fake_2).abs().mean() / (z_1 - z_2).abs().mean()
    return 1.0 / (ratio + eps)


MODE_SEEKING_PAIRS = ("extra", "split")
"""Where a G step's mode-seeking noise pairs come from (``GANModule(mode_seeking_pairs=)``)."""

CLASS_LOSSES = ("ac", "adc")
"""The auxiliary classification terms of a conditional GAN's discriminator (``class_loss``)."""


def _check_class_loss(kind: str) -> None:
    if kind not in CLASS_LOSSES:
        raise ValueError(f"class_loss must be one of {CLASS_LOSSES}, got {kind!r}")


def class_loss_discriminator(kind: str, real_class_logits: Tensor, labels: Tensor,
                             fake_class_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """The auxiliary classifier's loss in a discriminator step.

    - ``"ac"`` (AC-GAN, Odena et al. 2017, https://arxiv.org/abs/1610.09585, with the classifier
      fitted to real images only): cross-entropy of the real images' classes over K logits; the
      fakes are not used.
    - ``"adc"`` (ADC-GAN, Hou et al. 2022, https://arxiv.org/abs/2107.10060): 2K logits, a real
      image of class k is labelled k and a fake one of class k is labelled K + k; the sum of the
      two halves' cross-entropies. The classifier thereby learns what tells a fake of class k from
      a real one, which the generator then removes (see :func:`class_loss_generator`).
    """
    _check_class_loss(kind)
    real = F.cross_entropy(_at_least_fp32(real_class_logits), labels)
    if kind == "ac":
        return real
    k = real_class_logits.shape[1] // 2
    return real + F.cross_entropy(_at_least_fp32(fake_class_logits), fake_labels + k)


def class_loss_generator(kind: str, fake_class_logits: Tensor, fake_labels: Tensor) -> Tensor:
    """The generator's classification loss for its fakes of classes ``fake_labels``.

    - ``"ac"``: cross-entropy of the classes asked for (K logits): images the classifier of real
      images assigns to their class. Known to favour easily classified, less diverse images.
    - ``"adc"``: ``CE(real class k) - CE(fake class k)`` over 2K logits, that is
      ``log p(fake k | x) - log p(real k | x)``: images of class k that the classifier cannot tell
      from real images of class k. Hou et al. show that its optimum is the data's class-conditional
      distribution rather than its easily classified part.
    """
    _check_class_loss(kind)
    logits = _at_least_fp32(fake_class_logits)
    as_real = F.cross_entropy(logits, fake_labels)
    if kind == "ac":
        return as_real
    k = logits.shape[1] // 2
    return as_real - F.cross_entropy(logits, fake_labels + k)
