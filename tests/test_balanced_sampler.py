"""ClassBalancedSampler: probabilities by hand, near-uniform class frequencies on a 100:1 label
set (chi-square against its 0.1 % critical value, fixed seed), determinism in (seed, epoch),
rank shards that partition one global draw, views, bad input."""

import math

import numpy as np
import pytest
import torch

from ganaug.data import ClassBalancedSampler, class_balanced_indices, class_balanced_probabilities

# classes of 500, 50 and 5 items: imbalance 100
LONG_TAIL = torch.tensor([0] * 500 + [1] * 50 + [2] * 5)


def _chi_square(observed: np.ndarray, expected: float) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


def test_probabilities_by_hand():
    # classes 0 (3 items), 2 (1 item); class 1 absent: K = 2 present classes
    p = class_balanced_probabilities([0, 0, 2, 0])
    np.testing.assert_allclose(p, [1 / 6, 1 / 6, 1 / 2, 1 / 6])
    assert p.sum() == pytest.approx(1.0)


def test_class_frequencies_are_near_uniform_on_a_100_to_1_set():
    draws = class_balanced_indices(LONG_TAIL, 6000, seed=3)
    classes = np.bincount(LONG_TAIL.numpy()[draws], minlength=3)
    # chi-square with 2 degrees of freedom; its 0.1 % critical value is -2 ln(0.001) = 13.82
    assert _chi_square(classes, 2000.0) < -2 * math.log(0.001)
    # within the 5-item class every item is drawn alike (4 dof, 0.1 % critical value 18.47)
    tail = np.bincount(draws[draws >= 550] - 550, minlength=5)
    assert _chi_square(tail, classes[2] / 5) < 18.47


def test_same_seed_and_epoch_give_the_same_indices_and_others_do_not():
    sampler = ClassBalancedSampler(LONG_TAIL, seed=5)
    first = list(sampler)
    assert list(ClassBalancedSampler(LONG_TAIL, seed=5)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(ClassBalancedSampler(LONG_TAIL, seed=6)) != first
    assert len(first) == len(sampler) == len(LONG_TAIL)


def test_rank_shards_partition_one_global_draw():
    replicas = 3
    shards = [ClassBalancedSampler(LONG_TAIL, seed=1, num_replicas=replicas, rank=r)
              for r in range(replicas)]
    for shard in shards:
        shard.set_epoch(2)
    per_rank = math.ceil(len(LONG_TAIL) / replicas)  # 185
    assert [len(shard) for shard in shards] == [per_rank] * replicas
    merged = np.empty(per_rank * replicas, dtype=np.int64)
    for rank, shard in enumerate(shards):
        merged[rank::replicas] = list(shard)
    expected = class_balanced_indices(LONG_TAIL, per_rank * replicas, seed=1, epoch=2)
    np.testing.assert_array_equal(merged, expected)
    assert list(shards[0]) != list(shards[1])


def test_epoch_size_and_views():
    sampler = ClassBalancedSampler(LONG_TAIL, seed=0, num_views=2, epoch_size=101, num_replicas=2,
                                   rank=1)
    indices = np.array(list(sampler))
    assert len(sampler) == len(indices) == 51
    assert indices.min() >= 0 and indices.max() < 2 * len(LONG_TAIL)
    views = class_balanced_indices(LONG_TAIL, 4000, seed=0, num_views=2)
    items = views % len(LONG_TAIL)
    # the view of each draw is the second one about half of the time, and the items do not move
    assert abs((views >= len(LONG_TAIL)).mean() - 0.5) < 0.05
    np.testing.assert_array_equal(items, class_balanced_indices(LONG_TAIL, 4000, seed=0))


@pytest.mark.parametrize("labels, message", [
    ([], "empty"),
    ([0, -1, 2], ">= 0"),
    ([[0, 1], [1, 0]], "shape"),
    ([0.0, 1.0], "integer"),
])
def test_bad_labels_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        ClassBalancedSampler(labels)
    with pytest.raises(ValueError, match=message):
        class_balanced_indices(labels, 3)


@pytest.mark.parametrize("options, message", [
    ({"num_replicas": 0}, "num_replicas"),
    ({"num_replicas": 2, "rank": 2}, "rank"),
    ({"num_views": 0}, "num_views"),
    ({"epoch_size": 0}, "epoch_size"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        ClassBalancedSampler([0, 1, 1], **options)
