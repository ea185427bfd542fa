"""Checks at every edge: every training batch of a GAN module or ClassifierModule has its images'
dtype and range and its labels' dtype and range checked (not only the first batch); float banks
are range-checked; data that looks like [0, 1] gets a warning; messages say what to do."""

import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule
from ganaug.data import LabelledImages, SyntheticBlendDataModule
from ganaug.data.bank import load_bank
from ganaug.images import check_batch
from ganaug.modules import ConditionalGAN
from test_blend import real_data

TINY = dict(latent_dim=8, g_width=4, d_width=4, image_size=28, grid_size=4)


def batches(images, labels, batch_size=4):
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=False)


def good(n=12, size=28, classes=2):
    images = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return images, torch.arange(n) % classes


def spoil_third_batch(tensor, value):
    spoiled = tensor.clone()
    spoiled[9] = value  # item 9 is in the third batch of 4
    return spoiled


# GAN modules: every batch

def fit_gan(trainer_factory, images, labels):
    model = ConditionalGAN(num_classes=2, **TINY)
    trainer_factory(max_steps=10).fit(model, batches(images, labels))


def test_gan_label_out_of_range_in_a_later_batch(trainer_factory):
    images, labels = good()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\] \(2 classes\), got labels "
                                         r"from 0 to 2; check the dataset's labels"):
        fit_gan(trainer_factory, images, spoil_third_batch(labels, 2))


def test_gan_label_dtype_and_images_in_a_later_batch(trainer_factory):
    images, labels = good()
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\], got values in \[.*, 3\]"):
        fit_gan(trainer_factory, spoil_third_batch(images, 3.0), labels)
    with pytest.raises(ValueError, match="must lie in"):
        fit_gan(trainer_factory, spoil_third_batch(images, float("nan")), labels)

    class IntLabelsLater(torch.utils.data.Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            dtype = torch.int32 if i >= 8 else torch.long
            return images[i], torch.tensor(int(labels[i]), dtype=dtype)

    with pytest.raises(ValueError, match=r"labels must be int64 class indices of shape \(4,\), got "
                                         r"torch.int32"):
        trainer_factory(max_steps=10).fit(ConditionalGAN(num_classes=2, **TINY),
                                          DataLoader(IntLabelsLater(), batch_size=4))


def test_gan_warns_about_data_that_looks_like_unit_range(trainer_factory):
    images, labels = good()
    with pytest.warns(UserWarning, match=r"looks like images in \[0, 1\].*x \* 2 - 1"):
        fit_gan(trainer_factory, (images + 1) / 2, labels)


# ClassifierModule: every batch, train and evaluation

def classifier():
    return ClassifierModule(architecture="small_cnn", num_classes=4, channels=1, image_size=8)


def small(n=12):
    images = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return images, torch.arange(n) % 4


def fit_classifier(trainer_factory, images, labels):
    trainer_factory(max_steps=3).fit(classifier(), batches(images, labels))


def test_classifier_checks_every_batch(trainer_factory):
    images, labels = small()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\] \(4 classes\), got labels "
                                         r"from 0 to 7"):
        fit_classifier(trainer_factory, images, spoil_third_batch(labels, 7))
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\].*uint8 pixels x / 127.5 - 1"):
        fit_classifier(trainer_factory, spoil_third_batch(images, 255.0), labels)
    with pytest.raises(ValueError, match=r"floating point in \[-1, 1\], got dtype torch.uint8; "
                                         r"convert uint8 pixels with x.float\(\) / 127.5 - 1"):
        fit_classifier(trainer_factory, ((images + 1) * 127.5).to(torch.uint8), labels)
    with pytest.raises(ValueError, match="not class indices"):
        fit_classifier(trainer_factory, images, labels.float())
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\]"):
        trainer_factory().test(classifier(), batches(images, spoil_third_batch(labels, -1)),
                               verbose=False)
    fit_classifier(trainer_factory, images, labels.to(torch.int32))  # any integer labels


# banks and the blend

def test_float_banks_are_range_checked(tmp_path):
    labels = torch.arange(4) % 2
    torch.save({"images": torch.full((4, 1, 8, 8), 200.0), "labels": labels}, tmp_path / "255.pt")
    with pytest.raises(ValueError, match=r"float images of the bank .*255.pt must lie in "
                                         r"\[-1, 1\], got values in \[200, 200\]"):
        load_bank(tmp_path / "255.pt")
    torch.save({"images": torch.rand(4, 1, 8, 8), "labels": labels}, tmp_path / "unit.pt")
    with pytest.warns(UserWarning,
                      match=r"unit.pt are all >= 0: this looks like images in \[0, 1\]"):
        load_bank(tmp_path / "unit.pt")
    torch.save({"images": torch.zeros(4, 1, 8, 8, dtype=torch.int32), "labels": labels},
               tmp_path / "int.pt")
    with pytest.raises(ValueError, match="must be uint8 pixels or floats in"):
        load_bank(tmp_path / "int.pt")
    torch.save({"images": torch.rand(4, 1, 8, 8) * 2 - 1, "labels": labels}, tmp_path / "ok.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_bank(tmp_path / "ok.pt").images.dtype == torch.uint8


def test_the_blend_refuses_paths_and_says_how_to_load_them(tmp_path):
    labels = torch.arange(10).repeat_interleave(20)
    torch.save({"images": torch.zeros(200, 1, 8, 8), "labels": labels}, tmp_path / "b.pt")
    for path in (str(tmp_path / "b.pt"), tmp_path / "gan.ckpt"):
        with pytest.raises(ValueError, match=r"not a path .*load_bank\(path\) for a bank file or "
                                             r"ganaug.load_gan\(path\) for a GAN checkpoint"):
            SyntheticBlendDataModule(real_data(), path, ratio=0.5)
    with pytest.raises(ValueError, match="cannot use Linear as a synthetic source"):
        SyntheticBlendDataModule(real_data(), torch.nn.Linear(2, 2), ratio=0.5)


def test_labelled_images_hint_follows_the_convention():
    with pytest.raises(ValueError, match=r"floats in \[-1, 1\] \(ganaug's convention\) with "
                                         r"ganaug.images.to_uint8\(x\)"):
        LabelledImages(torch.zeros(2, 1, 8, 8), [0, 1])


def test_check_batch_accepts_good_batches_and_needs_labels():
    images, labels = good()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_batch(images, labels, num_classes=2, channels=1, size=(28, 28))
    with pytest.raises(ValueError, match="need int64 class labels"):
        check_batch(images, None, num_classes=2)
