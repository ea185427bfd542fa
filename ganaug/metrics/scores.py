"""torchmetrics ``Metric`` classes over features: FID, KID, IS, precision / recall, per-class FID.

They take *features* (and logits), not images: :class:`~ganaug.metrics.evaluator.GenerativeEvaluator`
runs the extractor once per batch and feeds every metric. The states are declared with
``add_state`` so that torchmetrics syncs them across processes in ``compute()``:

- FID keeps ``sum x`` and ``sum x x^T`` in float64 (``dist_reduce_fx="sum"``): memory O(D^2)
  whatever the sample count, and exact under any split of the samples across processes;
- KID, IS, precision / recall and per-class FID need the samples themselves and keep feature
  lists gathered with ``"cat"`` (float32 storage, float64 maths).

Real-data statistics can come from a cached reference (:meth:`set_reference`) instead of
``update(..., real=True)``. A reference is a plain attribute, not a synced state: every process
holds the whole reference, so it must not be summed across processes.

Every ``compute()`` stores the sample counts it used in ``last_counts``.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ganaug.metrics.frechet import frechet_distance, gaussian_from_sums
from ganaug.metrics.inception_score import inception_score
from ganaug.metrics.kernel import kernel_distance
from ganaug.metrics.precision_recall import precision_recall

__all__ = [
    "ClassFrechetDistance",
    "FrechetDistance",
    "InceptionScore",
    "KernelDistance",
    "PrecisionRecall",
]


def _check_features(features: Tensor, dim: int | None, what: str = "features") -> Tensor:
    if not isinstance(features, Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{what} must be a tensor (N, D), got {shape}")
    if dim is not None and features.shape[1] != dim:
        raise ValueError(f"{what} must have D = {dim} columns, got shape {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return features.detach()


def _warn_if_singular(n: int, dim: int, side: str) -> None:
    if n < dim:
        warnings.warn(f"FID with {n} {side} samples below the feature dimension {dim}: the "
                      "covariance is singular and FID is strongly biased upwards; use at least "
                      f"{dim} samples (10k-50k is usual for Inception)", stacklevel=3)


def _cat(state: list[Tensor] | Tensor) -> Tensor:
    """A concatenated feature state; an empty list (no updates) becomes a (0, 0) tensor."""
    if isinstance(state, Tensor):  # already concatenated by a sync
        return state
    return dim_zero_cat(state) if state else torch.zeros(0, 0)


def _need(n: int, minimum: int, side: str, metric: str) -> None:
    if n < minimum:
        raise ValueError(f"{metric} needs at least {minimum} {side} samples, got {n}")


class FrechetDistance(Metric):
    """Fréchet distance between Gaussians fitted to real and generated features (FID)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, num_features: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_features = num_features
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(num_features, dtype=torch.float64), "sum")
            self.add_state(f"{side}_outer", torch.zeros(num_features, num_features,
                                                        dtype=torch.float64), "sum")
            self.add_state(f"{side}_n", torch.zeros((), dtype=torch.long), "sum")
        self.reference: tuple[Tensor, Tensor, int] | None = None
        self.last_counts: dict[str, int] = {}

    def update(self, features: Tensor, real: bool) -> None:
        """Add a batch of real (``real=True``) or generated features (N, D)."""
        features = _check_features(features, self.num_features).double()
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + features.sum(dim=0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + features.T @ features)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + features.shape[0])

    def set_reference(self, features: Tensor | None) -> None:
        """Use these real features (N, D) instead of the real side's updates; None clears it."""
        if features is None:
            self.reference = None
            return
        features = _check_features(features, self.num_features, "reference features").double()
        self.reference = (features.sum(dim=0), features.T @ features, features.shape[0])

    def compute(self) -> Tensor:
        if self.reference is not None:
            real_sum, real_outer, n_real = (self.reference[0].to(self.device),
                                            self.reference[1].to(self.device), self.reference[2])
        else:
            real_sum, real_outer, n_real = self.real_sum, self.real_outer, int(self.real_n)
        n_fake = int(self.fake_n)
        self.last_counts = {"real": n_real, "generated": n_fake}
        _need(n_real, 2, "real", "FID")
        _need(n_fake, 2, "generated", "FID")
        _warn_if_singular(n_real, self.num_features, "real")
        _warn_if_singular(n_fake, self.num_features, "generated")
        mean_real, cov_real = gaussian_from_sums(real_sum, real_outer, n_real)
        mean_fake, cov_fake = gaussian_from_sums(self.fake_sum, self.fake_outer, n_fake)
        return frechet_distance(mean_real, cov_real, mean_fake, cov_fake)


class _TwoSampleFeatures(Metric):
    """Keeps real and generated feature lists (gathered by concatenation) and a reference."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("real_features", [], "cat")
        self.add_state("fake_features", [], "cat")
        self.reference: Tensor | None = None
        self.last_counts: dict[str, int] = {}

    def update(self, features: Tensor, real: bool) -> None:
        """Add a batch of real (``real=True``) or generated features (N, D)."""
        features = _check_features(features, None).float()
        (self.real_features if real else self.fake_features).append(features)

    def set_reference(self, features: Tensor | None) -> None:
        """Use these real features (N, D) instead of the real side's updates; None clears it."""
        self.reference = None if features is None else \
            _check_features(features, None, "reference features").float()

    def _both(self) -> tuple[Tensor, Tensor]:
        if self.reference is not None:
            real = self.reference.to(self.device)
        else:
            real = _cat(self.real_features)
        fake = _cat(self.fake_features)
        self.last_counts = {"real": len(real), "generated": len(fake)}
        return real, fake


class KernelDistance(_TwoSampleFeatures):
    """Kernel Inception Distance: ``compute()`` returns (mean, std) over subsets.

    ``subset_size`` is lowered to the smaller sample count when fewer samples are available,
    with a warning; ``last_subset_size`` records the size used.
    """

    higher_is_better = False

    def __init__(self, *, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
                 gamma: float | None = None, coef0: float = 1.0, seed: int = 2020,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.options = dict(subsets=subsets, degree=degree, gamma=gamma, coef0=coef0, seed=seed)
        self.subset_size = subset_size
        self.last_subset_size = subset_size

    def compute(self) -> tuple[Tensor, Tensor]:
        real, fake = self._both()
        _need(len(real), 2, "real", "KID")
        _need(len(fake), 2, "generated", "KID")
        size = min(self.subset_size, len(real), len(fake))
        if size < self.subset_size:
            warnings.warn(f"KID subset_size lowered from {self.subset_size} to {size}, the "
                          "number of samples available", stacklevel=2)
        self.last_subset_size = size
        return kernel_distance(real, fake, subset_size=size, **self.options)


class PrecisionRecall(_TwoSampleFeatures):
    """Improved precision and recall (k-NN balls): ``compute()`` returns (precision, recall)."""

    higher_is_better = True

    def __init__(self, *, k: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.k = k

    def compute(self) -> tuple[Tensor, Tensor]:
        real, fake = self._both()
        _need(len(real), self.k + 1, "real", f"precision/recall with k={self.k}")
        _need(len(fake), self.k + 1, "generated", f"precision/recall with k={self.k}")
        return precision_recall(real, fake, k=self.k)


class InceptionScore(Metric):
    """Inception Score of generated logits: ``compute()`` returns (mean, std) over splits."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, *, splits: int = 10, seed: int | None = 2020, **kwargs) -> None:
        super().__init__(**kwargs)
        self.splits = splits
        self.seed = seed
        self.add_state("logits", [], "cat")
        self.last_counts: dict[str, int] = {}

    def update(self, logits: Tensor) -> None:
        """Add the logits (N, K) of a batch of generated images."""
        self.logits.append(_check_features(logits, None, "logits").float())

    def compute(self) -> tuple[Tensor, Tensor]:
        logits = _cat(self.logits)
        self.last_counts = {"generated": len(logits)}
        _need(len(logits), max(2, self.splits), "generated", f"IS with {self.splits} splits")
        return inception_score(logits, splits=self.splits, seed=self.seed)


class ClassFrechetDistance(Metric):
    """FID of each class of a conditional generator against the real images of that class.

    ``compute()`` returns the per-class FIDs (num_classes,), float64. Class-balanced
    augmentation needs every class to be good, which an overall FID can hide.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"per-class FID needs num_classes >= 1, got {num_classes}")
        self.num_classes = num_classes
        for side in ("real", "fake"):
            self.add_state(f"{side}_features", [], "cat")
            self.add_state(f"{side}_labels", [], "cat")
        self.reference: tuple[Tensor, Tensor] | None = None
        self.last_counts: dict[str, list[int]] = {}

    def _check_labels(self, labels: Tensor, n: int) -> Tensor:
        if not isinstance(labels, Tensor) or labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"labels must be {n} integer class indices, got "
                             f"{getattr(labels, 'shape', type(labels).__name__)}")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes - 1}]")
        return labels.long()

    def update(self, features: Tensor, labels: Tensor, real: bool) -> None:
        """Add features (N, D) with their class labels (N,)."""
        features = _check_features(features, None).float()
        labels = self._check_labels(labels, len(features))
        side = "real" if real else "fake"
        getattr(self, f"{side}_features").append(features)
        getattr(self, f"{side}_labels").append(labels)

    def set_reference(self, features: Tensor | None, labels: Tensor | None = None) -> None:
        """Use these labelled real features instead of the real side's updates; None clears it."""
        if features is None:
            self.reference = None
            return
        if labels is None:
            raise ValueError("a per-class FID reference needs the labels of its features")
        features = _check_features(features, None, "reference features").float()
        self.reference = (features, self._check_labels(labels, len(features)))

    def compute(self) -> Tensor:
        if self.reference is not None:
            real, real_labels = (t.to(self.device) for t in self.reference)
        else:
            real, real_labels = _cat(self.real_features), _cat(self.real_labels).long().flatten()
        fake, fake_labels = _cat(self.fake_features), _cat(self.fake_labels).long().flatten()
        counts = {"real": torch.bincount(real_labels, minlength=self.num_classes).tolist(),
                  "generated": torch.bincount(fake_labels, minlength=self.num_classes).tolist()}
        self.last_counts = counts
        distances = []
        for c in range(self.num_classes):
            _need(counts["real"][c], 2, f"real class-{c}", "per-class FID")
            _need(counts["generated"][c], 2, f"generated class-{c}", "per-class FID")
            gaussians = []
            for x in (real[real_labels == c].double(), fake[fake_labels == c].double()):
                gaussians.extend(gaussian_from_sums(x.sum(0), x.T @ x, len(x)))
            distances.append(frechet_distance(*gaussians))
        return torch.stack(distances)
