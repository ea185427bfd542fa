"""ganaug's metric maths against torch-fidelity itself, on shared features.

torch-fidelity (a dependency) computes FID, KID, IS and precision / recall from features with
the functions called here; its convention is that its first input is the generated set and the
second the real one. docs/metrics.md promises that the same features give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from ganaug.metrics.frechet import frechet_distance, gaussian_from_sums
from ganaug.metrics.inception_score import inception_score
from ganaug.metrics.kernel import kernel_distance
from ganaug.metrics.precision_recall import precision_recall
from ganaug.metrics.scores import KernelDistance


def features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Correlated Gaussian features (float64), so that covariances are not diagonal."""
    g = np.random.default_rng(seed)
    mixing = g.normal(size=(d, d)) / np.sqrt(d)
    return torch.from_numpy(g.normal(size=(n, d)) @ mixing + shift)


REAL = features(300, 16, 0)
FAKE = features(260, 16, 1, shift=0.15)


def test_fid_agrees_with_torch_fidelity():
    theirs = fid_statistics_to_metric(fid_features_to_statistics(FAKE),
                                      fid_features_to_statistics(REAL), verbose=False)
    ours = frechet_distance(*gaussian_from_sums(REAL.sum(0), REAL.T @ REAL, len(REAL)),
                            *gaussian_from_sums(FAKE.sum(0), FAKE.T @ FAKE, len(FAKE)))
    assert float(ours) == pytest.approx(theirs["frechet_inception_distance"], rel=1e-7)


@pytest.mark.parametrize("subset_size", [50, 200])
def test_kid_agrees_with_torch_fidelity_draw_for_draw(subset_size):
    kwargs = dict(kid_subsets=30, kid_subset_size=subset_size, kid_degree=3, kid_gamma=None,
                  kid_coef0=1, kid_kernel="poly", rng_seed=2020, verbose=False)
    theirs = kid_features_to_metric(FAKE, REAL, **kwargs)
    mean, std = kernel_distance(REAL, FAKE, subsets=30, subset_size=subset_size, seed=2020)
    assert float(mean) == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert float(std) == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-5)
    # the metric (float32 feature storage, in batches) gives the same number
    metric = KernelDistance(subsets=30, subset_size=subset_size, seed=2020)
    for chunk in REAL.split(128):
        metric.update(chunk, real=True)
    metric.update(FAKE, real=False)
    assert float(metric.compute()[0]) == pytest.approx(theirs["kernel_inception_distance_mean"],
                                                       rel=1e-5)


def test_kid_draw_order_matters():
    """The other order pairs other subsets: the agreement above is not an accident of the data."""
    theirs = kid_features_to_metric(FAKE, REAL, kid_subsets=30, kid_subset_size=50,
                                    kid_degree=3, kid_gamma=None, kid_coef0=1, kid_kernel="poly",
                                    rng_seed=2020, verbose=False)
    swapped, _ = kernel_distance(FAKE, REAL, subsets=30, subset_size=50, seed=2020)
    assert float(swapped) != pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)


def test_precision_recall_agree_with_torch_fidelity():
    theirs = prc_features_to_metric(FAKE.float(), REAL.float(), prc_neighborhood=3,
                                    prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    precision, recall = precision_recall(REAL, FAKE, k=3)
    assert float(precision) == pytest.approx(theirs["precision"], abs=1e-7)
    assert float(recall) == pytest.approx(theirs["recall"], abs=1e-7)


def test_inception_score_agrees_with_torch_fidelity():
    logits = features(200, 10, 2) * 3
    theirs = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits, splits=10, seed=2020)
    assert float(mean) == pytest.approx(theirs["inception_score_mean"], rel=1e-7)
    assert float(std) == pytest.approx(theirs["inception_score_std"], rel=1e-6)
