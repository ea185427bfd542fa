"""Cached real-data features, so an evaluation during training pays only for generated images.

A reference is the extractor's features (and labels) of one set of real images. It is stored
in ``cache_dir`` under a key derived from

- a fingerprint of the images themselves (SHA-256 of the uint8 pixels and labels), so that a
  changed split, subset or resize can never reuse stale statistics,
- the extractor's identity (name, weights hash, input format, resize) and ganaug's quantisation,

and labelled with a human description (dataset, split) that is stored with it. Features, not
only mean and covariance, are kept because KID, precision / recall and per-class FID need them.
Files are written atomically (temporary file, then rename), so concurrent processes computing
the same reference cannot leave a torn file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ganaug.atomic import atomic_save
from ganaug.images import to_uint8
from ganaug.metrics.extractors import FeatureExtractor
from ganaug.serialization import load_file

__all__ = ["ReferenceFeatures", "compute_reference", "default_cache_dir", "load_or_compute_reference"]


def default_cache_dir() -> Path:
    """``$GANAUG_CACHE/metrics``, else ``~/.cache/ganaug/metrics``."""
    root = os.environ.get("GANAUG_CACHE") or Path.home() / ".cache" / "ganaug"
    return Path(root) / "metrics"


@dataclass
class ReferenceFeatures:
    """Features (N, D) float32 of real images, their labels (N,) or None, and what they are."""

    features: Tensor
    labels: Tensor | None
    info: dict[str, Any]  # description, fingerprint, extractor identity, count, key


def _batches(data: Dataset | Tensor, batch_size: int) -> Iterator[tuple[Tensor, Tensor | None]]:
    if isinstance(data, Tensor):
        for chunk in data.split(batch_size):
            yield chunk, None
        return
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        if isinstance(batch, Tensor):
            yield batch, None
        else:
            yield batch[0], (batch[1] if len(batch) > 1 else None)


def fingerprint(data: Dataset | Tensor, batch_size: int = 1024) -> str:
    """SHA-256 of the images as uint8 (and of the labels): identical data, identical print."""
    digest = hashlib.sha256()
    pixels = getattr(data, "images", None)
    if isinstance(pixels, Tensor) and pixels.dtype == torch.uint8:  # LabelledImages: no pass
        digest.update(pixels.contiguous().numpy().tobytes())
        digest.update(data.labels.contiguous().numpy().tobytes())
        return digest.hexdigest()
    for images, labels in _batches(data, batch_size):
        digest.update(to_uint8(images).contiguous().numpy().tobytes())
        if labels is not None:
            digest.update(torch.as_tensor(labels).long().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def compute_reference(
    data: Dataset | Tensor,
    extractor: FeatureExtractor,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,  # None = where the extractor is
) -> tuple[Tensor, Tensor | None]:
    """Features (N, D) on the CPU and labels (or None) of every image in ``data``, in order."""
    device = torch.device(device) if device is not None else \
        next((t.device for t in extractor.state_dict().values()), torch.device("cpu"))
    features, labels = [], []
    for images, batch_labels in _batches(data, batch_size):
        features.append(extractor(images.to(device))[0].float().cpu())
        if batch_labels is not None:
            labels.append(torch.as_tensor(batch_labels).long().cpu())
    if not features:
        raise ValueError("the reference data set is empty")
    return torch.cat(features), (torch.cat(labels) if labels else None)


def load_or_compute_reference(
    data: Dataset | Tensor,
    extractor: FeatureExtractor,
    *,
    description: dict[str, Any] | None = None,  # e.g. {"dataset": "cifar10", "split": "train"}
    cache_dir: str | Path | None = None,  # None = default_cache_dir(); the folder is created
    batch_size: int = 256,
    device: str | torch.device | None = None,
    use_cache: bool = True,  # False = always compute, never read or write the cache
) -> ReferenceFeatures:
    """The cached reference of ``data`` under ``extractor``, computing and saving it if missing."""
    identity = extractor.identity()
    info = {"description": dict(description or {}), "fingerprint": fingerprint(data),
            "extractor": identity}
    key = hashlib.sha256(json.dumps([info["fingerprint"], identity], sort_keys=True)
                         .encode()).hexdigest()[:20]
    path = Path(cache_dir or default_cache_dir()) / f"reference-{key}.pt"
    if use_cache and path.is_file():
        stored = load_file(path, kind="reference cache")
        return ReferenceFeatures(stored["features"], stored["labels"], stored["info"])

    features, labels = compute_reference(data, extractor, batch_size=batch_size, device=device)
    info.update(count=len(features), key=key)
    reference = ReferenceFeatures(features, labels, info)
    if use_cache:
        atomic_save({"features": features, "labels": labels, "info": info}, path)
    return reference
