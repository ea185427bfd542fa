"""Inception Score from classifier logits.

Salimans et al. 2016, "Improved Techniques for Training GANs", https://arxiv.org/abs/1606.03498:
``IS = exp(E_x KL(p(y|x) || p(y)))``, computed on ``splits`` equal chunks and reported as the
mean and standard deviation over chunks. As in torch-fidelity (``metric_isc.py``) the samples are
first shuffled with ``numpy.random.RandomState(seed).permutation`` and chunk ``i`` holds
samples ``i N // splits`` to ``(i + 1) N // splits``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["inception_score"]


def inception_score(logits: Tensor, *, splits: int = 10,
                    seed: int | None = 2020) -> tuple[Tensor, Tensor]:
    """IS mean and standard deviation over ``splits`` chunks of ``logits`` (N, K); float64.

    ``seed=None`` keeps the given order.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, K), got shape {tuple(logits.shape)}")
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"need at least one sample per split: {n} samples, {splits} splits")
    if seed is not None:
        order = torch.from_numpy(np.random.RandomState(seed).permutation(n)).to(logits.device)
        logits = logits[order]
    log_p = logits.double().log_softmax(dim=1)
    scores = []
    for i in range(splits):
        chunk = log_p[i * n // splits:(i + 1) * n // splits]
        log_marginal = chunk.exp().mean(dim=0).log()
        kl = (chunk.exp() * (chunk - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    scores = torch.stack(scores)
    return scores.mean(), scores.std(unbiased=False)
