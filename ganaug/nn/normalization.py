"""Class-conditional batch normalisation (de Vries et al. 2017; Dumoulin et al. 2017), as BigGAN
uses it (Brock et al. 2019, https://arxiv.org/abs/1809.11096).

The features are batch-normalised without an affine transform and then scaled and shifted per
sample: ``out = norm(x) * (1 + gain(c)) + bias(c)``. The condition ``c`` is one of

- class labels (N,) int64, looked up in two per-class embeddings (BigGAN without a shared
  embedding, the CIFAR setting);
- a vector (N, D), mapped by two bias-free spectral-normed linear layers (BigGAN with a shared
  class embedding and/or hierarchical latents: the vector is the shared embedding of the class,
  a chunk of z, or both concatenated);
- nothing: a plain batch norm with a learned per-channel gain and bias (unconditional models).

As in BigGAN-PyTorch the per-class embeddings are *not* spectral-normed (its authors found that
spectral norm on G's embeddings "seems to randomly cripple G") and start from N(0, std), so the
initial gain is close to 1 and the initial bias close to 0.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganaug.nn.sn_init import normal_, normal_sn_linear

__all__ = ["ConditionalBatchNorm2d"]


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose per-channel gain and bias depend on each sample's condition.

    Give ``num_classes`` for label conditioning, ``condition_dim`` for vector conditioning, or
    neither for an ordinary affine batch norm. ``forward(x, condition)`` takes the labels (N,),
    the vectors (N, condition_dim) or None accordingly.
    """

    def __init__(
        self,
        num_features: int,
        *,
        num_classes: int = 0,  # > 0: gain and bias from per-class embeddings
        condition_dim: int = 0,  # > 0: gain and bias from linear maps of a condition vector
        eps: float = 1e-5,  # batch-norm epsilon
        momentum: float = 0.1,  # running-statistics momentum
        std: float = 0.02,  # initialisation N(0, std) of the embeddings / linear weights
        sn_eps: float = 1e-8,  # spectral-norm epsilon of the linear maps
    ) -> None:
        super().__init__()
        if num_classes < 0 or condition_dim < 0:
            raise ValueError(f"num_classes and condition_dim must be >= 0, got {num_classes} "
                             f"and {condition_dim}")
        if num_classes > 0 and condition_dim > 0:
            raise ValueError("give num_classes (label conditioning) or condition_dim (vector "
                             f"conditioning), not both; got {num_classes} and {condition_dim}")
        self.num_features = num_features
        self.num_classes, self.condition_dim = num_classes, condition_dim
        self.norm = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        if num_classes > 0:
            self.gain = normal_(nn.Embedding(num_classes, num_features), std)
            self.bias = normal_(nn.Embedding(num_classes, num_features), std)
        elif condition_dim > 0:
            linear = dict(bias=False, std=std, eps=sn_eps)
            self.gain = normal_sn_linear(condition_dim, num_features, **linear)
            self.bias = normal_sn_linear(condition_dim, num_features, **linear)
        else:
            self.gain = nn.Parameter(torch.zeros(num_features))  # the gain is 1 + this
            self.bias = nn.Parameter(torch.zeros(num_features))

    @property
    def conditional(self) -> bool:
        """Whether ``forward`` needs a condition."""
        return self.num_classes > 0 or self.condition_dim > 0

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        out = self.norm(x)
        if not self.conditional:
            gain, bias = self.gain.view(1, -1, 1, 1), self.bias.view(1, -1, 1, 1)
        else:
            if condition is None:
                raise ValueError("this batch norm is conditional: pass labels or condition vectors")
            n = x.shape[0]
            gain = self.gain(condition).view(n, -1, 1, 1)
            bias = self.bias(condition).view(n, -1, 1, 1)
        return torch.addcmul(bias, out, gain + 1.0)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, num_classes={self.num_classes}, "
                f"condition_dim={self.condition_dim}")
