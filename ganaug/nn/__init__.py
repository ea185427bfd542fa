"""Building blocks shared by the networks: spectral-normed layers and class conditioning."""

from ganaug.nn.conditioning import ProjectionHead, label_channels
from ganaug.nn.spectral import sn_conv2d, sn_embedding, sn_linear

__all__ = ["ProjectionHead", "label_channels", "sn_conv2d", "sn_embedding", "sn_linear"]
