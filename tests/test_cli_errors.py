"""User errors in the `ganaug` command print one line, `ganaug: error: ...`, and exit with status 2;
`--debug` or GANAUG_DEBUG=1 give the traceback instead."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug.cli import main
from ganaug.modules import CheckpointMismatchError

CONFIGS = Path(__file__).parents[1] / "configs"


def one_line_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ganaug: error: ") and "Traceback" not in err
    return err


def test_generate_and_evaluate_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    missing = str(tmp_path / "missing.ckpt")
    assert f"no checkpoint at {missing}" in one_line_error(capsys, ["generate", missing, "out.pt"])
    err = one_line_error(capsys, ["evaluate", missing, "--dataset", "digits"])
    assert "no checkpoint at" in err
    (tmp_path / "broken.ckpt").write_bytes(b"not a zip file")
    err = one_line_error(capsys, ["generate", str(tmp_path / "broken.ckpt"), "out.pt"])
    assert "cannot read the checkpoint" in err and "broken.ckpt" in err
    err = one_line_error(capsys, ["generate", missing, "out.pt", "--model-class", "nocolon"])
    assert "--model-class must be MODULE:CLASS" in err


def test_a_checkpoint_mismatch_is_one_line(tmp_path, capsys, monkeypatch):
    from test_checkpoint_safety import FAMILIES, fitted_checkpoint

    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    path = fitted_checkpoint(FAMILIES["gan"](), tmp_path, "gan")
    (tmp_path / "my_gans.py").write_text(
        "from ganaug.modules import ConditionalGAN\n\nclass OtherGAN(ConditionalGAN):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, ["generate", str(path), "out.pt", "--model-class",
                                  "my_gans:OtherGAN"])
    assert "holds a ganaug.modules.gan.GAN, not a my_gans.OtherGAN: load it with GAN." in err
    monkeypatch.setenv("GANAUG_DEBUG", "1")
    with pytest.raises(CheckpointMismatchError):
        main(["generate", str(path), "out.pt", "--model-class", "my_gans:OtherGAN"])
    sys.modules.pop("my_gans", None)


def test_fit_and_study_option_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    err = one_line_error(capsys, ["fit", "--config", str(CONFIGS / "gan_mnist5k.yaml"),
                                  "--model.init_args.d_steps", "0",
                                  "--trainer.default_root_dir", str(tmp_path)])
    assert "d_steps must be >= 1, got 0" in err
    err = one_line_error(capsys, ["study", "--config", str(tmp_path / "nope.yaml"),
                                  "--out", str(tmp_path / "study")])
    assert "nope.yaml" in err


def test_debug_shows_the_exception(tmp_path, monkeypatch):
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        main(["generate", str(tmp_path / "missing.ckpt"), "out.pt", "--debug"])
    monkeypatch.setenv("GANAUG_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["generate", str(tmp_path / "missing.ckpt"), "out.pt"])


def test_the_console_command_prints_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GANAUG_DEBUG"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    torch.save({"images": torch.full((2, 1, 8, 8), 3.0)}, tmp_path / "x.ckpt")
    done = subprocess.run([sys.executable, "-m", "ganaug.cli", "generate", str(tmp_path / "x.ckpt"),
                           str(tmp_path / "out.pt")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ganaug: error: {tmp_path / 'x.ckpt'} is not a checkpoint written by a ganaug GAN module "
        "(it has no 'ganaug' record); load it with the class and code that wrote it "
        "(--debug shows the traceback)"]
