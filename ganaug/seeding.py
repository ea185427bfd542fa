"""Per-step random seeds that are a pure function of (seed, rank, step).

Training code seeds a fresh ``torch.Generator`` from ``step_seed(seed, rank, step)`` at every step:
each process draws different numbers (``seed_everything`` alone gives every rank the same
noise), and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

__all__ = ["step_seed"]


def step_seed(seed: int, rank: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed mixed from ``(seed, rank, step)`` by numpy's SeedSequence; a non-zero
    ``stream`` gives an independent sequence for another consumer of the same seed."""
    entropy = [seed, rank, step] + ([stream] if stream else [])
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])
