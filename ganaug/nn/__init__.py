"""Building blocks shared by the networks: spectral-normed layers, class conditioning,
conditional batch norm, self-attention and residual up / down blocks."""

from ganaug.nn.attention import SelfAttention2d
from ganaug.nn.conditioning import ProjectionHead, label_channels
from ganaug.nn.normalization import ConditionalBatchNorm2d
from ganaug.nn.residual import ResBlockDown, ResBlockUp
from ganaug.nn.sn_init import normal_sn_conv2d, normal_sn_embedding, normal_sn_linear
from ganaug.nn.spectral import sn_conv2d, sn_embedding, sn_linear

__all__ = [
    "ConditionalBatchNorm2d",
    "ProjectionHead",
    "ResBlockDown",
    "ResBlockUp",
    "SelfAttention2d",
    "label_channels",
    "normal_sn_conv2d",
    "normal_sn_embedding",
    "normal_sn_linear",
    "sn_conv2d",
    "sn_embedding",
    "sn_linear",
]
