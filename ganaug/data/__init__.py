"""Data: datasets by name and the datamodule that serves class-balanced few-shot splits."""

from ganaug.data.datamodule import (
    EpochSeededRandomSampler,
    HorizontalFlipViews,
    ImageDataModule,
    class_balanced_split,
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

__all__ = [
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
    "register_dataset",
]
