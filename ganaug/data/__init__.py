"""Data: datasets by name, the datamodule of few-shot splits (class-balanced or imbalanced on
purpose), class-balanced re-sampling, synthetic banks, interpolated images and the real/synthetic
blend.

The names below load their module on first use (PEP 562), so that ``import ganaug.data`` and the
dataset registry import neither Lightning nor torchvision: describing or reading a dataset stays
cheap, and the datamodules import Lightning when they are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganaug._lazy import lazy_attributes

if TYPE_CHECKING:
    from ganaug.data.balanced_sampler import (
        ClassBalancedSampler,
        class_balanced_indices,
        class_balanced_probabilities,
    )
    from ganaug.data.bank import generate_bank, load_bank, save_bank
    from ganaug.data.blend import (
        BlendedImages,
        SyntheticBlendDataModule,
        balance_counts,
        blend_counts,
    )
    from ganaug.data.datamodule import (
        EpochSeededRandomSampler,
        HorizontalFlipViews,
        ImageDataModule,
        class_balanced_split,
        long_tail_counts,
    )
    from ganaug.data.datasets import (
        DatasetInfo,
        DatasetNotFoundError,
        LabelledImages,
        available_datasets,
        dataset_info,
        load_dataset,
        register_dataset,
    )
    from ganaug.data.interpolation import InterpolationSource
    from ganaug.data.pairs import ClassPairSampler, PairedImageDataModule, class_pair_batches
    from ganaug.data.resumable import ResumableDataLoader

_HOMES = {  # public name -> the module that defines it
    **dict.fromkeys(["ClassBalancedSampler", "class_balanced_indices",
                     "class_balanced_probabilities"], "ganaug.data.balanced_sampler"),
    **dict.fromkeys(["generate_bank", "load_bank", "save_bank"], "ganaug.data.bank"),
    **dict.fromkeys(["BlendedImages", "SyntheticBlendDataModule", "balance_counts",
                     "blend_counts"], "ganaug.data.blend"),
    **dict.fromkeys(["EpochSeededRandomSampler", "HorizontalFlipViews", "ImageDataModule",
                     "class_balanced_split", "long_tail_counts"], "ganaug.data.datamodule"),
    **dict.fromkeys(["DatasetInfo", "DatasetNotFoundError", "LabelledImages",
                     "available_datasets", "dataset_info", "load_dataset", "register_dataset"],
                    "ganaug.data.datasets"),
    **dict.fromkeys(["ClassPairSampler", "PairedImageDataModule", "class_pair_batches"],
                    "ganaug.data.pairs"),
    "ResumableDataLoader": "ganaug.data.resumable",
    "InterpolationSource": "ganaug.data.interpolation",
}

__all__ = [
    "BlendedImages",
    "ClassBalancedSampler",
    "ClassPairSampler",
    "DatasetInfo",
    "DatasetNotFoundError",
    "EpochSeededRandomSampler",
    "HorizontalFlipViews",
    "ImageDataModule",
    "InterpolationSource",
    "LabelledImages",
    "PairedImageDataModule",
    "ResumableDataLoader",
    "SyntheticBlendDataModule",
    "available_datasets",
    "balance_counts",
    "blend_counts",
    "class_balanced_indices",
    "class_balanced_probabilities",
    "class_balanced_split",
    "class_pair_batches",
    "dataset_info",
    "generate_bank",
    "load_bank",
    "load_dataset",
    "long_tail_counts",
    "register_dataset",
    "save_bank",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
