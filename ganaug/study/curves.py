"""Learning curves of classifier runs, as the published study shows them (its Figs 3.5 and 3.8:
training and test error as training goes on): :class:`LearningCurve` records them during
``Trainer.fit``, :func:`read_curve` reads one back and :func:`mean_curve` averages seeds.

A point at optimizer step ``s`` holds

- ``train_loss``: the mean training loss of the steps since the previous point;
- ``train_error``: the share (%) of misclassified training samples over those steps, as the
  classifier saw them (augmented, real and synthetic alike);
- ``test_error``: the error (%) of the classifier, in eval mode, on a fixed class-balanced subset
  of the test set (``test_per_class`` images per class, drawn once with ``seed``; None = the
  whole test set). A subset keeps the curve cheap; the run's reported test error is still
  measured on the whole test set.

Evaluating in eval mode under ``torch.no_grad`` consumes no random numbers and changes no
parameter or batch-norm statistic, so a run trains to the same weights with or without a curve.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import Logger
from torch import Tensor
from torch.utils.data import Dataset

from ganaug.atomic import atomic_path
from ganaug.data.datamodule import class_balanced_split

__all__ = ["CURVE_FIELDS", "LearningCurve", "mean_curve", "read_curve"]

CURVE_FIELDS = ("step", "train_loss", "train_error", "test_error")
"""The columns of a curve's CSV file, in order."""


class LearningCurve(L.Callback):
    """Training loss / error and test error of a classifier every ``every_n_steps`` optimizer
    steps and at the last step, written to ``path`` (CSV) and to ``loggers``.

    The training error needs ``training_step`` to return ``{"loss", "correct"}`` (the count of
    correctly classified samples of the batch), as ``ClassifierModule`` does; without it the
    column is NaN. The test set is ``test_data`` or, when None, the datamodule's test set. One
    process: the study trains each run on one device.
    """

    def __init__(
        self,
        *,
        every_n_steps: int,  # optimizer steps between points
        test_data: Dataset | None = None,  # yields (image, label); None = the datamodule's test set
        test_per_class: int | None = 50,  # test images per class the curve is measured on; None = all
        seed: int = 0,  # draws the test subset (the same for every run of a study: paired curves)
        path: str | Path | None = None,  # CSV file written when training ends; None = none
        loggers: Sequence[Logger] = (),  # also get every point, as {prefix}train_loss etc.
        prefix: str = "",
        batch_size: int = 500,  # test images per forward pass
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        if test_per_class is not None and test_per_class < 1:
            raise ValueError(f"test_per_class must be >= 1 or None, got {test_per_class}")
        self.every_n_steps = every_n_steps
        self.test_data = test_data
        self.test_per_class = test_per_class
        self.seed = seed
        self.path = Path(path) if path is not None else None
        self.loggers = list(loggers)
        self.prefix = prefix
        self.batch_size = batch_size
        self.points: list[dict[str, float]] = []
        self._test: tuple[Tensor, Tensor] | None = None
        self._loss_sum, self._correct, self._seen, self._steps = 0.0, 0, 0, 0

    # the test subset, gathered once

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        data = self.test_data
        if data is None:
            if trainer.datamodule is None:
                raise ValueError("LearningCurve needs test_data when the Trainer has no datamodule")
            data = trainer.datamodule.test_dataloader().dataset
        # labels first (LabelledImages holds them), then only the kept images
        labels = getattr(data, "labels", None)
        if not isinstance(labels, Tensor) or len(labels) != len(data):
            labels = torch.as_tensor([int(data[i][1]) for i in range(len(data))])
        keep = torch.arange(len(labels))
        if self.test_per_class is not None:
            num_classes = int(labels.max()) + 1
            smallest = int(torch.bincount(labels, minlength=num_classes).min())
            (keep,) = class_balanced_split(labels, [min(self.test_per_class, smallest)],
                                           num_classes=num_classes, seed=self.seed)
        images = torch.stack([data[i][0] for i in keep.tolist()])
        self._test = images, labels[keep].long()
        self.points = []

    # one point every n steps

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._loss_sum += float(loss)
        self._steps += 1
        if isinstance(outputs, dict) and "correct" in outputs:
            self._correct += int(outputs["correct"])
            self._seen += len(batch[1])
        step = trainer.global_step
        if step % self.every_n_steps == 0 or step >= (trainer.max_steps or math.inf):
            self._add_point(step, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._steps:  # training stopped between points (max_epochs, early stopping)
            self._add_point(trainer.global_step, pl_module)
        for logger in self.loggers:
            logger.save()
        if self.path is not None:
            with atomic_path(self.path) as temporary, open(temporary, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=CURVE_FIELDS)
                writer.writeheader()
                writer.writerows(self.points)

    def _add_point(self, step: int, module: L.LightningModule) -> None:
        point = {"step": step, "train_loss": self._loss_sum / self._steps,
                 "train_error": 100.0 * (1 - self._correct / self._seen) if self._seen else math.nan,
                 "test_error": self.test_error(module)}
        self.points.append(point)
        self._loss_sum, self._correct, self._seen, self._steps = 0.0, 0, 0, 0
        values = {f"{self.prefix}{k}": v for k, v in point.items() if k != "step"}
        for logger in self.loggers:
            logger.log_metrics(values, step=step)

    @torch.no_grad()
    def test_error(self, module: L.LightningModule) -> float:
        """Error (%) of ``module`` in eval mode on the test subset."""
        images, labels = self._test
        training = module.training
        module.eval()
        wrong = 0
        for start in range(0, len(labels), self.batch_size):
            chunk = images[start:start + self.batch_size].to(module.device)
            predicted = module(chunk).argmax(dim=1).cpu()
            wrong += int((predicted != labels[start:start + self.batch_size]).sum())
        module.train(training)
        return 100.0 * wrong / max(len(labels), 1)


def read_curve(path: str | Path) -> dict[str, np.ndarray] | None:
    """A curve's columns as float arrays, or None when the file is missing (a run of an older
    study) or holds no point."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or any(field not in rows[0] for field in CURVE_FIELDS):
        return None
    return {field: np.array([float(row[field]) for row in rows]) for field in CURVE_FIELDS}


def mean_curve(curves: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    """The mean of several seeds' curves at the steps they all share (None when they share none)."""
    if not curves:
        return None
    steps = sorted(set.intersection(*(set(c["step"].tolist()) for c in curves)))
    if not steps:
        return None
    mean = {"step": np.array(steps, dtype=float)}
    for field in CURVE_FIELDS[1:]:
        columns = [[c[field][c["step"].tolist().index(s)] for s in steps] for c in curves]
        mean[field] = np.mean(columns, axis=0)
    return mean
