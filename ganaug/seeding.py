"""Random seeds and generators that are pure functions of a seed and counters.

Training code seeds a fresh ``torch.Generator`` from ``step_seed(seed, rank, step)`` at every step:
each process draws different numbers (``seed_everything`` alone gives every rank the same
noise), and a resumed run draws exactly what an uninterrupted one would. Data orders come from
``epoch_rng(seed, epoch)``, so an epoch's order is the same wherever and whenever it is drawn, and
``rank_seed(seed, rank)`` gives each process its own share of a fixed evaluation draw. All mix
their inputs through numpy's ``SeedSequence``; nothing else in ganaug mixes seeds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["epoch_rng", "rank_seed", "step_seed"]


def step_seed(seed: int, rank: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed mixed from ``(seed, rank, step)`` by numpy's SeedSequence; a non-zero
    ``stream`` gives an independent sequence for another consumer of the same seed."""
    entropy = [seed, rank, step] + ([stream] if stream else [])
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def epoch_rng(seed: int, epoch: int, stream: int = 0) -> np.random.Generator:
    """numpy's generator of ``(seed, epoch)``, for the order of an epoch's items; a non-zero
    ``stream`` gives an independent one for another order of the same epoch."""
    return np.random.default_rng([seed, epoch] + ([stream] if stream else []))


def rank_seed(seed: int, rank: int) -> int:
    """A 32-bit seed of process ``rank``'s share of a draw that is fixed by ``seed``."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])
