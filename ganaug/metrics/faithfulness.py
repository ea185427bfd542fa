"""Class faithfulness: does a conditional generator draw the class it is asked for?

For every class ``k``, the fraction of images generated (or banked) as class ``k`` that a *judge*
classifier assigns to ``k`` (the "GAN-test" of Shmelkov et al. 2018, "How good is my GAN?",
https://arxiv.org/abs/1807.09499). Reported per class, as the mean over classes and as the worst
class: a synthetic image of the wrong class enters a classifier's training as label noise, and a
generator that ignores its label for one class poisons that class however good the others are.

The number is only as honest as the judge. A judge that guided the generator (an AC-GAN
discriminator, a classifier used for filtering or model selection) is biased towards the
generator's own mistakes: use a classifier trained on real images that neither the generator
nor any selection step saw. Report the judge's accuracy on real test images next to the number
(a judge that is 97 % right on real images cannot certify more than that).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.classify.accuracy import GroupAccuracy
from ganaug.images import from_uint8
from ganaug.sampling import ClassConditionalSampler, draw_class_balanced

__all__ = [
    "ClassFaithfulness",
    "FaithfulnessResult",
    "bank_faithfulness",
    "generator_faithfulness",
    "judge_agreement",
]


@dataclass(frozen=True)
class FaithfulnessResult:
    """Per-class faithfulness (fractions in [0, 1]) and the samples behind each."""

    per_class: list[float]  # NaN for a class without samples
    samples_per_class: list[int]

    @property
    def mean(self) -> float:
        """Mean over the classes that have samples."""
        values = torch.tensor(self.per_class, dtype=torch.float64)
        return float(values.nanmean())

    @property
    def worst(self) -> float:
        """The lowest per-class faithfulness (classes without samples ignored)."""
        values = [v for v in self.per_class if v == v]
        return min(values) if values else float("nan")

    @property
    def worst_class(self) -> int:
        """The class of :attr:`worst` (the lowest index on a tie)."""
        values = [v if v == v else float("inf") for v in self.per_class]
        return values.index(min(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: ``mean``, ``worst``, ``worst_class``, ``per_class``, counts."""
        return {"mean": self.mean, "worst": self.worst, "worst_class": self.worst_class,
                **asdict(self)}

    def log_values(self, prefix: str = "faithfulness") -> dict[str, float]:
        """``{prefix}_mean``, ``{prefix}_worst`` and ``{prefix}/class_k`` for a logger."""
        values = {f"{prefix}_mean": self.mean, f"{prefix}_worst": self.worst}
        values.update({f"{prefix}/class_{k}": v for k, v in enumerate(self.per_class) if v == v})
        return values


class ClassFaithfulness(GroupAccuracy):
    """Counts, per class, of samples the judge assigns to their claimed class; summed across
    processes by torchmetrics."""

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        if num_classes < 2:
            raise ValueError(f"faithfulness needs num_classes >= 2, got {num_classes}")
        super().__init__(num_classes, **kwargs)

    def update(self, judge_logits: Tensor, labels: Tensor) -> None:  # type: ignore[override]
        """``judge_logits``: (N, num_classes) of the judge on the samples; ``labels``: the
        classes the samples claim (N,)."""
        if judge_logits.ndim != 2 or judge_logits.shape != (len(labels), self.num_groups):
            raise ValueError(f"expected judge logits of shape ({len(labels)}, {self.num_groups}), "
                             f"got {tuple(judge_logits.shape)}: is the judge a classifier of the "
                             "same classes?")
        super().update(judge_logits.argmax(dim=1) == labels, labels)

    def result(self) -> FaithfulnessResult:
        """The per-class fractions of everything seen so far (over all processes)."""
        correct, total = (t.double() for t in self.compute())
        return FaithfulnessResult((correct / total).tolist(), total.long().tolist())


@torch.no_grad()
def bank_faithfulness(
    images: Tensor,  # (N, C, H, W): uint8, or float in [-1, 1]
    labels: Tensor,  # (N,) the classes the images claim
    judge: nn.Module,  # classifier of images in [-1, 1] -> logits (N, K)
    *,
    num_classes: int,
    batch_size: int = 500,
) -> FaithfulnessResult:
    """Faithfulness of a labelled set of images (a synthetic bank) under ``judge``."""
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    was_training = judge.training
    judge.eval()
    device = next(judge.parameters()).device
    metric = ClassFaithfulness(num_classes).to(device)
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        if not batch.is_floating_point():
            batch = from_uint8(batch)
        metric.update(judge(batch), labels[start:start + batch_size].to(device))
    judge.train(was_training)
    return metric.result()


@torch.no_grad()
def judge_agreement(
    images: Tensor,  # (N, C, H, W): uint8, or float in [-1, 1]
    judge: nn.Module,  # classifier of images in [-1, 1] -> logits (N, K)
    other: nn.Module,  # a second, independently trained one
    *,
    batch_size: int = 500,
) -> float:
    """The fraction of ``images`` to which two judges give the same class: how far a verdict on
    them is the images' and not one judge's (issue 26: a judge trained on too few images called
    clean 4s "6"). NaN for no images."""
    if not len(images):
        return float("nan")
    agree = 0
    states = judge.training, other.training
    judge.eval(), other.eval()
    device = next(judge.parameters()).device
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        if not batch.is_floating_point():
            batch = from_uint8(batch)
        agree += int((judge(batch).argmax(1) == other(batch).argmax(1)).sum())
    judge.train(states[0]), other.train(states[1])
    return agree / len(images)


@torch.no_grad()
def generator_faithfulness(
    model: ClassConditionalSampler,  # a conditional GAN module (or anything sampling like one)
    judge: nn.Module,  # classifier of images in [-1, 1] -> logits (N, K)
    *,
    n_per_class: int = 100,  # images drawn per class
    seed: int = 0,  # noise seed: the same call gives the same images
    batch_size: int = 250,
    **sample_options: Any,  # truncation, temperature, ... for model.sample
) -> FaithfulnessResult:
    """Faithfulness of fresh samples: ``n_per_class`` images of every class from ``model``."""
    require_classes(model)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    generator = torch.Generator(device=getattr(model, "device", "cpu")).manual_seed(seed)
    images, labels = draw_class_balanced(model, n_per_class, generator, batch_size=batch_size,
                                         **sample_options)
    return bank_faithfulness(images, labels, judge, num_classes=model.num_classes,
                             batch_size=batch_size)


def require_classes(model: object) -> None:
    """Refuse a model that has fewer than two classes to be faithful to."""
    if getattr(model, "num_classes", 0) < 2:
        raise ValueError("faithfulness needs a class-conditional model with num_classes >= 2")
