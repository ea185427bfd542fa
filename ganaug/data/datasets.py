"""Datasets by name: the labelled container, the registry and the built-in datasets.

One import for all three, kept for ``from ganaug.data.datasets import ...``:
:class:`~ganaug.data.labelled.LabelledImages` (:mod:`ganaug.data.labelled`), the registry
(:mod:`ganaug.data.registry`: ``register_dataset``, ``load_dataset``, ``dataset_info``,
``available_datasets``, ``DatasetInfo``) and the built-in datasets, registered by importing
:mod:`ganaug.data.loaders`. Importing it imports no third-party dataset reader (torchvision
included); a loader imports its reader when it runs.
"""

from __future__ import annotations

import ganaug.data.loaders  # noqa: F401  registers the built-in datasets
from ganaug.data.labelled import LabelledImages
from ganaug.data.registry import (
    DatasetInfo,
    DatasetNotFoundError,
    available_datasets,
    dataset_info,
    load_dataset,
    register_dataset,
)

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "LabelledImages",
    "available_datasets",
    "dataset_info",
    "load_dataset",
    "register_dataset",
]
