"""``latent_noise``: the generator's input noise, optionally truncated and scaled."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["latent_noise"]


def latent_noise(
    n: int,
    dim: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    truncation: float | None = None,  # redraw entries with |z| > truncation; None = plain normal
    temperature: float = 1.0,  # scale of the returned noise
) -> Tensor:
    """Standard normal noise (n, dim), optionally truncated and scaled.

    Truncation redraws every entry outside ``[-truncation, truncation]`` until none is left,
    which samples the normal distribution conditioned on ``|z| <= truncation`` exactly.
    """
    if truncation is not None and not truncation > 0:
        raise ValueError(f"truncation must be > 0 or None, got {truncation}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    z = torch.randn(n, dim, generator=generator, device=device)
    if truncation is not None:
        outside = z.abs() > truncation
        while bool(outside.any()):
            redrawn = torch.randn(int(outside.sum()), generator=generator, device=z.device)
            z[outside] = redrawn
            outside = z.abs() > truncation
    return z * temperature if temperature != 1.0 else z
