"""ganaug.metrics.novelty: nearest same-class distances, novelty and spread, by hand."""

from __future__ import annotations

import pytest
import torch

from ganaug.metrics.novelty import bank_novelty, class_novelty, nearest_same_class_distances


def points(*xy):
    return torch.tensor(xy, dtype=torch.float64)


def test_nearest_distances_stay_within_each_class():
    pool = points([0, 0], [10, 0], [0, 100])
    pool_labels = torch.tensor([0, 0, 1])
    queries = points([3, 4], [0, 97], [9, 0])
    labels = torch.tensor([0, 1, 0])
    # (3, 4) -> (0, 0): 5; (0, 97) -> (0, 100) only, class 1: 3; (9, 0) -> (10, 0): 1
    assert nearest_same_class_distances(queries, labels, pool, pool_labels).tolist() == [5, 3, 1]
    # (0, 1) of class 1 is 1 from (0, 0), a class-0 point; its class-1 neighbour is 99 away
    far = nearest_same_class_distances(points([0, 1]), torch.tensor([1]), pool, pool_labels)
    assert far.tolist() == [99.0]


def test_excluding_self_gives_the_nearest_other_image():
    pool = points([0, 0], [0, 2], [0, 7])
    labels = torch.zeros(3, dtype=torch.long)
    assert nearest_same_class_distances(pool, labels, pool, labels,
                                        exclude_self=True).tolist() == [2, 2, 5]
    with pytest.raises(ValueError, match="class 1 has no other image"):
        nearest_same_class_distances(points([0, 0]), torch.tensor([1]), points([0, 0]),
                                     torch.tensor([1]), exclude_self=True)
    with pytest.raises(ValueError, match="class 2 has no image"):
        nearest_same_class_distances(points([0, 0]), torch.tensor([2]), pool, labels)


def test_copies_have_novelty_zero_and_a_tight_cluster_a_small_spread():
    train = points([0, 0], [4, 0], [0, 100], [4, 100])
    train_labels = torch.tensor([0, 0, 1, 1])
    held_out = points([0, 3], [4, 103])  # 3 from the training set, like every new real image
    held_labels = torch.tensor([0, 1])
    copies = bank_novelty(train.clone(), train_labels, train, train_labels, held_out, held_labels)
    assert copies.to_train == 0 and copies.novelty == 0
    assert copies.reference_to_train == 3 and copies.reference_within == 4
    assert copies.spread == 1  # the copies are as spread as the training images
    # new images, 3 from the training set as the held-out ones are, but 1 apart from each other
    tight = points([0, -3], [1, -3], [0, 97], [1, 97])
    result = bank_novelty(tight, train_labels, train, train_labels, held_out, held_labels)
    assert (result.to_train, result.within) == (3.0, 1.0)
    assert result.novelty == 1.0 and result.spread == 0.25
    assert result.to_dict()["spread"] == 0.25


def test_features_are_measured_instead_of_pixels():
    images = torch.arange(8.0).reshape(4, 1, 1, 2)
    labels = torch.tensor([0, 0, 1, 1])
    doubled = bank_novelty(images, labels, images, labels, images, labels,
                           features=lambda x: 2 * x.flatten(1), batch_size=3)
    plain = bank_novelty(images, labels, images, labels, images, labels)
    assert doubled.within == pytest.approx(2 * plain.within)
    assert plain.within == pytest.approx(8 ** 0.5)  # (0, 1) to (2, 3)


def test_class_novelty_sets_each_class_against_as_many_held_out_images_by_hand():
    # class 0: 3 held-out images, so the first 3 of its 4 synthetic ones are measured
    synthetic = points((1, 0), (1, 1), (1, 2), (5, 5), (7, 7), (3, 3), (4, 4))
    labels = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    train = points((0, 0), (9, 9))
    train_labels = torch.tensor([0, 1])
    held_out = points((0, 3), (0, 5), (0, 9), (8, 8), (8, 9), (2, 2), (2, 3))
    held_labels = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    zero, one, two = class_novelty(synthetic, labels, train, train_labels, held_out, held_labels, 3)
    # synthetic (1,0), (1,1), (1,2): nearest other 1, 1, 1; held-out (0,3), (0,5), (0,9): 2, 2, 4
    assert (zero.within, zero.reference_within, zero.spread) == pytest.approx((1.0, 2.0, 0.5))
    # to the training image (0,0): 1, sqrt 2, sqrt 5 against 3, 5, 9
    assert (zero.to_train, zero.reference_to_train) == pytest.approx((2 ** 0.5, 5.0))
    assert zero.novelty == pytest.approx(2 ** 0.5 / 5)
    assert one is None  # one synthetic image: no nearest other
    assert two is None  # no training image of class 2
