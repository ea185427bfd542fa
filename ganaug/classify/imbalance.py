"""Classifier losses for long-tailed training sets, built from the training set's class counts.

Two published remedies that change only the loss, behind one small interface
(:class:`ClassImbalanceLoss`): a loss adjusts the logits that the cross-entropy sees and/or weighs
each sample by its class, possibly as a function of the optimizer step. ``ClassifierModule``
(``imbalance_loss=...``) builds one from the counts when the fit starts and combines its class
weights with the synthetic-sample weight; the logits used for prediction are never adjusted.

- :class:`LogitAdjustedLoss` (Menon et al., ICLR 2021, "Long-tail learning via logit adjustment",
  https://arxiv.org/abs/2007.07314): cross-entropy on ``logits + tau * log(prior)``, with the
  prior the training set's class frequencies. At ``tau = 1`` it is Fisher-consistent for the
  balanced error.
- :class:`DeferredReweighting` (Cao et al., NeurIPS 2019, "Learning imbalanced datasets with
  label-distribution-aware margin loss", https://arxiv.org/abs/1906.07413, its "DRW" schedule):
  plain cross-entropy until ``start_step``, then each sample weighted by the class-balanced weight
  of its class, ``(1 - beta) / (1 - beta ** n_c)`` (the inverse "effective number" of Cui et al.,
  CVPR 2019, https://arxiv.org/abs/1901.05555), scaled so that the weights of the ``K`` classes
  sum to ``K``. Training first learns features from the natural distribution, then re-weights.

:func:`build_imbalance_loss` builds one by name (:data:`IMBALANCE_LOSSES`) with its start as a
fraction of the training length, as ``ClassifierModule`` and the study's recipes give it. Both
take the option ``prior`` (:data:`PRIORS`): ``"training"`` (the default) counts every training
image, synthetic ones included; ``"real"`` counts the real images alone, so that a blend of real
and synthetic images keeps the real set's prior (``ClassifierModule`` picks the counts; the loss
itself only sees them).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["IMBALANCE_LOSSES", "PRIORS", "ClassImbalanceLoss", "DeferredReweighting", "LogitAdjustedLoss",
           "build_imbalance_loss", "class_balanced_weights"]


def _check_counts(class_counts: Tensor | list[int], *, all_present: bool) -> Tensor:
    counts = torch.as_tensor(class_counts)
    if counts.ndim != 1 or len(counts) < 2 or counts.is_floating_point() or bool((counts < 0).any()):
        raise ValueError(f"class_counts must be one integer >= 0 per class (at least 2 classes), "
                         f"got {class_counts}")
    if not int(counts.sum()):
        raise ValueError("class_counts are all 0: the training set has no image")
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if all_present and empty:
        raise ValueError(f"class(es) {empty} have no training image, so their prior is 0 and "
                         f"log(prior) is -inf; give every class at least one image")
    return counts.long()


def class_balanced_weights(class_counts: Tensor | list[int], beta: float) -> Tensor:
    """``(1 - beta) / (1 - beta ** n_c)`` per class, scaled to sum to the number of classes
    (float32); 0 for a class without images. ``beta = 0`` gives 1 everywhere, ``beta -> 1`` the
    inverse class frequency (Cui et al. 2019)."""
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    counts = _check_counts(class_counts, all_present=False).double()
    effective = 1.0 - torch.pow(torch.tensor(float(beta), dtype=torch.float64), counts)
    weights = torch.where(counts > 0, (1.0 - beta) / effective.clamp(min=1e-300), 0.0)
    present = int((counts > 0).sum())
    return (weights * present / weights.sum()).float()


class ClassImbalanceLoss(nn.Module):
    """The interface: :meth:`adjust_logits` (what the cross-entropy sees) and
    :meth:`class_weights` (a loss weight per class at an optimizer step, or None for all 1).
    Calling the loss gives the weighted mean cross-entropy of a batch."""

    def adjust_logits(self, logits: Tensor) -> Tensor:
        return logits

    def class_weights(self, step: int) -> Tensor | None:
        return None

    def forward(self, logits: Tensor, labels: Tensor, step: int = 0) -> Tensor:
        per_sample = F.cross_entropy(self.adjust_logits(logits), labels, reduction="none")
        weights = self.class_weights(step)
        if weights is None:
            return per_sample.mean()
        weights = weights.to(per_sample)[labels]
        return (weights * per_sample).sum() / weights.sum().clamp(min=1e-12)


class LogitAdjustedLoss(ClassImbalanceLoss):
    """Cross-entropy on ``logits + tau * log(prior)`` (Menon et al. 2021)."""

    def __init__(
        self,
        class_counts: Tensor | list[int],  # training images per class, every class >= 1
        *,
        tau: float = 1.0,  # strength of the adjustment; 0 = plain cross-entropy
    ) -> None:
        super().__init__()
        if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0, got {tau}")
        counts = _check_counts(class_counts, all_present=True).double()
        self.tau = float(tau)
        self.register_buffer("offset", (tau * torch.log(counts / counts.sum())).float(),
                             persistent=False)

    def adjust_logits(self, logits: Tensor) -> Tensor:
        return logits + self.offset.to(logits)


class DeferredReweighting(ClassImbalanceLoss):
    """Cross-entropy, class-balanced weights from ``start_step`` on (Cao et al. 2019, DRW)."""

    def __init__(
        self,
        class_counts: Tensor | list[int],  # training images per class
        *,
        start_step: int,  # the first optimizer step with the weights (before it: all 1)
        beta: float = 0.9999,  # of the effective number; Cao et al. use 0.9999
    ) -> None:
        super().__init__()
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"start_step must be an integer >= 0, got {start_step!r}")
        self.start_step = start_step
        self.beta = float(beta)
        self.register_buffer("weights", class_balanced_weights(class_counts, beta),
                             persistent=False)

    def class_weights(self, step: int) -> Tensor | None:
        return self.weights if step >= self.start_step else None


IMBALANCE_LOSSES: dict[str, type[ClassImbalanceLoss]] = {
    "logit_adjusted": LogitAdjustedLoss,
    "deferred_reweighting": DeferredReweighting,
}
"""The losses :func:`build_imbalance_loss` knows by name."""

_OPTIONS = {"logit_adjusted": {"tau", "prior"}, "deferred_reweighting": {"beta", "start", "prior"}}

PRIORS = ("training", "real")
"""Which images the class counts of an imbalance loss come from (option ``prior``): every
training image (synthetic ones included), or the real ones alone."""


def check_imbalance_loss(name: str | None, options: dict[str, Any] | None) -> None:
    """Refuse an unknown loss name or option before training (the counts come later)."""
    if name is None:
        if options:
            raise ValueError(f"imbalance_options {options} given without an imbalance_loss; name "
                             f"one of {sorted(IMBALANCE_LOSSES)}")
        return
    if name not in IMBALANCE_LOSSES:
        raise ValueError(f"unknown imbalance_loss {name!r}; choose one of "
                         f"{sorted(IMBALANCE_LOSSES)} or None")
    unknown = set(options or {}) - _OPTIONS[name]
    if unknown:
        raise ValueError(f"imbalance_loss {name!r} takes options {sorted(_OPTIONS[name])}, got "
                         f"{sorted(unknown)}")
    prior = (options or {}).get("prior", "training")
    if prior not in PRIORS:
        raise ValueError(f"prior (which images the class counts come from) must be one of "
                         f"{PRIORS}, got {prior!r}")
    start = (options or {}).get("start", 0.8)
    if not (isinstance(start, (int, float)) and 0 <= start <= 1):
        raise ValueError(f"start (when deferred re-weighting begins) must be a fraction of the "
                         f"training steps in [0, 1], got {start}")


def build_imbalance_loss(
    name: str,  # a key of IMBALANCE_LOSSES
    class_counts: Tensor | list[int],  # training images per class
    *,
    total_steps: int,  # optimizer steps of the whole training (for deferred re-weighting)
    **options: Any,  # logit_adjusted: tau (1.0); deferred_reweighting: beta (0.9999) and start,
    # the fraction of total_steps after which the weights apply (0.8, Cao et al.'s 160 of 200);
    # either: prior, which the caller has already applied in choosing class_counts
) -> ClassImbalanceLoss:
    """The loss ``name`` for a training set of ``class_counts``."""
    check_imbalance_loss(name, options)
    options.pop("prior", None)
    if name == "deferred_reweighting":
        start = options.pop("start", 0.8)
        options["start_step"] = int(round(start * total_steps))
    return IMBALANCE_LOSSES[name](class_counts, **options)
