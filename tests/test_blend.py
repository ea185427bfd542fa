"""SyntheticBlendDataModule and banks: exact per-class counts, balance, determinism, sources, DDP."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import lightning as L
import pytest
import torch

from ganaug.data import (
    ClassBalancedSampler,
    ImageDataModule,
    LabelledImages,
    SyntheticBlendDataModule,
    balance_counts,
    blend_counts,
    generate_bank,
    load_bank,
    save_bank,
)
from ganaug.data.blend import ShardedEpochSeededSampler
from ganaug.modules import ConditionalGAN, load_gan
from tests_helpers import run_ddp_script

NUM_CLASSES = 10


def real_data(n_per_class: int = 10, seed: int = 0, **kwargs) -> ImageDataModule:
    return ImageDataModule("digits", n_per_class=n_per_class, test_per_class=5, batch_size=10,
                           seed=seed, **kwargs)


def marked_bank(per_class: int = 30, shape=(1, 8, 8)) -> LabelledImages:
    """Synthetic images whose first pixel is 200 + the class and whose last pixel numbers them
    (real digits never hold 200+ in the top-left corner)."""
    labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
    images = torch.zeros(len(labels), *shape, dtype=torch.uint8)
    images.view(len(labels), -1)[:, 0] = 200 + labels.to(torch.uint8)
    images.view(len(labels), -1)[:, -1] = torch.arange(len(labels)) % 256
    return LabelledImages(images, labels, num_classes=NUM_CLASSES)


def half_up(ratio: float, count: int) -> int:
    return int((Decimal(repr(ratio)) * count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# counts


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0])
@pytest.mark.parametrize("count", [1, 7, 10, 50])
def test_counts_are_ratio_times_class_size_rounded_half_up(ratio, count):
    counts = blend_counts(torch.tensor([count, 2 * count]), ratio, "replace")
    assert counts.tolist() == [half_up(ratio, count), half_up(ratio, 2 * count)]


@pytest.mark.parametrize(
    ("ratio", "mode", "message"),
    [
        (-0.1, "augment", "finite number >= 0"),
        (float("nan"), "augment", "finite number >= 0"),
        (float("inf"), "augment", "finite number >= 0"),
        (1.2, "replace", "must be <= 1 in replace mode"),
        (0.5, "mix", "mode must be"),
    ],
)
def test_bad_ratios_and_modes_are_refused(ratio, mode, message):
    with pytest.raises(ValueError, match=message):
        blend_counts(torch.tensor([10]), ratio, mode)
    with pytest.raises(ValueError, match=message):
        SyntheticBlendDataModule(real_data(), marked_bank(), mode=mode, ratio=ratio)


def test_a_ratio_without_a_source_is_refused():
    with pytest.raises(ValueError, match="needs a synthetic source"):
        SyntheticBlendDataModule(real_data(), None, ratio=0.5)


# ---------------------------------------------------------------------------------------------
# the blended training set


def is_marked(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1)[:, 0] >= 200


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.5, 1.0])
def test_replace_keeps_size_and_balance_and_swaps_exact_counts(ratio):
    blend = SyntheticBlendDataModule(real_data(), marked_bank(), mode="replace", ratio=ratio)
    blend.setup()
    train = blend.train_dataset
    k = half_up(ratio, 10)
    assert train.class_counts().tolist() == [10] * NUM_CLASSES
    assert torch.bincount(train.labels[train.synthetic], minlength=10).tolist() == [k] * 10
    assert torch.equal(is_marked(train.images), train.synthetic)
    # synthetic images carry their own class; real ones come from the real training split
    marked_class = train.images.flatten(1)[train.synthetic, 0].long() - 200
    assert torch.equal(marked_class, train.labels[train.synthetic])
    real_keys = {image.numpy().tobytes() for image in blend.real.train_dataset.images}
    assert all(image.numpy().tobytes() in real_keys for image in train.images[~train.synthetic])


@pytest.mark.parametrize("ratio", [0.2, 1.0, 2.5])
def test_augment_adds_exact_counts_and_keeps_every_real_image(ratio):
    blend = SyntheticBlendDataModule(real_data(), marked_bank(), mode="augment", ratio=ratio)
    blend.setup()
    train = blend.train_dataset
    k = half_up(ratio, 10)
    assert train.class_counts().tolist() == [10 + k] * NUM_CLASSES
    assert int((~train.synthetic).sum()) == len(blend.real.train_dataset)
    assert torch.equal(train.images[~train.synthetic], blend.real.train_dataset.images)


def test_unequal_classes_get_their_own_counts():
    real = real_data(n_per_class=13)
    real.setup()
    kept = torch.cat([torch.nonzero(real.train_dataset.labels == c).flatten()[: 4 + c]
                      for c in range(NUM_CLASSES)])
    real.train_dataset = real.train_dataset.subset(kept)  # 4, 5, ..., 13 images per class
    blend = SyntheticBlendDataModule(real, marked_bank(), mode="replace", ratio=0.5)
    blend.setup()
    expected = [half_up(0.5, 4 + c) for c in range(NUM_CLASSES)]
    assert blend.synthetic_counts.tolist() == expected
    train = blend.train_dataset
    assert torch.bincount(train.labels[train.synthetic], minlength=10).tolist() == expected
    assert train.class_counts().tolist() == [4 + c for c in range(NUM_CLASSES)]


def test_items_say_whether_they_are_synthetic_and_test_data_stays_real():
    blend = SyntheticBlendDataModule(real_data(), marked_bank(), mode="augment", ratio=1.0)
    blend.setup()
    images, labels, synthetic = next(iter(blend.train_dataloader()))
    assert images.shape == (10, 1, 8, 8) and synthetic.dtype == torch.bool
    assert torch.equal(synthetic, is_marked(((images + 1) * 127.5).round()))
    test_images, _ = next(iter(blend.test_dataloader()))
    assert not bool(is_marked(((test_images + 1) * 127.5).round()).any())
    assert blend.test_dataloader().dataset is blend.real.test_dataset


def test_same_seed_same_blend_other_seed_other_blend():
    def train(seed):
        blend = SyntheticBlendDataModule(real_data(), marked_bank(), mode="replace", ratio=0.5,
                                         seed=seed)
        blend.setup()
        return blend.train_dataset.images

    assert torch.equal(train(3), train(3))
    assert not torch.equal(train(3), train(4))


# ---------------------------------------------------------------------------------------------
# balance: synthetic images up to a target per class


LONG_TAIL = [10, 8, 6, 5, 4, 3, 3, 2, 1, 1]


def imbalanced_data(counts=LONG_TAIL, seed: int = 0) -> ImageDataModule:
    return ImageDataModule("digits", class_counts=list(counts), test_per_class=5, batch_size=10,
                           seed=seed)


@pytest.mark.parametrize(
    ("counts", "target", "expected"),
    [
        (LONG_TAIL, None, [0, 2, 4, 5, 6, 7, 7, 8, 9, 9]),  # up to the largest class, 10
        (LONG_TAIL, 12, [2, 4, 6, 7, 8, 9, 9, 10, 11, 11]),
        (LONG_TAIL, [10, 8, 8, 8, 8, 8, 8, 8, 8, 8], [0, 0, 2, 3, 4, 5, 5, 6, 7, 7]),
        ([4] * 10, None, [0] * 10),  # a balanced set gets nothing
        ([5, 1, 1, 1, 1, 1, 1, 1, 1, 1], None, [0] + [4] * 9),
    ],
)
def test_balance_counts_by_hand(counts, target, expected):
    assert balance_counts(torch.tensor(counts), target).tolist() == expected


@pytest.mark.parametrize(
    ("counts", "target", "cap", "expected"),
    [
        # a target below the largest class: classes at or above it get none
        (LONG_TAIL, 5, None, [0, 0, 0, 0, 1, 2, 2, 3, 4, 4]),
        # up to 10, at most 2 per real image: caps 20, 16, 12, 10, 8, 6, 6, 4, 2, 2
        (LONG_TAIL, None, 2, [0, 2, 4, 5, 6, 6, 6, 4, 2, 2]),
        # at most half a synthetic image per real one: caps 5, 4, 3, 2, 2, 1, 1, 1, 0, 0
        (LONG_TAIL, None, 0.5, [0, 2, 3, 2, 2, 1, 1, 1, 0, 0]),
        (LONG_TAIL, 5, 1, [0, 0, 0, 0, 1, 2, 2, 2, 1, 1]),
        (LONG_TAIL, None, 0, [0] * 10),
        # 0.3 * 10 and 0.29 * 100 are 3 and 29, not 3.0000000000000004 or 28.999999999999996
        ([10, 100], 200, 0.3, [3, 30]),
        ([10, 100], 200, 0.29, [2, 29]),
    ],
)
def test_partial_top_ups_by_hand(counts, target, cap, expected):
    assert balance_counts(torch.tensor(counts), target,
                          max_synthetic_per_real=cap).tolist() == expected


def test_a_capped_partial_balance_blends_exact_counts():
    real = imbalanced_data()
    blend = SyntheticBlendDataModule(real, marked_bank(), mode="balance", target=5,
                                     max_synthetic_per_real=1, seed=1)
    blend.setup()
    train = blend.train_dataset
    synthetic = [0, 0, 0, 0, 1, 2, 2, 2, 1, 1]
    assert torch.bincount(train.labels[train.synthetic], minlength=10).tolist() == synthetic
    assert train.class_counts().tolist() == [n + k for n, k in zip(LONG_TAIL, synthetic)]
    assert torch.equal(train.images[~train.synthetic], real.train_dataset.images)


@pytest.mark.parametrize("target", [None, 12, [10, 9, 8, 8, 8, 8, 8, 8, 8, 8]])
def test_balance_adds_exact_counts_and_keeps_every_real_image(target):
    real = imbalanced_data()
    blend = SyntheticBlendDataModule(real, marked_bank(), mode="balance", target=target, seed=2)
    blend.setup()
    train = blend.train_dataset
    targets = ([10] * 10 if target is None else [target] * 10 if isinstance(target, int)
               else target)
    assert train.class_counts().tolist() == targets
    synthetic_counts = [t - n for t, n in zip(targets, LONG_TAIL)]
    assert torch.bincount(train.labels[train.synthetic], minlength=10).tolist() == synthetic_counts
    assert blend.synthetic_counts.tolist() == synthetic_counts
    # the flags say which is which; real images are the real split, untouched and all there
    assert torch.equal(is_marked(train.images), train.synthetic)
    assert torch.equal(train.images[~train.synthetic], real.train_dataset.images)
    assert torch.equal(train.labels[~train.synthetic], real.train_dataset.labels)
    marked_class = train.images.flatten(1)[train.synthetic, 0].long() - 200
    assert torch.equal(marked_class, train.labels[train.synthetic])


def test_balance_is_a_function_of_the_seed():
    def train(seed):
        blend = SyntheticBlendDataModule(imbalanced_data(), marked_bank(), mode="balance", seed=seed)
        blend.setup()
        return blend.train_dataset.images

    assert torch.equal(train(3), train(3))
    assert not torch.equal(train(3), train(4))


@pytest.mark.parametrize(
    ("counts", "target", "message"),
    [
        ([4, 0, 3, 0, 1, 1, 1, 1, 1, 1], None, "classes 1, 3 have no real training image"),
        ([4, 2, 3, 0, 1, 1, 1, 1, 1, 1], None, "class 3 has no real training image"),
        (LONG_TAIL, [10] * 9, "target needs one count per class \\(10\\), got 9"),
    ],
)
def test_bad_balance_targets_name_the_class(counts, target, message):
    with pytest.raises(ValueError, match=message):
        balance_counts(torch.tensor(counts), target)
    blend = SyntheticBlendDataModule(imbalanced_data(counts), marked_bank(), mode="balance",
                                     target=target)
    with pytest.raises(ValueError, match=message):
        blend.setup()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(target=0), "target must be None \\(the largest class\\), an integer >= 1"),
        (dict(target=[3, -1]), "an integer >= 1 or one such integer per class"),
        (dict(ratio=0.5), "leave ratio at 0"),
        (dict(synthetic=None), "mode='balance' needs a synthetic source"),
        (dict(mode="augment", ratio=0.5, target=10), "target is the per-class count of mode='balance'"),
        (dict(max_synthetic_per_real=-1), "max_synthetic_per_real must be a finite number >= 0"),
        (dict(max_synthetic_per_real=float("inf")), "max_synthetic_per_real must be a finite"),
        (dict(mode="augment", ratio=0.5, max_synthetic_per_real=1), "caps the top-up of "
                                                                     "mode='balance'"),
    ],
)
def test_bad_balance_options_are_refused_early(options, message):
    arguments = {"synthetic": marked_bank(), "mode": "balance", **options}
    with pytest.raises(ValueError, match=message):
        SyntheticBlendDataModule(imbalanced_data(), **arguments)


def test_balance_with_too_small_a_bank_names_the_class():
    with pytest.raises(ValueError, match="class 8: 3 < 9"):
        blend = SyntheticBlendDataModule(imbalanced_data(), marked_bank(per_class=3), mode="balance")
        blend.setup()


@pytest.mark.slow
def test_two_processes_see_disjoint_shares_of_the_balanced_blend(tmp_path):
    ranks = run_ddp_script("blend_balance_ranks.py", tmp_path)
    keys = [set(map(tuple, rank["rows"])) for rank in ranks]
    assert not keys[0] & keys[1]
    assert len(keys[0]) == len(keys[1]) == ranks[0]["per_rank"] == 60
    # together the two shares are the whole balanced set: 12 images of every class, of which
    # 12 - N_c synthetic
    seen = keys[0] | keys[1]
    assert [sum(1 for row in seen if row[0] == c) for c in range(10)] == [12] * 10
    assert [sum(row[1] for row in seen if row[0] == c) for c in range(10)] == \
        [12 - n for n in ranks[0]["real_counts"]]


# ---------------------------------------------------------------------------------------------
# sources and their errors


def test_bank_files_round_trip_and_float_banks_are_quantised(tmp_path):
    bank = marked_bank(per_class=3)
    path = save_bank(bank, tmp_path / "bank.pt", meta={"note": "test"})
    again = load_bank(path)
    assert torch.equal(again.images, bank.images) and torch.equal(again.labels, bank.labels)

    float_path = tmp_path / "float.pt"
    torch.save({"images": bank.images.float() / 127.5 - 1, "labels": bank.labels}, float_path)
    assert torch.equal(load_bank(float_path).images, bank.images)

    torch.save({"images": bank.images.float() / 127.5 - 1, "labels": None}, tmp_path / "u.pt")
    with pytest.raises(ValueError, match="not a labelled bank"):
        load_bank(tmp_path / "u.pt")
    with pytest.raises(FileNotFoundError, match="no synthetic bank"):
        load_bank(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    ("bank", "message"),
    [
        (marked_bank(shape=(3, 8, 8)), r"synthetic images are \(3, 8, 8\) but real images are"),
        (marked_bank(per_class=2), "too few images .*class 0: 2 < 5"),
        (LabelledImages(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.arange(4)),
         "4 classes, the real data 10"),
    ],
)
def test_mismatched_banks_are_refused(bank, message):
    blend = SyntheticBlendDataModule(real_data(), bank, mode="replace", ratio=0.5)
    with pytest.raises(ValueError, match=message):
        blend.setup()


TINY_GAN = dict(latent_dim=8, g_width=4, d_width=4, grid_size=10)


def tiny_checkpoint(tmp_path: Path, trainer_factory, **shape) -> Path:
    shape = {"channels": 1, "image_size": 28} | shape
    model = ConditionalGAN(num_classes=NUM_CLASSES, **TINY_GAN, **shape)
    data = ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2, batch_size=8)
    trainer = trainer_factory(max_steps=2)
    trainer.fit(model, data)
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_a_loaded_checkpoint_is_a_sampler_of_the_blend(tmp_path, trainer_factory):
    checkpoint = tiny_checkpoint(tmp_path, trainer_factory)
    real = ImageDataModule("digits", image_size=28, n_per_class=6, test_per_class=2, batch_size=6)
    blend = SyntheticBlendDataModule(real, load_gan(checkpoint), ratio=0.5)
    blend.setup()
    train = blend.train_dataset
    assert torch.bincount(train.labels[train.synthetic]).tolist() == [3] * NUM_CLASSES


def test_a_sampler_of_another_shape_or_class_count_is_refused(tmp_path, trainer_factory):
    checkpoint = tiny_checkpoint(tmp_path, trainer_factory, channels=1, image_size=28)
    real = ImageDataModule("digits", image_size=32, n_per_class=6, test_per_class=2, batch_size=6)
    blend = SyntheticBlendDataModule(real, load_gan(checkpoint), ratio=0.5)
    with pytest.raises(ValueError, match=r"synthetic images are \(1, 28, 28\) but real images "
                                         r"are \(1, 32, 32\)"):
        blend.setup()
    three = ConditionalGAN(num_classes=3, channels=1, image_size=28, **TINY_GAN)
    real = ImageDataModule("digits", image_size=28, n_per_class=6, test_per_class=2, batch_size=6)
    with pytest.raises(ValueError, match="makes 3 classes, the real data has 10"):
        SyntheticBlendDataModule(real, three, ratio=0.5).setup()


def test_generate_bank_is_class_balanced_uint8_and_seeded():
    model = ConditionalGAN(num_classes=3, channels=1, image_size=28, **TINY_GAN)
    bank = generate_bank(model, 4, seed=1, progress=False)
    assert bank.images.dtype == torch.uint8 and bank.class_counts().tolist() == [4, 4, 4]
    again = generate_bank(model, [4, 4, 4], seed=1, progress=False)
    assert torch.equal(bank.images, again.images)
    other = generate_bank(model, 4, seed=2, progress=False)
    assert not torch.equal(bank.images, other.images)
    with pytest.raises(ValueError, match="unconditional"):
        from ganaug.modules import GAN
        generate_bank(GAN(channels=1, image_size=28, **TINY_GAN), 2, progress=False)


# ---------------------------------------------------------------------------------------------
# processes


@pytest.mark.parametrize("num_items", [20, 23])
def test_sharded_sampler_splits_one_order_without_duplicates(num_items):
    shards = [ShardedEpochSeededSampler(num_items, num_replicas=2, rank=r, seed=5) for r in (0, 1)]
    for shard in shards:
        shard.set_epoch(3)
    seen = [list(shard) for shard in shards]
    assert len(seen[0]) == len(seen[1]) == num_items // 2
    assert not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) <= set(range(num_items))


@pytest.mark.slow
def test_two_processes_see_disjoint_shares_of_the_blend(tmp_path):
    ranks = run_ddp_script("blend_ranks.py", tmp_path)
    keys = [set(map(tuple, rank["rows"])) for rank in ranks]
    assert not keys[0] & keys[1]
    assert len(keys[0]) == len(keys[1]) == ranks[0]["per_rank"]
    synthetic = sum(row[1] for rank in ranks for row in rank["rows"])
    assert 0 < synthetic < len(keys[0]) + len(keys[1])


# ---------------------------------------------------------------------------------------------
# fresh synthetic images every epoch


class SyntheticRecorder(L.LightningModule):
    """Remembers the pixel sums of the synthetic images of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(28 * 28, 10)
        self.sums: dict[int, list[float]] = {}

    def training_step(self, batch, batch_index):
        images, labels, synthetic = batch
        self.sums.setdefault(self.current_epoch, []).extend(
            images[synthetic].flatten(1).sum(1).tolist())
        return torch.nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def resampling_blend(**options) -> SyntheticBlendDataModule:
    torch.manual_seed(0)  # the same generator weights every time
    model = ConditionalGAN(num_classes=NUM_CLASSES, channels=1, image_size=28, **TINY_GAN)
    real = ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2,
                           batch_size=10, drop_last=False)
    return SyntheticBlendDataModule(real, model, ratio=0.5, seed=3, resample_every_epoch=True,
                                    **options)


def test_resampling_draws_new_images_of_the_same_counts_every_epoch(trainer_factory):
    recorder = SyntheticRecorder()
    trainer_factory(max_epochs=3, reload_dataloaders_every_n_epochs=1).fit(
        recorder, resampling_blend())
    epochs = [sorted(recorder.sums[e]) for e in range(3)]
    assert all(len(sums) == 20 for sums in epochs)  # 2 per class, every epoch
    assert epochs[0] != epochs[1] != epochs[2]

    # the draw of an epoch is a function of (seed, epoch): a second fit sees the same images
    again = SyntheticRecorder()
    trainer_factory(max_epochs=2, reload_dataloaders_every_n_epochs=1).fit(
        again, resampling_blend())
    assert sorted(again.sums[1]) == epochs[1]


def test_resampling_needs_reloading_loaders_and_a_generator(trainer_factory):
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs=1"):
        trainer_factory(max_epochs=1).fit(SyntheticRecorder(), resampling_blend())
    with pytest.raises(ValueError, match="draws from a generator"):
        SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.5, resample_every_epoch=True)


# ---------------------------------------------------------------------------------------------
# synthetic images for the first part of training only


class EpochCounter(SyntheticRecorder):
    """Counts, per epoch, the items and the synthetic items of the training batches."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8 * 8, 10)
        self.seen: dict[int, list[int]] = {}

    def training_step(self, batch, batch_index):
        images, labels, synthetic = batch
        counts = self.seen.setdefault(self.current_epoch, [0, 0])
        counts[0] += len(labels)
        counts[1] += int(synthetic.sum())
        return torch.nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_synthetic_until_trains_on_the_real_images_alone_from_the_epoch_after_the_fraction(
        trainer_factory, accumulate):
    # 100 real + 60 synthetic, batches of 10: 16 batches a blend epoch, 10 a real one. Half of
    # 52 batches is 26: epochs 0 and 1 (32 batches) are blended, the first epoch starting at or
    # after batch 26 is epoch 2, and the last 20 batches are two real-only epochs.
    data = SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.6, seed=3,
                                    synthetic_until=0.5)
    counter = EpochCounter()
    trainer_factory(max_steps=52 // accumulate, accumulate_grad_batches=accumulate,
                    reload_dataloaders_every_n_epochs=1).fit(counter, data)
    assert counter.seen == {0: [160, 60], 1: [160, 60], 2: [100, 0], 3: [100, 0]}
    assert data.real_phase_epoch(16) == 2
    # outside a fit (no trainer: epoch 0) the loader is the blend's
    alone = SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.6, synthetic_until=0.5)
    alone.setup()
    assert int(alone.train_dataloader().dataset.synthetic.sum()) == 60


def test_two_processes_switch_to_the_real_images_in_the_same_epoch(tmp_path):
    ranks = run_ddp_script("blend_until_ranks.py", tmp_path)
    for epoch, (items, synthetic) in {0: (85, 60), 1: (85, 60), 2: (55, 0)}.items():
        shares = [{row[1:] for row in rank["rows"] if row[0] == epoch} for rank in ranks]
        assert [len(share) for share in shares] == [items, items]
        assert not shares[0] & shares[1]  # disjoint shares of one order
        assert sum(row[1] for share in shares for row in share) == synthetic
    real = {row[1:] for rank in ranks for row in rank["rows"] if row[0] == 2}
    blended_real = {row[1:] for rank in ranks for row in rank["rows"] if row[0] == 0 and not row[2]}
    assert real == blended_real  # the real phase holds exactly the blend's real images
    assert max(row[0] for rank in ranks for row in rank["rows"]) == 2


def test_synthetic_until_is_checked(trainer_factory):
    for bad in (0.0, 1.0, -0.2, 1.5):
        with pytest.raises(ValueError, match="synthetic_until is the fraction"):
            SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.5, synthetic_until=bad)
    data = SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.5, synthetic_until=0.5)
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs=1"):
        trainer_factory(max_steps=5).fit(EpochCounter(), data)
    data = SyntheticBlendDataModule(real_data(), marked_bank(), ratio=0.5, synthetic_until=0.5)
    with pytest.raises(ValueError, match="max_steps"):
        trainer_factory(max_epochs=1, reload_dataloaders_every_n_epochs=1).fit(
            EpochCounter(), data)


# ---------------------------------------------------------------------------------------------
# synthetic share of every batch


def test_every_batch_holds_the_synthetic_share_and_an_epoch_is_one_pass_over_the_real_images():
    # 100 real (10 per class), 100 synthetic (r = 1); batches of 10 with 3 synthetic
    data = SyntheticBlendDataModule(real_data(), marked_bank(), ratio=1.0, seed=3,
                                    synthetic_share=0.3)
    data.setup()
    batches = list(data.train_dataloader())
    flags = [batch[2] for batch in batches]
    # 100 real images at 7 per batch: 15 batches, the last with 100 - 14 * 7 = 2 real ones
    assert len(batches) == 15
    assert [int(f.sum()) for f in flags] == [3] * 15
    assert [int((~f).sum()) for f in flags] == [7] * 14 + [2]
    # every real image exactly once per epoch (real items are 0..99 of the blend)
    sampler = data.train_dataloader().sampler
    order = [i for batch in sampler.batches() for i in batch]
    real = [i for i in order if i < 100]
    assert sorted(real) == list(range(100))
    synthetic = [i for i in order if i >= 100]
    assert len(synthetic) == len(set(synthetic)) == 45  # 45 of 100: none twice within a lap


def test_share_sampler_cycles_synthetic_items_is_seeded_and_shards_whole_batches():
    from ganaug.data.blend import SyntheticShareSampler

    def batches(rank=0, replicas=1, seed=0, epoch=0, views=1):
        sampler = SyntheticShareSampler(20, 3, batch_size=5, synthetic_per_batch=2, seed=seed,
                                        num_views=views, num_replicas=replicas, rank=rank)
        sampler.set_epoch(epoch)
        return sampler.batches()

    one = batches()
    assert len(one) == 7  # ceil(20 / 3)
    synthetic = [i for batch in one for i in batch if i >= 20]
    assert len(synthetic) == 14  # 3 synthetic items, cycled: each lap holds each of them once
    for lap in range(4):
        assert sorted(synthetic[3 * lap:3 * lap + 3]) == [20, 21, 22]
    assert one == batches() and one != batches(epoch=1) and one != batches(seed=1)
    shards = [batches(rank=r, replicas=2) for r in (0, 1)]
    assert [len(s) for s in shards] == [3, 3]  # 7 batches -> 6, whole batches per rank
    assert shards[0] == one[0:6:2] and shards[1] == one[1:6:2]
    mirrored = batches(views=2)
    assert all(0 <= i < 46 for batch in mirrored for i in batch)
    # the same items, each in a chosen view (view 1 of item i is i + 23)
    assert [[i % 23 for i in b] for b in mirrored] == one
    assert any(i >= 23 for batch in mirrored for i in batch)
    with pytest.raises(ValueError, match="0 < synthetic_per_batch < batch_size"):
        SyntheticShareSampler(20, 3, batch_size=5, synthetic_per_batch=5)


@pytest.mark.parametrize(("options", "message"), [
    (dict(ratio=1.0, synthetic_share=1.0), r"synthetic_share must be in \(0, 1\)"),
    (dict(ratio=0.0, synthetic_share=0.5), "needs both"),
    (dict(ratio=1.0, mode="replace", synthetic_share=0.5), "needs both"),
    (dict(ratio=1.0, synthetic_share=0.01), "at least 1"),
])
def test_bad_synthetic_shares_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SyntheticBlendDataModule(real_data(), marked_bank(), **options)


def test_class_balanced_sampling_draws_every_class_alike():
    # real images only, 10 down to 1 per class (43 images): over 40 epochs of 43 draws the
    # classes come out alike (chi-square, 9 dof, below its 0.1 % critical value 27.88)
    blend = SyntheticBlendDataModule(imbalanced_data(), None, sampling="class_balanced", seed=4)
    blend.setup()
    loader = blend.train_dataloader()
    assert isinstance(loader.sampler, ClassBalancedSampler) and len(loader.sampler) == 43
    labels = []
    for epoch in range(40):
        loader.sampler.set_epoch(epoch)
        labels += [label for batch in loader for label in batch[1].tolist()]
    counts = torch.bincount(torch.tensor(labels), minlength=10).double()
    expected = counts.sum() / 10
    assert float(((counts - expected) ** 2 / expected).sum()) < 27.88
    # the same seed and epoch give the same order
    loader.sampler.set_epoch(0)
    again = SyntheticBlendDataModule(imbalanced_data(), None, sampling="class_balanced", seed=4)
    again.setup()
    assert list(again.train_dataloader().sampler) == list(loader.sampler)


def test_class_balanced_sampling_options_are_checked():
    with pytest.raises(ValueError, match="sampling must be one of"):
        SyntheticBlendDataModule(imbalanced_data(), None, sampling="balanced")
    with pytest.raises(ValueError, match="choose one"):
        SyntheticBlendDataModule(imbalanced_data(), marked_bank(), mode="balance",
                                 sampling="class_balanced", synthetic_share=0.5)
