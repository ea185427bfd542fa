"""``InterpolationSource``: synthetic images made by interpolating real images of one class.

The non-GAN synthetic source of the long-tail study: SMOTE (Chawla et al. 2002, JAIR 16,
"SMOTE: synthetic minority over-sampling technique", https://arxiv.org/abs/1106.1813) applied to
pixels. A new image of class ``c`` is ``x + lam * (x' - x)``: ``x`` a real image of class ``c``
drawn uniformly, ``x'`` one of its ``neighbours`` nearest other images of that class (Euclidean
distance in pixels), drawn uniformly, and ``lam`` uniform in [0, 1]. With ``neighbours=None`` the
partner is any other image of the class (within-class mixup, Zhang et al. 2018, with a uniform
mixing weight). A class of one image yields copies of it.

It samples like a class-conditional GAN (:class:`~ganaug.sampling.ClassConditionalSampler`), so
banks, diversity filters, the blend and the study take it where they take a GAN: a synthetic arm
can be judged against what plain interpolation of the same real images gives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.data.labelled import LabelledImages
from ganaug.images import from_uint8

__all__ = ["InterpolationSource"]


class InterpolationSource:
    """Same-class interpolations of ``data``'s images, sampled like a conditional GAN."""

    def __init__(
        self,
        data: LabelledImages,  # the real images (a training split)
        *,
        neighbours: int | None = 5,  # partners: the k nearest same-class images; None = any
    ) -> None:
        if not isinstance(data, LabelledImages):
            raise ValueError(f"data must be LabelledImages (e.g. a datamodule's train_dataset), got "
                             f"{type(data).__name__}")
        if neighbours is not None and (isinstance(neighbours, bool) or not isinstance(neighbours, int)
                                       or neighbours < 1):
            raise ValueError(f"neighbours must be an integer >= 1 (SMOTE's k) or None (any image "
                             f"of the class), got {neighbours!r}")
        self.num_classes = data.num_classes
        self.neighbours = neighbours
        self.device = torch.device("cpu")
        self._images: list[Tensor] = []  # per class: float (N_c, C, H, W) in [-1, 1]
        self._partners: list[Tensor] = []  # per class: (N_c, k_c) partner indices of each image
        for label in range(data.num_classes):
            members = torch.nonzero(data.labels == label).flatten()
            images = from_uint8(data.images[members])
            self._images.append(images)
            self._partners.append(_nearest_others(images, neighbours))

    def sample(
        self,
        n: int,  # images to make
        labels: Tensor,  # (n,) the class of each
        generator: torch.Generator | None = None,  # the random draws; None = the global RNG
        *,
        batch_size: int = 256,  # accepted for the sampler interface; the draw is done at once
        truncation: float | None = None,  # latent controls: interpolation has no latent
        temperature: float = 1.0,
    ) -> Tensor:
        """``n`` interpolated images (float32 (n, C, H, W) in [-1, 1]) of the classes ``labels``.

        The draws are three uniform numbers per image, taken in one go from ``generator``, so a
        seeded generator gives the same images.
        """
        if truncation is not None or temperature != 1.0:
            raise ValueError("an InterpolationSource has no latent: leave truncation None and "
                             "temperature 1 in its diversity control")
        labels = torch.as_tensor(labels).long().cpu().reshape(-1)
        if len(labels) != n:
            raise ValueError(f"need one label per image ({n}), got {len(labels)}")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes}), got "
                             f"{int(labels.min())} to {int(labels.max())}")
        empty = sorted({int(c) for c in labels if len(self._images[int(c)]) == 0})
        if empty:
            raise ValueError(f"class(es) {empty} have no real image to interpolate; ask only for "
                             f"classes the data holds")
        draws = torch.rand(3, n, generator=generator, device="cpu", dtype=torch.float64)
        out = torch.empty(n, *self._image_shape(), dtype=torch.float32)
        for label in labels.unique().tolist():
            at = torch.nonzero(labels == label).flatten()
            images, partners = self._images[label], self._partners[label]
            base = (draws[0, at] * len(images)).long().clamp(max=len(images) - 1)
            pick = (draws[1, at] * partners.shape[1]).long().clamp(max=partners.shape[1] - 1)
            partner = partners[base, pick]
            lam = draws[2, at].float().view(-1, 1, 1, 1)
            out[at] = images[base] + lam * (images[partner] - images[base])
        return out

    def _image_shape(self) -> tuple[int, ...]:
        return next(tuple(images.shape[1:]) for images in self._images if len(images))


def _nearest_others(images: Tensor, k: int | None) -> Tensor:
    """(N, k') indices of each image's partners: its ``k`` nearest other images (all others when
    ``k`` is None or >= N - 1), or itself when it is alone; ``k' = min(k, N - 1)``."""
    count = len(images)
    if count <= 1:
        return torch.zeros(count, 1, dtype=torch.long)
    flat = images.flatten(1).double()
    distances = torch.cdist(flat, flat)
    distances.fill_diagonal_(float("inf"))  # never its own partner
    keep = count - 1 if k is None else min(k, count - 1)
    # stable sort: ties go to the lower index, the same on every machine
    return distances.sort(dim=1, stable=True).indices[:, :keep]
