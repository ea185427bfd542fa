"""``evaluate``: a GAN checkpoint and a dataset -> FID, IS, KID, precision / recall with protocol.

The reference images are the chosen split of an :class:`~ganaug.data.ImageDataModule` built with
the same options as for training (same seed, same few-shot subset), converted to the model's
image size and channels. Their features are cached (:mod:`ganaug.metrics.reference`); the
generated side draws ``n_samples`` class-balanced images from the EMA generator with a fixed seed.
The result prints as a table and saves as JSON, with the extractor, the counts and the settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ganaug.metrics.callback import generated_batches
from ganaug.metrics.evaluator import EvaluationResult, GenerativeEvaluator
from ganaug.metrics.extractors import build_extractor
from ganaug.metrics.reference import load_or_compute_reference

__all__ = ["evaluate_checkpoint", "write_json"]


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    dataset: str,  # a registered dataset name
    root: str = "data",  # the dataset's folder
    split: str = "train",  # "train", "val" or "test" part of the datamodule
    n_per_class: int | None = None,  # the datamodule options used for training
    test_per_class: int | None = None,
    val_per_class: int = 0,
    data_seed: int = 0,
    n_samples: int | None = None,  # generated images; None = as many as reference images
    extractor: str | nn.Module = "inception",  # "inception", a TorchScript path, or a module
    weights_path: str | None = None,  # local Inception weights
    extractor_options: dict[str, Any] | None = None,  # e.g. TorchScriptExtractor options
    metrics: tuple[str, ...] = ("fid", "is", "kid", "pr"),
    per_class: bool = False,  # add per-class FID (conditional models)
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    is_splits: int = 10,
    seed: int = 0,  # noise seed of the generated images
    batch_size: int = 250,
    device: str = "cpu",
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> EvaluationResult:
    """Evaluate the EMA generator of ``checkpoint`` against a split of ``dataset``."""
    from ganaug.data import ImageDataModule
    from ganaug.modules.loading import load_gan

    model = load_gan(checkpoint, map_location=device).eval()
    hp = model.hparams
    data = ImageDataModule(dataset, root, image_size=hp.image_size, channels=hp.channels,
                           n_per_class=n_per_class, val_per_class=val_per_class,
                           test_per_class=test_per_class, seed=data_seed, drop_last=False)
    data.setup("evaluate")
    real = getattr(data, f"{split}_dataset", None) if split in ("train", "val", "test") else None
    if real is None:
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    if len(real) < 2:
        raise ValueError(f"the {split} split of {dataset!r} has {len(real)} images; need >= 2")

    options = dict(extractor_options or {})
    if extractor == "inception":
        options["weights_path"] = weights_path
    features = build_extractor(extractor, **options)
    features = features.to(device)
    chosen = tuple(metrics) + (("class_fid",) if per_class else ())
    evaluator = GenerativeEvaluator(features, image_shape=(hp.channels, hp.image_size, hp.image_size),
                                    metrics=chosen, num_classes=model.num_classes,
                                    kid_subset_size=kid_subset_size, kid_subsets=kid_subsets,
                                    is_splits=is_splits).to(device)
    reference = load_or_compute_reference(
        real, features, description={"dataset": dataset, "split": split, "data_seed": data_seed,
                                     "n_per_class": n_per_class},
        cache_dir=cache_dir, batch_size=batch_size, device=device, use_cache=use_cache)
    evaluator.set_reference(reference.features, reference.labels,
                            {**reference.info["description"], "count": len(reference.features),
                             "fingerprint": reference.info["fingerprint"][:16]})

    n = len(real) if n_samples is None else n_samples
    for images, labels in generated_batches(model, n, seed=seed, batch_size=batch_size):
        evaluator.update(images, real=False, labels=labels)
    result = evaluator.compute()
    result.settings.update(checkpoint=str(checkpoint), sample_seed=seed)
    return result


def write_json(result: EvaluationResult, path: str | Path) -> Path:
    """Write ``result`` as JSON at ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
    return path
