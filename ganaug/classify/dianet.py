"""DIANet: a CIFAR ResNet with one shared LSTM attention unit per stage (Huang, Liang, Liang &
Yang 2020, "DIANet: Dense-and-Implicit Attention Network", AAAI, https://arxiv.org/abs/1905.10671).

Every block of a stage computes its residual branch ``b``, pools it to a channel vector, and
feeds that vector to the *same* LSTM-like DIA unit, whose hidden state carries what the earlier
blocks of the stage saw. The unit's output ``h`` in (0, 1) rescales the channels of ``b`` before
the shortcut is added: ``x ← relu(b · h + shortcut(x))``. The state starts at zero at each stage.

The DIA unit follows the official code (github.com/gbup-group/DIANet, models/cifar): both the
input-to-gates and the hidden-to-gates maps are small MLPs ``C → C/r → 4C`` with a ReLU between
(``r`` = reduction, 4 in the paper), and the hidden output is ``o ⊙ sigmoid(c)`` instead of the
usual ``o ⊙ tanh(c)`` so that it is a valid attention in (0, 1). One unit per stage costs
``2 · (C·C/r + C/r + C/r·4C + 4C)`` parameters: 14,392 for the 16/32/64 stages at r = 4, so
DIANet on ResNet-56 has 855,770 + 14,392 = 870,162 parameters for 10 classes, the size listed for
DIA-ResNet-56 in the osmr/imgclsmob model zoo.

The backbone is :mod:`ganaug.classify.resnet` (basic blocks, option-B shortcuts, as in the
official code's ResNet).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganaug.classify.resnet import BasicBlock, ResNet

__all__ = ["DIAUnit", "DIAStage", "DIANet", "dianet56"]


def _gate_mlp(channels: int, reduction: int) -> nn.Sequential:
    """``C → C/r → 4C``: the four gate pre-activations from a channel vector."""
    hidden = max(1, channels // reduction)
    return nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, 4 * channels))


class DIAUnit(nn.Module):
    """An LSTM cell over channel vectors whose hidden output serves as channel attention."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"reduction must be at least 1, got {reduction}")
        self.input_gates = _gate_mlp(channels, reduction)
        self.hidden_gates = _gate_mlp(channels, reduction)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One step: pooled features ``x`` (N, C) and state ``(h, c)`` → the new ``(h, c)``."""
        h, c = state
        i, f, g, o = (self.input_gates(x) + self.hidden_gates(h)).chunk(4, dim=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.sigmoid()  # sigmoid, not tanh: an attention in (0, 1)
        return h, c


class DIAStage(nn.Module):
    """A stage of basic blocks sharing one DIA unit."""

    def __init__(self, blocks: list[BasicBlock], channels: int, reduction: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attention = DIAUnit(channels, reduction)
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        h = c = x.new_zeros(x.shape[0], self.channels)
        for block in self.blocks:
            branch = block.branch(x)  # (N, C, H, W)
            h, c = self.attention(branch.mean(dim=(2, 3)), (h, c))
            x = (branch * h[:, :, None, None] + block.shortcut(x)).relu_()
        return x


class DIANet(ResNet):
    """DIA-ResNet for CIFAR-sized images: ``depth`` = 6n + 2 layers, one DIA unit per stage."""

    def __init__(
        self,
        *,
        depth: int = 56,  # of the ResNet base, 6n + 2
        reduction: int = 4,  # r of the DIA unit's MLPs (C → C/r → 4C)
        num_classes: int = 10,  # output logits
        channels: int = 3,  # input image channels
        image_size: int = 32,  # input height = width; at least 4
    ) -> None:
        self.reduction = reduction  # read by build_stage, which ResNet's constructor calls
        super().__init__(depth=depth, num_classes=num_classes, channels=channels,
                         image_size=image_size)

    def build_stage(self, blocks: list[BasicBlock], width: int) -> nn.Module:
        """The stage's blocks sharing one DIA unit."""
        return DIAStage(blocks, width, self.reduction)


def dianet56(*, num_classes: int = 10, channels: int = 3, image_size: int = 32) -> DIANet:
    """DIANet on a ResNet-56 base with reduction 4: 870,162 parameters for 10 classes."""
    return DIANet(depth=56, reduction=4, num_classes=num_classes, channels=channels,
                  image_size=image_size)
