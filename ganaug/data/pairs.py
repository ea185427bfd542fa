"""Batches of same-class pairs for image-conditioned GANs such as DAGAN.

DAGAN (Antoniou, Storkey & Edwards 2017, https://arxiv.org/abs/1711.04340) shows its
discriminator pairs ``(x, x')`` of two different real images of one class. ganaug draws the
pairs inside each training batch (``ganaug.modules.pairing.pair_within_batch``, part of the
method), which needs batches holding at least two images of every class they contain. The data
side of that is here:

- :class:`ClassPairSampler` orders the training set so that every batch is made of same-class
  pairs; it is a ``DistributedSampler`` that shards whole batches across processes itself, so
  Lightning leaves it in place under DDP, and its order is a pure function of ``(seed, epoch)``
  (a resumed fit sees the batches of an uninterrupted one);
- :class:`PairedImageDataModule` is ``ImageDataModule`` with that sampler on its training loader,
  and optionally only some classes in training (the rest stay unseen, for few-shot evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler

from ganaug.data.datamodule import ImageDataModule, training_views
from ganaug.seeding import epoch_rng

__all__ = ["ClassPairSampler", "PairedImageDataModule", "class_pair_batches"]


def class_pair_batches(
    labels: Tensor | Sequence[int],  # (N,) class of every item
    batch_size: int,  # even: a batch is batch_size / 2 same-class pairs
    *,
    seed: int = 0,  # with epoch, fixes the order
    epoch: int = 0,
    num_views: int = 1,  # views per item, view v of item i at index v * N + i (random flips)
) -> np.ndarray:
    """All batches of one epoch as an int64 array (num_batches, batch_size) of item indices.

    Each class's items are shuffled and cut into pairs (a class with an odd count leaves one
    random item out this epoch); the pairs are shuffled together and packed ``batch_size / 2``
    to a batch, and pairs that do not fill a last batch are left out. Every batch therefore holds
    an even number >= 2 of images of each class in it, and no item twice.
    """
    labels = torch.as_tensor(labels).long().reshape(-1)
    counts = _check_pairable(labels, batch_size, num_views)
    rng = epoch_rng(seed, epoch)
    pairs = []
    for label in np.flatnonzero(counts.numpy()):
        members = rng.permutation(torch.nonzero(labels == label).flatten().numpy())
        pairs.append(members[: len(members) // 2 * 2].reshape(-1, 2))
    pairs = np.concatenate(pairs)[rng.permutation(sum(len(p) for p in pairs))]
    per_batch = batch_size // 2
    num_batches = len(pairs) // per_batch
    batches = pairs[: num_batches * per_batch].reshape(num_batches, batch_size)
    if num_views > 1:
        batches = batches + len(labels) * rng.integers(0, num_views, batches.shape)
    return batches.astype(np.int64)


def _check_pairable(labels: Tensor, batch_size: int, num_views: int) -> Tensor:
    if batch_size < 2 or batch_size % 2:
        raise ValueError(f"batch_size must be even and >= 2 (batches are made of same-class "
                         f"pairs), got {batch_size}")
    if num_views < 1:
        raise ValueError(f"num_views must be >= 1, got {num_views}")
    if len(labels) and int(labels.min()) < 0:
        raise ValueError("labels must be class indices >= 0")
    counts = torch.bincount(labels) if len(labels) else torch.zeros(0, dtype=torch.long)
    alone = torch.nonzero(counts == 1).flatten().tolist()
    if alone:
        raise ValueError(
            f"class(es) {alone[:10]}{' ...' if len(alone) > 10 else ''} have a single image, "
            "which has no partner to pair with; give every class at least two images or drop them"
        )
    pairs = int((counts // 2).sum())
    if pairs < batch_size // 2:
        raise ValueError(f"the {len(labels)} images make only {pairs} same-class pairs, fewer "
                         f"than one batch of {batch_size // 2} pairs; lower batch_size")
    return counts


class ClassPairSampler(DistributedSampler):
    """Indices in batches of same-class pairs (:func:`class_pair_batches`), whole batches per
    process: process ``rank`` takes batches ``rank, rank + num_replicas, ...``, all processes the
    same number. Use with ``DataLoader(batch_size=batch_size, sampler=..., drop_last=True)``.

    A ``DistributedSampler`` subclass on purpose: Lightning replaces any other sampler with its own
    under DDP, which would split the pairs. One process: ``num_replicas=1, rank=0``.
    """

    def __init__(
        self,
        labels: Tensor | Sequence[int],  # (N,) class of every item
        *,
        batch_size: int,  # even; must equal the DataLoader's batch_size
        seed: int = 0,  # with the epoch, fixes the order
        num_views: int = 1,  # views per item (see class_pair_batches)
        num_replicas: int = 1,  # processes
        rank: int = 0,  # this process
    ) -> None:
        self.labels = torch.as_tensor(labels).long().reshape(-1)
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got "
                             f"{num_replicas} and {rank}")
        counts = _check_pairable(self.labels, batch_size, num_views)
        per_batch = batch_size // 2
        self.batches_per_replica = int((counts // 2).sum()) // per_batch // num_replicas
        if self.batches_per_replica == 0:
            raise ValueError(f"{num_replicas} processes need {num_replicas} batches of "
                             f"{batch_size}, more than the pairs make; lower batch_size")
        super().__init__(self.labels, num_replicas=num_replicas, rank=rank, shuffle=True,
                         seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.num_views = num_views
        self.num_samples = self.batches_per_replica * batch_size
        self.total_size = self.num_samples * num_replicas

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        batches = class_pair_batches(self.labels, self.batch_size, seed=self.seed,
                                     epoch=self.epoch, num_views=self.num_views)
        mine = batches[self.rank :: self.num_replicas][: self.batches_per_replica]
        return iter(mine.reshape(-1).tolist())


class PairedImageDataModule(ImageDataModule):
    """``ImageDataModule`` whose training batches are same-class pairs (:class:`ClassPairSampler`).

    All options are those of ``ImageDataModule``, plus ``train_classes``. ``batch_size`` must be
    even; ``drop_last`` is implied (a batch is always full).
    """

    def __init__(
        self,
        dataset: str = "mnist5k",  # a registered dataset name (ganaug.data.available_datasets())
        root: str = "data",  # folder of the dataset files
        *,
        train_classes: list[int] | None = None,  # train only on these classes; None = all
        **kwargs: Any,  # ImageDataModule options (n_per_class, batch_size, seed, hflip, ...)
    ) -> None:
        super().__init__(dataset, root, **kwargs)
        if self.sampler != "random":
            raise ValueError(f"PairedImageDataModule draws its own batches of same-class pairs "
                             f"(ClassPairSampler): leave sampler='random', got {self.sampler!r}")
        if self.batch_size % 2:
            raise ValueError(f"batch_size must be even (batches are same-class pairs), got "
                             f"{self.batch_size}")
        if train_classes is not None:
            bad = [c for c in train_classes if not 0 <= c < self.num_classes]
            if bad or not train_classes:
                raise ValueError(f"train_classes must be a non-empty list of classes in "
                                 f"[0, {self.num_classes}), got {train_classes}")
        self.train_classes = None if train_classes is None else sorted(set(train_classes))

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        super().setup(stage)
        if self.train_classes is not None:
            keep = torch.isin(self.train_dataset.labels, torch.tensor(self.train_classes))
            self.train_indices = self.train_indices[keep]
            self.train_dataset = self.train_dataset.subset(torch.nonzero(keep).flatten())

    def train_dataloader(self) -> DataLoader:
        self._require_setup()
        dataset, views = training_views(self.train_dataset, self.hflip)
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = ClassPairSampler(self.train_dataset.labels, batch_size=self.batch_size,
                                   seed=self.seed, num_views=views, num_replicas=replicas,
                                   rank=rank)
        return self._loader(dataset, sampler=sampler, drop_last=True, resumable=True)
