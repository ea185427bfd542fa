"""Time ClassicAugment's batched transforms against the per-image torchvision v2 way.

The reference below is the implementation ClassicAugment had before it was batched: flips by
``torch.where`` over the batch, and crops, rotations and affine maps one image at a time with
``torchvision.transforms.v2.functional`` (``pad`` + ``crop``, ``affine`` with nearest-neighbour
interpolation and ``fill=-1``). Both sides draw their parameters with the same
``ClassicAugment.sample_parameters`` on every call, so the times include sampling. Before timing,
both sides run on the same parameters: flips and crops must agree exactly, and the script prints
the share of pixels on which rotations and affine maps agree (nearest-neighbour on both sides;
they differ only where float rounding puts a sample position on the other side of a tie).

Run with ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/classic_augment.py``; record results in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils import benchmark
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ganaug.classify import CLASSIC_POLICIES, ClassicAugment, ClassicParameters

SHAPES = [(64, 1, 28, 28), (64, 3, 32, 32)]
POLICIES = [policy for policy in CLASSIC_POLICIES if policy != "none"]


# the per-image way, as ClassicAugment.apply computed it before


def per_image_way(augment: ClassicAugment, images: Tensor, params: ClassicParameters) -> Tensor:
    """Flip over the batch, then crop and warp image by image with torchvision v2."""
    out = images
    if params.flip is not None:
        out = torch.where(params.flip[:, None, None, None], TF.horizontal_flip(out), out)
    if params.crop_top is not None and params.crop_left is not None:
        height, width = out.shape[-2:]
        padded = TF.pad(out, [augment.pad] * 4, fill=augment.fill)
        out = torch.stack([TF.crop(image, top, left, height, width) for image, top, left
                           in zip(padded, params.crop_top.tolist(), params.crop_left.tolist())])
    if params.angle is not None:
        angles = params.angle.tolist()
        shifts = params.shift.tolist() if params.shift is not None else [[0, 0]] * len(out)
        scales = params.scale.tolist() if params.scale is not None else [1.0] * len(out)
        out = torch.stack([
            TF.affine(image, angle=angle, translate=shift, scale=zoom, shear=[0.0, 0.0],
                      interpolation=InterpolationMode.NEAREST, fill=augment.fill)
            for image, angle, shift, zoom in zip(out, angles, shifts, scales)
        ])
    return out


# timing


def agreement(policy: str, shape: tuple[int, ...]) -> float:
    """Share of output values on which both ways agree exactly, on shared parameters."""
    augment = ClassicAugment(policy)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    params = augment.sample_parameters(shape[0], *shape[-2:], torch.Generator().manual_seed(1))
    same = augment.apply(x, params) == per_image_way(augment, x, params)
    return same.double().mean().item()


def contenders(policy: str, shape: tuple[int, ...]) -> dict[str, Callable[[], object]]:
    """Both ways at one policy and batch shape, float32, each drawing fresh parameters."""
    augment = ClassicAugment(policy)
    x = torch.rand(shape) * 2 - 1
    g_old, g_new = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    n, _, height, width = shape

    def old():
        return per_image_way(augment, x, augment.sample_parameters(n, height, width, g_old))

    def new():
        return augment.apply(x, augment.sample_parameters(n, height, width, g_new))

    return {"per-image": old, "batched": new}


def measure(policy: str, shape: tuple[int, ...], rounds: int, min_run_time: float
            ) -> dict[str, float]:
    """Microseconds per call: the smallest, over interleaved rounds, of each round's median.

    The cores are shared with other work, which only ever adds time; interleaving the two ways
    exposes them to the same disturbances, and the best round's median discards them.
    """
    calls = contenders(policy, shape)
    for call in calls.values():  # warm up the allocator and caches
        benchmark.Timer("call()", globals={"call": call}).blocked_autorange(min_run_time=0.1)
    best = {name: math.inf for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            timer = benchmark.Timer("call()", globals={"call": call})
            median = timer.blocked_autorange(min_run_time=min_run_time).median
            best[name] = min(best[name], median * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case")
    parser.add_argument("--min-run-time", type=float, default=0.2,
                        help="seconds of repeats behind each median")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # Flips and crops copy pixels on both sides: they must agree exactly before any time counts.
    shares = {(policy, shape): agreement(policy, shape) for policy in POLICIES for shape in SHAPES}
    for (policy, shape), share in shares.items():
        if policy in ("flip", "crop", "flip_crop") and share != 1.0:
            raise SystemExit(f"{policy} at {shape}: the two ways disagree on {1 - share:.2%}")

    cpu = platform.processor() or platform.machine()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) on {os.cpu_count()} "
          f"CPUs ({cpu}), load average {load} (1 / 5 / 15 min), float32, "
          f"best of {args.rounds} medians")
    print("| N x C x H x W | policy | per-image v2 | batched | speed-up | equal pixels |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in SHAPES:
        for policy in POLICIES:
            t = measure(policy, shape, args.rounds, args.min_run_time)
            print(f"| {'x'.join(map(str, shape))} | `{policy}` | {t['per-image']:.0f} us "
                  f"| {t['batched']:.0f} us | {t['per-image'] / t['batched']:.1f}x "
                  f"| {shares[policy, shape]:.4%} |", flush=True)


if __name__ == "__main__":
    main()
