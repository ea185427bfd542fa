"""Downstream classifiers and their training: the networks of the replacement / augmentation
study (small CNN, CIFAR ResNets, DenseNet-40, DIANet), classic per-sample augmentation and
``ClassifierModule`` with per-class and real / synthetic accuracies, and losses for long-tailed
training sets."""

from ganaug.classify.accuracy import ConfusionCounts, GroupAccuracy
from ganaug.classify.augment import CLASSIC_POLICIES, ClassicAugment, ClassicParameters
from ganaug.classify.densenet import DenseNet, densenet40
from ganaug.classify.ensemble import ClassifierEnsemble
from ganaug.classify.dianet import DIANet, DIAUnit, dianet56
from ganaug.classify.imbalance import (
    IMBALANCE_LOSSES,
    ClassImbalanceLoss,
    DeferredReweighting,
    LogitAdjustedLoss,
    build_imbalance_loss,
    class_balanced_weights,
)
from ganaug.classify.module import ClassifierModule, inverse_frequency_weights
from ganaug.classify.protocols import PAPER_PROTOCOLS, TrainingProtocol
from ganaug.classify.registry import CLASSIFIERS, build_classifier
from ganaug.classify.resnet import ResNet, resnet20, resnet56
from ganaug.classify.small_cnn import SmallCNN

__all__ = [
    "CLASSIC_POLICIES",
    "CLASSIFIERS",
    "ClassicAugment",
    "ClassicParameters",
    "ClassifierEnsemble",
    "ClassifierModule",
    "ClassImbalanceLoss",
    "DeferredReweighting",
    "IMBALANCE_LOSSES",
    "LogitAdjustedLoss",
    "build_imbalance_loss",
    "class_balanced_weights",
    "inverse_frequency_weights",
    "DenseNet",
    "DIANet",
    "DIAUnit",
    "ConfusionCounts",
    "GroupAccuracy",
    "PAPER_PROTOCOLS",
    "ResNet",
    "SmallCNN",
    "TrainingProtocol",
    "build_classifier",
    "densenet40",
    "dianet56",
    "resnet20",
    "resnet56",
]
