"""Diversity control for synthetic training data.

GAN samples used as classifier training data tend to be realistic but alike: a published CIFAR-10
study (DenseNet-40 and DIANet trained on DiffAugment-BigGAN samples) found that replacing real
images hurt monotonically and blamed the lack of diversity. The controls here act when a bank of
synthetic images is drawn from a trained generator; one more (the mode-seeking term of MSGAN) acts
during GAN training (``GANModule(mode_seeking_weight=...)``).

- **truncation / temperature** of the latent: :func:`ganaug.modules.noise.latent_noise`;
- **classifier filter**: drop samples that a classifier trained on the real subset assigns to
  another class, and optionally the over-confident "easy" ones (:func:`classifier_filter`);
- **coverage selection**: draw a pool ``pool_factor`` times larger than needed and keep a subset
  that spreads over feature space by greedy k-centre (:func:`k_center_greedy`; Sener & Savarese
  2018 use the same greedy rule for core sets).

:class:`DiversityControl` bundles the sampling-time choices; :func:`draw_class_bank` applies them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["DiversityControl", "classifier_filter", "draw_class_bank", "k_center_greedy"]


@dataclass(frozen=True)
class DiversityControl:
    """How synthetic images are drawn from a generator for a training bank."""

    truncation: float | None = None  # redraw latent entries with |z| > truncation; None = off
    temperature: float = 1.0  # latent scale; > 1 spreads samples, < 1 concentrates them
    pool_factor: int = 1  # candidates drawn per kept image (for filtering / selection)
    filter_misclassified: bool = False  # drop samples the referee assigns to another class
    drop_confident_above: float | None = None  # also drop samples with p(class) above this
    min_confidence: float | None = None  # keep only samples with p(class) at least this (the
    # filter threshold of GaFi, Lampis et al. 2023); None = off
    selection: Literal["random", "kcenter"] = "random"  # how the kept subset is chosen

    def __post_init__(self) -> None:
        if self.pool_factor < 1:
            raise ValueError(f"pool_factor must be >= 1, got {self.pool_factor}")
        if self.selection not in ("random", "kcenter"):
            raise ValueError(f"selection must be 'random' or 'kcenter', got {self.selection!r}")
        if self.drop_confident_above is not None and not 0 < self.drop_confident_above <= 1:
            raise ValueError(
                f"drop_confident_above must be in (0, 1] or None, got {self.drop_confident_above}"
            )
        if self.min_confidence is not None and not 0 < self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be in (0, 1] or None, got {self.min_confidence}")
        if (self.min_confidence is not None and self.drop_confident_above is not None
                and self.min_confidence > self.drop_confident_above):
            raise ValueError(f"min_confidence ({self.min_confidence}) above drop_confident_above "
                             f"({self.drop_confident_above}) keeps no sample")
        if self.truncation is not None and not self.truncation > 0:
            raise ValueError(f"truncation must be > 0 or None, got {self.truncation}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    @property
    def needs_referee(self) -> bool:
        """Whether a classifier trained on the real data is needed."""
        return (self.filter_misclassified or self.drop_confident_above is not None
                or self.min_confidence is not None)

    @property
    def uses_referee(self) -> bool:
        """Whether drawing under this control uses the referee: its filters need it, and k-centre
        selection measures distances in its features (in pixels without one)."""
        return self.needs_referee or self.selection == "kcenter"

    def as_dict(self) -> dict:
        return asdict(self)


def k_center_greedy(features: Tensor, k: int, *, first: int | None = None) -> Tensor:
    """Indices of ``k`` rows of ``features`` (N, D) chosen by greedy k-centre.

    Starting from ``first`` (default: the row nearest the mean), repeatedly add the row farthest
    (Euclidean) from everything chosen so far. The chosen set's covering radius is at most twice
    the optimum (Gonzalez 1985). Ties go to the lowest index.
    """
    n = features.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"cannot choose k={k} of {n} rows")
    if k == 0:
        return torch.zeros(0, dtype=torch.long)
    features = features.flatten(1).double()
    if first is None:
        first = int(torch.cdist(features.mean(0, keepdim=True), features).argmin())
    chosen = [first]
    distance = torch.cdist(features[first : first + 1], features).squeeze(0)
    for _ in range(k - 1):
        farthest = int(distance.argmax())
        chosen.append(farthest)
        distance = torch.minimum(distance, torch.cdist(features[farthest : farthest + 1], features).squeeze(0))
    return torch.tensor(chosen, dtype=torch.long)


def classifier_filter(
    logits: Tensor,  # (N, num_classes) of a classifier trained on the real data
    labels: Tensor,  # (N,) the classes the images were generated for
    *,
    drop_misclassified: bool = True,
    drop_confident_above: float | None = None,
    min_confidence: float | None = None,
) -> Tensor:
    """Boolean mask (N,) of the samples to keep: those the classifier assigns to their class
    (``drop_misclassified``) with a softmax probability of that class in
    ``[min_confidence, drop_confident_above]`` (either bound None = none)."""
    keep = torch.ones(len(labels), dtype=torch.bool, device=logits.device)
    if drop_misclassified:
        keep &= logits.argmax(1) == labels
    if drop_confident_above is not None or min_confidence is not None:
        confidence = logits.softmax(1).gather(1, labels[:, None]).squeeze(1)
        if drop_confident_above is not None:
            keep &= confidence <= drop_confident_above
        if min_confidence is not None:
            keep &= confidence >= min_confidence
    return keep


@torch.no_grad()
def draw_class_bank(
    sample: Callable[[int, int, torch.Generator], Tensor],  # (n, label, rng) -> images in [-1, 1]
    label: int,
    n: int,
    control: DiversityControl,
    *,
    generator: torch.Generator,
    referee: nn.Module | None = None,  # maps images to logits; its .features(x), if any, to features
    max_rounds: int = 50,  # stop filtering after drawing max_rounds pools
) -> Tensor:
    """``n`` images of class ``label`` drawn with ``control``; float [-1, 1] on the CPU."""
    if control.needs_referee and referee is None:
        raise ValueError("this diversity control filters with a classifier: pass referee=")
    if n == 0:  # a class that needs nothing (the largest one when balancing); one image gives the shape
        return sample(1, label, generator).cpu()[:0]
    pool_size = n * control.pool_factor
    kept: list[Tensor] = []
    rejected, rejected_scores = torch.zeros(0), torch.zeros(0)
    count = drawn = 0
    while count < pool_size and drawn < max_rounds * pool_size:
        batch = sample(pool_size, label, generator).cpu()
        drawn += len(batch)
        if control.needs_referee:
            logits = _run(referee, batch)
            labels = torch.full((len(batch),), label, dtype=torch.long)
            keep = classifier_filter(logits, labels,
                                     drop_misclassified=control.filter_misclassified,
                                     drop_confident_above=control.drop_confident_above,
                                     min_confidence=control.min_confidence)
            # keep the most class-like rejects, in case too few images pass
            candidates = torch.cat([rejected, batch[~keep]]) if len(rejected) else batch[~keep]
            scores = torch.cat([rejected_scores, logits.softmax(1)[~keep, label]])
            best = scores.argsort(descending=True)[:pool_size]
            rejected, rejected_scores = candidates[best], scores[best]
            batch = batch[keep]
        kept.append(batch)
        count += len(batch)
    if count < n:
        warnings.warn(
            f"the filter accepted only {count} of {drawn} images of class {label}; the "
            f"{n - count} rejected ones the referee finds most like class {label} fill the bank. "
            "The generator rarely makes this class: train the GAN longer or on more data",
            stacklevel=2)
        kept.append(rejected[: n - count])
    pool = torch.cat(kept)[:pool_size]
    if control.selection == "kcenter":
        features = _run(getattr(referee, "features", None), pool) if referee is not None \
            and hasattr(referee, "features") else pool.flatten(1)
        return pool[k_center_greedy(features, n)]
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]]


def _run(function: Callable[[Tensor], Tensor], images: Tensor, chunk: int = 512) -> Tensor:
    """``function`` over ``images`` in chunks on the device of its module; results on the CPU."""
    module = getattr(function, "__self__", function)
    parameter = next(module.parameters(), None) if isinstance(module, nn.Module) else None
    device = parameter.device if parameter is not None else torch.device("cpu")
    return torch.cat([function(part.to(device)).flatten(1).float().cpu()
                      for part in images.split(chunk)])
