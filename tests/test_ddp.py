"""Two CPU processes (gloo): a fit of every GAN family finishes under ``ddp`` (and, pickled into
the processes, ``ddp_spawn``) with the ranks in sync, after drawing different noise on different
data; and a fit killed in the middle of an epoch resumes exactly."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from tests_helpers import DDP_SCRIPTS, run_script, saved_ranks

FITS = {  # batches an epoch of each rank, epochs (tests/ddp/fit_gan.py: 40 digits a rank)
    "cgan": (5, 2),  # batches of 8
    "dagan": (5, 2),  # batches of 4 pairs
    "biggan": (4, 1),  # batches of 10
}
RUNS = {"ddp": ("cgan", "dagan", "biggan"), "ddp_spawn": ("cgan",)}  # the families of a strategy


@pytest.fixture(scope="module")
def ddp_fits(tmp_path_factory):
    """``ddp_fits(strategy)``: the folder of one run of tests/ddp/fit_gan.py fitting the
    strategy's families one after the other (two processes start once for all of them)."""
    folders = {}

    def fit(strategy: str) -> Path:
        if strategy not in folders:
            folder = tmp_path_factory.mktemp(strategy)
            run_script("fit_gan.py", folder, "--strategy", strategy, "--family", *RUNS[strategy])
            folders[strategy] = folder
        return folders[strategy]

    return fit


@pytest.mark.parametrize("family, strategy", [
    (family, strategy) for strategy, families in RUNS.items() for family in families])
def test_two_process_fit(family, strategy, ddp_fits):
    folder = ddp_fits(strategy) / family
    ranks = saved_ranks(folder)
    assert [r["world_size"] for r in ranks] == [2, 2]
    batches, epochs = FITS[family]
    steps = batches * epochs  # a D step a batch, a G step after every 2nd (d_steps=2)
    assert [(r["d_steps_done"], r["iteration"]) for r in ranks] == [(steps, steps // 2)] * 2
    for name in ("generator", "discriminator", "generator_ema"):
        assert ranks[0]["state"][name].keys() == ranks[1]["state"][name].keys()
        for key, value in ranks[0]["state"][name].items():
            # the live G's BN statistics are per rank; the EMA G's are averaged over ranks
            if name != "generator" or "running" not in key:
                assert torch.equal(value, ranks[1]["state"][name][key]), f"{name}.{key}"
    # the launching process holds rank 0's EMA G (with ddp_spawn: the weights brought back)
    parent = torch.load(folder / "parent.pt", weights_only=True)
    for key, value in ranks[0]["state"]["generator_ema"].items():
        assert torch.equal(parent[key], value), key

    # the ranks drew different noise (and fake classes, where the family draws them) ...
    assert not torch.allclose(ranks[0]["first_noise"], ranks[1]["first_noise"])
    fake = [r["first_fake_labels"] for r in ranks]
    assert (fake[0] is None) == (family != "biggan")
    if family == "biggan":
        assert not torch.equal(fake[0], fake[1])
    # ... on images of their own: no image of the first epoch on both ranks
    first_epoch = [set(torch.cat([f for _, f in r["seen"][:batches]]).tolist()) for r in ranks]
    assert not first_epoch[0] & first_epoch[1]
    if family == "dagan":  # every batch of every rank is made of same-class pairs
        for rank in ranks:
            for labels, _ in rank["seen"]:
                assert min(Counter(labels.tolist()).values()) >= 2


def test_two_process_fit_killed_mid_epoch_resumes_exactly(tmp_path):
    """Each process skips the batches of its own shard it had trained on: weights, optimizer
    moments and counters of both processes are those of an uninterrupted fit."""
    script = DDP_SCRIPTS / "resume_cgan.py"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    for mode in ("full", "crash", "resume"):
        done = subprocess.run([sys.executable, str(script), str(tmp_path), mode], env=env,
                              capture_output=True, text=True, timeout=600)
        expected = -signal.SIGKILL if mode == "crash" else 0
        assert done.returncode == expected, f"{mode}: {done.returncode}\n{done.stderr[-4000:]}"
    (path,) = (tmp_path / "checkpoints").glob("*.ckpt")
    progress = torch.load(path, weights_only=True)["loops"]["fit_loop"][
        "epoch_loop.batch_progress"]["current"]["completed"]
    assert 0 < progress < 10  # in the middle of the first epoch
    for rank in (0, 1):
        full = torch.load(tmp_path / f"full-rank{rank}.pt", weights_only=True)
        resumed = torch.load(tmp_path / f"resume-rank{rank}.pt", weights_only=True)
        assert (resumed["iteration"], resumed["d_steps_done"], resumed["global_step"]) == \
            (full["iteration"], full["d_steps_done"], full["global_step"])
        assert full["state"].keys() == resumed["state"].keys()
        for key, value in full["state"].items():
            # not the generators' BN running statistics: the live G's are per process and a
            # checkpoint holds rank 0's, so rank 1's (and the EMA G's averages of them) differ
            if key.startswith("generator") and "running_" in key:
                continue
            assert torch.equal(value, resumed["state"][key]), f"rank {rank}: {key} differs"


@pytest.fixture(scope="module")
def spawn_fit(tmp_path_factory) -> Path:
    """The folder of one run of tests/ddp/spawn_gan.py: a script's own GAN class fitted under
    ``ddp_spawn`` (5 batches a rank, one epoch)."""
    folder = tmp_path_factory.mktemp("spawn")
    run_script("spawn_gan.py", folder)
    return folder


def test_a_script_class_fitted_under_ddp_spawn_loads_by_its_script_name(spawn_fit, monkeypatch):
    """The workers know the class as ``__mp_main__.ScriptGAN``; the checkpoint names it as the
    script does, so registering the class (or naming it on the command line) loads it."""
    from ganaug import load_gan, register_gan
    from ganaug.cli import main
    from ganaug.modules import checkpoint as registry

    stored = torch.load(spawn_fit / "worker.ckpt", weights_only=True)["ganaug"]
    assert stored["class"] == "__main__.ScriptGAN"
    assert stored["lineage"][0] == "__main__.ScriptGAN"

    monkeypatch.syspath_prepend(str(DDP_SCRIPTS))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # register for this test
    import spawn_gan
    register_gan(spawn_gan.ScriptGAN)
    model = load_gan(spawn_fit / "worker.ckpt")
    assert type(model) is spawn_gan.ScriptGAN
    assert (model.d_steps_done, model.iteration) == (5, 2)

    monkeypatch.chdir(DDP_SCRIPTS)
    out = spawn_fit / "generated.pt"
    main(["generate", str(spawn_fit / "worker.ckpt"), str(out), "--n-per-class", "2",
          "--model-class", "spawn_gan:ScriptGAN"])
    assert torch.load(out, weights_only=True)["labels"].bincount().tolist() == [2] * 10


def test_the_launching_process_of_a_ddp_spawn_fit_holds_the_counters_and_warns(spawn_fit):
    """The counters come back with the weights (the state dict's ``_extra_state``); the parent's
    trainer counted no step, and saving a checkpoint with it says so."""
    parent = json.loads((spawn_fit / "parent.json").read_text())
    assert (parent["d_steps_done"], parent["iteration"]) == (5, 2)  # 5 D steps, d_steps=2
    assert parent["global_step"] == 0
    (warning,) = [w for w in parent["warnings"] if "ddp_spawn" in w]
    assert "global_step 0" in warning and "ModelCheckpoint" in warning
    saved = torch.load(spawn_fit / "parent.ckpt", weights_only=True)
    assert saved["state_dict"]["_extra_state"].tolist() == [5, 2]
