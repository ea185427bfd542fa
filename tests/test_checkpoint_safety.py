"""Loading trusts nothing in the file: a crafted pickle runs through no entry point, the stored
class is looked up among registered GAN modules only, a checkpoint of another class or a truncated
one fails with a message naming what to do, and a class from a user's script loads once
registered."""

import os
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from conftest import make_trainer
from ganaug.cli import main
from ganaug.data import LabelledImages
from ganaug.data.bank import load_bank
from ganaug.modules import (
    DAGAN,
    GAN,
    BigGAN,
    CheckpointError,
    CheckpointMismatchError,
    ConditionalGAN,
    GANModule,
    load_gan,
    register_gan,
)
from ganaug.modules import checkpoint as checkpoint_module
from ganaug.serialization import UnreadableFileError

TINY = dict(latent_dim=8, g_width=4, d_width=4, image_size=28, grid_size=4)
FAMILIES = {
    "gan": lambda: GAN(**TINY),
    "cgan": lambda: ConditionalGAN(num_classes=2, **TINY),
    "biggan": lambda: BigGAN(num_classes=2, latent_dim=8, g_width=1, d_width=1, channels=1,
                             image_size=32, d_steps=1, grid_size=2, shared_embedding=True),
    "dagan": lambda: DAGAN(**TINY, d_steps=1),
}


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: the file exists iff the pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def images(n=16, size=28, num_classes=2):
    """Random digits-sized images whose labels come in same-class pairs (as DAGAN needs)."""
    pixels = torch.randint(0, 256, (n, 1, size, size), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    return LabelledImages(pixels, torch.arange(n) // 2 % num_classes, num_classes=num_classes)


def fitted_checkpoint(model, root, name):
    """Fit ``model`` for two D steps and save its checkpoint as ``root/name.ckpt``."""
    batches = DataLoader(images(size=model.hparams.image_size), batch_size=4)
    trainer = make_trainer(root, max_steps=2)
    trainer.fit(model, batches)
    path = root / f"{name}.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {name: fitted_checkpoint(build(), root, name) for name, build in FAMILIES.items()}


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(checkpoint_module, "_REGISTRY", dict(checkpoint_module._REGISTRY))
    return checkpoint_module._REGISTRY


def test_every_family_checkpoint_needs_no_unsafe_type(checkpoints):
    for name, path in checkpoints.items():
        content = torch.load(path, weights_only=True)  # plain torch, no allow-list
        assert content["ganaug"]["class"].endswith(type(load_gan(path)).__name__), name


@pytest.fixture
def malicious(tmp_path, checkpoints):
    """A real checkpoint with a payload in its hyperparameters, and a bank with one."""
    marker = tmp_path / "ran"
    content = torch.load(checkpoints["cgan"], weights_only=True)
    content["hyper_parameters"]["payload"] = CreatesAFile(marker)
    torch.save(content, tmp_path / "evil.ckpt")
    torch.save({"images": torch.zeros(2, 1, 28, 28), "labels": torch.zeros(2, dtype=torch.long),
                "meta": CreatesAFile(marker)}, tmp_path / "evil.pt")
    return tmp_path / "evil.ckpt", tmp_path / "evil.pt", marker


def test_a_malicious_file_runs_through_no_entry_point(malicious, tmp_path):
    ckpt, bank, marker = malicious
    calls = {
        "load_gan": lambda: load_gan(ckpt),
        "load_bank": lambda: load_bank(bank),
        "generate": lambda: main(["generate", str(ckpt), str(tmp_path / "out.pt")]),
        "evaluate": lambda: main(["evaluate", str(ckpt), "--dataset", "digits"]),
        **{f"{cls.__name__}.load_from_checkpoint": (lambda cls=cls: cls.load_from_checkpoint(ckpt))
           for cls in (GANModule, GAN, ConditionalGAN, BigGAN, DAGAN)},
    }
    for name, call in calls.items():
        with pytest.raises((UnreadableFileError, SystemExit)) as raised:
            call()
        if raised.type is UnreadableFileError:
            assert "refusing to load" in str(raised.value) and str(ckpt.parent) in str(raised.value)
        assert not marker.exists(), f"{name} ran the pickle"
    # resuming a fit from it: Lightning reads it through ganaug's SafeCheckpointIO
    with pytest.raises(UnreadableFileError, match=f"refusing to load the checkpoint .*{ckpt.name}"):
        make_trainer(tmp_path, max_steps=1).fit(ConditionalGAN(num_classes=2, **TINY),
                                                DataLoader(images(), batch_size=4), ckpt_path=ckpt)
    assert not marker.exists()


def test_loading_refuses_weights_only_false(checkpoints):
    with pytest.raises(ValueError, match="weights_only=True"):
        ConditionalGAN.load_from_checkpoint(checkpoints["cgan"], weights_only=False)


def test_a_checkpoint_of_another_class_names_the_class_to_use(checkpoints, tmp_path):
    with pytest.raises(CheckpointMismatchError,
                       match=r"holds a ganaug.modules.biggan.BigGAN, not a .*ConditionalGAN: "
                             r"load it with BigGAN.load_from_checkpoint"):
        ConditionalGAN.load_from_checkpoint(checkpoints["biggan"])
    with pytest.raises(CheckpointMismatchError, match="holds a .*DAGAN, this model is a .*GAN"):
        make_trainer(tmp_path, max_steps=1).fit(GAN(**TINY), DataLoader(images(), batch_size=4),
                                                ckpt_path=checkpoints["dagan"])
    # the class itself, the shared base and load_gan all give the stored class
    for cls in (BigGAN, GANModule):
        assert type(cls.load_from_checkpoint(checkpoints["biggan"])) is BigGAN


def test_a_truncated_or_foreign_file_names_its_path(checkpoints, tmp_path):
    data = checkpoints["cgan"].read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    for call in (lambda: load_gan(truncated), lambda: load_bank(truncated),
                 lambda: ConditionalGAN.load_from_checkpoint(truncated)):
        with pytest.raises(UnreadableFileError,
                           match=f"cannot read .*{truncated.name}: .*truncated"):
            call()
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError,
                       match="foreign.ckpt is not a checkpoint written by a ganaug"):
        ConditionalGAN.load_from_checkpoint(tmp_path / "foreign.ckpt")


def script_subclass():
    """A subclass as a user's training script defines it: its module is ``__main__``."""
    return type("ScriptGAN", (ConditionalGAN,), {"__module__": "__main__"})


def test_a_subclass_from_a_script_loads_once_registered_or_named(tmp_path, registry,
                                                                 monkeypatch, capsys):
    path = fitted_checkpoint(script_subclass()(num_classes=2, **TINY), tmp_path, "script")
    assert torch.load(path, weights_only=True)["ganaug"]["class"] == "__main__.ScriptGAN"

    # not registered: a message saying how, and nothing is imported
    with pytest.raises(CheckpointError, match=r"not a registered GAN module.*"
                                              r"register_gan\(ScriptGAN\)"
                                              r".*--model-class MODULE:ScriptGAN"):
        load_gan(path)
    # the base class it derives from, asked for explicitly, takes the weights
    assert type(ConditionalGAN.load_from_checkpoint(path)) is ConditionalGAN

    # the class passed, or registered (from another module than the script)
    (tmp_path / "my_gans.py").write_text(
        "from ganaug.modules import ConditionalGAN\n\nclass ScriptGAN(ConditionalGAN):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    main(["generate", str(path), str(tmp_path / "bank.pt"), "--n-per-class", "1",
          "--model-class", "my_gans:ScriptGAN"])
    assert torch.load(tmp_path / "bank.pt", weights_only=True)["images"].shape == (2, 1, 28, 28)
    mine = sys.modules["my_gans"].ScriptGAN
    assert type(load_gan(path, model_class=mine)) is mine
    register_gan(mine)
    assert type(load_gan(path)) is mine
    del sys.modules["my_gans"]


def test_a_class_of_a_spawned_worker_is_named_and_found_as_the_scripts(tmp_path, registry):
    """Under ``ddp_spawn`` the workers know a script's class as ``__mp_main__.Name``: it is stored
    as ``__main__.Name``, and a file that stored the worker's name (as ganaug did before) loads
    with a registered class of that name too. (tests/test_ddp.py fits one under ddp_spawn.)"""
    worker_class = type("ScriptGAN", (ConditionalGAN,), {"__module__": "__mp_main__"})
    path = fitted_checkpoint(worker_class(num_classes=2, **TINY), tmp_path, "worker")
    content = torch.load(path, weights_only=True)
    assert content["ganaug"]["class"] == "__main__.ScriptGAN"

    content["ganaug"]["class"] = "__mp_main__.ScriptGAN"  # as written before
    content["ganaug"]["lineage"][0] = "__mp_main__.ScriptGAN"
    # (d_steps_done, iteration) after max_steps=2: a D step and a G step (d_steps=1)
    assert content["state_dict"]["_extra_state"].tolist() == [1, 1]
    del content["state_dict"]["_extra_state"]  # and before the counters joined the state dict
    torch.save(content, tmp_path / "old.ckpt")
    mine = type("ScriptGAN", (ConditionalGAN,), {"__module__": "my_gans"})
    register_gan(mine)
    for file in (path, tmp_path / "old.ckpt"):
        assert type(load_gan(file)) is mine
        loaded = ConditionalGAN.load_from_checkpoint(file)
        assert type(loaded) is mine and (loaded.d_steps_done, loaded.iteration) == (1, 1)


def test_register_gan_takes_classes_only():
    with pytest.raises(TypeError, match="GAN module class"):
        register_gan(os.path)
