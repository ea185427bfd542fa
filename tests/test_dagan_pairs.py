"""Same-class pairs for DAGAN: the batch order (ClassPairSampler), the partner draw inside a
batch (pair_within_batch) and PairedImageDataModule."""

from collections import Counter

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from ganaug.data.pairs import ClassPairSampler, PairedImageDataModule, class_pair_batches
from ganaug.modules.pairing import pair_within_batch

# 7 classes with 2..8 items (odd counts included), in a scrambled order
LABELS = torch.from_numpy(np.random.default_rng(0).permutation(
    np.repeat(np.arange(7), [2, 3, 4, 5, 6, 7, 8])))


def test_every_batch_holds_two_or_more_of_each_class_and_no_item_twice():
    batches = class_pair_batches(LABELS, 6, seed=3, epoch=1)
    pairs_available = sum(int(c) // 2 for c in torch.bincount(LABELS))  # 1+1+2+2+3+3+4 = 16
    assert batches.shape == (pairs_available // 3, 6)
    assert len(set(batches.flatten().tolist())) == batches.size  # no item twice in the epoch
    for batch in batches:
        counts = Counter(LABELS[batch].tolist())
        assert min(counts.values()) >= 2, counts


def test_order_is_a_function_of_seed_and_epoch():
    a = class_pair_batches(LABELS, 4, seed=1, epoch=0)
    assert np.array_equal(a, class_pair_batches(LABELS, 4, seed=1, epoch=0))
    assert not np.array_equal(a, class_pair_batches(LABELS, 4, seed=1, epoch=1))
    assert not np.array_equal(a, class_pair_batches(LABELS, 4, seed=2, epoch=0))


def test_odd_classes_leave_out_a_different_item_across_epochs():
    # class 1 has 3 items: each epoch uses 2; over many epochs every item is used
    members = set(torch.nonzero(LABELS == 1).flatten().tolist())
    used = set()
    for epoch in range(20):
        batch_items = set(class_pair_batches(LABELS, 32, seed=0, epoch=epoch).flatten().tolist())
        used |= members & batch_items
    assert used == members


def test_views_pick_one_view_per_item():
    batches = class_pair_batches(LABELS, 4, seed=0, num_views=2)
    n = len(LABELS)
    assert batches.max() < 2 * n and (batches >= n).any() and (batches < n).any()
    items = batches % n
    assert len(set(items.flatten().tolist())) == items.size
    for batch in items:
        assert min(Counter(LABELS[batch].tolist()).values()) >= 2


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="even"):
        class_pair_batches(LABELS, 5)
    with pytest.raises(ValueError, match="single image"):
        class_pair_batches(torch.tensor([0, 0, 1]), 2)
    with pytest.raises(ValueError, match="fewer than one batch"):
        class_pair_batches(torch.tensor([0, 0, 1, 1]), 6)


def test_sampler_shards_whole_batches_across_processes():
    batch_size = 4
    shards = [list(ClassPairSampler(LABELS, batch_size=batch_size, seed=5, num_replicas=3,
                                    rank=r)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1  # every process the same number of batches
    everything = class_pair_batches(LABELS, batch_size, seed=5).tolist()
    for rank, shard in enumerate(shards):
        mine = [shard[i:i + batch_size] for i in range(0, len(shard), batch_size)]
        assert mine == everything[rank::3][: len(mine)]
    flat = sum(shards, [])
    assert len(set(flat)) == len(flat)  # disjoint


def test_sampler_follows_set_epoch_and_is_left_alone_by_lightning():
    from torch.utils.data import DistributedSampler

    sampler = ClassPairSampler(LABELS, batch_size=4, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and len(sampler) == len(first)
    assert isinstance(sampler, DistributedSampler)  # what Lightning checks before replacing one


def test_partners_are_same_class_and_never_the_item_itself():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        partner = pair_within_batch(LABELS, generator)
        assert torch.equal(LABELS[partner], LABELS)
        assert not (partner == torch.arange(len(LABELS))).any()


def test_partners_are_uniform_over_the_other_members():
    # one class of 4: each item's partner is one of 3 others, each with probability 1/3
    labels = torch.tensor([5, 5, 2, 5, 5, 2])
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([pair_within_batch(labels, generator) for _ in range(600)])
    for item in (0, 1, 3, 4):
        for other in {0, 1, 3, 4} - {item}:
            hits = int((draws[:, item] == other).sum())
            assert binomtest(hits, 600, 1 / 3).pvalue > 1e-3, (item, other, hits)
    assert (draws[:, 2] == 5).all() and (draws[:, 5] == 2).all()


def test_a_lonely_image_is_refused_unless_self_pairs_are_allowed():
    labels = torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="occur once"):
        pair_within_batch(labels)
    partner = pair_within_batch(labels, allow_self=True)
    assert partner[0] == 0 and partner[1] == 2 and partner[2] == 1


def test_paired_datamodule_serves_pair_batches_of_the_training_classes():
    data = PairedImageDataModule("digits", image_size=28, n_per_class=8, test_per_class=4,
                                 batch_size=10, seed=2, train_classes=[1, 3, 7])
    data.setup()
    assert set(data.train_dataset.labels.tolist()) == {1, 3, 7}
    assert len(data.train_dataset) == len(data.train_indices) == 24
    assert set(data.test_dataset.labels.tolist()) == set(range(10))  # unseen classes stay there
    loader = data.train_dataloader()
    batches = list(loader)
    assert len(batches) == 24 // 10
    for images, labels in batches:
        assert images.shape == (10, 1, 28, 28)
        assert min(Counter(labels.tolist()).values()) >= 2


def test_paired_datamodule_refuses_odd_batches_and_unknown_classes():
    with pytest.raises(ValueError, match="even"):
        PairedImageDataModule("digits", n_per_class=8, test_per_class=4, batch_size=7)
    with pytest.raises(ValueError, match="train_classes"):
        PairedImageDataModule("digits", n_per_class=8, test_per_class=4, train_classes=[10])
