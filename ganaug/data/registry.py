"""The dataset registry: datasets by name, each described before it is loaded.

Every dataset is described by a :class:`DatasetInfo` (classes, stored shape, whether it has an
official test split, whether flips suit it) *before* it is loaded, so that a command line can link
the class count and image shape into a model without reading an image. A loader reads one split
into a :class:`~ganaug.data.labelled.LabelledImages`; :func:`load_dataset` checks what it
returned against the description, then converts channels and size.

The built-in datasets are registered by :mod:`ganaug.data.loaders`, which
:mod:`ganaug.data.datasets` (and so ``ganaug.data``) imports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganaug.data.labelled import LabelledImages

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "available_datasets",
    "dataset_info",
    "load_dataset",
    "register_dataset",
]

SPLITS = ("train", "test")

Loader = Callable[[Path, str, bool], LabelledImages]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not where the loader looks; the message says where and how to fix."""


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset without loading it."""

    name: str
    num_classes: int
    channels: int  # as stored
    image_size: tuple[int, int]  # (H, W) as stored
    hflip: bool = False  # whether left-right mirroring keeps images plausible (not for digits)
    has_test_split: bool = False  # an official test split exists (else one pool is split)
    needs_download: bool = False  # files must be fetched once (ImageDataModule(download=True))
    class_names: tuple[str, ...] | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) as stored."""
        return (self.channels, *self.image_size)


@dataclass(frozen=True)
class _Entry:
    describe: Callable[[Path | None], DatasetInfo]  # root -> info (root matters for folders)
    load: Loader


_REGISTRY: dict[str, _Entry] = {}


def register_dataset(
    name: str,
    *,
    num_classes: int | None = None,  # required unless describe is given
    channels: int | None = None,  # stored channels; required unless describe is given
    image_size: int | tuple[int, int] | None = None,  # stored (H, W); required unless describe
    class_names: Sequence[str] | None = None,
    hflip: bool = False,  # mirrored images are plausible examples of their class
    has_test_split: bool = False,  # the loader serves split="test"
    needs_download: bool = False,  # the loader fetches files when download=True
    describe: Callable[[Path | None], DatasetInfo] | None = None,  # root -> info, for data-dependent facts
) -> Callable[[Loader], Loader]:
    """Register ``loader(root, split, download) -> LabelledImages`` under ``name`` (a decorator).

    The loader returns uint8 images of the promised shape and labels in ``[0, num_classes)``;
    :func:`load_dataset` checks the promise and does resizing and channel conversion itself.
    """
    if name in _REGISTRY:
        raise ValueError(f"dataset {name!r} is already registered; pick another name")
    if describe is None:
        if num_classes is None or channels is None or image_size is None:
            raise ValueError(
                f"dataset {name!r} needs channels, image_size and num_classes "
                "(or a describe function that tells them from the root folder)"
            )
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        info = DatasetInfo(name, num_classes, channels, size, hflip, has_test_split,
                           needs_download, tuple(class_names) if class_names else None)
        describe = lambda root: info  # noqa: E731

    def decorator(loader: Loader) -> Loader:
        _REGISTRY[name] = _Entry(describe, loader)
        return loader

    return decorator


def available_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown dataset {name!r}; available: {', '.join(available_datasets())} "
            "(or register your own with ganaug.data.register_dataset)"
        )
    return _REGISTRY[name]


def dataset_info(name: str, root: str | Path | None = None) -> DatasetInfo:
    """What is known about dataset ``name`` without loading it (``root`` matters for folders)."""
    return _entry(name).describe(Path(root) if root is not None else None)


def load_dataset(
    name: str,
    root: str | Path = "data",
    split: str = "train",
    *,
    image_size: int | tuple[int, int] | None = None,  # resize to this; None = as stored
    channels: int | None = None,  # convert to 1 or 3 channels; None = as stored
    download: bool = False,  # fetch missing files (torchvision datasets)
) -> LabelledImages:
    """Read one split of a registered dataset into memory."""
    entry = _entry(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    info = entry.describe(root)
    if split == "test" and not info.has_test_split:
        raise ValueError(
            f"dataset {name!r} has no official test split; load split='train' and cut a test "
            "set from it (ImageDataModule does this with n_per_class / test_per_class)"
        )
    data = entry.load(root, split, download)
    broken = data.image_shape != info.image_shape or (
        len(data) and int(data.labels.max()) >= info.num_classes
    )
    if broken:
        raise ValueError(
            f"dataset {name!r} promised {info.num_classes} classes of shape {info.image_shape}, "
            f"but its loader returned shape {data.image_shape} with labels up to "
            f"{int(data.labels.max()) if len(data) else None}; fix the loader or its registration"
        )
    names = data.class_names if len(data.class_names) == info.num_classes else None
    data = LabelledImages(data.images, data.labels, num_classes=info.num_classes,
                          class_names=info.class_names or names)
    if channels is not None:
        data = data.with_channels(channels)
    if image_size is not None:
        data = data.resized(image_size)
    return data
