"""The `ganaug` command: every config under configs/ runs with fast_dev_run; generate writes
tensor files, class folders and grids; load_gan finds the class from the checkpoint."""

from pathlib import Path

import pytest
import torch
import torchvision.datasets
from PIL import Image

from fake_datasets import write_fake_cifar10
from conftest import make_trainer
from ganaug.cli import generate, load_gan, main
from ganaug.data import ImageDataModule
from ganaug.modules import ConditionalGAN, GAN

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
SMALL = ["--model.init_args.g_width", "4", "--model.init_args.d_width", "4"]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_runs_fast_dev_run(config, tmp_path, trusted_fake_cifar):
    extra = []
    if "cifar10" in config.stem:
        write_fake_cifar10(tmp_path / "data")
        trusted_fake_cifar(torchvision.datasets.CIFAR10, tmp_path / "data")
        extra = ["--data.init_args.root", str(tmp_path / "data"), "--data.init_args.batch_size", "8",
                 "--data.init_args.n_per_class", "4"]  # the fake files hold 5 images per class
    main(["fit", "--config", str(config), "--trainer.fast_dev_run", "2",
          "--trainer.default_root_dir", str(tmp_path), *SMALL, *extra])


@pytest.fixture
def checkpoint(tmp_path):
    main(["fit", "--config", str(CONFIGS[0].parent / "cgan_mnist5k.yaml"), *SMALL,
          "--trainer.max_steps", "4", "--trainer.default_root_dir", str(tmp_path),
          "--trainer.enable_progress_bar", "false"])
    (path,) = tmp_path.rglob("checkpoints/last.ckpt")
    return path


def test_generate_tensor_file_and_grid(checkpoint, tmp_path):
    out = generate(checkpoint, tmp_path / "bank.pt", n_per_class=3, grid=tmp_path / "grid.png")
    bank = torch.load(out)
    assert bank["images"].shape == (30, 1, 28, 28)
    assert bank["labels"].tolist() == [c for c in range(10) for _ in range(3)]
    assert bank["images"].min() >= -1 and bank["images"].max() <= 1
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size[1] == 2 + 10 * 30  # one row of 28 px + 2 px padding per class


def test_generate_image_folder_from_the_command_line(checkpoint, tmp_path, capsys):
    main(["generate", str(checkpoint), str(tmp_path / "folder"), "--n-per-class", "2"])
    folders = sorted(p.name for p in (tmp_path / "folder").iterdir())
    assert folders == [str(c) for c in range(10)]
    assert all(len(list((tmp_path / "folder" / f).glob("*.png"))) == 2 for f in folders)
    image = Image.open(tmp_path / "folder" / "3" / "000001.png")
    assert image.size == (28, 28) and image.mode == "L"
    assert "wrote" in capsys.readouterr().out


def test_load_gan_restores_the_right_class(checkpoint):
    model = load_gan(checkpoint)
    assert type(model) is ConditionalGAN and model.hparams.g_width == 4


def test_load_gan_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_gan(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not a checkpoint written by a ganaug"):
        load_gan(tmp_path / "other.ckpt")


def test_unconditional_generate_writes_one_folder(tmp_path):
    main(["fit", "--config", str(CONFIGS[0].parent / "gan_mnist5k.yaml"), *SMALL,
          "--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp_path),
          "--trainer.enable_progress_bar", "false"])
    (ckpt,) = tmp_path.rglob("checkpoints/last.ckpt")
    assert type(load_gan(ckpt)) is GAN
    generate(ckpt, tmp_path / "out", n_per_class=3)
    assert len(list((tmp_path / "out" / "unlabelled").glob("*.png"))) == 3


def test_unknown_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train"])
    assert exit_info.value.code == 2
    assert "usage: ganaug" in capsys.readouterr().err


def test_generate_draws_a_dagan_from_a_source_dataset(tmp_path, monkeypatch):
    from ganaug.data.pairs import PairedImageDataModule
    from ganaug.modules import DAGAN

    model = DAGAN(latent_dim=8, g_width=4, d_width=4, grid_size=4, sample_every_n_epochs=0,
                  d_steps=1, seed=3)
    trainer = make_trainer(tmp_path, max_steps=2)
    trainer.fit(model, PairedImageDataModule("digits", image_size=28, n_per_class=4,
                                             test_per_class=2, batch_size=8))
    trainer.save_checkpoint(tmp_path / "dagan.ckpt")
    main(["generate", str(tmp_path / "dagan.ckpt"), str(tmp_path / "bank.pt"), "--n-per-class",
          "2", "--source-dataset", "digits", "--source-n-per-class", "4"])
    bank = torch.load(tmp_path / "bank.pt")

    source = ImageDataModule("digits", image_size=28, n_per_class=4, drop_last=False)
    source.setup()
    expected, labels = model.eval().bind(source.train_dataset).generate(
        2, torch.Generator().manual_seed(0))
    assert bank["labels"].tolist() == labels.tolist() == [c for c in range(10) for _ in range(2)]
    torch.testing.assert_close(bank["images"], expected)

    monkeypatch.setenv("GANAUG_DEBUG", "1")  # the exception itself, not the one-line message
    with pytest.raises(ValueError, match="a DAGAN makes images from real ones"):
        main(["generate", str(tmp_path / "dagan.ckpt"), str(tmp_path / "none.pt")])


def test_a_16x16_dataset_trains_from_a_config_file_alone(tmp_path):
    # the digits config builds 16x16 DCGAN networks from its architecture row: no Python
    main(["fit", "--config", str(CONFIGS[0].parent / "cgan_digits16.yaml"), *SMALL,
          "--trainer.max_steps", "3", "--trainer.default_root_dir", str(tmp_path),
          "--trainer.enable_progress_bar", "false"])
    (path,) = tmp_path.rglob("checkpoints/last.ckpt")
    model = load_gan(path)
    assert isinstance(model, ConditionalGAN) and model.iteration > 0
    assert tuple(model.hparams.architecture[1]) == (4, 2, 1)
    images = model.sample(4, [0, 1, 2, 3], torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 16, 16) and images.min() >= -1 and images.max() <= 1
    bank = torch.load(generate(path, tmp_path / "bank.pt", n_per_class=2))
    assert bank["images"].shape == (20, 1, 16, 16)
