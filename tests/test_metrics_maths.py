"""FID, KID, IS and precision / recall maths against independent numpy / scipy references."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganaug.metrics.frechet import frechet_distance, gaussian_from_sums
from ganaug.metrics.inception_score import inception_score
from ganaug.metrics.kernel import kernel_distance
from ganaug.metrics.precision_recall import precision_recall
from ganaug.metrics.scores import (
    ClassFrechetDistance,
    FrechetDistance,
    InceptionScore,
    KernelDistance,
    PrecisionRecall,
)


def scipy_fid(x: np.ndarray, y: np.ndarray) -> float:
    """The TTUR / pytorch-fid formula: sqrtm of the product, real part."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def numpy_kid(x, y, subsets, size, seed):
    """Unbiased polynomial MMD^2 written with explicit masks, same subset draws as torch-fidelity:
    one RandomState, and per subset pair the generated set ``y`` (its first input) drawn first."""
    rng = np.random.RandomState(seed)
    d = x.shape[1]
    values = []
    for _ in range(subsets):
        b = y[rng.choice(len(y), size, replace=False)]
        a = x[rng.choice(len(x), size, replace=False)]
        kernel = lambda u, v: (u @ v.T / d + 1.0) ** 3
        off = ~np.eye(size, dtype=bool)
        values.append(kernel(a, a)[off].mean() + kernel(b, b)[off].mean() - 2 * kernel(a, b).mean())
    return np.mean(values), np.std(values)


def correlated(n, d, seed, shift=0.0):
    g = np.random.default_rng(seed)
    mixing = g.normal(size=(d, d)) / math.sqrt(d)
    return g.normal(size=(n, d)) @ mixing + shift


def stats(x):
    t = torch.from_numpy(x)
    return gaussian_from_sums(t.sum(0), t.T @ t, len(t))


def test_fid_matches_scipy_within_1e_6():
    x, y = correlated(500, 24, 0), correlated(400, 24, 1, shift=0.3)
    ours = float(frechet_distance(*stats(x), *stats(y)))
    reference = scipy_fid(x, y)
    assert abs(ours - reference) / reference <= 1e-6


def nuclear_norm_fid(x: np.ndarray, y: np.ndarray) -> float:
    """tr((S1 S2)^1/2) as the nuclear norm of B A^T with S1 = A^T A, S2 = B^T B (valid when singular)."""
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    trace_sqrt = np.linalg.svd(b @ a.T, compute_uv=False).sum()
    return float(((x.mean(0) - y.mean(0)) ** 2).sum() + (a * a).sum() + (b * b).sum() - 2 * trace_sqrt)


@pytest.mark.parametrize("n_real", [10, 200])  # singular (Cholesky fails) and regular real covariance
def test_fid_matches_the_nuclear_norm_formula_also_when_singular(n_real):
    x, y = correlated(n_real, 16, 8), correlated(60, 16, 9, shift=0.5)
    ours = float(frechet_distance(*stats(x), *stats(y)))
    assert ours == pytest.approx(nuclear_norm_fid(x, y), rel=1e-8)


def test_fid_identical_sets_is_zero_and_mean_shift_adds_its_squared_norm():
    x = correlated(300, 16, 2)
    assert abs(float(frechet_distance(*stats(x), *stats(x)))) < 1e-8
    d = np.random.default_rng(3).normal(size=16)
    assert float(frechet_distance(*stats(x), *stats(x + d))) == pytest.approx((d ** 2).sum(), rel=1e-9)


def test_fid_metric_is_independent_of_batching_and_uses_float64():
    x, y = torch.from_numpy(correlated(200, 8, 4)).float(), torch.from_numpy(correlated(150, 8, 5)).float()
    whole, batched = FrechetDistance(8), FrechetDistance(8)
    whole.update(x, real=True)
    whole.update(y, real=False)
    for chunk in x.split(7):
        batched.update(chunk, real=True)
    for chunk in y.split(33):
        batched.update(chunk, real=False)
    a, b = whole.compute(), batched.compute()
    assert a.dtype == torch.float64
    assert float(a) == pytest.approx(float(b), rel=1e-10)
    assert float(a) == pytest.approx(scipy_fid(x.double().numpy(), y.double().numpy()), rel=1e-6)
    assert batched.last_counts == {"real": 200, "generated": 150}


def test_fid_metric_reference_replaces_the_real_side():
    x, y = torch.randn(60, 4), torch.randn(50, 4) + 1
    updated, referenced = FrechetDistance(4), FrechetDistance(4)
    updated.update(x, real=True)
    updated.update(y, real=False)
    referenced.set_reference(x)
    referenced.update(y, real=False)
    assert float(referenced.compute()) == pytest.approx(float(updated.compute()), rel=1e-12)


def test_fid_refuses_too_few_samples_and_warns_below_the_dimension():
    metric = FrechetDistance(4)
    metric.update(torch.randn(1, 4), real=True)
    metric.update(torch.randn(5, 4), real=False)
    with pytest.raises(ValueError, match="at least 2 real samples"):
        metric.compute()
    metric = FrechetDistance(8)
    metric.update(torch.randn(5, 8), real=True)
    metric.update(torch.randn(20, 8), real=False)
    with pytest.warns(UserWarning, match="below the feature dimension 8"):
        metric.compute()
    with pytest.raises(ValueError, match="D = 8"):
        metric.update(torch.randn(3, 7), real=False)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        metric.update(torch.randn(3, 8, 1), real=False)


def test_kid_matches_numpy_and_metric_agrees():
    x, y = correlated(120, 10, 6), correlated(90, 10, 7, shift=0.2)
    mean, std = kernel_distance(torch.from_numpy(x), torch.from_numpy(y), subsets=20, subset_size=50, seed=11)
    ref_mean, ref_std = numpy_kid(x, y, 20, 50, 11)
    assert float(mean) == pytest.approx(ref_mean, rel=1e-10)
    assert float(std) == pytest.approx(ref_std, rel=1e-8)
    metric = KernelDistance(subsets=20, subset_size=50, seed=11)
    for chunk in torch.from_numpy(x).split(40):
        metric.update(chunk, real=True)
    metric.update(torch.from_numpy(y), real=False)
    m, _ = metric.compute()
    assert float(m) == pytest.approx(ref_mean, rel=1e-5)  # float32 storage


def test_kid_of_two_samples_of_one_distribution_is_near_zero_and_lowers_subset_size():
    x, y = torch.randn(400, 6, generator=torch.Generator().manual_seed(0)), \
        torch.randn(400, 6, generator=torch.Generator().manual_seed(1))
    shifted = y + 1.0
    same, _ = kernel_distance(x, y, subsets=10, subset_size=200)
    different, _ = kernel_distance(x, shifted, subsets=10, subset_size=200)
    assert abs(float(same)) < 0.02 < float(different)
    metric = KernelDistance(subset_size=1000, subsets=3)
    metric.update(x[:30], real=True)
    metric.update(y[:25], real=False)
    with pytest.warns(UserWarning, match="lowered from 1000 to 25"):
        metric.compute()
    assert metric.last_subset_size == 25


def test_inception_score_by_hand():
    p = np.array([[0.75, 0.25], [0.25, 0.75]])
    kl = (p * np.log(p / p.mean(0))).sum(1).mean()
    mean, std = inception_score(torch.from_numpy(np.log(p)), splits=1, seed=None)
    assert float(mean) == pytest.approx(math.exp(kl), rel=1e-12)
    assert float(std) == 0.0
    # K confident, distinct predictions: IS -> K; identical predictions: IS = 1
    confident = torch.eye(5) * 50
    assert float(inception_score(confident, splits=1, seed=None)[0]) == pytest.approx(5.0, rel=1e-6)
    assert float(inception_score(torch.randn(1, 5).repeat(8, 1), splits=2)[0]) == pytest.approx(1.0)


def test_inception_score_splits_and_shuffle_follow_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.randn(103, 7, generator=torch.Generator().manual_seed(3)) * 3
    theirs = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits, splits=10, seed=2020)
    assert float(mean) == pytest.approx(theirs["inception_score_mean"], rel=1e-12)
    assert float(std) == pytest.approx(theirs["inception_score_std"], rel=1e-9)
    metric = InceptionScore(splits=10)
    for chunk in logits.split(20):
        metric.update(chunk)
    assert float(metric.compute()[0]) == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    few = InceptionScore(splits=10)
    few.update(torch.randn(4, 3))
    with pytest.raises(ValueError, match="at least 10 generated"):
        few.compute()


def test_precision_recall_by_hand():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    precision, recall = precision_recall(real, fake, k=1)
    assert float(precision) == 0.5  # 0.5 is within 1 of a real point, 10 is not
    assert float(recall) == 1.0  # each fake ball has radius 9.5 and covers every real point


def test_precision_recall_expose_a_synthetic_mode_collapse():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 16, generator=g) * 6

    def mixture(n, modes):
        picks = torch.tensor(modes)[torch.randint(len(modes), (n,), generator=g)]
        return centres[picks] + torch.randn(n, 16, generator=g)

    real = mixture(500, list(range(10)))
    healthy, collapsed = mixture(500, list(range(10))), mixture(500, [0, 1])
    metric = PrecisionRecall(k=3)
    metric.update(real, real=True)
    metric.update(healthy, real=False)
    p_healthy, r_healthy = metric.compute()
    p_collapsed, r_collapsed = precision_recall(real, collapsed, k=3)
    assert float(p_healthy) > 0.7 and float(p_collapsed) > 0.7
    assert float(r_healthy) > 0.7
    assert float(r_collapsed) < 0.3  # only 2 of 10 modes covered


def test_class_frechet_distance_matches_fid_of_each_class():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(90, 3, generator=g), torch.randn(60, 3, generator=g)
    real_labels, fake_labels = torch.arange(90) % 3, torch.arange(60) % 3
    fake = fake + fake_labels[:, None].float()  # class c shifted by c
    metric = ClassFrechetDistance(3)
    metric.update(real, real_labels, real=True)
    metric.update(fake[:25], fake_labels[:25], real=False)
    metric.update(fake[25:], fake_labels[25:], real=False)
    per_class = metric.compute()
    for c in range(3):
        expected = scipy_fid(real[real_labels == c].double().numpy(), fake[fake_labels == c].double().numpy())
        assert float(per_class[c]) == pytest.approx(expected, rel=1e-6)
    assert metric.last_counts == {"real": [30, 30, 30], "generated": [20, 20, 20]}
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        metric.update(real[:2], torch.tensor([0, 3]), real=True)
