"""Spectral-normalised layers initialised N(0, std) before the normalisation is attached.

BigGAN (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
https://arxiv.org/abs/1809.11096) trains its CIFAR models with every weight drawn from N(0, 0.02)
(``--G_init N02 --D_init N02`` in the DiffAugment CIFAR scripts) and spectral normalisation
(Miyato et al. 2018) on the convolutions and linear layers. Initialising first and wrapping second
makes ``torch.nn.utils.parametrizations.spectral_norm`` start its power iteration from the weight
it will normalise. Biases keep PyTorch's default initialisation, as in BigGAN-PyTorch, whose
initialiser only touches weights.

The original weight is the trainable parameter (``parametrizations.weight.original``); the
power-iteration vectors ``_u`` and ``_v`` are buffers, so ``parameters()`` counts exactly the
weights and biases.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["normal_sn_conv2d", "normal_sn_embedding", "normal_sn_linear", "normal_"]


def normal_(layer: nn.Module, std: float) -> nn.Module:
    """Draw ``layer.weight`` from N(0, std) in place and return the layer."""
    nn.init.normal_(layer.weight, 0.0, std)
    return layer


def normal_sn_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    padding: int = 0,
    bias: bool = True,
    std: float = 0.02,  # weight initialisation N(0, std)
    eps: float = 1e-8,  # spectral norm epsilon (BigGAN-PyTorch's SN_eps default)
) -> nn.Module:
    """A spectral-normed ``Conv2d`` with N(0, std) weights."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
    return spectral_norm(normal_(conv, std), eps=eps)


def normal_sn_linear(
    in_features: int,
    out_features: int,
    *,
    bias: bool = True,
    std: float = 0.02,  # weight initialisation N(0, std)
    eps: float = 1e-8,  # spectral norm epsilon
) -> nn.Module:
    """A spectral-normed ``Linear`` with N(0, std) weights."""
    return spectral_norm(normal_(nn.Linear(in_features, out_features, bias=bias), std), eps=eps)


def normal_sn_embedding(
    num_embeddings: int,
    embedding_dim: int,
    *,
    std: float = 0.02,  # weight initialisation N(0, std)
    eps: float = 1e-8,  # spectral norm epsilon
) -> nn.Module:
    """A spectral-normed ``Embedding`` with N(0, std) rows (a projection discriminator's)."""
    return spectral_norm(normal_(nn.Embedding(num_embeddings, embedding_dim), std), eps=eps)
