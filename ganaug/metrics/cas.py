"""Classification accuracy score (CAS; Ravuri & Vinyals 2019, "Classification Accuracy Score for
Conditional Generative Models", https://arxiv.org/abs/1905.10887).

Train a classifier on synthetic (generated, labelled) images only, test it on the real test set,
and report its accuracy next to the accuracy of the same classifier, trained the same way, on
the real training images. A generator whose class-conditional samples cover each class as the
real data does gets a CAS close to the real accuracy; one that collapses within classes, or
mixes them up, falls behind (BigGAN-deep on ImageNet: 43 % top-1 against 73 % for real data).

Both classifiers are ``ganaug.classify.ClassifierModule``s with identical options, seed (hence
initialisation and batch order) and number of steps, so the pair is directly comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from ganaug.classify import ClassifierModule

__all__ = ["classification_accuracy_score"]


def classification_accuracy_score(
    synthetic: Dataset,  # labelled generated images: items (image, label, ...)
    real_train: Dataset,  # the real training images the generator learned from
    real_test: Dataset,  # held-out real images; both classifiers are tested here
    *,
    architecture: str = "small_cnn",  # a key of ganaug.classify.CLASSIFIERS
    num_classes: int | None = None,  # None = real_train.num_classes or the largest label + 1
    max_steps: int = 1000,  # optimiser steps of each classifier
    batch_size: int = 64,  # training and test batch size
    optimizer: str = "adam",  # "sgd" or "adam"
    lr: float = 1e-3,  # initial learning rate
    weight_decay: float = 0.0,  # L2 penalty
    lr_milestones: Sequence[float] = (),  # fractions of max_steps where lr drops 10x
    classic_augment: str = "none",  # classic augmentation of both training sets
    seed: int = 0,  # initialisation and batch order, the same for both classifiers
    num_workers: int = 0,  # DataLoader workers
    trainer_kwargs: dict[str, Any] | None = None,  # extra lightning.Trainer options
) -> dict[str, Any]:
    """Train on ``synthetic`` and on ``real_train``, test both on ``real_test``.

    Returns a dict: ``cas`` and ``real_accuracy`` (fractions in [0, 1]), ``cas_error`` and
    ``real_error`` (percent), ``cas_per_class`` and ``real_per_class`` (lists of fractions, NaN
    for classes absent from the test set), and the protocol: ``synthetic_samples``,
    ``real_train_samples``, ``test_samples``, ``architecture``, ``max_steps``, ``batch_size``,
    ``seed``.
    """
    # Check the three datasets agree on the image shape and find the classes.
    if max_steps < 1 or batch_size < 1:
        raise ValueError(f"need max_steps >= 1 and batch_size >= 1, got {max_steps}, {batch_size}")
    sets = {"synthetic": synthetic, "real_train": real_train, "real_test": real_test}
    shapes = {name: _image_shape(name, data) for name, data in sets.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"the datasets hold images of different shapes {shapes}; resize or "
                         "convert them to one (C, H, W) first")
    channels, height, width = shapes["real_train"]
    if height != width:
        raise ValueError(f"classifiers take square images, got {height}x{width}")
    num_classes = num_classes or _num_classes(real_train, real_test)

    # Train the same classifier twice, then test each on the real test set.
    options = dict(architecture=architecture, num_classes=num_classes, channels=channels,
                   image_size=height, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
                   nesterov=optimizer == "sgd", lr_milestones=tuple(lr_milestones),
                   classic_augment=classic_augment, seed=seed)
    test_loader = DataLoader(real_test, batch_size=batch_size, num_workers=num_workers)
    results = {}
    for name, train_set in (("cas", synthetic), ("real", real_train)):
        model = ClassifierModule(**options)
        loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=False,
                            num_workers=num_workers,
                            generator=torch.Generator().manual_seed(seed))
        trainer = _trainer(max_steps, trainer_kwargs)
        trainer.fit(model, loader)
        trainer.test(model, test_loader, verbose=False)
        results[name] = model.test_metrics()

    cas, real = results["cas"], results["real"]
    return {
        "cas": cas["test_acc"],
        "real_accuracy": real["test_acc"],
        "cas_error": cas["test_error"],
        "real_error": real["test_error"],
        "cas_per_class": [cas[f"test_acc_class{c}"] for c in range(num_classes)],
        "real_per_class": [real[f"test_acc_class{c}"] for c in range(num_classes)],
        "synthetic_samples": len(synthetic),  # type: ignore[arg-type]
        "real_train_samples": len(real_train),  # type: ignore[arg-type]
        "test_samples": int(cas["test_samples"]),
        "architecture": architecture,
        "max_steps": max_steps,
        "batch_size": batch_size,
        "seed": seed,
    }


def _image_shape(name: str, data: Dataset) -> tuple[int, ...]:
    if len(data) == 0:  # type: ignore[arg-type]
        raise ValueError(f"{name} is empty")
    item = data[0]
    if not isinstance(item, (tuple, list)) or len(item) < 2 or not torch.is_tensor(item[0]) \
            or item[0].ndim != 3:
        raise ValueError(f"{name} must yield (image (C, H, W), label, ...) items")
    return tuple(item[0].shape)


def _num_classes(*sets: Dataset) -> int:
    """``num_classes`` of the first set that has it, else the largest label seen + 1."""
    for data in sets:
        if isinstance(getattr(data, "num_classes", None), int):
            return data.num_classes  # type: ignore[attr-defined]
    largest = max(int(item[1]) for data in sets for item in data)  # type: ignore[attr-defined]
    return largest + 1


def _trainer(max_steps: int, extra: dict[str, Any] | None) -> L.Trainer:
    options: dict[str, Any] = dict(max_steps=max_steps, logger=False, enable_checkpointing=False,
                                   enable_progress_bar=False, enable_model_summary=False)
    options.update(extra or {})
    return L.Trainer(**options)
