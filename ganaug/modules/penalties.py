"""``GeneratorPenalty``: a term of the generator's loss computed from the generator's parameters.

The remedies for tail collapse that act on a conditional generator's weights (group spectral
regularisation, :mod:`ganaug.modules.group_spectral`) share this small interface, so that a
module is handed them rather than growing one option and one branch of its G step per remedy:
``GANModule.generator_penalties()`` returns the module's penalties and every G step adds
``penalty.weight * penalty(generator)`` to the loss, logged under ``penalty.name``.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["GeneratorPenalty"]


class GeneratorPenalty:
    """A weighted term of G's loss that reads G's parameters; subclasses implement ``__call__``."""

    name: str = "penalty"  # the key of the term in the G step's losses (and logs: g/<name>)

    def __init__(self, weight: float) -> None:
        if not weight >= 0:
            raise ValueError(f"a generator penalty's weight must be >= 0, got {weight}")
        self.weight = weight

    def __call__(self, generator: nn.Module) -> Tensor:
        """The unweighted term for ``generator`` (a scalar that gradients flow through)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(generator)")
