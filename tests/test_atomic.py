"""Files are written under a temporary name and renamed into place: a writer that fails or is
killed mid-write leaves the previous file intact, and every artifact of a study (checkpoints,
banks, teachers, judge, records, reports) is written that way."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug import atomic
from ganaug.atomic import PARTIAL_SUFFIX, atomic_path, atomic_save, atomic_write_json, \
    atomic_write_text, remove_partials
from ganaug.study import StudyConfig, run_study
from ganaug.study.config import DEFAULTS_BEFORE_0_2


def test_atomic_writes_give_the_content_and_leave_no_temporary_file(tmp_path):
    atomic_save({"x": torch.arange(3)}, tmp_path / "sub" / "t.pt")  # the folder is created
    assert torch.equal(torch.load(tmp_path / "sub" / "t.pt", weights_only=True)["x"],
                       torch.arange(3))
    atomic_write_text(tmp_path / "a.txt", "first")
    atomic_write_text(tmp_path / "a.txt", "second")  # replaces
    atomic_write_json(tmp_path / "b.json", {"k": [1, 2]})
    assert (tmp_path / "a.txt").read_text() == "second"
    assert (tmp_path / "b.json").read_text() == json.dumps({"k": [1, 2]}, indent=2)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.json", "sub", "t.pt"]


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as temporary:
            temporary.write_text("new, half wri")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


KILLED_WRITER = """
import os, signal, sys
from ganaug.atomic import atomic_path
with atomic_path(sys.argv[1]) as temporary:
    with open(temporary, "wb") as file:
        file.write(b"new" * 1000)  # half the new content
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "gan.ckpt"
    atomic_save({"w": torch.ones(4)}, path)
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)],
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(4))
    (left,) = [p for p in tmp_path.iterdir() if p != path]  # the killed writer's, named so
    assert left.name.startswith(".gan.ckpt.") and left.name.endswith(PARTIAL_SUFFIX)
    # cleared afterwards, at any depth, but for the kept prefix; finished files stay
    deeper = tmp_path / "banks" / ".seed0.pt.123.abcdef12.partial"
    deeper.parent.mkdir()
    deeper.write_bytes(b"half")
    lock = tmp_path / ".study.lock.token.partial"
    lock.write_text("{}")
    assert remove_partials(tmp_path, keep_prefix=".study.lock") == sorted([deeper, left])
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [lock.name, "gan.ckpt"]
    assert path.read_bytes() == before


def test_every_artifact_of_a_study_is_renamed_into_place(tmp_path, monkeypatch):
    """A tiny study with a GAN, a judge, a teacher, a bank and its verdict: every file it leaves
    (but the lock) was written to a temporary name and renamed."""
    renamed = []
    replace = os.replace

    def recording_replace(source, target):
        renamed.append(Path(target))
        replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", recording_replace)
    stale = tmp_path / "runs" / ".small_cnn-real-seed0.json.99.0badc0de.partial"  # a killed
    stale.parent.mkdir(parents=True)                                             # writer's
    stale.write_text("{\"arm\": ")
    config = StudyConfig.from_dict({**DEFAULTS_BEFORE_0_2, **dict(  # the defaults of its day
        dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
        modes=["augment"], ratios=[0.5], classic_augment="flip", max_steps=2, batch_size=8,
        gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10), gan_max_steps=2,
        gan_batch_size=8, accelerator="cpu", judge_per_class=2, curve_points=2,
        curve_test_per_class=2)})
    with pytest.warns(UserWarning, match="removed 1 unfinished file"):
        run_study(config, tmp_path, progress=False)
    assert not stale.exists()
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    names = {str(p.relative_to(tmp_path)) for p in written}
    for expected in ("config.json", "gan-base/gan.ckpt", "judge.pt", "judge.json",
                     "teachers/small_cnn-seed0.pt", "results.csv", "summary.json", "table.txt",
                     "report.html", "timings.json", "samples-gan-base.png"):
        assert expected in names, expected
    assert any(n.startswith("banks/") and n.endswith(".pt") for n in names)
    assert any(n.startswith("runs/") for n in names) and any(n.startswith("curves/") for n in names)
    assert written <= set(renamed), sorted(str(p) for p in written - set(renamed))
