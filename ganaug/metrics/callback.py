"""``GenerativeMetrics``: FID, IS, KID, precision / recall and class faithfulness of the EMA
generator during training.

Every ``every_n_epochs`` epochs, at the end of the training epoch (never inside
``training_step``, where metric memory grows: torchmetrics #1959), each process samples its share
of ``n_samples`` images from the module's EMA generator (``GANModule.sample``), class-balanced
for conditional models, feeds them batch by batch to a
:class:`~ganaug.metrics.evaluator.GenerativeEvaluator` (no images are stored) and calls
``compute()``, which gathers the states of all processes. Every rank computes, so no rank waits
for another that skipped (torchmetrics #2684), and every rank logs the same numbers.

The real side is a reference of the datamodule's ``reference_split`` computed once and cached
(:mod:`ganaug.metrics.reference`); every process reads all of it, never a padded
``DistributedSampler`` shard. The feature extractor lives in the callback, not in the
LightningModule, and the callback's checkpoint state is empty, so checkpoints never carry
Inception weights.

With a ``judge`` classifier the callback also logs the class faithfulness of the same samples
(:mod:`ganaug.metrics.faithfulness`): ``faithfulness_mean``, ``faithfulness_worst`` and
``faithfulness/class_k``. ``metrics=()`` with a judge measures faithfulness alone, without any
feature extractor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from ganaug.metrics.evaluator import METRICS, EvaluationResult, GenerativeEvaluator
from ganaug.metrics.extractors import FeatureExtractor, build_extractor
from ganaug.metrics.faithfulness import ClassFaithfulness
from ganaug.metrics.reference import load_or_compute_reference
from ganaug.sampling import ClassConditionalSampler, class_balanced_labels
from ganaug.seeding import rank_seed

__all__ = ["GenerativeMetrics", "generated_batches"]


@torch.no_grad()
def generated_batches(
    model: ClassConditionalSampler,  # a GAN module, or what its bind() returned
    n_samples: int,  # images over all processes
    *,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int = 250,
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(images, labels)`` batches of rank ``rank``'s share of ``n_samples`` images.

    Conditional models get the class-balanced label sequence ``0, 1, ..., K-1, 0, 1, ...``
    cut ``rank::world_size``; the noise comes from a generator seeded by ``(seed, rank)``, so the
    same call gives the same images. One batch exists at a time.
    """
    count = len(range(rank, n_samples, world_size))
    num_classes = model.num_classes
    per_class = -(-n_samples // num_classes) if num_classes else 0
    labels = (class_balanced_labels(num_classes, per_class, interleaved=True)[:n_samples]
              [rank::world_size] if num_classes else None)
    generator = torch.Generator(device=model.device).manual_seed(rank_seed(seed, rank))
    for start in range(0, count, batch_size):
        stop = min(count, start + batch_size)
        batch_labels = labels[start:stop] if labels is not None else None
        images = model.sample(stop - start, batch_labels, generator, batch_size=batch_size)
        yield images, (batch_labels.to(images.device) if batch_labels is not None else None)


class GenerativeMetrics(L.Callback):
    """Log ``fid``, ``is``, ``kid``, ``precision``, ``recall`` (and per-class FID) while training.

    Works with any :class:`~ganaug.modules.GANModule` and a datamodule that exposes
    ``<reference_split>_dataset`` (as :class:`~ganaug.data.ImageDataModule` does).
    """

    def __init__(
        self,
        *,
        every_n_epochs: int = 1,  # evaluate after every n-th training epoch
        n_samples: int = 5000,  # generated images per evaluation, over all processes
        extractor: str | nn.Module = "inception",  # "inception", a TorchScript path, or a module
        weights_path: str | None = None,  # local Inception weights; None = download on first use
        metrics: tuple[str, ...] = ("fid", "is", "kid", "pr"),  # groups of GenerativeEvaluator
        per_class: bool = False,  # also per-class FID (conditional models only)
        reference_split: str = "train",  # the datamodule split the generator is compared with
        cache_dir: str | None = None,  # reference cache; None = ~/.cache/ganaug/metrics
        use_cache: bool = True,  # read / write cached reference features
        batch_size: int = 250,  # images per generator and extractor call
        kid_subset_size: int = 1000,  # KID samples per subset (lowered to what is available)
        kid_subsets: int = 100,  # KID subset pairs
        is_splits: int = 10,  # Inception Score splits
        seed: int = 0,  # noise seed: rank r draws from (seed, r), the same at every evaluation
        prefix: str = "",  # prepended to every logged name, e.g. "val/"
        judge: nn.Module | None = None,  # classifier for class faithfulness; None = not measured
    ) -> None:
        super().__init__()
        if every_n_epochs < 1 or n_samples < 2 or batch_size < 1:
            raise ValueError(f"need every_n_epochs >= 1, n_samples >= 2 and batch_size >= 1, got "
                             f"{every_n_epochs}, {n_samples} and {batch_size}")
        self.every_n_epochs = every_n_epochs
        self.n_samples = n_samples
        self.extractor_spec = extractor
        self.weights_path = weights_path
        self.metrics = tuple(metrics) + (("class_fid",) if per_class else ())
        if not set(self.metrics) <= set(METRICS):
            raise ValueError(f"metrics must be a subset of {METRICS}, got {tuple(metrics)}")
        if not self.metrics and judge is None:
            raise ValueError("nothing to measure: give metrics, a judge, or both")
        self.judge = judge.eval().requires_grad_(False) if judge is not None else None
        self.reference_split = reference_split
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.batch_size = batch_size
        self.options = dict(kid_subset_size=kid_subset_size, kid_subsets=kid_subsets,
                            is_splits=is_splits)
        self.seed = seed
        self.prefix = prefix
        self.evaluator: GenerativeEvaluator | None = None
        self.last_result: EvaluationResult | None = None

    # Lightning hooks

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        result = self.evaluate(trainer, pl_module)
        pl_module.log_dict({self.prefix + name: value for name, value in result.values.items()},
                           sync_dist=False)  # already equal on every rank
        if trainer.is_global_zero:
            rank_zero_info(f"generative metrics, epoch {trainer.current_epoch}:\n{result.table()}")

    # the work, callable outside of fit too

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> EvaluationResult:
        """Sample this rank's share, update, and compute the metrics over all processes."""
        sampler = self.sampler(trainer, pl_module)
        evaluator = self._evaluator(trainer, pl_module, sampler) if self.metrics else None
        faithfulness = self._faithfulness(sampler)
        if evaluator is not None:
            evaluator.reset()
        for images, labels in self.sample_shard(sampler, trainer.global_rank, trainer.world_size):
            if evaluator is not None:
                evaluator.update(images, real=False, labels=labels)
            if faithfulness is not None:
                faithfulness.update(self.judge(images), labels)
        result = evaluator.compute() if evaluator is not None else \
            EvaluationResult(values={}, counts={}, extractor={})
        if faithfulness is not None:
            faithful = faithfulness.result()
            result.values.update(faithful.log_values())
            result.counts["faithfulness"] = {"generated": sum(faithful.samples_per_class)}
        self.last_result = result
        return self.last_result

    @staticmethod
    def sampler(trainer: L.Trainer, pl_module: L.LightningModule) -> ClassConditionalSampler:
        """What the images are drawn from: the module bound to the datamodule's training images
        (``pl_module.bind``: a label-conditioned GAN is its own sampler, DAGAN draws every class
        from its real images)."""
        return pl_module.bind(getattr(trainer.datamodule, "train_dataset", None))

    def _faithfulness(self, sampler: ClassConditionalSampler) -> ClassFaithfulness | None:
        if self.judge is None:
            return None
        if sampler.num_classes < 2:
            raise ValueError("class faithfulness needs a conditional model (num_classes >= 2)")
        self.judge.to(sampler.device)
        return ClassFaithfulness(sampler.num_classes).to(sampler.device)

    def sample_shard(self, sampler: ClassConditionalSampler, rank: int,
                     world_size: int) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield batches ``(images, labels)`` of rank ``rank``'s share of the generated images
        (``sampler``: a GAN module, or what its ``bind`` returned)."""
        return generated_batches(sampler, self.n_samples, seed=self.seed, rank=rank,
                                 world_size=world_size, batch_size=self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {}  # nothing to resume: the reference is cached on disk, the extractor rebuilt

    # internals

    def _evaluator(self, trainer: L.Trainer, pl_module: L.LightningModule,
                   sampler: ClassConditionalSampler) -> GenerativeEvaluator:
        if self.evaluator is None:
            extractor = self.extractor_spec
            if not isinstance(extractor, FeatureExtractor):
                extractor = build_extractor(extractor, weights_path=self.weights_path) \
                    if isinstance(extractor, str) else build_extractor(extractor)
            extractor = extractor.to(pl_module.device)
            hp = pl_module.hparams
            if "class_fid" in self.metrics and not sampler.num_classes:
                raise ValueError("per-class FID needs a conditional model (num_classes > 0)")
            self.evaluator = GenerativeEvaluator(
                extractor, image_shape=(hp.channels, hp.image_size, hp.image_size),
                metrics=self.metrics, num_classes=sampler.num_classes, **self.options)
            self._set_reference(trainer, pl_module)
        self.evaluator.to(pl_module.device)
        return self.evaluator

    def _set_reference(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        data = getattr(datamodule, f"{self.reference_split}_dataset", None)
        if data is None or len(data) == 0:
            raise ValueError(
                f"GenerativeMetrics compares with the datamodule's {self.reference_split!r} images, "
                f"but {type(datamodule).__name__} has no {self.reference_split}_dataset; use an "
                "ImageDataModule or set reference_split")
        description = {"dataset": getattr(datamodule, "dataset", type(datamodule).__name__),
                       "split": self.reference_split}
        reference = load_or_compute_reference(
            data, self.evaluator.extractor, description=description, cache_dir=self.cache_dir,
            batch_size=self.batch_size, device=pl_module.device, use_cache=self.use_cache)
        self.evaluator.set_reference(reference.features, reference.labels,
                                     {**reference.info["description"], "count": len(reference.features),
                                      "fingerprint": reference.info["fingerprint"][:16]})
