"""Self-attention over the positions of a feature map (Zhang et al. 2019, "Self-Attention GANs",
https://arxiv.org/abs/1805.08318), in the form BigGAN uses (Brock et al. 2019).

Queries, keys and values are spectral-normed bias-free 1x1 convolutions to C/8, C/8 and C/2
channels; keys and values are max-pooled 2x2, so every position attends to a quarter as many.
The attended values go through a 1x1 convolution back to C channels and are added to the input
scaled by a learned ``gamma`` that starts at 0, so the block starts as the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.nn.sn_init import normal_sn_conv2d

__all__ = ["SelfAttention2d"]


class SelfAttention2d(nn.Module):
    """``x + gamma * attention(x)`` on feature maps (N, C, H, W); C divisible by 8, H, W even."""

    def __init__(
        self,
        channels: int,
        *,
        std: float = 0.02,  # initialisation N(0, std) of the 1x1 convolutions
        sn_eps: float = 1e-8,  # spectral-norm epsilon
    ) -> None:
        super().__init__()
        if channels % 8:
            raise ValueError(f"self-attention needs channels divisible by 8, got {channels}")
        self.channels = channels
        def conv(c_in: int, c_out: int) -> nn.Module:
            return normal_sn_conv2d(c_in, c_out, 1, bias=False, std=std, eps=sn_eps)

        self.query = conv(channels, channels // 8)
        self.key = conv(channels, channels // 8)
        self.value = conv(channels, channels // 2)
        self.out = conv(channels // 2, channels)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, C/8)
        key = F.max_pool2d(self.key(x), 2).flatten(2).transpose(1, 2)  # (N, HW/4, C/8)
        value = F.max_pool2d(self.value(x), 2).flatten(2).transpose(1, 2)  # (N, HW/4, C/2)
        # unscaled dot-product attention, as in SAGAN / BigGAN
        attended = F.scaled_dot_product_attention(query, key, value, scale=1.0)  # (N, HW, C/2)
        attended = attended.transpose(1, 2).reshape(n, c // 2, h, w)
        return x + self.gamma * self.out(attended)
