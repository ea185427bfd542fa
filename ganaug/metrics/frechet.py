"""Fréchet distance between Gaussians fitted to features: the maths behind FID.

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", https://arxiv.org/abs/1706.08500:

    FID = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

Everything here is float64. ``tr((S_1 S_2)^(1/2))`` is the sum of the square roots of the
eigenvalues of ``S_1 S_2``. With a Cholesky factor ``S_1 = L L^T`` the symmetric matrix
``L^T S_2 L`` has the same eigenvalues (similar matrices), so one Cholesky factorisation and
one symmetric eigenvalue solve (no eigenvectors) give the trace: no complex parts to discard and
no iteration, unlike ``scipy.linalg.sqrtm`` of the product, and several times faster. A singular
``S_1`` (fewer samples than dimensions) has no Cholesky factor; then ``S_1^(1/2)`` from a full
eigendecomposition takes the place of ``L``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["frechet_distance", "gaussian_from_sums"]


def gaussian_from_sums(total: Tensor, outer: Tensor, n: int | Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance from ``sum x`` (D,), ``sum x x^T`` (D, D) and the count ``n``.

    These sums are what a metric accumulates: they add up across batches and processes.
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {n}")
    total, outer = total.double(), outer.double()
    mean = total / n
    covariance = (outer - n * torch.outer(mean, mean)) / (n - 1)
    return mean, covariance


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mean_1: Tensor, cov_1: Tensor, mean_2: Tensor, cov_2: Tensor) -> Tensor:
    """Fréchet distance between N(mean_1, cov_1) and N(mean_2, cov_2), a float64 scalar tensor."""
    if mean_1.shape != mean_2.shape or cov_1.shape != cov_2.shape \
            or cov_1.shape != (mean_1.numel(), mean_1.numel()):
        raise ValueError(f"mismatched Gaussians: means {tuple(mean_1.shape)} and "
                         f"{tuple(mean_2.shape)}, covariances {tuple(cov_1.shape)} and "
                         f"{tuple(cov_2.shape)}; both must come from the same feature extractor")
    mean_1, cov_1, mean_2, cov_2 = (t.double() for t in (mean_1, cov_1, mean_2, cov_2))
    cov_1 = 0.5 * (cov_1 + cov_1.T)
    factor, info = torch.linalg.cholesky_ex(cov_1)
    if int(info) != 0:  # singular: the symmetric square root is a valid factor too
        factor = _psd_sqrt(cov_1)
    middle = factor.T @ cov_2 @ factor
    trace_sqrt = torch.linalg.eigvalsh(0.5 * (middle + middle.T)).clamp(min=0).sqrt().sum()
    difference = mean_1 - mean_2
    return difference.dot(difference) + cov_1.trace() + cov_2.trace() - 2 * trace_sqrt
