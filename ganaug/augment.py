"""Differentiable augmentation for discriminator inputs.

Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training",
https://arxiv.org/abs/2006.10738. The discriminator sees real and generated images through the
same random, differentiable transforms, so it cannot memorise a small training set and the
generator still gets gradients through the augmentation.

A policy is a comma-separated list of op groups, applied in the order given:

- ``color``: ``brightness``, ``saturation`` and ``contrast`` in that order (each also a name);
- ``translation``: an integer shift of up to ``translation_ratio`` of each side, zero filled;
- ``cutout``: a square of ``cutout_ratio`` of each side set to zero.

The ops and their ranges are those of the published code; zero is mid grey for images in
[-1, 1]. The implementation differs: every run of colour ops composes into one per-sample
affine map ``a * x + b * mean_c(x) + c * mean_chw(x) + d``, translation and cutout compose into
one shift (a copy of each sample's flattened pixels from an offset) and a 0/1 mask, and a custom
autograd function applies the exact adjoint in the backward pass: the shift the other way, the
mask moved with it, and the same affine map without its constant (its linear part is
self-adjoint). A forward plus backward is then a handful of passes over memory instead of a
dozen, and the backward saves no activations.

Parameters are drawn per sample by ``sample_parameters`` and applied by ``apply``; ``forward``
is the two in a row. Drawing once and applying twice augments both images of a pair alike.

``probability`` p applies each op to each sample with probability p, independently (as the
adaptive augmentation of Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", https://arxiv.org/abs/2006.06676, gates every op of its pipeline): an op left
out gets its neutral parameters (no brightness shift, unit saturation and contrast gains, no
shift, a cut square outside the image). p = 1, the default, draws nothing more and augments bit
for bit as without it; :mod:`ganaug.augment_schedule` changes p during training.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["AugmentParameters", "DiffAugment", "POLICY_GROUPS"]

# Policy names and the ops each stands for, in application order.
POLICY_GROUPS: dict[str, tuple[str, ...]] = {
    "color": ("brightness", "saturation", "contrast"),
    "brightness": ("brightness",),
    "saturation": ("saturation",),
    "contrast": ("contrast",),
    "translation": ("translation",),
    "cutout": ("cutout",),
}
_COLOUR_OPS = frozenset({"brightness", "saturation", "contrast"})


@dataclasses.dataclass(frozen=True)
class AugmentParameters:
    """The random draws of one augmentation, one entry per sample; None for ops not in the policy.

    Pass the same object to ``DiffAugment.apply`` twice to augment two batches identically.
    """

    brightness: Tensor | None = None  # (N,) added to every value, U(-0.5, 0.5)
    saturation: Tensor | None = None  # (N,) gain on the distance to the channel mean, U(0, 2)
    contrast: Tensor | None = None  # (N,) gain on the distance to the image mean, U(0.5, 1.5)
    translation_x: Tensor | None = None  # (N,) int64: output column w shows input column w + t
    translation_y: Tensor | None = None  # (N,) int64: output row h shows input row h + t
    cutout_x: Tensor | None = None  # (N,) int64 centre column of the zeroed square
    cutout_y: Tensor | None = None  # (N,) int64 centre row of the zeroed square

    def to(self, device: torch.device | str) -> AugmentParameters:
        """The same parameters on another device."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if all(v is None or v.device == torch.device(device) for v in values.values()):
            return self
        return AugmentParameters(**{k: None if v is None else v.to(device)
                                    for k, v in values.items()})


class DiffAugment(nn.Module):
    """DiffAugment (Zhao et al. 2020): random differentiable colour, translation and cutout.

    Apply it to every image the discriminator sees, real and fake, in both the D and the G step.
    """

    def __init__(
        self,
        policy: str = "color,translation,cutout",  # comma-separated names from POLICY_GROUPS
        *,
        translation_ratio: float = 0.125,  # largest shift as a fraction of each side, in [0, 1)
        cutout_ratio: float = 0.5,  # side of the zeroed square as a fraction, in (0, 1]
        probability: float = 1.0,  # chance that each op is applied to each sample, in [0, 1]
    ) -> None:
        super().__init__()
        self.ops = _parse_policy(policy)
        self.policy = ",".join(name.strip() for name in policy.split(",") if name.strip())
        self.translation_ratio = _check_ratio("translation_ratio", translation_ratio, 0.0, 1.0,
                                              closed_low=True)
        self.cutout_ratio = _check_ratio("cutout_ratio", cutout_ratio, 0.0, 1.0, closed_low=False)
        self.probability = probability

    @property
    def probability(self) -> float:
        """The chance that each op is applied to each sample; settable (an augment schedule
        sets it during training)."""
        return self._probability

    @probability.setter
    def probability(self, value: float) -> None:
        valid = (isinstance(value, (int, float)) and not isinstance(value, bool)
                 and math.isfinite(value) and 0.0 <= value <= 1.0)
        if not valid:
            raise ValueError(f"probability must be a number in [0, 1], got {value!r}")
        self._probability = float(value)

    def extra_repr(self) -> str:
        extra = f", probability={self.probability}" if self.probability != 1.0 else ""
        return (f"policy={self.policy!r}, translation_ratio={self.translation_ratio}, "
                f"cutout_ratio={self.cutout_ratio}{extra}")

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment ``images`` (N, C, H, W) with parameters drawn per sample from ``generator``."""
        return self.apply(images, self.sample_parameters(images, generator))

    def sample_parameters(
        self,
        images_or_shape: Tensor | Sequence[int],  # a batch, or its shape (N, C, H, W)
        generator: torch.Generator | None = None,  # None = the global RNG of the images' device
    ) -> AugmentParameters:
        """Draw one set of parameters per sample, on the images' device (a shape: the generator's).

        All uniforms come from one ``torch.rand`` call on the generator's device, so a seeded
        generator reproduces the parameters whatever device the images are on. With
        ``probability < 1`` a second call then draws one uniform per sample and op, and the
        samples whose uniform is not below ``probability`` get that op's neutral parameters.
        """
        if isinstance(images_or_shape, Tensor):
            _check_images(images_or_shape)
            shape, device = tuple(images_or_shape.shape), images_or_shape.device
        else:
            shape = tuple(int(s) for s in images_or_shape)
            if len(shape) != 4:
                raise ValueError(f"expected a shape (N, C, H, W), got {shape}")
            device = generator.device if generator is not None else torch.device("cpu")
        n, _, height, width = shape

        # Draw uniforms on the generator's device, then move them in one transfer.
        fields = self._ranges(height, width)
        if not fields:
            return AugmentParameters()
        draw_device = generator.device if generator is not None else device
        u = torch.rand(n, len(fields), dtype=torch.float64, device=draw_device, generator=generator)
        u = u.to(device)

        # Scale every column to its range; integer fields take the floor.
        low, span, high = torch.tensor([f[1:4] for f in fields], dtype=torch.float64,
                                       device=device).unbind(1)
        values = torch.addcmul(low, u, span)
        reals, ints = values.float().unbind(1), torch.minimum(values.floor(), high).long().unbind(1)
        drawn = {name: (ints if integer else reals)[i]
                 for i, (name, *_, integer) in enumerate(fields)}
        if self.probability < 1.0:
            drawn = self._gate(drawn, n, height, width, draw_device, device, generator)
        return AugmentParameters(**drawn)

    def _gate(self, drawn: dict[str, Tensor], n: int, height: int, width: int,
              draw_device: torch.device, device: torch.device,
              generator: torch.Generator | None) -> dict[str, Tensor]:
        """Replace each op's parameters by its neutral ones where a uniform is >= probability."""
        u = torch.rand(n, len(self.ops), dtype=torch.float64, device=draw_device,
                       generator=generator).to(device)
        skipped = (u >= self.probability).unbind(1)
        # Neutral values: a cut square centred one side away lies wholly outside the image.
        neutral = {"brightness": 0.0, "saturation": 1.0, "contrast": 1.0, "translation_x": 0,
                   "translation_y": 0, "cutout_x": -width, "cutout_y": -height}
        fields = {"translation": ("translation_x", "translation_y"),
                  "cutout": ("cutout_x", "cutout_y")}
        gated = dict(drawn)
        for op, skip in zip(self.ops, skipped):
            for name in fields.get(op, (op,)):
                gated[name] = torch.where(skip, torch.full_like(drawn[name], neutral[name]),
                                          drawn[name])
        return gated

    def _ranges(self, height: int, width: int) -> list[tuple[str, float, float, float, bool]]:
        """Each drawn field with its range as (name, low, span, highest integer, integer)."""
        sx, sy = _round(self.translation_ratio * width), _round(self.translation_ratio * height)
        cw, ch = _round(self.cutout_ratio * width), _round(self.cutout_ratio * height)
        ranges = {
            "brightness": [("brightness", -0.5, 1.0)],
            "saturation": [("saturation", 0.0, 2.0)],
            "contrast": [("contrast", 0.5, 1.0)],
            "translation": [("translation_x", -sx, 2 * sx + 1), ("translation_y", -sy, 2 * sy + 1)],
            # Centres 0..side for an even square, 0..side-1 for an odd one: placements are
            # then symmetric about the image centre.
            "cutout": [("cutout_x", 0, width + 1 - cw % 2), ("cutout_y", 0, height + 1 - ch % 2)],
        }
        return [(name, low, span, low + span - 1, op not in _COLOUR_OPS)
                for op in self.ops for name, low, span in ranges[op]]

    def apply(self, images: Tensor, params: AugmentParameters | None = None) -> Tensor:
        """Augment ``images`` (N, C, H, W) with given parameters; differentiable w.r.t. images.

        The name shadows ``nn.Module.apply(fn)``; given a function instead of images, this is
        that method, so that ``model.apply(init_fn)`` still walks through the module.
        """
        if callable(images):
            return super().apply(images)
        if params is None:
            raise ValueError("apply(images, params) needs params from sample_parameters()")
        _check_images(images)
        _check_parameters(params, self.ops, images.shape[0])
        params = params.to(images.device)
        for stage in _plan(self.ops, params, images, self.cutout_ratio):
            images = _Stage.apply(images, stage)
        return images


# policy and input checks


def _parse_policy(policy: str) -> tuple[str, ...]:
    if not isinstance(policy, str):
        raise ValueError(f"policy must be a comma-separated string, got {type(policy).__name__}")
    ops: list[str] = []
    for name in (n.strip() for n in policy.split(",")):
        if not name:
            continue
        if name not in POLICY_GROUPS:
            raise ValueError(f"unknown DiffAugment policy name {name!r}; "
                             f"valid names are {', '.join(POLICY_GROUPS)}")
        for op in POLICY_GROUPS[name]:
            if op in ops:
                raise ValueError(f"DiffAugment policy {policy!r} applies {op!r} twice")
            ops.append(op)
    return tuple(ops)


def _check_ratio(name: str, value: float, low: float, high: float, *, closed_low: bool) -> float:
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if valid:
        valid = (low <= value < high) if closed_low else (low < value <= high)
    if not valid:
        interval = f"[{low}, {high})" if closed_low else f"({low}, {high}]"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def _check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        got = (f"shape {tuple(images.shape)}" if isinstance(images, Tensor)
               else type(images).__name__)
        raise ValueError(f"DiffAugment expects images of shape (N, C, H, W), got {got}")
    if not images.is_floating_point():
        raise ValueError(f"DiffAugment expects floating-point images, got dtype {images.dtype}")


def _check_parameters(params: AugmentParameters, ops: tuple[str, ...], n: int) -> None:
    fields = {"translation": ("translation_x", "translation_y"), "cutout": ("cutout_x", "cutout_y")}
    for op in ops:
        for name in fields.get(op, (op,)):
            value = getattr(params, name)
            if value is None:
                raise ValueError(f"the policy applies {op!r} but params.{name} is None")
            if tuple(value.shape) != (n,):
                raise ValueError(f"params.{name} must have shape ({n},), got {tuple(value.shape)}")
            if op not in _COLOUR_OPS and value.is_floating_point():
                raise ValueError(f"params.{name} must hold integer pixels, got {value.dtype}")


def _round(value: float) -> int:
    """Round half up, as the published code does with ``int(v + 0.5)``."""
    return int(value + 0.5)


# the composed transforms


@dataclasses.dataclass(frozen=True)
class _Colour:
    """The map ``alpha*x + beta*mean_c(x) + gamma*mean_chw(x) + delta``, coefficients (N, 1, 1).

    Its linear part is self-adjoint, since both means are orthogonal projections.
    """

    alpha: Tensor
    beta: Tensor
    gamma: Tensor
    delta: Tensor

    @staticmethod
    def compose(ops: Sequence[str], params: AugmentParameters, dtype: torch.dtype) -> _Colour:
        device = getattr(params, ops[0]).device
        zero = torch.zeros((), device=device, dtype=dtype)
        alpha, beta, gamma, delta = zero + 1, zero, zero, zero
        for op in ops:
            factor = getattr(params, op).to(dtype).view(-1, 1, 1)
            # y -> f * (y - mean(y)) + mean(y), with the mean of the map y so far being
            # mean_c(y) = (alpha + beta) mean_c(x) + gamma mean_chw(x) + delta for saturation
            # and mean_chw(y) = (alpha + beta + gamma) mean_chw(x) + delta for contrast.
            if op == "brightness":
                delta = delta + factor
            elif op == "saturation":
                alpha, beta = factor * alpha, alpha + beta - factor * alpha
            else:
                gamma = gamma + (1 - factor) * (alpha + beta)
                alpha, beta = factor * alpha, factor * beta
        return _Colour(alpha, beta, gamma, delta)

    def linear(self) -> _Colour:
        return dataclasses.replace(self, delta=self.delta.new_zeros(()))


@dataclasses.dataclass(frozen=True)
class _Geometry:
    """Output pixel q shows input pixel q + shift, times a 0/1 mask, per sample.

    The mask zeroes pixels whose source lies outside the image and pixels inside the cut
    rectangle, tested at q (cutout after the shift) or at the source q + shift (cutout before).
    """

    height: int
    width: int
    shift: tuple[Tensor, Tensor] | None  # (dy, dx), (N,) int64 each; None = no shift
    cut: tuple[Tensor, Tensor, Tensor, Tensor] | None  # (top, bottom, left, right), half-open
    cut_at_source: bool = False

    def adjoint(self) -> _Geometry:
        shift = None if self.shift is None else (-self.shift[0], -self.shift[1])
        return dataclasses.replace(self, shift=shift, cut_at_source=not self.cut_at_source)

    def mask(self, dtype: torch.dtype) -> Tensor:
        """The 0/1 mask, (N, 1, H*W); a difference of two outer products of per-axis factors."""
        h, w = self.height, self.width
        dy, dx = self.shift if self.shift is not None else (self.cut[0] * 0,) * 2
        rows, cols = torch.arange(h, device=dy.device), torch.arange(w, device=dy.device)
        src_rows, src_cols = rows + dy[:, None], cols + dx[:, None]  # (N, H), (N, W)
        keep_rows = ((src_rows >= 0) & (src_rows < h)).to(dtype)
        keep_cols = ((src_cols >= 0) & (src_cols < w)).to(dtype)
        mask = keep_rows[:, :, None] * keep_cols[:, None, :]
        if self.cut is not None:
            r, c = (src_rows, src_cols) if self.cut_at_source else (rows, cols)
            top, bottom, left, right = (t[:, None] for t in self.cut)
            cut_rows = keep_rows * ((r >= top) & (r < bottom))
            cut_cols = keep_cols * ((c >= left) & (c < right))
            mask = mask - cut_rows[:, :, None] * cut_cols[:, None, :]
        return mask.view(-1, 1, h * w)

    @functools.cached_property
    def _padded_offset(self) -> Tensor:
        # Beyond one image every pixel is masked: clamp so that one image of padding suffices.
        dy = self.shift[0].clamp(-self.height, self.height)
        dx = self.shift[1].clamp(-self.width, self.width)
        return dy * self.width + dx + self._reach

    @property
    def _reach(self) -> int:
        return self.height * self.width + self.width

    def move(self, x: Tensor) -> Tensor:
        """Shift ``x`` (N, K, H*W) without masking: pixels whose source is outside hold garbage.

        Each sample is one contiguous window of the zero-padded, flattened batch, so the shift
        is a copy of N rows (``index_select`` of overlapping windows), not a gather of values.
        """
        n, length = x.shape[0], math.prod(x.shape[1:])
        if self.shift is None or n == 0:
            return x
        zeros = x.new_zeros(self._reach)
        padded = torch.cat([zeros, x.reshape(-1), zeros])
        windows = padded.as_strided((padded.numel() - length + 1, length), (1, 1))
        starts = torch.arange(0, n * length, length, device=x.device) + self._padded_offset
        return windows.index_select(0, starts).view(x.shape)


@dataclasses.dataclass(frozen=True)
class _StagePlan:
    """``post(colour(pre(x)))``, any part None = identity; its adjoint is another such plan."""

    pre: _Geometry | None
    colour: _Colour | None
    post: _Geometry | None

    def adjoint(self) -> _StagePlan:
        return _StagePlan(
            pre=None if self.post is None else self.post.adjoint(),
            colour=None if self.colour is None else self.colour.linear(),
            post=None if self.pre is None else self.pre.adjoint(),
        )

    def run(self, images: Tensor) -> Tensor:
        n, c, h, w = images.shape
        x = images.reshape(n, c, h * w)
        pre, post = self.pre, self.post

        # A lone geometry, or the first of two around a colour map: shift and mask on their own.
        if self.colour is None or (pre is not None and post is not None):
            geometry, pre = pre or post, None
            x = geometry.move(x) * geometry.mask(x.dtype)
            if self.colour is None:
                return x.view(n, c, h, w)

        # Channel sums in float32 at least; the channel mean is one of the colour map's terms.
        stat_dtype = torch.promote_types(x.dtype, torch.float32)
        k = self.colour
        sum_c = x.sum(1, keepdim=True, dtype=stat_dtype)  # (N, 1, HW)
        if pre is None and post is None:
            shared = k.beta / c * sum_c + (k.gamma / c * sum_c.mean(2, keepdim=True) + k.delta)
            return torch.addcmul(shared.to(x.dtype), k.alpha.to(x.dtype), x).view(n, c, h, w)

        # With one geometry: shift, then fold its mask into the gain and the per-pixel term.
        geometry = pre or post
        mask = geometry.mask(stat_dtype)
        moved = geometry.move(x)
        if pre is not None:  # the colour sees the masked, shifted image
            sum_c = geometry.move(sum_c) * mask
            shared = k.beta / c * sum_c + (k.gamma / c * sum_c.mean(2, keepdim=True) + k.delta)
        else:  # the colour's output is shifted and masked
            shared = k.gamma / c * sum_c.mean(2, keepdim=True) + k.delta
            shared = (k.beta / c * geometry.move(sum_c) + shared) * mask
        gain = k.alpha * mask
        out = moved if moved is not x else None  # a fresh tensor can take the result
        out = torch.addcmul(shared.to(x.dtype), gain.to(x.dtype), moved, out=out)
        return out.view(n, c, h, w)


class _Stage(torch.autograd.Function):
    """Applies a ``_StagePlan``; the backward is the adjoint plan, so it differentiates again."""

    @staticmethod
    def forward(ctx, images: Tensor, plan: _StagePlan) -> Tensor:
        ctx.plan = plan
        return plan.run(images)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return _Stage.apply(grad, ctx.plan.adjoint()), None


def _plan(ops: tuple[str, ...], params: AugmentParameters, images: Tensor,
          cutout_ratio: float) -> list[_StagePlan]:
    """Compose each run of colour ops and of geometric ops, and pack the runs into stages."""
    _, _, height, width = images.shape
    dtype = torch.promote_types(images.dtype, torch.float32)
    runs: list[list[str]] = []
    for op in ops:
        if runs and (op in _COLOUR_OPS) == (runs[-1][0] in _COLOUR_OPS):
            runs[-1].append(op)
        else:
            runs.append([op])
    parts = [_Colour.compose(run, params, dtype) if run[0] in _COLOUR_OPS
             else _geometry(run, params, height, width, cutout_ratio) for run in runs]

    # Pack as [geometry] colour [geometry]: one pass over memory each.
    stages: list[_StagePlan] = []
    while parts:
        pre = parts.pop(0) if isinstance(parts[0], _Geometry) else None
        colour = parts.pop(0) if parts and isinstance(parts[0], _Colour) else None
        post = None
        if parts and colour is not None and isinstance(parts[0], _Geometry):
            post = parts.pop(0)
        stages.append(_StagePlan(pre, colour, post))
    return stages


def _geometry(run: list[str], params: AugmentParameters, height: int, width: int,
              cutout_ratio: float) -> _Geometry:
    shift = (params.translation_y, params.translation_x) if "translation" in run else None
    cut = None
    if "cutout" in run:
        size_h, size_w = _round(cutout_ratio * height), _round(cutout_ratio * width)
        top, left = params.cutout_y - size_h // 2, params.cutout_x - size_w // 2
        cut = (top, top + size_h, left, left + size_w)
    return _Geometry(height, width, shift, cut, cut_at_source=run[0] == "cutout")
