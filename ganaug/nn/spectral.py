"""Spectral-normalised layers (Miyato et al. 2018, "Spectral Normalization for GANs").

Thin constructors over ``torch.nn.utils.parametrizations.spectral_norm`` so that every network
says ``sn_conv2d(...)`` instead of repeating the wrapping.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def sn_conv2d(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0, *, bias: bool = True, eps: float = 1e-6) -> nn.Module:
    """A ``Conv2d`` whose weight is divided by its largest singular value."""
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                   bias=bias), eps=eps)


def sn_linear(in_features: int, out_features: int, *, bias: bool = True,
              eps: float = 1e-6) -> nn.Module:
    """A ``Linear`` layer with spectral normalisation."""
    return spectral_norm(nn.Linear(in_features, out_features, bias=bias), eps=eps)


def sn_embedding(num_embeddings: int, embedding_dim: int, *, eps: float = 1e-6) -> nn.Module:
    """An ``Embedding`` with spectral normalisation (used by projection discriminators)."""
    return spectral_norm(nn.Embedding(num_embeddings, embedding_dim), eps=eps)
