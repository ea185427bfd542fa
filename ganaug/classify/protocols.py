"""The downstream-training protocols of the published replacement / augmentation study.

``PAPER_PROTOCOLS[name]`` holds the ``ClassifierModule`` options and the loader / trainer settings
of one protocol; ``ClassifierModule.from_protocol(name, ...)`` builds the module.

- ``densenet40``: DenseNet (L = 40, k = 12) of Huang et al. 2017 trained as in that paper and in
  the study: SGD with Nesterov momentum 0.9, batch 64, 300 epochs, learning rate 0.1 divided by
  10 at 50 % and 75 % of training, weight decay 1e-4.
- ``dianet56``: DIANet on a ResNet-56 base (reduction 4), 200 epochs with the learning rate
  divided by 10 at 40 %, 60 % and 80 %. The study states only the epochs and the step positions;
  the optimiser, batch size, weight decay and the factor 10 are assumed equal to the DenseNet
  protocol (the official DIANet code also uses SGD, momentum 0.9, lr 0.1, weight decay 1e-4 and
  factor-10 steps).

Both train with the standard CIFAR augmentation (``flip_crop``: flips and 4-px pad-and-crop), as
the published CIFAR numbers of both architectures do; the study's arms switch it off and on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PAPER_PROTOCOLS", "TrainingProtocol"]


@dataclasses.dataclass(frozen=True)
class TrainingProtocol:
    """A classifier, its optimiser and schedule, and how long and in which batches it trains."""

    architecture: str  # a name of ganaug.classify.CLASSIFIERS
    max_epochs: int  # passes over the training set
    batch_size: int  # images per optimiser step (over all processes)
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    lr_milestones: tuple[float, ...] = (0.5, 0.75)  # fractions of all training steps
    lr_gamma: float = 10.0  # the learning rate is divided by this at each milestone
    classic_augment: str = "flip_crop"
    source: str = ""  # where the numbers come from

    def module_options(self) -> dict[str, Any]:
        """The ``ClassifierModule`` keyword arguments of this protocol."""
        names = ("architecture", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
                 "lr_milestones", "lr_gamma", "classic_augment")
        return {name: getattr(self, name) for name in names}


PAPER_PROTOCOLS: dict[str, TrainingProtocol] = {
    "densenet40": TrainingProtocol(
        architecture="densenet40", max_epochs=300, batch_size=64, lr_milestones=(0.5, 0.75),
        source="Huang et al. 2017, section 4.2; the replacement study's DenseNet setting",
    ),
    "dianet56": TrainingProtocol(
        architecture="dianet56", max_epochs=200, batch_size=64, lr_milestones=(0.4, 0.6, 0.8),
        source="the replacement study's DIANet setting (epochs, steps); the rest as densenet40",
    ),
}
