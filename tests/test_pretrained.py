"""``save_pretrained`` / ``from_pretrained``: every GAN family round-trips through a folder of
safetensors weights, a JSON config and a model card with identical outputs; ``load_gan`` and
``ganaug generate`` take such folders; foreign, broken or mismatched folders are refused with a
message naming what is wrong, and nothing in a folder is ever unpickled."""

from __future__ import annotations

import json
import shutil
import struct

import pytest
import torch

from conftest import make_trainer
from ganaug.cli import generate
from ganaug.data import ImageDataModule
from ganaug.modules import (
    DAGAN,
    GAN,
    BigGAN,
    CheckpointError,
    CheckpointMismatchError,
    ConditionalGAN,
    GANModule,
    load_gan,
)
from ganaug.study import Study, StudyConfig
from ganaug.study.config import DEFAULTS_BEFORE_0_2, Variant

FAMILIES = {
    "gan": lambda: GAN(latent_dim=8, g_width=4, d_width=4, grid_size=4, seed=1),
    "cgan": lambda: ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4,
                                   grid_size=10, seed=1, betas=(0.0, 0.99), ada_target=0.6),
    "biggan": lambda: BigGAN(num_classes=10, latent_dim=8, g_width=1, d_width=1, channels=3,
                             image_size=32, grid_size=10, seed=1),
    "dagan": lambda: DAGAN(latent_dim=8, g_width=4, d_width=4, grid_size=4,
                           sample_every_n_epochs=0, seed=1),
}


def trained_like(model: GANModule, seed: int = 0) -> GANModule:
    """``model`` with every float tensor of its state moved by seeded noise, so that weights
    rebuilt from its options alone would differ from the saved ones."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(0.05 * torch.randn(value.shape, generator=g))
    model.iteration, model.d_steps_done = 7, 14
    return model


def outputs(model: GANModule) -> torch.Tensor:
    """The EMA generator's images for fixed noise and conditions (labels, or real images)."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(6, model.hparams.latent_dim, generator=g)
    if model.conditions_on == "image":
        c = torch.rand(6, model.hparams.channels, model.hparams.image_size,
                       model.hparams.image_size, generator=g) * 2 - 1
    else:
        c = torch.arange(6) % model.num_classes if model.conditional else None
    return model(z, c)


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_gives_identical_outputs(family, tmp_path):
    model = trained_like(FAMILIES[family]()).eval()
    folder = model.save_pretrained(tmp_path / family, metrics={"FID": 12.5})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                        "model.safetensors"]
    # safetensors: an 8-byte little-endian header size, then a JSON header; no pickle, no zip
    raw = (folder / "model.safetensors").read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    assert not any(key.startswith(("generator.", "discriminator.")) for key in header)
    assert any(key.startswith("generator_ema.") for key in header)

    loaded = load_gan(folder)
    assert type(loaded) is type(model)
    assert torch.equal(outputs(loaded), outputs(model))
    assert torch.equal(loaded.sample_grid(), model.sample_grid())
    for key, value in model.generator_ema.state_dict().items():
        assert torch.equal(loaded.generator_ema.state_dict()[key], value), key
        assert torch.equal(loaded.generator.state_dict()[key], value), key  # G takes EMA G's
    assert (loaded.iteration, loaded.d_steps_done) == (7, 14)
    assert {k: v for k, v in loaded.hparams.items()} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in model.hparams.items()}
    if model.conditional:
        g1, g2 = (torch.Generator().manual_seed(5) for _ in range(2))
        assert torch.equal(loaded.sample(8, generator=g1), model.sample(8, generator=g2))

    card = (folder / "README.md").read_text()
    assert type(model).__name__ in card and "| FID | 12.5 |" in card
    assert "Trained for 7 iterations (14 discriminator steps)" in card


def test_training_networks_are_saved_when_asked(tmp_path):
    model = trained_like(FAMILIES["cgan"]())
    loaded = ConditionalGAN.from_pretrained(
        model.save_pretrained(tmp_path, training_networks=True))
    for name in ("generator", "discriminator", "generator_ema"):
        mine = getattr(model, name).state_dict()
        for key, value in getattr(loaded, name).state_dict().items():
            assert torch.equal(value, mine[key]), f"{name}.{key}"
    assert "it can train on" in (tmp_path / "README.md").read_text()


def test_a_fitted_model_records_its_data_and_generates_from_the_cli(tmp_path):
    model = ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, grid_size=10,
                           sample_every_n_epochs=0, seed=2)
    data = ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2,
                           batch_size=20, seed=0)
    make_trainer(tmp_path, max_steps=4).fit(model, data)
    folder = model.save_pretrained(tmp_path / "shared")
    config = json.loads((folder / "config.json").read_text())
    assert config["training_data"].startswith("ImageDataModule: dataset 'digits'")
    assert "n_per_class=4" in config["training_data"]
    assert (config["iteration"], config["d_steps_done"]) == (2, 2)

    out = generate(folder, tmp_path / "bank.pt", n_per_class=3, seed=4)
    bank = torch.load(out, weights_only=True)
    expected, _ = model.eval().generate(3, torch.Generator().manual_seed(4))
    assert torch.equal(bank["images"], expected)
    assert bank["labels"].tolist() == [c for c in range(10) for _ in range(3)]


def test_a_folder_of_another_class_is_refused(tmp_path):
    folder = FAMILIES["cgan"]().save_pretrained(tmp_path)
    with pytest.raises(CheckpointMismatchError,
                       match=r"holds a ganaug.modules.cgan.ConditionalGAN, not a "
                             r"ganaug.modules.dagan.DAGAN: load it with "
                             r"ConditionalGAN.from_pretrained"):
        DAGAN.from_pretrained(folder)
    with pytest.raises(CheckpointMismatchError, match="not a ganaug.modules.gan.GAN"):
        load_gan(folder, model_class=GAN)
    assert type(GANModule.from_pretrained(folder)) is ConditionalGAN  # any registered GAN


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    small = FAMILIES["cgan"]().save_pretrained(tmp_path / "small")
    wide = ConditionalGAN(num_classes=10, latent_dim=8, g_width=8, d_width=4,
                          grid_size=10).save_pretrained(tmp_path / "wide")
    shutil.copy(wide / "model.safetensors", small / "model.safetensors")
    with pytest.raises(CheckpointMismatchError, match=r"do not fit the ConditionalGAN.*shapes "
                                                      r"differ: generator_ema\."):
        load_gan(small)


def test_a_pickle_in_place_of_the_weights_is_never_unpickled(tmp_path):
    folder = FAMILIES["gan"]().save_pretrained(tmp_path)

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code from the file ran')",))

    torch.save({"generator_ema.x": Boom()}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_gan(folder)


@pytest.mark.parametrize("config, error, match", [
    ("{not json", CheckpointError, "is not valid JSON"),
    (json.dumps({"model_type": "bert"}), CheckpointError, "not written by ganaug's"),
    (json.dumps({"format": "ganaug-pretrained", "format_version": 1, "class": "mypkg.MyGAN",
                 "hparams": {}}), CheckpointError, "mypkg.MyGAN, which is not a registered GAN"),
    (json.dumps({"format": "ganaug-pretrained", "format_version": 1,
                 "class": "ganaug.modules.gan.GAN", "hparams": {"widht": 3}}),
     CheckpointMismatchError, "holds options GAN does not take"),
])
def test_bad_configs_are_refused(tmp_path, config, error, match):
    folder = FAMILIES["gan"]().save_pretrained(tmp_path)
    (folder / "config.json").write_text(config)
    with pytest.raises(error, match=match):
        load_gan(folder)


def test_missing_folders_and_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pretrained folder at"):
        GAN.from_pretrained(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="a folder without a config.json"):
        load_gan(tmp_path)
    folder = FAMILIES["gan"]().save_pretrained(tmp_path / "gan")
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors in"):
        load_gan(folder)
    with pytest.raises(ValueError, match="is a file"):
        FAMILIES["gan"]().save_pretrained(folder / "config.json")


def test_the_study_takes_a_pretrained_folder_as_its_gan(tmp_path):
    model = trained_like(ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4,
                                        grid_size=10))
    folder = model.save_pretrained(tmp_path / "shared")
    config = StudyConfig.from_dict({**DEFAULTS_BEFORE_0_2, **dict(
        dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
        modes=["augment"], ratios=[0.5], max_steps=3, batch_size=8, accelerator="cpu",
        judge_per_class=0, curve_points=0, gan_checkpoint=str(folder),
        gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10))})
    gan = Study(config, tmp_path / "study", progress=False).gan(Variant())
    assert torch.equal(outputs(gan), outputs(model.eval()))
