"""The few-shot datasets of DAGAN's paper, read offline from fake files in their real formats:
EMNIST Balanced (idx files, stored transposed) and Omniglot (PNG folders, md5-checked zips)."""

import pytest
import torch
import torchvision.datasets

from fake_datasets import md5_of, write_fake_emnist, write_fake_omniglot
from ganaug.data import DatasetNotFoundError, dataset_info, load_dataset


def test_emnist_reads_upright_images_and_47_classes(tmp_path):
    written = write_fake_emnist(tmp_path)
    info = dataset_info("emnist")
    assert info.num_classes == 47 and info.image_shape == (1, 28, 28) and info.has_test_split
    assert info.class_names[:3] == ("0", "1", "2") and info.class_names[10] == "A"
    for split in ("train", "test"):
        data = load_dataset("emnist", tmp_path, split)
        images, labels = written[split]
        assert torch.equal(data.images, images)  # transposed back from the stored layout
        assert torch.equal(data.labels, labels)


def test_emnist_class_names_are_torchvisions_balanced_split():
    # ganaug spells them out so that describing EMNIST does not import torchvision
    expected = tuple(torchvision.datasets.EMNIST.classes_split_dict["balanced"])
    assert dataset_info("emnist").class_names == expected


def test_emnist_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        load_dataset("emnist", tmp_path, "train")


@pytest.fixture
def trusted_omniglot(tmp_path, monkeypatch):
    images, labels = write_fake_omniglot(tmp_path)
    folder = tmp_path / "omniglot-py"
    sums = {name: md5_of(folder / f"{name}.zip")
            for name in ("images_background", "images_evaluation")}
    monkeypatch.setattr(torchvision.datasets.Omniglot, "zips_md5", sums)
    return images, labels


def test_omniglot_reads_both_sets_in_sorted_class_order(tmp_path, trusted_omniglot):
    images, labels = trusted_omniglot
    info = dataset_info("omniglot")
    assert info.num_classes == 1623 and info.image_shape == (1, 105, 105)
    data = load_dataset("omniglot", tmp_path)
    assert torch.equal(data.images, images)
    assert torch.equal(data.labels, labels)
    assert data.class_counts()[:5].tolist() == [3, 3, 3, 3, 3]
    small = load_dataset("omniglot", tmp_path, image_size=28)
    assert small.images.shape == (15, 1, 28, 28)


def test_omniglot_without_its_zips_is_not_found(tmp_path):
    write_fake_omniglot(tmp_path)  # md5 sums of the placeholders differ from the real ones
    with pytest.raises(DatasetNotFoundError, match="omniglot"):
        load_dataset("omniglot", tmp_path)
    with pytest.raises(ValueError, match="no official test split"):
        load_dataset("omniglot", tmp_path, "test")
