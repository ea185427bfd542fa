"""Generator / discriminator pairs as plain ``nn.Module``s (no Lightning, no optimisers)."""

from ganaug.networks.dcgan import DCGANDiscriminator, DCGANGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator"]
from ganaug.networks.biggan import BigGANDiscriminator, BigGANGenerator  # noqa: E402

__all__ += ["BigGANDiscriminator", "BigGANGenerator"]
from ganaug.networks.dagan import DAGANDiscriminator, DAGANGenerator  # noqa: E402

__all__ += ["DAGANDiscriminator", "DAGANGenerator"]
