"""The study names its GAN as LightningCLI does (gan: {class_path, init_args}) or as gan_class +
gan_options; both become one form, and only registered GAN modules resolve: a config never
imports a module."""

import sys
from pathlib import Path

import pytest
import yaml

from ganaug.modules import ConditionalGAN, register_gan, registered_gans, resolve_gan
from ganaug.modules import checkpoint
from ganaug.modules.dagan import DAGAN
from ganaug.study import StudyConfig

STUDY_CONFIGS = sorted((Path(__file__).parents[1] / "configs" / "study").glob("*.yaml"))


def test_class_path_and_init_args_are_gan_class_and_gan_options():
    options = dict(latent_dim=16, g_width=8, architecture=[4, [4, 2, 1]])
    new = StudyConfig.from_dict({"gan": {"class_path": "ganaug.DAGAN", "init_args": options}})
    old = StudyConfig.from_dict({"gan_class": "ganaug.DAGAN", "gan_options": options})
    assert new.to_dict() == old.to_dict()
    assert (new.gan_class, new.gan_options) == ("ganaug.DAGAN", options)
    bare = StudyConfig.from_dict({"gan": {"class_path": "ganaug.modules.cgan.ConditionalGAN"}})
    assert bare.gan_options == {} and resolve_gan(bare.gan_class) is ConditionalGAN


@pytest.mark.parametrize("config", STUDY_CONFIGS, ids=[c.stem for c in STUDY_CONFIGS])
def test_every_study_config_reads_the_same_in_the_class_path_form(config):
    values = yaml.safe_load(config.read_text())
    old = StudyConfig.from_dict(values)
    gan = {"class_path": values.pop("gan_class", StudyConfig.gan_class)}
    if "gan_options" in values:
        gan["init_args"] = values.pop("gan_options")
    new = StudyConfig.from_dict({**values, "gan": gan})
    assert new.to_dict() == old.to_dict()


@pytest.mark.parametrize("name", ["ganaug.DAGAN", "ganaug.modules.dagan.DAGAN"])
def test_registered_names_resolve_short_or_full(name):
    assert resolve_gan(name) is DAGAN


@pytest.mark.parametrize("values", [
    {"gan": {"class_path": "gan_config_sentinel.EvilGAN"}},
    {"gan_class": "gan_config_sentinel.EvilGAN"},
    {"gan": {"class_path": "ganaug.data.ImageDataModule"}},
])
def test_unregistered_classes_are_refused_without_importing_them(values):
    with pytest.raises(ValueError, match="not a registered GAN module; registered: .*"
                                         "ganaug.ConditionalGAN.*ganaug.register_gan"):
        StudyConfig.from_dict(values)
    assert "gan_config_sentinel" not in sys.modules


@pytest.mark.parametrize("values, match", [
    ({"gan": {"class_path": "ganaug.GAN"}, "gan_class": "ganaug.GAN"}, "not both"),
    ({"gan": {"class_path": "ganaug.GAN"}, "gan_options": {}}, "not both"),
    ({"gan": {"init_args": {}}}, "class_path"),
    ({"gan": {"class_path": "ganaug.GAN", "dict_kwargs": {}}}, "class_path"),
    ({"gan": {"class_path": "ganaug.GAN", "init_args": [1]}}, "init_args must be a mapping"),
    ({"gan_options": [1]}, "gan_options must be a mapping"),
])
def test_malformed_gan_entries_are_refused(values, match):
    with pytest.raises(ValueError, match=match):
        StudyConfig.from_dict(values)


def test_a_registered_subclass_resolves_by_its_own_name(monkeypatch):
    monkeypatch.setattr(checkpoint, "_REGISTRY", dict(registered_gans()))  # undone after the test

    class WiderGAN(ConditionalGAN):
        pass

    WiderGAN.__module__, WiderGAN.__qualname__ = "my_gan_package.models", "WiderGAN"
    with pytest.raises(ValueError, match="not a registered GAN module"):
        resolve_gan("my_gan_package.WiderGAN")
    register_gan(WiderGAN)
    config = StudyConfig.from_dict({"gan": {"class_path": "my_gan_package.WiderGAN"}})
    assert resolve_gan(config.gan_class) is WiderGAN
    assert resolve_gan("my_gan_package.models.WiderGAN") is WiderGAN
