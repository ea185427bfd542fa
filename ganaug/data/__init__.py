"""Data: datasets by name, the datamodule of few-shot splits (class-balanced or imbalanced on
purpose), synthetic banks and the real/synthetic blend."""

from ganaug.data.bank import generate_bank, load_bank, save_bank
from ganaug.data.blend import BlendedImages, SyntheticBlendDataModule, balance_counts, blend_counts
from ganaug.data.datamodule import (
    EpochSeededRandomSampler,
    HorizontalFlipViews,
    ImageDataModule,
    class_balanced_split,
    long_tail_counts,
)
from ganaug.data.resumable import ResumableDataLoader
from ganaug.data.datasets import (
    DatasetInfo,
    DatasetNotFoundError,
    LabelledImages,
    available_datasets,
    dataset_info,
    load_dataset,
    register_dataset,
)

__all__ = [
    "BlendedImages",
    "SyntheticBlendDataModule",
    "balance_counts",
    "blend_counts",
    "generate_bank",
    "load_bank",
    "save_bank",
    "DatasetInfo",
    "DatasetNotFoundError",
    "EpochSeededRandomSampler",
    "HorizontalFlipViews",
    "ImageDataModule",
    "LabelledImages",
    "available_datasets",
    "class_balanced_split",
    "dataset_info",
    "load_dataset",
    "long_tail_counts",
    "register_dataset",
    "ResumableDataLoader",
]
from ganaug.data.pairs import (  # noqa: E402
    ClassPairSampler,
    PairedImageDataModule,
    class_pair_batches,
)

__all__ += ["ClassPairSampler", "PairedImageDataModule", "class_pair_batches"]
