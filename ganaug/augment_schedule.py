"""How strongly the discriminator's inputs are augmented over a fit: the probability p of each op.

Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training Generative Adversarial Networks
with Limited Data" (StyleGAN2-ADA), https://arxiv.org/abs/2006.06676, section 3. A discriminator
that overfits its few real images grows confident on them: the share of real images it scores
positive rises. ADA measures that share as

    r_t = E[sign(D(x_real))]   over the real images of the last ``interval`` D steps

(the mean sign of the raw logits, in [-1, 1]; sign(0) = 0) and, every ``interval`` D steps,
moves p by

    sign(r_t - target) * (images seen in those steps) / images

clipped to [0, 1]: p rises while D overfits (r_t above the target, 0.6 in the paper) and falls
while it does not, at a rate that takes p from 0 to 1 in ``images`` real images if it keeps
rising. p starts at 0. Under DDP the sums behind r_t and the image count are added over all
processes before the step (the module hands in a ``reduce``), so every rank moves p alike.

A schedule is a small object the GAN module owns (``GANModule.augment_schedule``): the module
reports each D step's mean real sign (``observe``), asks for the probability of the next step
(``probability``) and keeps ``state_dict()`` in its checkpoints, so a resumed fit continues the
same trajectory. ``AlwaysAugment`` is the fixed probability that DiffAugment always had.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["AdaptiveAugment", "AlwaysAugment", "AugmentSchedule"]

Reduce = Callable[[Tensor], Tensor]  # sums a tensor over processes (identity on one process)


class AugmentSchedule:
    """The probability of each augmentation op, and how it reacts to the discriminator."""

    probability: float

    def observe(self, real_sign: Tensor, count: int, reduce: Reduce | None = None) -> None:
        """Take note of one D step: ``real_sign``, the mean sign of D's logits on its ``count``
        real images; may change ``probability``. ``reduce`` sums a tensor over processes."""

    def state_dict(self) -> dict[str, Any]:
        """Everything that shapes the next steps, as plain Python numbers."""
        return {"probability": self.probability}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.probability = _check_probability(state["probability"])


class AlwaysAugment(AugmentSchedule):
    """A fixed probability (1 = every op on every sample, DiffAugment's own behaviour)."""

    def __init__(self, probability: float = 1.0) -> None:
        self.probability = _check_probability(probability)

    def __repr__(self) -> str:
        return f"AlwaysAugment(probability={self.probability})"


class AdaptiveAugment(AugmentSchedule):
    """ADA's heuristic (Karras et al. 2020): p follows the overfitting signal E[sign(D(real))].

    Every ``interval`` observed D steps, p moves by ``sign(r_t - target) * n / images`` (n: the
    real images of those steps, over all processes) and is clipped to [0, 1]. Signs are summed on
    the logits' device; the one host sync is at each adjustment.
    """

    def __init__(
        self,
        *,
        target: float = 0.6,  # r_t that p steers towards, in (0, 1); ADA's default
        interval: int = 4,  # D steps between adjustments
        images: float = 500_000,  # real images over which p can rise from 0 to 1 (ADA: 500k)
        initial: float = 0.0,  # p before the first adjustment
    ) -> None:
        if not (isinstance(target, (int, float)) and not isinstance(target, bool)
                and 0.0 < target < 1.0):
            raise ValueError(f"target must be a number in (0, 1) (ADA uses 0.6), got {target!r}")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval must be an integer >= 1 (D steps), got {interval!r}")
        if not (isinstance(images, (int, float)) and not isinstance(images, bool)
                and math.isfinite(images) and images > 0):
            raise ValueError(f"images must be a positive number of real images, got {images!r}")
        self.target = float(target)
        self.interval = interval
        self.images = float(images)
        self.probability = _check_probability(initial)
        self.last_ratio: float | None = None  # r_t at the last adjustment (for the logs)
        self.history: list[tuple[int, float, float]] = []  # (D steps observed, r_t, p after)
        self._observed = 0  # D steps observed in all
        self._steps = 0  # D steps observed since the last adjustment
        self._sums: Tensor | None = None  # (sum of signs, number of logits) since then, float64

    def __repr__(self) -> str:
        return (f"AdaptiveAugment(target={self.target}, interval={self.interval}, "
                f"images={self.images:g}, probability={self.probability})")

    def observe(self, real_sign: Tensor, count: int, reduce: Reduce | None = None) -> None:
        """Add one D step to r_t's sums: ``real_sign`` (a 0-d tensor) is the mean sign of D's
        logits on its ``count`` real images. After the ``interval``-th step since the last
        adjustment, sum them over processes with ``reduce`` and adjust p."""
        # mean * count is a whole number of signs, up to the rounding of the mean
        total = (real_sign.detach().double() * count).round()
        step = torch.stack([total, torch.full_like(total, float(count))])
        self._sums = step if self._sums is None else self._sums.to(step.device) + step
        self._steps += 1
        self._observed += 1
        if self._steps >= self.interval:
            sums = reduce(self._sums) if reduce is not None else self._sums
            sign_sum, count = (float(v) for v in sums.cpu())
            self._adjust(sign_sum, count)

    def _adjust(self, sign_sum: float, count: float) -> None:
        if count > 0:
            self.last_ratio = sign_sum / count
            step = math.copysign(count / self.images, self.last_ratio - self.target)
            if self.last_ratio == self.target:
                step = 0.0
            self.probability = min(1.0, max(0.0, self.probability + step))
            self.history.append((self._observed, self.last_ratio, self.probability))
        self._steps, self._sums = 0, None

    def state_dict(self) -> dict[str, Any]:
        """p, r_t, the sums of the steps since the last adjustment (exact resume) and the
        trajectory so far (``history``: D steps observed, r_t and p after each adjustment)."""
        sums = [0.0, 0.0] if self._sums is None else [float(v) for v in self._sums.cpu()]
        return {"probability": self.probability, "last_ratio": self.last_ratio,
                "steps": self._steps, "sign_sum": sums[0], "count": sums[1],
                "observed": self._observed, "history": [list(row) for row in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.probability = _check_probability(state["probability"])
        self.last_ratio = state.get("last_ratio")
        self._steps = int(state.get("steps", 0))
        self._observed = int(state.get("observed", 0))
        self.history = [(int(d), float(r), float(p)) for d, r, p in state.get("history", [])]
        self._sums = None
        if self._steps:
            self._sums = torch.tensor([state["sign_sum"], state["count"]], dtype=torch.float64)


def _check_probability(value: float) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"an augment probability must be a number in [0, 1], got {value!r}")
    return float(value)
