"""The BigGAN configs hold the published DiffAugment-BigGAN CIFAR-10 setting.

tests/test_cli.py runs every config under configs/, these included, with fast_dev_run on fake
CIFAR-10 files."""

from pathlib import Path

import pytest
import yaml

from ganaug.modules import BigGAN

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("biggan_cifar10*.yaml"))
SUBSETS = {"biggan_cifar10": None, "biggan_cifar10_20pct": 1000, "biggan_cifar10_10pct": 500}


def test_all_three_configs_exist():
    assert sorted(c.stem for c in CONFIGS) == sorted(SUBSETS)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_holds_the_published_setting(config):
    content = yaml.safe_load(config.read_text())
    model = BigGAN(**content["model"]["init_args"])
    g = sum(p.numel() for p in model.generator.parameters())
    d = sum(p.numel() for p in model.discriminator.parameters())
    assert (g, d) == (4_304_387, 4_207_361)
    hp = model.hparams
    assert (hp.loss, hp.d_steps, hp.lr_g, hp.lr_d) == ("hinge", 4, 2e-4, 2e-4)
    assert list(hp.betas) == [0.0, 0.999]
    assert (hp.ema_decay, hp.ema_start, hp.augment_policy) == (0.9999, 1000, "translation,cutout")
    data = content["data"]["init_args"]
    assert (data["dataset"], data["batch_size"], data["hflip"]) == ("cifar10", 50, True)
    assert data.get("n_per_class") == SUBSETS[config.stem]
