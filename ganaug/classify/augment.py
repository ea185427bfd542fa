"""Classic data augmentation for classifier training, drawn independently for every sample.

The transforms are torchvision's (``torchvision.transforms.v2.functional``); what this module adds
is per-sample randomness on whole batches on any device, from an optional seeded
``torch.Generator`` (the ``v2.Random*`` classes draw one set of parameters per call from the
global RNG, so applied to a batch they would transform every image alike).

Policies (the ranges are those of the corresponding ``v2`` transforms):

| policy | what each sample gets |
| --- | --- |
| ``none`` | nothing (identity) |
| ``flip`` | a horizontal flip with probability 1/2 (``v2.RandomHorizontalFlip``) |
| ``crop`` | zero padding of ``pad`` px, then a random crop of the original size (``v2.RandomCrop(size, padding)``) |
| ``flip_crop`` | both: the standard CIFAR augmentation of He et al. 2016 and Huang et al. 2017 |
| ``rotate`` | a rotation by U(-degrees, degrees) (``v2.RandomRotation``) |
| ``affine`` | rotation U(-degrees, degrees), shift of round(U(-t, t) · side) px per axis, scale U(0.9, 1.1) (``v2.RandomAffine(degrees, translate=(t, t), scale)``): the MNIST baseline |

Padding and the corners uncovered by rotations and shifts take ``fill``, -1 by default, which is
black in the library's [-1, 1] convention (what ``v2`` fills with on [0, 1] images). Rotations and
affine maps use nearest-neighbour interpolation, the ``v2`` default; on the MNIST-5k baseline
(50 digits per class, small CNN, Adam 1e-3, 1,500 steps of 64, seed 0) it gave 96.3 % test
accuracy against 95.9 % with bilinear interpolation (92.96 % without augmentation).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ganaug.images import check_images

__all__ = ["CLASSIC_POLICIES", "ClassicAugment", "ClassicParameters"]

# policy: the operations it draws, in application order
CLASSIC_POLICIES: dict[str, tuple[str, ...]] = {
    "none": (),
    "flip": ("flip",),
    "crop": ("crop",),
    "flip_crop": ("flip", "crop"),
    "rotate": ("rotate",),
    "affine": ("affine",),
}
_INTERPOLATION = {"bilinear": InterpolationMode.BILINEAR, "nearest": InterpolationMode.NEAREST}


@dataclasses.dataclass(frozen=True)
class ClassicParameters:
    """One draw per sample; None for operations the policy does not use."""

    flip: Tensor | None = None  # (N,) bool: mirror left-right
    crop_top: Tensor | None = None  # (N,) int64 in [0, 2 * pad]: first row of the padded image kept
    crop_left: Tensor | None = None  # (N,) int64 in [0, 2 * pad]
    angle: Tensor | None = None  # (N,) degrees, clockwise (the convention of v2.functional.affine)
    shift: Tensor | None = None  # (N, 2) int64 pixels (x, y)
    scale: Tensor | None = None  # (N,) zoom factor


class ClassicAugment(nn.Module):
    """Per-sample classic augmentation of image batches (N, C, H, W) in [-1, 1]."""

    def __init__(
        self,
        policy: str = "flip_crop",  # a key of CLASSIC_POLICIES
        *,
        pad: int = 4,  # padding before a random crop, pixels per side
        degrees: float = 10.0,  # largest rotation of "rotate" and "affine", degrees
        translate: float = 0.1,  # largest shift of "affine" as a fraction of each side
        scale: tuple[float, float] = (0.9, 1.1),  # zoom range of "affine"
        fill: float = -1.0,  # value of uncovered pixels; -1 = black
        interpolation: str = "nearest",  # of rotations and affine maps: "nearest" or "bilinear"
    ) -> None:
        super().__init__()
        if policy not in CLASSIC_POLICIES:
            raise ValueError(f"unknown classic augmentation {policy!r}; choose one of "
                             f"{sorted(CLASSIC_POLICIES)}")
        if pad < 0 or degrees < 0 or not 0 <= translate < 1:
            raise ValueError(f"need pad >= 0, degrees >= 0 and 0 <= translate < 1, got pad={pad}, "
                             f"degrees={degrees}, translate={translate}")
        if interpolation not in _INTERPOLATION:
            raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATION)}, "
                             f"got {interpolation!r}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be a range (low, high) with 0 < low <= high, got {scale}")
        self.policy, self.ops = policy, CLASSIC_POLICIES[policy]
        self.pad, self.degrees, self.translate = int(pad), float(degrees), float(translate)
        self.scale, self.fill = (float(scale[0]), float(scale[1])), float(fill)
        self.interpolation = interpolation

    def extra_repr(self) -> str:
        return f"policy={self.policy!r}"

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augmented copies of ``images``; parameters drawn per sample from ``generator``."""
        if not self.ops:
            return images
        check_images(images, check_range=False)
        height, width = images.shape[-2:]
        return self.apply(images, self.sample_parameters(len(images), height, width, generator))

    def sample_parameters(
        self,
        n: int,  # batch size
        height: int,  # image height, pixels
        width: int,  # image width, pixels
        generator: torch.Generator | None = None,  # None = the global CPU RNG
    ) -> ClassicParameters:
        """Draw the parameters of ``n`` samples (on the generator's device)."""
        device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(n, 5, generator=generator, device=device, dtype=torch.float64)
        drawn: dict[str, Tensor] = {}
        if "flip" in self.ops:
            drawn["flip"] = u[:, 0] < 0.5
        if "crop" in self.ops:
            drawn["crop_top"] = (u[:, 1] * (2 * self.pad + 1)).floor().long()
            drawn["crop_left"] = (u[:, 2] * (2 * self.pad + 1)).floor().long()
        if "rotate" in self.ops or "affine" in self.ops:
            drawn["angle"] = ((2 * u[:, 0] - 1) * self.degrees).float()
        if "affine" in self.ops:
            limits = torch.tensor([self.translate * width, self.translate * height],
                                  dtype=torch.float64, device=device)
            drawn["shift"] = ((2 * u[:, 1:3] - 1) * limits).round().long()
            low, high = self.scale
            drawn["scale"] = (low + u[:, 3] * (high - low)).float()
        return ClassicParameters(**drawn)

    def apply(self, images: Tensor, params: ClassicParameters) -> Tensor:
        """Transform ``images`` with given per-sample parameters."""
        out = images
        if params.flip is not None:
            out = torch.where(params.flip.to(out.device)[:, None, None, None],
                              TF.horizontal_flip(out), out)
        if params.crop_top is not None and params.crop_left is not None:
            out = self._crop(out, params.crop_top.tolist(), params.crop_left.tolist())
        if params.angle is not None:
            angles = params.angle.tolist()
            shifts = params.shift.tolist() if params.shift is not None else [[0, 0]] * len(out)
            scales = params.scale.tolist() if params.scale is not None else [1.0] * len(out)
            out = torch.stack([
                TF.affine(image, angle=angle, translate=shift, scale=zoom, shear=[0.0, 0.0],
                          interpolation=_INTERPOLATION[self.interpolation], fill=self.fill)
                for image, angle, shift, zoom in zip(out, angles, shifts, scales)
            ])
        return out

    def _crop(self, images: Tensor, tops: list[int], lefts: list[int]) -> Tensor:
        height, width = images.shape[-2:]
        padded = TF.pad(images, [self.pad] * 4, fill=self.fill)
        return torch.stack([TF.crop(image, top, left, height, width)
                            for image, top, left in zip(padded, tops, lefts)])
