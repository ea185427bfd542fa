"""``ImageDataModule``: a named dataset as seeded few-shot train / val / test loaders.

Splits are cut per class from a seeded permutation, so the same ``seed`` gives the same few-shot
subset on every machine and in every process. The training split is class-balanced, or
imbalanced on purpose (a count per class, or the exponential long tail of Cui et al., CVPR 2019,
"Class-balanced loss based on effective number of samples", https://arxiv.org/abs/1901.05555);
validation and test splits are always balanced. The training order and the random horizontal flip
are a pure function of ``(seed, epoch)`` (:class:`EpochSeededRandomSampler`), and the training
loader keeps its epoch and place in Lightning's checkpoints (:class:`ResumableDataLoader`), which
makes a fit resumed at any step see exactly the batches of an uninterrupted one; under DDP
Lightning shards that order. ``sampler="class_balanced"`` draws the training order with
replacement, every class equally often (:class:`ClassBalancedSampler`, also a pure function of
``(seed, epoch)``, sharded by itself).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ganaug.data.balanced_sampler import ClassBalancedSampler
from ganaug.data.datasets import DatasetInfo, LabelledImages, dataset_info, load_dataset
from ganaug.data.resumable import ResumableDataLoader
from ganaug.seeding import epoch_rng

__all__ = [
    "EpochSeededRandomSampler",
    "HorizontalFlipViews",
    "ImageDataModule",
    "TRAINING_SAMPLERS",
    "class_balanced_split",
    "long_tail_counts",
    "training_views",
]

TRAINING_SAMPLERS = ("random", "class_balanced")
"""The training orders of ``ImageDataModule(sampler=...)``: every image once an epoch in a random
order, or a class-balanced draw with replacement (:class:`ClassBalancedSampler`: on a long tail a
GAN's discriminator then sees the rare classes in every batch, as often as the common ones)."""


def long_tail_counts(largest: int, num_classes: int, imbalance_factor: float) -> list[int]:
    """Images per class decaying exponentially from ``largest`` (class 0) to
    ``largest / imbalance_factor`` (the last class).

    Class ``c`` of ``K`` gets ``n_c = floor(largest * imbalance_factor ** (-c / (K - 1)) + 0.5)``
    (rounded half up); ``imbalance_factor = n_0 / n_{K-1}`` is the ratio of the largest class to
    the smallest, and 1 gives a balanced set.
    """
    if largest < 1 or num_classes < 2:
        raise ValueError(f"need largest >= 1 and num_classes >= 2, got {largest}, {num_classes}")
    if not (isinstance(imbalance_factor, (int, float)) and math.isfinite(imbalance_factor)
            and imbalance_factor >= 1):
        raise ValueError(f"imbalance_factor must be a finite number >= 1 (largest / smallest "
                         f"class), got {imbalance_factor}")
    counts = [math.floor(largest * imbalance_factor ** (-c / (num_classes - 1)) + 0.5)
              for c in range(num_classes)]
    if counts[-1] < 1:
        raise ValueError(
            f"a long tail from {largest} images with imbalance_factor={imbalance_factor} leaves "
            f"the smallest class {largest / imbalance_factor:.2f} (< 0.5) images; lower the factor "
            f"to at most {2 * largest} or raise n_per_class")
    return counts


def class_balanced_split(
    labels: Tensor,
    sizes: Sequence[int | Sequence[int] | None],  # images per class in each part: one count for
    # every class, one count per class, or None (last part only) = the rest
    *,
    num_classes: int,
    seed: int = 0,
) -> list[Tensor]:
    """Cut disjoint parts with exactly ``sizes[i]`` images of every class (or ``sizes[i][c]`` of
    class ``c``); sorted index tensors.

    Each class's indices are permuted with ``seed`` and cut in order, so a smaller first part is
    a subset of a larger one drawn with the same seed. A part given per class occupies
    ``max(sizes[i])`` places of every class's order and class ``c`` takes the first
    ``sizes[i][c]`` of them: an imbalanced part is a subset of the balanced part of its largest
    count, and the parts after it are the same as with that balanced part.
    """
    if any(size is None for size in sizes[:-1]):
        raise ValueError("only the last part may take 'the rest' (None)")
    for size in sizes:
        if isinstance(size, Sequence) and len(size) != num_classes:
            raise ValueError(f"a part given per class needs {num_classes} counts, got {len(size)}")
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[] for _ in sizes]
    slots = [max(size) if isinstance(size, Sequence) else size for size in sizes]
    needed = sum(slot or 0 for slot in slots)
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < needed:
            raise ValueError(
                f"class {label} has only {len(members)} images but {needed} are needed "
                f"(parts of {', '.join(str(slot) for slot in slots)} per class); ask for fewer"
            )
        members = members[torch.randperm(len(members), generator=generator)]
        start = 0
        for part, size, slot in zip(parts, sizes, slots):
            stop = len(members) if slot is None else start + slot
            take = size[label] if isinstance(size, Sequence) else stop - start
            part.append(members[start:start + take])
            start = stop
    return [torch.cat(part).sort().values if part else torch.zeros(0, dtype=torch.long)
            for part in parts]


class HorizontalFlipViews(Dataset):
    """Item ``i < N`` is image ``i``; item ``N + i`` is image ``i`` mirrored left-right.

    A sampler that picks one view per image makes the flip reproducible (see
    :class:`EpochSeededRandomSampler`'s ``num_views``).
    """

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return 2 * len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        count = len(self.data)  # type: ignore[arg-type]
        image, *rest = self.data[index % count]
        return (image.flip(-1) if index >= count else image, *rest)


def training_views(data: Dataset, hflip: bool) -> tuple[Dataset, int]:
    """The dataset a training sampler draws from, and how many views of each item it holds:
    ``data`` itself (1), or its plain and mirrored views (2) when ``hflip``."""
    return (HorizontalFlipViews(data), 2) if hflip else (data, 1)


class EpochSeededRandomSampler(Sampler[int]):
    """A random order of ``num_items`` that is a pure function of ``(seed, epoch)``.

    With ``num_views > 1`` (a dataset holding ``num_views`` views of each item, view ``v`` of item
    ``i`` at ``v * num_items + i``), each item is drawn once, in one uniformly chosen view.
    The global RNG is never touched. Lightning calls ``set_epoch`` at every epoch and shards the
    order across processes under DDP.
    """

    def __init__(self, num_items: int, *, seed: int = 0, num_views: int = 1) -> None:
        if num_items < 0 or num_views < 1:
            raise ValueError(f"need num_items >= 0 and num_views >= 1, got {num_items}, {num_views}")
        self.num_items = num_items
        self.seed = seed
        self.num_views = num_views
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[int]:
        rng = epoch_rng(self.seed, self.epoch)
        order = rng.permutation(self.num_items)
        if self.num_views > 1:
            order = order + self.num_items * rng.integers(0, self.num_views, self.num_items)
        return iter(order.tolist())


class ImageDataModule(L.LightningDataModule):
    """A registered dataset as seeded, few-shot train / val / test loaders.

    Batches are ``(images, labels)``: float32 (B, C, H, W) in [-1, 1] and int64 (B,).
    Datasets with an official test split train on ``n_per_class`` images per class of the
    training split (validation takes the next ``val_per_class``) and test on the official split.
    Datasets without one (``mnist5k``, ``digits``, ``image_folder``) cut the single pool per class
    into training, validation and test parts.

    An imbalanced training split takes ``class_counts[c]`` images of class ``c``, or a long tail
    from ``n_per_class`` images of class 0 down to ``n_per_class / imbalance_factor`` of the last
    class (:func:`long_tail_counts`). It is the first ``n_c`` images of each class of the balanced
    split of its largest count with the same ``seed``, and the validation and test splits are that
    balanced split's, so balanced and imbalanced runs are tested on the same images.
    """

    def __init__(
        self,
        dataset: str = "mnist5k",  # a registered dataset name (ganaug.data.available_datasets())
        root: str = "data",  # folder of the dataset files; for image_folder, the class folders
        *,
        image_size: int | None = None,  # resize to this square size; None = as stored
        channels: int | None = None,  # 1 (luminance) or 3 (grey repeated); None = as stored
        n_per_class: int | None = None,  # training images per class; None = all available
        class_counts: list[int] | None = None,  # training images of each class (instead of
        # n_per_class); None = balanced
        imbalance_factor: float | None = None,  # long tail from n_per_class (class 0) down to
        # n_per_class / imbalance_factor (last class); None = balanced
        val_per_class: int = 0,  # validation images per class; 0 = no validation loader
        test_per_class: int | None = None,  # test images per class; None = all (the rest)
        batch_size: int = 64,  # per process under DDP
        num_workers: int = 0,  # DataLoader worker processes
        hflip: bool | None = None,  # mirror training images with p=1/2; None = dataset default
        seed: int = 0,  # seeds the split, the training order and the flips
        download: bool = False,  # let prepare_data fetch missing files
        drop_last: bool = True,  # drop the last incomplete training batch
        sampler: str = "random",  # training order: "random" (each image once an epoch) or
        # "class_balanced" (drawn with replacement, every class equally often: ClassBalancedSampler)
    ) -> None:
        super().__init__()
        self.info: DatasetInfo = dataset_info(dataset, root)
        self._validate(locals())
        # No save_hyperparameters(): Lightning merges datamodule and model hparams into one
        # logger record and refuses keys (channels, image_size) that differ in meaning.
        self.dataset = dataset
        self.root = root
        self.image_size = image_size
        self.channels = channels
        self.n_per_class = n_per_class
        self.class_counts = list(class_counts) if class_counts is not None else None
        self.imbalance_factor = imbalance_factor
        self.val_per_class = val_per_class
        self.test_per_class = test_per_class
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.hflip = self.info.hflip if hflip is None else hflip
        self.seed = seed
        self.download = download
        self.drop_last = drop_last
        self.sampler = sampler

        self.train_dataset: LabelledImages | None = None
        self.val_dataset: LabelledImages | None = None
        self.test_dataset: LabelledImages | None = None
        self.train_indices: Tensor | None = None  # into the training split (or the pool)
        self.val_indices: Tensor | None = None  # into the training split (or the pool)
        self.test_indices: Tensor | None = None  # into the test split (or the pool)

    def _validate(self, options: dict) -> None:
        for name, minimum in (("n_per_class", 1), ("test_per_class", 1)):
            if options[name] is not None and options[name] < minimum:
                raise ValueError(f"{name} must be >= {minimum} or None, got {options[name]}")
        if options["channels"] not in (None, 1, 3):
            raise ValueError(f"channels must be 1, 3 or None, got {options['channels']}")
        if options["image_size"] is not None and options["image_size"] < 4:
            raise ValueError(f"image_size must be >= 4 or None, got {options['image_size']}")
        for name, minimum in (("val_per_class", 0), ("batch_size", 1), ("num_workers", 0), ("seed", 0)):
            if options[name] < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {options[name]}")
        self._validate_imbalance(options)
        if options["sampler"] not in TRAINING_SAMPLERS:
            raise ValueError(f"sampler must be one of {TRAINING_SAMPLERS}, got {options['sampler']!r}")
        if not self.info.has_test_split and options["n_per_class"] is None \
                and options["class_counts"] is None and options["test_per_class"] is None:
            raise ValueError(
                f"dataset {options['dataset']!r} has no official test split, so its pool is cut "
                "into train / val / test per class: set n_per_class or test_per_class, otherwise "
                "no images are left for testing"
            )

    def _validate_imbalance(self, options: dict) -> None:
        counts, factor = options["class_counts"], options["imbalance_factor"]
        if counts is not None:
            if options["n_per_class"] is not None or factor is not None:
                raise ValueError("class_counts gives every class's training count: leave "
                                 "n_per_class and imbalance_factor unset")
            if len(counts) != self.info.num_classes:
                raise ValueError(f"class_counts needs one count per class of {options['dataset']!r} "
                                 f"({self.info.num_classes}), got {len(counts)}")
            if any(not isinstance(n, int) or n < 0 for n in counts) or not sum(counts):
                raise ValueError(f"class_counts must be integers >= 0, not all 0, got {counts}")
        if factor is not None:
            if options["n_per_class"] is None:
                raise ValueError("imbalance_factor shapes a long tail from n_per_class images of "
                                 "the largest class: set n_per_class")
            long_tail_counts(options["n_per_class"], self.info.num_classes, factor)  # validates

    # facts known before setup

    @property
    def train_counts(self) -> list[int] | None:
        """Training images per class asked for: a list when imbalanced, None when balanced."""
        if self.class_counts is not None:
            return list(self.class_counts)
        if self.imbalance_factor is not None:
            return long_tail_counts(self.n_per_class, self.num_classes, self.imbalance_factor)
        return None

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the batches."""
        channels = self.channels or self.info.channels
        size = (self.image_size, self.image_size) if self.image_size else self.info.image_size
        return (channels, *size)

    # loading and splitting

    def prepare_data(self) -> None:
        """Download missing files when ``download=True``; nothing otherwise."""
        if not self.download:
            return
        splits = ("train", "test") if self.info.has_test_split else ("train",)
        for split in splits:
            load_dataset(self.dataset, self.root, split, download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        pool = load_dataset(self.dataset, self.root, "train")
        classes = self.num_classes
        train_size = self.train_counts or self.n_per_class  # a list when imbalanced
        if self.info.has_test_split:
            if train_size is None:
                val, train = class_balanced_split(pool.labels, [self.val_per_class, None],
                                                  num_classes=classes, seed=self.seed)
            else:
                train, val = class_balanced_split(pool.labels, [train_size, self.val_per_class],
                                                  num_classes=classes, seed=self.seed)
            test_pool = load_dataset(self.dataset, self.root, "test")
            if self.test_per_class is None:
                test = torch.arange(len(test_pool))
            else:
                (test,) = class_balanced_split(test_pool.labels, [self.test_per_class],
                                               num_classes=classes, seed=self.seed)
        else:
            test_pool = pool
            if train_size is None:
                test, val, train = class_balanced_split(
                    pool.labels, [self.test_per_class, self.val_per_class, None],
                    num_classes=classes, seed=self.seed)
            else:
                train, val, test = class_balanced_split(
                    pool.labels, [train_size, self.val_per_class, self.test_per_class],
                    num_classes=classes, seed=self.seed)
        self._check_sizes(train, test)
        self.train_indices, self.val_indices, self.test_indices = train, val, test
        self.train_dataset = self._convert(pool.subset(train))
        self.val_dataset = self._convert(pool.subset(val))
        self.test_dataset = self._convert(test_pool.subset(test))

    def _check_sizes(self, train: Tensor, test: Tensor) -> None:
        if len(train) == 0:
            raise ValueError(f"the training split of {self.dataset!r} is empty; lower val_per_class "
                             "or test_per_class")
        if len(test) == 0:
            raise ValueError(
                f"the test split of {self.dataset!r} (what is left per class after n_per_class="
                f"{self.n_per_class or max(self.train_counts or [0])} + val_per_class="
                f"{self.val_per_class}) is empty; lower them"
            )
        if self.drop_last and self.batch_size > len(train):
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {len(train)} training images, so "
                "drop_last would leave no batch; lower batch_size or set drop_last=False"
            )

    def _convert(self, data: LabelledImages) -> LabelledImages:
        if self.channels is not None:
            data = data.with_channels(self.channels)
        if self.image_size is not None:
            data = data.resized(self.image_size)
        return data

    # loaders

    def _require_setup(self) -> None:
        if self.train_dataset is None:
            raise RuntimeError("the datamodule has no data yet: call setup() first "
                               "(the Trainer does it for you)")

    def train_dataloader(self) -> DataLoader:
        self._require_setup()
        dataset, views = training_views(self.train_dataset, self.hflip)
        sampler: Sampler[int]
        if self.sampler == "class_balanced":
            # Its own shard per process: Lightning leaves a DistributedSampler in place under DDP.
            trainer = self.trainer
            replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
            sampler = ClassBalancedSampler(self.train_dataset.labels, seed=self.seed,
                                           num_views=views, num_replicas=replicas, rank=rank)
        else:
            sampler = EpochSeededRandomSampler(len(self.train_dataset), seed=self.seed,
                                               num_views=views)
        return self._loader(dataset, sampler=sampler, drop_last=self.drop_last, resumable=True)

    def val_dataloader(self) -> DataLoader | list:
        self._require_setup()
        return self._loader(self.val_dataset) if len(self.val_dataset) else []

    def test_dataloader(self) -> DataLoader:
        self._require_setup()
        return self._loader(self.test_dataset)

    def _loader(self, dataset: Dataset, *, resumable: bool = False, **kwargs) -> DataLoader:
        """A loader of ``dataset``; a ``resumable`` one (training) keeps its place in the epoch
        in Lightning's checkpoints."""
        loader_class = ResumableDataLoader if resumable else DataLoader
        return loader_class(dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                            persistent_workers=self.num_workers > 0, **kwargs)
