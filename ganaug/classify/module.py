"""``ClassifierModule``: trains and evaluates a downstream classifier on real and synthetic data.

It is the *method* (loss, optimiser, step schedule, classic augmentation, metrics); the network
is a plain module from ``ganaug.classify.CLASSIFIERS`` (or whatever ``build_network`` returns in
a subclass).

Batches are ``(images, labels)`` or ``(images, labels, is_synthetic)`` with images float
(B, C, H, W) in [-1, 1], labels int64 (B,) and ``is_synthetic`` bool (B,).

Logged metrics and their units:

- ``train_loss`` (per step and epoch), ``train_acc`` and, when batches carry the synthetic flag,
  ``train_acc_real`` / ``train_acc_synthetic`` (epoch; accuracies are fractions in [0, 1], of
  the augmented training samples);
- ``val_loss``, ``val_acc``, ``val_error``, ``val_acc_class{c}``, ``val_balanced_acc``,
  ``val_balanced_error`` and the same with ``test_``: ``*_acc`` are fractions in [0, 1],
  ``*_error`` are percentages, ``100 · (1 - acc)``, the unit of the published tables.
  ``*_acc_class{c}`` is the recall of class ``c`` (its test images classified as ``c``), and
  ``*_balanced_acc`` the mean recall over the classes with test images, the accuracy that an
  imbalanced evaluation set cannot inflate (equal to ``*_acc`` on a class-balanced one).

Counts are summed across processes by torchmetrics, so the numbers are those of the whole
evaluation set under DDP, provided every sample is seen once: Lightning's DistributedSampler pads
the last batch with repeated samples when the set size is not a multiple of the process count.

Training recipes for synthetic images (He et al., ICLR 2023, "Is synthetic data from generative
models ready for image recognition?", https://arxiv.org/abs/2210.07574):

- ``synthetic_weight``: the loss of a synthetic sample counts this much against a real one's 1
  (the batch loss is the weighted mean);
- ``distill_weight`` / ``distill_temperature`` with a ``teacher`` classifier: the loss mixes the
  hard label's cross-entropy with the teacher's soft labels,
  ``(1 - a) * CE(y) + a * T^2 * KL(softmax(teacher / T) || softmax(student / T))`` (Hinton et
  al. 2015), on every sample or on the synthetic ones only (``distill_on``). A recipe that changes
  the loss needs a control run with the same recipe on real images only, or its gain cannot be
  told from distillation (the study runs one).

For imbalanced training sets, ``class_weights`` weighs each sample's loss by its class: given
weights, or ``"inverse_frequency"``, ``N / (K · N_c)`` for the ``N_c`` training images of class
``c`` among ``N`` (King & Zeng 2001; each class then carries the same total weight), counted on
the datamodule's training set when the fit starts, so that a re-balanced blend gets equal weights.
``imbalance_loss`` instead names a loss of ``ganaug.classify.imbalance`` built from the same
counts at fit start: ``"logit_adjusted"`` (Menon et al. 2021; option ``tau``) or
``"deferred_reweighting"`` (Cao et al. 2019's DRW; options ``beta`` and ``start``, a fraction of
the training steps), with its options in ``imbalance_options``; their ``prior: "real"`` counts
the real training images alone (a blend's synthetic ones left out), ``"training"`` (the default)
every training image.

Learning-rate milestones are fractions of ``trainer.estimated_stepping_batches``; the rate is
divided by ``lr_gamma`` at each. Randomness: the network is initialised from ``seed`` alone
(independent of the global RNG), and the classic augmentation of step ``k`` on rank ``r`` is drawn
from a generator seeded by ``(seed, r, k)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.checkpoint_io import use_safe_checkpoint_io
from ganaug.classify.accuracy import ConfusionCounts, GroupAccuracy
from ganaug.classify.augment import CLASSIC_POLICIES, ClassicAugment
from ganaug.classify.imbalance import (
    ClassImbalanceLoss,
    build_imbalance_loss,
    check_imbalance_loss,
)
from ganaug.classify.protocols import PAPER_PROTOCOLS
from ganaug.classify.registry import build_classifier
from ganaug.images import check_batch
from ganaug.seeding import step_seed
from ganaug.serialization import UnreadableFileError, load_file, safe_globals

__all__ = ["ClassifierModule", "inverse_frequency_weights"]

_OPTIMIZERS = ("sgd", "adam")


_AUGMENT_STREAM = 0xC1A55  # keeps the classifier's draws apart from a GAN's with the same seed


class ClassifierModule(L.LightningModule):
    """Supervised training of a classifier with per-class and real / synthetic accuracies."""

    def __init__(
        self,
        *,
        architecture: str = "small_cnn",  # a key of ganaug.classify.CLASSIFIERS
        num_classes: int = 10,  # output classes
        channels: int = 1,  # image channels
        image_size: int = 28,  # image height = width
        optimizer: str = "sgd",  # "sgd" or "adam"
        lr: float = 0.1,  # initial learning rate (use about 1e-3 with adam)
        momentum: float = 0.9,  # SGD momentum
        nesterov: bool = True,  # Nesterov momentum for SGD
        weight_decay: float = 1e-4,  # L2 penalty on all parameters
        lr_milestones: tuple[float, ...] = (0.5, 0.75),  # fractions of all steps; () = constant
        lr_gamma: float = 10.0,  # divide the learning rate by this at each milestone
        classic_augment: str = "none",  # a key of CLASSIC_POLICIES, applied in training only
        seed: int = 0,  # network initialisation and augmentation draws
        synthetic_weight: float = 1.0,  # loss weight of a synthetic sample (a real one has 1)
        distill_weight: float = 0.0,  # a: share of the teacher's soft labels in the loss; 0 = off
        distill_temperature: float = 4.0,  # T of the soft labels
        distill_on: Literal["all", "synthetic"] = "all",  # which samples get soft labels
        teacher: nn.Module | None = None,  # frozen classifier giving soft labels (not saved)
        class_weights: list[float] | str | None = None,  # loss weight per class, or
        # "inverse_frequency" of the training set; None = every class alike
        imbalance_loss: str | None = None,  # "logit_adjusted" or "deferred_reweighting", built
        # from the training set's class counts at fit start; None = plain cross-entropy
        imbalance_options: dict[str, Any] | None = None,  # its options (tau; beta, start;
        # prior: "real" = counts of the real training images alone, "training" = of all)
        channels_last: bool = False,  # NHWC memory format for the network and its inputs: faster
        # convolutions (oneDNN on CPUs, tensor cores on GPUs); results differ in the last bits
    ) -> None:
        super().__init__()
        self._validate(locals())
        self.save_hyperparameters(ignore=["teacher"])
        # The teacher is kept out of the module's children: it is never trained, saved in a
        # checkpoint or counted among the parameters; training moves it to the device.
        self._teacher = [teacher.eval().requires_grad_(False)] if teacher is not None else []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.network = self.build_network()
        if channels_last:
            self.network.to(memory_format=torch.channels_last)
        self.augment = ClassicAugment(classic_augment)
        self.train_accuracy = GroupAccuracy(2)  # group 0 = real, 1 = synthetic
        self.val_accuracy = GroupAccuracy(num_classes)
        self.test_accuracy = GroupAccuracy(num_classes)
        self.test_confusion_counts = ConfusionCounts(num_classes)
        self._confusion: list[list[int]] | None = None
        self._saw_synthetic_flag = False
        self._results: dict[str, dict[str, float]] = {}
        given = class_weights if isinstance(class_weights, (list, tuple)) else None
        self.register_buffer("class_weight", torch.tensor(given, dtype=torch.float32)
                             if given is not None else None, persistent=False)
        self.imbalance: ClassImbalanceLoss | None = None  # built at fit start (no saved state)

    @staticmethod
    def _validate(options: dict[str, Any]) -> None:
        # the architecture name is checked by build_network, which a subclass may replace
        if options["optimizer"] not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, "
                             f"got {options['optimizer']!r}")
        if options["classic_augment"] not in CLASSIC_POLICIES:
            raise ValueError(f"unknown classic_augment {options['classic_augment']!r}; choose one "
                             f"of {sorted(CLASSIC_POLICIES)}")
        if not (math.isfinite(options["lr"]) and options["lr"] > 0):
            raise ValueError(f"lr must be a positive number, got {options['lr']}")
        if options["weight_decay"] < 0 or options["momentum"] < 0:
            raise ValueError("weight_decay and momentum must be >= 0")
        if options["optimizer"] == "sgd" and options["nesterov"] and options["momentum"] <= 0:
            raise ValueError("Nesterov SGD needs momentum > 0; set nesterov=False or momentum > 0")
        milestones = tuple(options["lr_milestones"])
        if any(not 0 < m < 1 for m in milestones) or list(milestones) != sorted(set(milestones)):
            raise ValueError("lr_milestones must be increasing fractions in (0, 1), "
                             f"got {milestones}")
        if not options["lr_gamma"] > 0:
            raise ValueError(f"lr_gamma must be positive, got {options['lr_gamma']}")
        if options["num_classes"] < 2:
            raise ValueError(f"num_classes must be at least 2, got {options['num_classes']}")
        if not (math.isfinite(options["synthetic_weight"]) and options["synthetic_weight"] >= 0):
            raise ValueError(f"synthetic_weight must be a number >= 0, got {options['synthetic_weight']}")
        if not 0 <= options["distill_weight"] <= 1:
            raise ValueError(f"distill_weight must be in [0, 1], got {options['distill_weight']}")
        if not options["distill_temperature"] > 0:
            raise ValueError(f"distill_temperature must be > 0, got {options['distill_temperature']}")
        if options["distill_on"] not in ("all", "synthetic"):
            raise ValueError(f"distill_on must be 'all' or 'synthetic', got {options['distill_on']!r}")
        _validate_class_weights(options["class_weights"], options["num_classes"])
        check_imbalance_loss(options["imbalance_loss"], options["imbalance_options"])
        if options["imbalance_loss"] is not None and options["class_weights"] is not None:
            raise ValueError("class_weights and imbalance_loss both weigh the loss by class: "
                             "choose one")
        if options["distill_weight"] > 0 and options["teacher"] is None:
            raise ValueError("distill_weight > 0 needs a teacher: pass teacher=<a trained classifier "
                             "of the same classes>, e.g. the classic-augmentation run's network")

    @classmethod
    def from_protocol(cls, name: str, *, num_classes: int = 10, channels: int = 3,
                      image_size: int = 32, **overrides: Any) -> ClassifierModule:
        """The module of ``PAPER_PROTOCOLS[name]``; ``overrides`` replace any of its options.

        The protocol's ``batch_size`` and ``max_epochs`` are for the datamodule and the Trainer.
        """
        if name not in PAPER_PROTOCOLS:
            raise ValueError(f"unknown protocol {name!r}; choose one of {sorted(PAPER_PROTOCOLS)}")
        options = {**PAPER_PROTOCOLS[name].module_options(), **overrides}
        return cls(num_classes=num_classes, channels=channels, image_size=image_size, **options)

    def build_network(self) -> nn.Module:
        """The classifier: ``forward`` gives logits, ``features`` the penultimate layer.

        Override for another network; it is built under ``torch.manual_seed(seed)``.
        """
        hp = self.hparams
        return build_classifier(hp.architecture, num_classes=hp.num_classes,
                                channels=hp.channels, image_size=hp.image_size)

    # forward passes

    def forward(self, images: Tensor) -> Tensor:
        """Logits (B, num_classes) of images (B, C, H, W) in [-1, 1]."""
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.network(images)

    def features(self, images: Tensor) -> Tensor:
        """Penultimate-layer features (B, feature_dim), for filtering, coverage and domain FID."""
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.network.features(images)

    # training

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        images, labels, synthetic = self._unpack(batch)
        if self.augment.ops:
            rng = torch.Generator().manual_seed(
                step_seed(self.hparams.seed, self.global_rank, self.global_step, _AUGMENT_STREAM))
            images = self.augment(images, rng)
        logits = self(images)
        loss = self.training_loss(images, logits, labels, synthetic)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(labels), sync_dist=True)
        groups = synthetic.long() if synthetic is not None else torch.zeros_like(labels)
        correct = logits.argmax(dim=1) == labels
        self.train_accuracy.update(correct, groups)
        # the correct count lets callbacks (e.g. ganaug.study.LearningCurve) follow training error
        return {"loss": loss, "correct": correct.sum().detach()}

    def training_loss(self, images: Tensor, logits: Tensor, labels: Tensor,
                      synthetic: Tensor | None) -> Tensor:
        """Cross-entropy, mixed with the teacher's soft labels and weighted by the sample's
        source as the recipe options say; with the defaults, plain cross-entropy."""
        hp = self.hparams
        adjusted = self.imbalance.adjust_logits(logits) if self.imbalance is not None else logits
        per_sample = F.cross_entropy(adjusted, labels, reduction="none")
        if hp.distill_weight > 0:
            with torch.no_grad():
                teacher = self._teacher[0].to(images.device)(images)
            t = hp.distill_temperature
            soft = F.kl_div(F.log_softmax(logits / t, dim=1), F.log_softmax(teacher / t, dim=1),
                            reduction="none", log_target=True).sum(dim=1) * t * t
            mixed = (1 - hp.distill_weight) * per_sample + hp.distill_weight * soft
            if hp.distill_on == "synthetic":
                on = synthetic if synthetic is not None else torch.zeros_like(labels, dtype=torch.bool)
                mixed = torch.where(on, mixed, per_sample)
            per_sample = mixed
        weights = self._sample_weights(labels, synthetic)
        if weights is None:
            return per_sample.mean()
        weights = weights.to(per_sample.dtype)
        return (weights * per_sample).sum() / weights.sum().clamp(min=1e-12)

    def _sample_weights(self, labels: Tensor, synthetic: Tensor | None) -> Tensor | None:
        """Each sample's loss weight, by source (``synthetic_weight``) times by class
        (``class_weights``, or the imbalance loss's at this step); None when all are 1."""
        hp = self.hparams
        weights = None
        if synthetic is not None and hp.synthetic_weight != 1.0:
            weights = torch.where(synthetic, hp.synthetic_weight, 1.0)
        class_weight = self.class_weight
        if self.imbalance is not None:
            class_weight = self.imbalance.class_weights(self.global_step)
        if class_weight is not None:
            by_class = class_weight.to(labels.device)[labels]
            weights = by_class if weights is None else weights * by_class
        return weights

    def setup(self, stage: str) -> None:
        # checkpoints (ckpt_path, ddp_spawn's weights) read safely and written atomically
        use_safe_checkpoint_io(self._trainer)

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | Path,
        map_location: Any = None,
        hparams_file: str | Path | None = None,
        strict: bool | None = None,
        weights_only: bool = True,
        **kwargs: Any,
    ) -> ClassifierModule:
        """Lightning's ``load_from_checkpoint`` with ``weights_only=True`` only, the file read
        first by :func:`ganaug.serialization.load_file`: a missing, crafted, truncated or foreign
        file is refused with a message naming it, before Lightning reads it."""
        if weights_only is not True:
            raise ValueError("classifier checkpoints load with weights_only=True only: a "
                             "checkpoint never needs to run code to be read")
        content = load_file(checkpoint_path, kind="classifier checkpoint", mmap=True)
        gan = content.get("ganaug") if isinstance(content, dict) else None
        if isinstance(gan, dict):
            raise ValueError(
                f"{checkpoint_path} is a checkpoint of a GAN ({gan.get('class')}), not of a "
                "ClassifierModule: a judge or referee is a classifier trained on real images")
        hparams = content.get(cls.CHECKPOINT_HYPER_PARAMS_KEY) if isinstance(content, dict) \
            else None
        if not (isinstance(content, dict) and isinstance(content.get("state_dict"), dict)
                and isinstance(hparams, dict) and "architecture" in hparams):
            raise UnreadableFileError(
                f"{checkpoint_path} is not a Lightning checkpoint of a ClassifierModule (no "
                "'state_dict' and hyperparameters); a file of bare weights (a state dict) loads "
                "with ganaug.serialization.load_weights(path, ClassifierModule(...same options))")
        with safe_globals():
            return super().load_from_checkpoint(
                checkpoint_path, map_location=map_location, hparams_file=hparams_file,
                strict=strict, weights_only=True, **kwargs)

    def on_fit_start(self) -> None:
        if self.hparams.class_weights == "inverse_frequency":
            counts = _training_class_counts(self.trainer, self.hparams.num_classes)
            self.class_weight = inverse_frequency_weights(counts).to(self.device)
        if self.hparams.imbalance_loss is not None:
            options = dict(self.hparams.imbalance_options or {})
            counts = _training_class_counts(self.trainer, self.hparams.num_classes,
                                            what=f"imbalance_loss={self.hparams.imbalance_loss!r}",
                                            real_only=options.get("prior") == "real")
            self.imbalance = build_imbalance_loss(
                self.hparams.imbalance_loss, counts,
                total_steps=int(self.trainer.estimated_stepping_batches), **options).to(self.device)

    def on_train_epoch_end(self) -> None:
        correct, total = (t.double() for t in self.train_accuracy.compute())
        self.train_accuracy.reset()
        self.log("train_acc", correct.sum() / total.sum().clamp(min=1), sync_dist=True)
        if self._saw_synthetic_flag:
            for name, group in (("real", 0), ("synthetic", 1)):
                if total[group] > 0:
                    self.log(f"train_acc_{name}", correct[group] / total[group], sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum,
                                        nesterov=hp.nesterov, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        total = self.trainer.estimated_stepping_batches
        if self.trainer.ckpt_path is not None:
            # Counting the batches set up the training loader before the checkpoint was read, so
            # Lightning would never give the loader its place in the epoch (pytorch-lightning
            # #20550): let the fit loop set it up again once the checkpoint is restored.
            self.trainer.fit_loop._combined_loader = None
        if not math.isfinite(total):
            raise ValueError("the learning-rate milestones are fractions of the training length: "
                             "give the Trainer max_steps or max_epochs")
        milestones = sorted({max(1, round(f * total)) for f in hp.lr_milestones})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones,
                                                         gamma=1.0 / hp.lr_gamma)
        schedule = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    # evaluation

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_accuracy)

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        predicted, labels = self._evaluate(batch, "test", self.test_accuracy)
        self.test_confusion_counts.update(predicted, labels)

    def on_validation_epoch_end(self) -> None:
        self._log_accuracy("val", self.val_accuracy)

    def on_test_epoch_end(self) -> None:
        self._log_accuracy("test", self.test_accuracy)
        self._confusion = self.test_confusion_counts.compute().tolist()
        self.test_confusion_counts.reset()

    def predict_step(self, batch: Sequence[Tensor] | Tensor, batch_idx: int) -> dict[str, Tensor]:
        """``{"features": (B, D), "logits": (B, K)}`` of a batch (or of its first element)."""
        images = batch if isinstance(batch, Tensor) else batch[0]
        features = self.features(images)
        head = getattr(self.network, "head", None)
        return {"features": features, "logits": head(features) if head else self(images)}

    def test_metrics(self) -> dict[str, float]:
        """The test metrics of the last ``trainer.test`` as plain floats, on every process.

        Keys: ``test_acc`` (fraction), ``test_error`` (%), ``test_balanced_acc`` (fraction, the
        mean of the per-class recalls), ``test_balanced_error`` (%), ``test_samples``, and per
        class ``test_acc_class{c}`` (the recall of class ``c``, a fraction) and
        ``test_error_class{c}`` (%), NaN for a class with no test sample.
        """
        return self._stored("test")

    def test_confusion(self) -> list[list[int]]:
        """The confusion counts of the last ``trainer.test``, summed over processes: row = true
        class, column = predicted class (``[c][c]`` over row ``c``'s sum is class ``c``'s recall)."""
        if self._confusion is None:
            raise ValueError("no test confusion yet: run trainer.test first")
        return [list(row) for row in self._confusion]

    def validation_metrics(self) -> dict[str, float]:
        """Like ``test_metrics``, for the last validation epoch (keys start with ``val_``)."""
        return self._stored("val")

    # internals

    def _stored(self, stage: str) -> dict[str, float]:
        if stage not in self._results:
            run = "trainer.test" if stage == "test" else "trainer.validate or trainer.fit"
            raise ValueError(f"no {stage} metrics yet: run {run} first")
        return dict(self._results[stage])

    def _evaluate(self, batch: Sequence[Tensor], stage: str,
                  metric: GroupAccuracy) -> tuple[Tensor, Tensor]:
        """Logs the loss and counts the batch's hits; returns (predicted classes, labels)."""
        images, labels, _ = self._unpack(batch)
        logits = self(images)
        self.log(f"{stage}_loss", F.cross_entropy(logits, labels), batch_size=len(labels),
                 sync_dist=True)
        predicted = logits.argmax(dim=1)
        metric.update(predicted == labels, labels)
        return predicted, labels

    def _log_accuracy(self, stage: str, metric: GroupAccuracy) -> None:
        correct, total = (t.double() for t in metric.compute())
        metric.reset()
        accuracy = (correct.sum() / total.sum().clamp(min=1)).item()
        per_class = (correct / total).tolist()  # NaN where a class has no sample
        balanced = _balanced_accuracy(correct, total)
        results = {f"{stage}_acc": accuracy, f"{stage}_error": 100.0 * (1.0 - accuracy),
                   f"{stage}_balanced_acc": balanced,
                   f"{stage}_balanced_error": 100.0 * (1.0 - balanced),
                   f"{stage}_samples": float(total.sum().item())}
        for c, value in enumerate(per_class):
            results[f"{stage}_acc_class{c}"] = value
            results[f"{stage}_error_class{c}"] = 100.0 * (1.0 - value)
        self._results[stage] = results
        if self.trainer.sanity_checking:
            return
        self.log(f"{stage}_acc", accuracy, sync_dist=False)
        self.log(f"{stage}_error", results[f"{stage}_error"], sync_dist=False)
        self.log(f"{stage}_balanced_acc", balanced, sync_dist=False)
        for c, value in enumerate(per_class):
            if not math.isnan(value):
                self.log(f"{stage}_acc_class{c}", value, sync_dist=False)

    def _unpack(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor | None]:
        if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
            raise ValueError("a ClassifierModule batch is (images, labels) or "
                             "(images, labels, is_synthetic)")
        images, labels = batch[0], batch[1]
        synthetic = batch[2] if len(batch) == 3 else None
        hp = self.hparams
        integer = isinstance(labels, Tensor) and not labels.is_floating_point()
        if integer and labels.dtype != torch.bool:
            labels = labels.long()  # any integer class indices
        # every batch: shapes, dtypes and both ranges in one device sync (docs/benchmarks.md)
        check_batch(images, labels, num_classes=hp.num_classes, channels=hp.channels,
                    name="classifier images")
        if synthetic is not None:
            if synthetic.shape != labels.shape:
                raise ValueError(f"expected is_synthetic of shape ({len(labels)},), got "
                                 f"{tuple(synthetic.shape)}")
            self._saw_synthetic_flag = True
        return images, labels, synthetic


# imbalance


def inverse_frequency_weights(class_counts: Tensor) -> Tensor:
    """``N / (K · N_c)`` per class (float32): every class carries the same total loss weight, and
    a balanced set gets weight 1 everywhere; 0 for a class without images."""
    counts = class_counts.double()
    weights = counts.sum() / (len(counts) * counts)
    return torch.where(counts > 0, weights, 0.0).float()


def _balanced_accuracy(correct: Tensor, total: Tensor) -> float:
    """Mean recall over the classes that have samples (NaN when none has)."""
    seen = total > 0
    if not bool(seen.any()):
        return math.nan
    return float((correct[seen] / total[seen]).mean())


def _validate_class_weights(weights: object, num_classes: int) -> None:
    if weights is None or weights == "inverse_frequency":
        return
    if isinstance(weights, str):
        raise ValueError(f"class_weights must be a list of weights, 'inverse_frequency' or None, "
                         f"got {weights!r}")
    values = list(weights)  # type: ignore[call-overload]
    if len(values) != num_classes:
        raise ValueError(f"class_weights needs one weight per class ({num_classes}), got "
                         f"{len(values)}")
    if any(not math.isfinite(w) or w < 0 for w in values) or not any(values):
        raise ValueError(f"class_weights must be finite numbers >= 0, not all 0, got {values}")


def _training_class_counts(trainer: L.Trainer, num_classes: int,
                           what: str = "class_weights='inverse_frequency'",
                           real_only: bool = False) -> Tensor:
    """Images per class of the training set of the datamodule the trainer fits on; with
    ``real_only`` its real images alone (a blend flags its synthetic ones; a set without flags is
    all real)."""
    dataset = getattr(getattr(trainer, "datamodule", None), "train_dataset", None)
    if dataset is None or not hasattr(dataset, "class_counts"):
        raise ValueError(
            f"{what} counts the training images per class of the "
            "datamodule: fit with an ImageDataModule or SyntheticBlendDataModule, or pass the "
            "weights as a list")
    counts = dataset.class_counts()
    synthetic = getattr(dataset, "synthetic", None)
    if real_only and synthetic is not None:
        counts = torch.bincount(dataset.labels[~synthetic], minlength=len(counts))
    if len(counts) != num_classes:
        raise ValueError(f"the training set has {len(counts)} classes, the classifier "
                         f"{num_classes}")
    return counts
