"""``SyntheticBlendDataModule``: real training images blended with synthetic ones, per class.

Three modes, per class ``c`` with ``N_c`` real training images. The first two take
``k_c = floor(r * N_c + 0.5)`` synthetic images (``r * N_c`` rounded half up):

- ``replace``: ``k_c`` of the real images of class ``c`` are swapped for ``k_c`` synthetic ones, so
  the set keeps its size and class balance (``0 <= r <= 1``);
- ``augment``: ``k_c`` synthetic images of class ``c`` are added (``r >= 0``; 1 doubles the set);
- ``balance``: ``max(0, T_c - N_c)`` synthetic images of class ``c`` are added, so that every class
  reaches its target ``T_c`` (the largest class's ``N_c`` by default, or a given count per class)
  and an imbalanced set becomes balanced; every real image stays (BAGAN's use, Mariani et al.
  2018, https://arxiv.org/abs/1803.09655). A partial top-up takes a target below the largest
  class (a class already above it gets none) and/or caps the synthetic images of a class at
  ``floor(m * N_c)``, ``m = max_synthetic_per_real``, so that a 5-image class is not made 98 %
  synthetic.

Synthetic images come from a bank drawn once, or, with ``resample_every_epoch``, are drawn afresh
from a class-conditional sampler at every epoch (seeded by ``(seed, epoch)``, so a resumed fit
draws the same). The datamodule never reads a file of its own: whoever holds a bank file or a GAN
checkpoint loads it (``load_bank(path)``, ``ganaug.load_gan(path)``) and passes the result.

Which real images leave and which synthetic images enter are drawn from ``seed``. Validation and
test loaders are the real datamodule's, untouched. Each training item is ``(image, label,
is_synthetic)`` so that a classifier can report accuracy on real and synthetic samples apart.
Under DDP every process takes a disjoint share of one seeded order (no padding duplicates).

With ``synthetic_share`` every training batch holds that fraction of synthetic images (He et al.
2023 and Yu et al. 2023 find that how many synthetic images a batch holds matters, and that
performance drops once they outnumber the real ones), and an epoch is one pass over the real
images (:class:`SyntheticShareSampler`). With ``sampling="class_balanced"`` the training items
are drawn with replacement so that every class is drawn equally often
(:class:`~ganaug.data.balanced_sampler.ClassBalancedSampler`), the classic re-sampling remedy
for a long tail, with or without synthetic images.

With ``synthetic_until`` the synthetic images are in the training batches for that fraction of
the Trainer's ``max_steps`` only; from the first epoch that starts after it, training goes on
with the real images alone (a real-only last phase, deferred as Cao et al. 2019 defer their
re-weighting to the end of training). The Trainer must then reload the training loader every
epoch (``reload_dataloaders_every_n_epochs=1``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ganaug.data.balanced_sampler import ClassBalancedSampler
from ganaug.data.bank import ClassConditionalSampler, generate_bank
from ganaug.data.datamodule import EpochSeededRandomSampler, ImageDataModule, training_views
from ganaug.data.resumable import ResumableDataLoader
from ganaug.data.labelled import LabelledImages
from ganaug.diversity import DiversityControl
from ganaug.seeding import epoch_rng, step_seed

__all__ = ["BlendedImages", "ShardedEpochSeededSampler", "SyntheticBlendDataModule",
           "SyntheticShareSampler", "balance_counts", "blend_counts"]

Mode = Literal["replace", "augment", "balance"]
MODES = ("replace", "augment", "balance")
SAMPLINGS = ("random", "class_balanced")
_SHARE_STREAM = 0x5A4E  # the share sampler's order, apart from the blend's other draws


def blend_counts(class_counts: Tensor, ratio: float, mode: Mode) -> Tensor:
    """Synthetic images per class, ``floor(ratio * N_c + 0.5)``, after checking the ratio."""
    if mode not in ("replace", "augment"):
        raise ValueError(f"mode must be 'replace' or 'augment' (balance_counts gives the counts "
                         f"of 'balance'), got {mode!r}")
    if not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio < 0:
        raise ValueError(f"ratio must be a finite number >= 0, got {ratio}")
    if mode == "replace" and ratio > 1:
        raise ValueError(
            f"ratio must be <= 1 in replace mode (the fraction of real images replaced), got "
            f"{ratio}; use mode='augment' to add more synthetic images than there are real ones"
        )
    return torch.floor(class_counts.double() * ratio + 0.5).long()


def _check_target(target: int | Sequence[int] | None) -> None:
    """The form of a balance target, before the class counts are known."""
    if target is None:
        return
    values = [target] if isinstance(target, int) else list(target)
    if not values or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in values):
        raise ValueError(f"target must be None (the largest class), an integer >= 1 or one such "
                         f"integer per class, got {target}")


def _check_cap(max_synthetic_per_real: float | None) -> None:
    cap = max_synthetic_per_real
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))
                            or not math.isfinite(cap) or cap < 0):
        raise ValueError(f"max_synthetic_per_real must be a finite number >= 0 (synthetic images "
                         f"per real image of a class) or None, got {cap!r}")


def balance_counts(
    class_counts: Tensor,  # N_c: real training images per class
    target: int | Sequence[int] | None = None,  # T_c: None = max(N), one count, or one per class
    *,
    max_synthetic_per_real: float | None = None,  # m: at most floor(m * N_c) synthetic images
    # of class c; None = no cap
) -> Tensor:
    """Synthetic images per class, ``max(0, T_c - N_c)``, that bring class ``c`` from its ``N_c``
    real images up to its target ``T_c`` (a class already at or above it gets none: balancing
    never removes real images), capped at ``floor(m * N_c)``: ``T_c`` is ``max(N)`` when
    ``target`` is None, ``target`` for every class when an integer, ``target[c]`` when a list.

    Refuses a class without real images (balancing adds to real images, it does not invent a
    class), naming the classes.
    """
    _check_target(target)
    _check_cap(max_synthetic_per_real)
    counts = class_counts.long()
    if target is None:
        targets = torch.full_like(counts, int(counts.max()))
    elif isinstance(target, int):
        targets = torch.full_like(counts, target)
    else:
        if len(target) != len(counts):
            raise ValueError(f"target needs one count per class ({len(counts)}), got {len(target)}")
        targets = torch.tensor(list(target), dtype=torch.long)
    empty = [c for c in range(len(counts)) if counts[c] == 0]
    if empty:
        raise ValueError(
            f"class{'es' if len(empty) > 1 else ''} {', '.join(map(str, empty))} "
            f"ha{'ve' if len(empty) > 1 else 's'} no real training image; balance adds synthetic "
            "images to a class's real ones: give every class at least one real image")
    synthetic = (targets - counts).clamp(min=0)
    if max_synthetic_per_real is not None:
        # the small epsilon keeps m * N_c = 3.0000000000000004 or 2.9999999999999996 at 3
        cap = torch.floor(counts.double() * max_synthetic_per_real + 1e-9).long()
        synthetic = torch.minimum(synthetic, cap)
    return synthetic


def _check_source(synthetic: object) -> None:
    """Refuse anything but a bank, a class-conditional sampler or None, saying how to convert."""
    if synthetic is None or isinstance(synthetic, LabelledImages):
        return
    if isinstance(synthetic, (str, PurePath)):
        raise ValueError(
            f"the blend takes a bank or a sampler, not a path ({synthetic}): load it first, "
            "with ganaug.data.load_bank(path) for a bank file or ganaug.load_gan(path) for a "
            "GAN checkpoint")
    if not isinstance(synthetic, ClassConditionalSampler):
        raise ValueError(
            f"cannot use {type(synthetic).__name__} as a synthetic source: pass a bank "
            "(LabelledImages) or a class-conditional sampler (num_classes and "
            "sample(n, labels, generator, ...), e.g. a ConditionalGAN or dagan.with_source(data))")


class BlendedImages(LabelledImages):
    """``LabelledImages`` whose items also say whether the image is synthetic."""

    def __init__(self, images: Tensor, labels: Tensor, synthetic: Tensor, **kwargs) -> None:
        super().__init__(images, labels, **kwargs)
        if synthetic.shape != self.labels.shape or synthetic.dtype != torch.bool:
            raise ValueError("synthetic must be a bool tensor with one flag per image")
        self.synthetic = synthetic

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        image, label = super().__getitem__(index)
        return image, label, self.synthetic[index]


class ShardedEpochSeededSampler(DistributedSampler):
    """Process ``rank`` of ``num_replicas`` takes every ``num_replicas``-th item of one
    ``(seed, epoch)`` order; the remainder that does not divide evenly is dropped, so no item
    is seen twice in an epoch (DistributedSampler pads with duplicates instead)."""

    def __init__(self, num_items: int, *, num_replicas: int, rank: int, seed: int = 0,
                 num_views: int = 1) -> None:
        super().__init__(range(num_items), num_replicas=num_replicas, rank=rank, shuffle=False)
        self.order = EpochSeededRandomSampler(num_items, seed=seed, num_views=num_views)
        self.num_samples = num_items // num_replicas
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.order.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(self.order)[: self.total_size]
        return iter(order[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


class SyntheticShareSampler(DistributedSampler):
    """An order of a blend's items in which every batch holds ``synthetic_per_batch`` synthetic
    items and the rest real ones.

    The blend holds ``num_real`` real items first, then ``num_synthetic`` synthetic ones. An epoch
    is one pass over the real items in a ``(seed, epoch)`` order, ``batch_size -
    synthetic_per_batch`` per batch; the synthetic items follow their own order, reshuffled each
    time it runs out. Process ``rank`` of ``num_replicas`` takes every ``num_replicas``-th whole
    batch (the remainder that does not divide evenly is dropped), so a DataLoader with the same
    ``batch_size`` cuts exactly these batches. With ``num_views > 1`` each item is drawn in one
    uniformly chosen view, as in :class:`EpochSeededRandomSampler`.
    """

    def __init__(self, num_real: int, num_synthetic: int, *, batch_size: int,
                 synthetic_per_batch: int, seed: int = 0, num_views: int = 1,
                 num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(range(num_real + num_synthetic), num_replicas=num_replicas, rank=rank,
                         shuffle=False)
        if not 0 < synthetic_per_batch < batch_size:
            raise ValueError(f"need 0 < synthetic_per_batch < batch_size, got {synthetic_per_batch} "
                             f"of {batch_size}")
        if num_real < 1 or num_synthetic < 1:
            raise ValueError(f"a synthetic share needs real and synthetic items, got {num_real} "
                             f"and {num_synthetic}")
        self.num_real, self.num_synthetic = num_real, num_synthetic
        self.batch_size, self.synthetic_per_batch = batch_size, synthetic_per_batch
        self.seed, self.num_views = seed, num_views
        real_per_batch = batch_size - synthetic_per_batch
        self.num_batches = math.ceil(num_real / real_per_batch) // num_replicas * num_replicas

    def batches(self) -> list[list[int]]:
        """This process's batches of item indices (views included) for the current epoch."""
        rng = epoch_rng(self.seed, self.epoch, _SHARE_STREAM)
        real = rng.permutation(self.num_real)
        laps = math.ceil(self.num_batches * self.synthetic_per_batch / self.num_synthetic)
        synthetic = self.num_real + np.concatenate(
            [rng.permutation(self.num_synthetic) for _ in range(max(1, laps))])
        per_real = self.batch_size - self.synthetic_per_batch
        total = self.num_real + self.num_synthetic
        batches = []
        for b in range(self.num_batches):
            items = np.concatenate([real[b * per_real:(b + 1) * per_real],
                                    synthetic[b * self.synthetic_per_batch:
                                              (b + 1) * self.synthetic_per_batch]])
            if self.num_views > 1:
                items = items + total * rng.integers(0, self.num_views, len(items))
            batches.append(items.tolist())
        return batches[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter([index for batch in self.batches() for index in batch])

    def __len__(self) -> int:
        return sum(len(batch) for batch in self.batches())


class SyntheticBlendDataModule(L.LightningDataModule):
    """A real :class:`ImageDataModule` whose training split is blended with synthetic images.

    ``synthetic`` is a bank (``LabelledImages``, e.g. from :func:`~ganaug.data.bank.load_bank`)
    or a class-conditional sampler (:class:`~ganaug.data.bank.ClassConditionalSampler`: a trained
    conditional GAN module, or a DAGAN bound to real images with ``dagan.with_source(...)``),
    from which a bank is drawn under ``diversity``. Paths are refused: load the file first.
    """

    def __init__(
        self,
        real: ImageDataModule,
        synthetic: LabelledImages | ClassConditionalSampler | None = None,
        *,
        mode: Mode = "augment",  # "replace" real images, "augment" or "balance" the real set
        ratio: float = 0.0,  # r: replace r*N_c or add r*N_c synthetic images per class
        target: int | list[int] | None = None,  # balance: images per class afterwards (one
        # count, or one per class); None = the largest class's real count
        max_synthetic_per_real: float | None = None,  # balance: at most this many synthetic
        # images per real image of a class; None = no cap
        seed: int = 0,  # which real images leave, which synthetic ones enter, the order
        diversity: DiversityControl | None = None,  # how a bank is drawn from a generator
        referee: nn.Module | None = None,  # real-data classifier for the diversity filters
        resample_every_epoch: bool = False,  # fresh synthetic images every epoch (samplers only)
        batch_size: int | None = None,  # None = the real datamodule's
        synthetic_share: float | None = None,  # fraction of every training batch that is
        # synthetic (an epoch = one pass over the real images); None = batches drawn from the blend
        sampling: Literal["random", "class_balanced"] = "random",  # the training order: each
        # item once per epoch, or drawn with replacement, every class equally often
        synthetic_until: float | None = None,  # fraction of the Trainer's max_steps after which
        # training goes on with the real images alone; None = synthetic images to the end
    ) -> None:
        super().__init__()
        _check_source(synthetic)
        self._validate_mode(mode, ratio, target, synthetic)
        _check_cap(max_synthetic_per_real)
        if max_synthetic_per_real is not None and mode != "balance":
            raise ValueError(f"max_synthetic_per_real caps the top-up of mode='balance'; "
                             f"mode={mode!r} takes a ratio")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if synthetic_share is not None:
            if not 0 < synthetic_share < 1:
                raise ValueError(f"synthetic_share must be in (0, 1) or None, got {synthetic_share}")
            if mode != "balance" and (ratio == 0 or mode == "replace" and ratio == 1):
                raise ValueError("synthetic_share mixes real and synthetic images in every batch: "
                                 "it needs both (augment mode with ratio > 0, replace with "
                                 "0 < ratio < 1, or balance)")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if sampling != "random" and synthetic_share is not None:
            raise ValueError("sampling='class_balanced' and synthetic_share both decide what a "
                             "batch holds: choose one")
        if synthetic_until is not None and not 0 < synthetic_until < 1:
            raise ValueError(f"synthetic_until is the fraction of training with synthetic images, "
                             f"in (0, 1) or None, got {synthetic_until}")
        if resample_every_epoch and isinstance(synthetic, LabelledImages):
            raise ValueError("resample_every_epoch draws from a generator: pass a class-conditional "
                             "sampler (a GAN module), not a bank")
        self.real = real
        self.synthetic = synthetic
        self.mode = mode
        self.ratio = float(ratio)
        self.target = list(target) if isinstance(target, Sequence) else target
        self.max_synthetic_per_real = max_synthetic_per_real
        self.seed = seed
        self.diversity = diversity or DiversityControl()
        self.referee = referee
        self.resample_every_epoch = resample_every_epoch
        self._real_kept: LabelledImages | None = None
        self._drawn_epoch = 0
        self.batch_size = batch_size or real.batch_size
        self.synthetic_share = synthetic_share
        self.sampling = sampling
        self.synthetic_until = synthetic_until
        if synthetic_share is not None and not 1 <= round(synthetic_share * self.batch_size) < \
                self.batch_size:
            raise ValueError(f"synthetic_share {synthetic_share} of a batch of {self.batch_size} is "
                             f"{round(synthetic_share * self.batch_size)} images; it must be at "
                             "least 1 and leave a real one")
        self.train_dataset: BlendedImages | None = None
        self.synthetic_counts: Tensor | None = None  # per class, after setup

    @staticmethod
    def _validate_mode(mode: str, ratio: float, target: int | Sequence[int] | None,
                       synthetic: object) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != "balance":
            blend_counts(torch.zeros(1), ratio, mode)
            if target is not None:
                raise ValueError(f"target is the per-class count of mode='balance'; mode={mode!r} "
                                 "takes a ratio")
            if ratio > 0 and synthetic is None:
                raise ValueError(f"ratio={ratio} needs a synthetic source (a bank or a "
                                 "class-conditional sampler)")
            return
        _check_target(target)
        if ratio:
            raise ValueError(f"mode='balance' adds images up to a target, not a ratio: leave ratio "
                             f"at 0, got {ratio}")
        if synthetic is None:
            raise ValueError("mode='balance' needs a synthetic source (a bank or a "
                             "class-conditional sampler)")

    @property
    def num_classes(self) -> int:
        return self.real.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.real.image_shape

    # building the blend

    def prepare_data(self) -> None:
        self.real.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        self.real.setup(stage)
        real = self.real.train_dataset
        if self.mode == "balance":
            counts = balance_counts(real.class_counts(), self.target,
                                    max_synthetic_per_real=self.max_synthetic_per_real)
        else:
            counts = blend_counts(real.class_counts(), self.ratio, self.mode)
        self.synthetic_counts = counts
        rng = torch.Generator().manual_seed(self.seed)

        # real images that stay: all of them, or all but k_c per class in replace mode
        keep = torch.ones(len(real), dtype=torch.bool)
        if self.mode == "replace":
            for label, k in enumerate(counts.tolist()):
                members = torch.nonzero(real.labels == label).flatten()
                keep[members[torch.randperm(len(members), generator=rng)[:k]]] = False
        self._real_kept = real.subset(torch.nonzero(keep).flatten())

        # synthetic images that enter: k_c per class, from the bank or drawn for epoch 0
        if not int(counts.sum()):
            self.train_dataset = self._blend(None)
        elif self.resample_every_epoch:
            self._draw_for_epoch(0)
        else:
            self.train_dataset = self._blend(self._choose_synthetic(counts, rng))

    def _blend(self, synthetic: LabelledImages | None) -> BlendedImages:
        real = self._real_kept
        images, labels = [real.images], [real.labels]
        flags = [torch.zeros(len(real), dtype=torch.bool)]
        if synthetic is not None:
            images.append(synthetic.images)
            labels.append(synthetic.labels)
            flags.append(torch.ones(len(synthetic), dtype=torch.bool))
        return BlendedImages(torch.cat(images), torch.cat(labels), torch.cat(flags),
                             num_classes=real.num_classes, class_names=real.class_names)

    def _draw_for_epoch(self, epoch: int) -> None:
        """Fresh synthetic images for ``epoch``, drawn with a seed of ``(seed, epoch)``."""
        counts = self.synthetic_counts
        bank = self._draw(counts, step_seed(self.seed, 0, epoch))
        self._check_bank(bank, counts)
        self.train_dataset = self._blend(bank)
        self._drawn_epoch = epoch

    def _draw(self, counts: Tensor, seed: int) -> LabelledImages:
        """``counts`` synthetic images per class from the sampler, under the diversity control."""
        sampler = self.synthetic
        if sampler.num_classes and sampler.num_classes != self.num_classes:
            raise ValueError(f"the synthetic source makes {sampler.num_classes} classes, the real "
                             f"data has {self.num_classes}; train the GAN on this datamodule's data")
        return generate_bank(sampler, counts.tolist(), control=self.diversity,
                             referee=self.referee, seed=seed, progress=False)

    def _choose_synthetic(self, counts: Tensor, rng: torch.Generator) -> LabelledImages:
        source = self.synthetic
        bank = source if isinstance(source, LabelledImages) else self._draw(counts, self.seed)
        self._check_bank(bank, counts)
        picked = []
        for label, k in enumerate(counts.tolist()):
            members = torch.nonzero(bank.labels == label).flatten()
            picked.append(members[torch.randperm(len(members), generator=rng)[:k]])
        return bank.subset(torch.cat(picked))

    def _check_bank(self, bank: LabelledImages, counts: Tensor) -> None:
        if bank.image_shape != tuple(self.image_shape):
            raise ValueError(
                f"synthetic images are {bank.image_shape} but real images are {self.image_shape}; "
                "draw the bank from a GAN trained at the real data's image_size and channels"
            )
        if bank.num_classes != self.num_classes:
            raise ValueError(f"the synthetic bank has {bank.num_classes} classes, the real data "
                             f"{self.num_classes}; they must match")
        have = bank.class_counts()
        short = [f"class {c}: {int(have[c])} < {int(counts[c])}"
                 for c in range(self.num_classes) if have[c] < counts[c]]
        if short:
            raise ValueError(
                "the synthetic bank holds too few images (" + ", ".join(short) + "); generate "
                "more (ganaug generate --n-per-class N) or lower the ratio (or target)"
            )

    # loaders

    @property
    def reloads_every_epoch(self) -> bool:
        """Whether the training loader changes between epochs (fresh draws, or the real-only
        phase of ``synthetic_until``): fit with ``Trainer(reload_dataloaders_every_n_epochs=1)``."""
        return self.resample_every_epoch or self.synthetic_until is not None

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise RuntimeError("the datamodule has no data yet: call setup() first")
        trainer = self.trainer
        epoch = trainer.current_epoch if trainer is not None else 0
        synthetic = int(self.synthetic_counts.sum())
        if synthetic and self.reloads_every_epoch and trainer is not None and \
                trainer.reload_dataloaders_every_n_epochs != 1:
            option = "resample_every_epoch" if self.resample_every_epoch else "synthetic_until"
            raise ValueError(
                f"{option} needs the Trainer to ask for a new training loader every epoch: "
                "Trainer(reload_dataloaders_every_n_epochs=1)")
        share = self.synthetic_share is not None
        loader = self._loader(self.train_dataset, share)
        if self.synthetic_until is not None and synthetic and trainer is not None and \
                epoch >= self.real_phase_epoch(len(loader)):
            return self._loader(self._blend(None), share=False)
        if self.resample_every_epoch and synthetic and epoch != self._drawn_epoch:
            self._draw_for_epoch(epoch)  # the same counts: only the loader's images change
            loader = self._loader(self.train_dataset, share)
        return loader

    def real_phase_epoch(self, batches_per_epoch: int) -> int:
        """The first epoch of training on real images alone under ``synthetic_until``: the first
        that starts at or after ``synthetic_until`` of the Trainer's ``max_steps`` (every epoch
        before it has ``batches_per_epoch`` batches of the blend)."""
        trainer = self.trainer
        if trainer is None or trainer.max_steps is None or trainer.max_steps < 1:
            raise ValueError("synthetic_until is a fraction of the Trainer's max_steps: fit with "
                             "Trainer(max_steps=...)")
        batches = round(self.synthetic_until * trainer.max_steps) * trainer.accumulate_grad_batches
        return math.ceil(batches / max(1, batches_per_epoch))

    def _loader(self, blend: BlendedImages, share: bool) -> DataLoader:
        dataset, views = training_views(blend, self.real.hflip)
        if share:
            sampler = self._share_sampler(views)
            return ResumableDataLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                                       num_workers=self.real.num_workers, drop_last=False,
                                       persistent_workers=self.real.num_workers > 0)
        sampler = self._sampler(blend, views)
        return ResumableDataLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                                   num_workers=self.real.num_workers, drop_last=self.real.drop_last,
                                   persistent_workers=self.real.num_workers > 0)

    def _share_sampler(self, views: int) -> SyntheticShareSampler:
        trainer = self.trainer
        world = getattr(trainer, "world_size", 1) if trainer is not None else 1
        rank = trainer.global_rank if world > 1 else 0
        synthetic = int(self.train_dataset.synthetic.sum())
        return SyntheticShareSampler(
            len(self.train_dataset) - synthetic, synthetic, batch_size=self.batch_size,
            synthetic_per_batch=round(self.synthetic_share * self.batch_size), seed=self.seed,
            num_views=views, num_replicas=world, rank=rank)

    def _sampler(self, blend: BlendedImages, views: int) -> Sampler:
        trainer = self.trainer
        world = getattr(trainer, "world_size", 1) if trainer is not None else 1
        num_items = len(blend)
        if self.sampling == "class_balanced":
            return ClassBalancedSampler(blend.labels, seed=self.seed, num_views=views,
                                        num_replicas=world,
                                        rank=trainer.global_rank if world > 1 else 0)
        if world > 1:
            return ShardedEpochSeededSampler(num_items, num_replicas=world,
                                             rank=trainer.global_rank, seed=self.seed, num_views=views)
        return EpochSeededRandomSampler(num_items, seed=self.seed, num_views=views)

    def val_dataloader(self) -> DataLoader | list:
        return self.real.val_dataloader()

    def test_dataloader(self) -> DataLoader:
        return self.real.test_dataloader()
