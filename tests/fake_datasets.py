"""Tiny datasets written to disk in the real file formats, for offline tests of the loaders.

Each writer draws random pixels and labels, writes them where torchvision looks for them, and
returns what it wrote as ``(images uint8 (N, C, H, W), labels int64 (N,))`` per split, so that
tests can check the values survive the real reading code exactly. CIFAR and SVHN files are
checked by md5 in torchvision; :func:`md5_of` gives the sums to patch onto the class.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

Split = tuple[Tensor, Tensor]


def md5_of(path: Path) -> str:
    """The md5 hex digest of a file (what torchvision's integrity checks compare)."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def random_split_data(
    count: int, shape: tuple[int, int, int], num_classes: int, seed: int
) -> Split:
    """Random uint8 images (N, C, H, W) holding 0 and 255, and labels covering every class."""
    generator = np.random.default_rng(seed)
    images = generator.integers(0, 256, size=(count, *shape), dtype=np.uint8)
    images.reshape(count, -1)[:, 0] = 0
    images.reshape(count, -1)[:, -1] = 255
    labels = generator.permutation(np.arange(count) % num_classes)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


# --- MNIST / FashionMNIST: big-endian idx files in root/<Class>/raw


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An idx-ubyte file: magic (0, 0, type 0x08 = uint8, ndim), big-endian dims, raw bytes."""
    magic = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(magic + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fake_mnist(
    root: Path, folder: str = "MNIST", *, n_train: int = 30, n_test: int = 20
) -> dict[str, Split]:
    """MNIST-format files (28x28 grey, 10 classes) under ``root/<folder>/raw``."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, prefix, count, seed in (("train", "train", n_train, 0), ("test", "t10k", n_test, 1)):
        images, labels = random_split_data(count, (1, 28, 28), 10, seed)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images[:, 0].numpy())
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.numpy().astype(np.uint8))
        written[split] = (images, labels)
    return written


# --- CIFAR-10 / CIFAR-100: pickled dicts of (N, 3072) rows, channel-planar R, G, B


def _write_pickle(path: Path, content: dict) -> None:
    with open(path, "wb") as file:
        pickle.dump(content, file)


def _cifar_rows(images: Tensor) -> np.ndarray:
    """(N, 3, 32, 32) -> the (N, 3072) rows CIFAR stores: all R, then all G, then all B."""
    return images.reshape(len(images), -1).numpy()


def write_fake_cifar10(root: Path, *, n_per_batch: int = 10, n_test: int = 20) -> dict[str, Split]:
    """``root/cifar-10-batches-py`` with data_batch_1..5, test_batch and batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = []
    for number in range(1, 6):
        images, labels = random_split_data(n_per_batch, (3, 32, 32), 10, seed=number)
        content = {"data": _cifar_rows(images), "labels": labels.tolist()}
        _write_pickle(folder / f"data_batch_{number}", content)
        batches.append((images, labels))
    test_images, test_labels = random_split_data(n_test, (3, 32, 32), 10, seed=99)
    content = {"data": _cifar_rows(test_images), "labels": test_labels.tolist()}
    _write_pickle(folder / "test_batch", content)
    _write_pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)]})
    train_images = torch.cat([images for images, _ in batches])
    train_labels = torch.cat([labels for _, labels in batches])
    return {"train": (train_images, train_labels), "test": (test_images, test_labels)}


def write_fake_cifar100(root: Path, *, n_train: int = 200, n_test: int = 100) -> dict[str, Split]:
    """``root/cifar-100-python`` with train, test and meta (100 fine classes)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, count, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = random_split_data(count, (3, 32, 32), 100, seed)
        content = {
            "data": _cifar_rows(images),
            "fine_labels": labels.tolist(),
            "coarse_labels": (labels // 5).tolist(),
        }
        _write_pickle(folder / split, content)
        written[split] = (images, labels)
    _write_pickle(folder / "meta", {"fine_label_names": [f"fine{index}" for index in range(100)]})
    return written


# --- SVHN: MATLAB files with X (32, 32, 3, N) and y (N, 1), digit 0 stored as 10


def write_fake_svhn(root: Path, *, n_train: int = 30, n_test: int = 20) -> dict[str, Split]:
    """``root/train_32x32.mat`` and ``root/test_32x32.mat``; returned labels are 0-9."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, count, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = random_split_data(count, (3, 32, 32), 10, seed)
        stored_labels = np.where(labels.numpy() == 0, 10, labels.numpy()).astype(np.uint8)[:, None]
        pixels = images.permute(2, 3, 1, 0).numpy()  # (H, W, C, N) as in the SVHN files
        savemat(root / f"{split}_32x32.mat", {"X": pixels, "y": stored_labels})
        written[split] = (images, labels)
    return written


# --- image folders: root/<class>/<n>.png


def write_image_folder(
    root: Path,
    class_names: tuple[str, ...] = ("cat", "dog", "emu"),
    *,
    per_class: int = 4,
    size: tuple[int, int] = (12, 10),  # (H, W)
    mode: str = "RGB",
) -> Split:
    """``per_class`` random PNGs per class folder; returns the pixels in sorted file order."""
    channels = 1 if mode == "L" else 3
    count = per_class * len(class_names)
    images, _ = random_split_data(count, (channels, *size), len(class_names), seed=7)
    labels = torch.arange(len(class_names)).repeat_interleave(per_class)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = image.permute(1, 2, 0).numpy()
        Image.fromarray(pixels[..., 0] if mode == "L" else pixels).save(folder / f"{index:03d}.png")
    return images, labels


# --- EMNIST (Balanced): idx files in root/EMNIST/raw, every image stored transposed


def write_fake_emnist(root: Path, *, n_train: int = 94, n_test: int = 47) -> dict[str, Split]:
    """``emnist-balanced-{train,test}-{images-idx3,labels-idx1}-ubyte`` under ``root/EMNIST/raw``.

    Returns the images *upright*: the files hold each one transposed, as the real EMNIST does.
    """
    raw = root / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, count, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = random_split_data(count, (1, 28, 28), 47, seed)
        stored = images[:, 0].transpose(1, 2).numpy()
        _write_idx(raw / f"emnist-balanced-{split}-images-idx3-ubyte", stored)
        _write_idx(raw / f"emnist-balanced-{split}-labels-idx1-ubyte",
                   labels.numpy().astype(np.uint8))
        written[split] = (images, labels)
    return written


# --- Omniglot: root/omniglot-py/images_{background,evaluation}/<alphabet>/<character>/<n>.png


def write_fake_omniglot(
    root: Path,
    *,
    characters: dict[str, dict[str, int]] | None = None,  # set -> {alphabet: characters}
    per_character: int = 3,
    size: int = 105,
) -> Split:
    """PNG strokes (0) on white (255) in torchvision's Omniglot layout, plus placeholder zips
    (patch ``Omniglot.zips_md5`` with :func:`md5_of` of them). Alphabets are written in reverse
    name order to show that the loader sorts. Returns all images and labels in label order:
    background characters first, each set sorted by alphabet then character.
    """
    characters = characters or {"images_background": {"Beta": 2, "Alpha": 1},
                                "images_evaluation": {"Gamma": 2}}
    folder = root / "omniglot-py"
    images, labels = [], []
    generator = np.random.default_rng(3)
    label = 0
    for target, alphabets in characters.items():
        (folder / target).mkdir(parents=True, exist_ok=True)
        (folder / f"{target}.zip").write_bytes(target.encode())
        for alphabet in sorted(alphabets, reverse=True):  # created out of order on purpose
            (folder / target / alphabet).mkdir()
        for alphabet in sorted(alphabets):
            for number in range(1, alphabets[alphabet] + 1):
                place = folder / target / alphabet / f"character{number:02d}"
                place.mkdir(parents=True, exist_ok=True)
                for index in range(per_character):
                    pixels = np.where(generator.random((size, size)) < 0.1, 0, 255).astype(np.uint8)
                    name = place / f"{index:04d}_{number:02d}.png"
                    Image.fromarray(pixels).convert("1").save(name)
                    images.append(torch.from_numpy(pixels).unsqueeze(0))
                    labels.append(label)
                label += 1
    return torch.stack(images), torch.tensor(labels)
