"""Generator / discriminator pairs as plain ``nn.Module``s (no Lightning, no optimisers)."""

from ganaug.networks.biggan import BigGANDiscriminator, BigGANGenerator
from ganaug.networks.dcgan import DCGANDiscriminator, DCGANGenerator

__all__ = ["BigGANDiscriminator", "BigGANGenerator", "DCGANDiscriminator", "DCGANGenerator"]
