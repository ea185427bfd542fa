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

from ganaug.atomic import atomic_write_text
from ganaug.classify import ClassifierModule
from ganaug.data import ImageDataModule
from ganaug.metrics.callback import generated_batches
from ganaug.metrics.evaluator import EvaluationResult, GenerativeEvaluator
from ganaug.metrics.extractors import build_extractor
from ganaug.metrics.faithfulness import generator_faithfulness
from ganaug.metrics.reference import load_or_compute_reference
from ganaug.modules.loading import load_gan
from ganaug.sampling import ClassConditionalSampler

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
    judge: str | Path | nn.Module | None = None,  # classifier (module or ClassifierModule
    # checkpoint) for class faithfulness; None = not measured
    judge_n_per_class: int = 200,  # generated images per class for the faithfulness
    model_class: type | None = None,  # load the checkpoint as this GAN class; None = its own
) -> EvaluationResult:
    """Evaluate the EMA generator of ``checkpoint`` against a split of ``dataset``.

    With ``judge`` the result also holds the class faithfulness of ``judge_n_per_class`` fresh
    images per class (``faithfulness_mean``, ``faithfulness_worst``, ``faithfulness/class_k``);
    ``metrics=()`` measures it alone.
    """
    model = load_gan(checkpoint, map_location=device, model_class=model_class).eval()
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
    sampler = model.bind(data.train_dataset)  # DAGAN draws from the training images

    if not metrics and not per_class:
        if judge is None:
            raise ValueError("nothing to measure: give metrics, a judge, or both")
        result = EvaluationResult(values={}, counts={}, extractor={})
    else:
        description = {"dataset": dataset, "split": split, "data_seed": data_seed,
                       "n_per_class": n_per_class}
        result = _feature_metrics(
            model, sampler, real, extractor=extractor, weights_path=weights_path,
            extractor_options=extractor_options, metrics=metrics, per_class=per_class,
            kid_subset_size=kid_subset_size, kid_subsets=kid_subsets, is_splits=is_splits,
            n_samples=n_samples, seed=seed, batch_size=batch_size, device=device,
            cache_dir=cache_dir, use_cache=use_cache, description=description)
    if judge is not None:
        faithful = generator_faithfulness(sampler, _load_judge(judge, device),
                                          n_per_class=judge_n_per_class, seed=seed,
                                          batch_size=batch_size)
        result.values.update(faithful.log_values())
        result.counts["faithfulness"] = {"generated": sum(faithful.samples_per_class)}
        result.settings.update(judge=str(judge) if isinstance(judge, (str, Path)) else
                               type(judge).__name__)
    result.settings.update(checkpoint=str(checkpoint), sample_seed=seed)
    return result


def _load_judge(judge: str | Path | nn.Module, device: str) -> nn.Module:
    """A judge module, or the network of a ``ClassifierModule`` checkpoint."""
    if isinstance(judge, nn.Module):
        return judge.to(device).eval()
    path = Path(judge)
    if not path.is_file():
        raise FileNotFoundError(f"no judge checkpoint at {path}")
    return ClassifierModule.load_from_checkpoint(path, map_location=device,
                                                 weights_only=True).network.eval()


def _feature_metrics(model: nn.Module, sampler: ClassConditionalSampler, real: Any, *,
                     extractor: str | nn.Module,
                     weights_path: str | None, extractor_options: dict[str, Any] | None,
                     metrics: tuple[str, ...], per_class: bool, kid_subset_size: int,
                     kid_subsets: int, is_splits: int, n_samples: int | None, seed: int,
                     batch_size: int, device: str, cache_dir: str | None, use_cache: bool,
                     description: dict[str, Any]) -> EvaluationResult:
    """FID, IS, KID, precision / recall of ``model`` against ``real`` (the options of
    :func:`evaluate_checkpoint`)."""
    hp = model.hparams
    options = dict(extractor_options or {})
    if extractor == "inception":
        options["weights_path"] = weights_path
    features = build_extractor(extractor, **options)
    features = features.to(device)
    chosen = tuple(metrics) + (("class_fid",) if per_class else ())
    evaluator = GenerativeEvaluator(features, image_shape=(hp.channels, hp.image_size, hp.image_size),
                                    metrics=chosen, num_classes=sampler.num_classes,
                                    kid_subset_size=kid_subset_size, kid_subsets=kid_subsets,
                                    is_splits=is_splits).to(device)
    reference = load_or_compute_reference(
        real, features, description=description, cache_dir=cache_dir, batch_size=batch_size,
        device=device, use_cache=use_cache)
    evaluator.set_reference(reference.features, reference.labels,
                            {**reference.info["description"], "count": len(reference.features),
                             "fingerprint": reference.info["fingerprint"][:16]})

    n = len(real) if n_samples is None else n_samples
    for images, labels in generated_batches(sampler, n, seed=seed, batch_size=batch_size):
        evaluator.update(images, real=False, labels=labels)
    return evaluator.compute()


def write_json(result: EvaluationResult, path: str | Path) -> Path:
    """Write ``result`` as JSON at ``path`` (folders created; atomically)."""
    return atomic_write_text(
        path, json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
