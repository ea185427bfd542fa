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


def test_fit_config_typos_are_one_line_with_a_did_you_mean(tmp_path, capsys, monkeypatch):
    """Misspelt keys in a YAML file (trainer, model, data, top level) or in a flag: one line
    naming the key and the closest accepted name, not the usage text."""
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    source = (CONFIGS / "gan_mnist5k.yaml").read_text()
    cases = {
        ("  max_epochs:", "  max_epohcs:"): ["'trainer' has no key 'max_epohcs'",
                                             "did you mean 'max_epochs'"],
        ("    ema_decay:", "    ema_decey:"): ["ganaug.GAN has no option "
                                               "'model.init_args.ema_decey'",
                                               "did you mean 'ema_decay'"],
        ("    n_per_class:", "    n_per_clas:"): ["ganaug.ImageDataModule has no option",
                                                  "did you mean 'n_per_class'"],
        ("model:", "modle:"): ["the config has no key 'modle'", "did you mean 'model'"],
    }
    for (old, new), expected in cases.items():
        assert old in source
        path = tmp_path / "typo.yaml"
        path.write_text(source.replace(old, new, 1))
        err = one_line_error(capsys, ["fit", "--config", str(path)])
        assert all(part in err for part in expected), err
        assert len(err) < 300
    err = one_line_error(capsys, ["fit", "--config", str(CONFIGS / "gan_mnist5k.yaml"),
                                  "--modle.init_args.lr_g", "1"])
    assert "no key 'modle'" in err and "did you mean 'model'" in err
    # a prefix of a flag is not taken for the flag (the parser's abbreviations are off)
    err = one_line_error(capsys, ["fit", "--config", str(CONFIGS / "gan_mnist5k.yaml"),
                                  "--trainer.max_step", "1"])
    assert "has no key 'max_step'" in err and "did you mean 'max_steps'" in err


def test_fit_gives_no_warning_about_args(tmp_path, capsys, monkeypatch):
    """`ganaug fit` passes its arguments to LightningCLI, which warned about sys.argv holding
    them too; the arguments still reach the parser (here: a bad value it reports)."""
    import warnings

    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    argv = ["fit", "--config", str(CONFIGS / "gan_mnist5k.yaml"), "--model.init_args.d_steps",
            "0", "--trainer.default_root_dir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", ["ganaug", *argv])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = one_line_error(capsys, argv)
    assert "d_steps must be >= 1, got 0" in err
    assert not [w for w in caught if "args parameter" in str(w.message)]
    assert sys.argv == ["ganaug", *argv]  # given back


def test_study_config_typos_name_the_closest_option(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    path = tmp_path / "study.yaml"
    path.write_text("n_per_clas: 10\n")
    err = one_line_error(capsys, ["study", "--config", str(path), "--out", str(tmp_path / "s")])
    assert "a study config has no option 'n_per_clas'; did you mean 'n_per_class'" in err
    err = one_line_error(capsys, ["study", "--n-per-clss", "3", "--out", str(tmp_path / "s")])
    assert "ganaug study has no option '--n-per-clss'; did you mean '--n-per-class'" in err
    # a prefix of a flag is not taken for the flag (argparse's abbreviations are off)
    err = one_line_error(capsys, ["study", "--n-per-clas", "3", "--out", str(tmp_path / "s")])
    assert "ganaug study has no option '--n-per-clas'; did you mean '--n-per-class'" in err
    assert not (tmp_path / "s").exists()
    path.write_text("variants:\n  - nme: plain\n")
    err = one_line_error(capsys, ["study", "--config", str(path), "--out", str(tmp_path / "s")])
    assert "a variant has no option 'nme'; did you mean 'name'?" in err


class AuthenticationError(Exception):
    """Stands for ray.exceptions.AuthenticationError (matched by name, like Ray's own)."""


class FakeRay:
    """The two calls of the Ray API the executor makes before any work; init fails as Ray 2.60
    does against a head with token authentication: an auth error, then a ConnectionError."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.addresses: list[str] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, address: str | None = None, **kwargs) -> None:
        self.addresses.append(address)
        raise self.error


def refused() -> ConnectionError:
    try:
        raise AuthenticationError("InvalidAuthToken: the token is missing")
    except AuthenticationError:
        try:
            raise ConnectionError("Failed to connect to GCS within 20 seconds")
        except ConnectionError as error:
            return error


def test_a_refused_ray_connection_is_one_line_naming_ray_auth_mode(tmp_path, capsys, monkeypatch):
    from ganaug.study import ray_executor

    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    fake = FakeRay(refused())
    monkeypatch.setattr(ray_executor, "_import_ray", lambda: fake)
    err = one_line_error(capsys, ["study", "--executor", "ray", "--ray-address", "head:6379",
                                  "--out", str(tmp_path / "s"), "--seeds", "0"])
    assert fake.addresses == ["head:6379"]
    assert err.startswith("ganaug: error: cannot connect to the Ray cluster at head:6379 "
                          "(ConnectionError: Failed to connect to GCS within 20 seconds)")
    assert "RAY_AUTH_MODE=token" in err and "docs/scaling.md" in err
    # with the mode already set, the advice is about the token itself
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    with pytest.raises(ray_executor.RayConnectionError, match="RAY_AUTH_MODE=token is set"):
        ray_executor.connect(FakeRay(refused()), "head:6379")
    # an error that is not about the connection passes through unchanged
    with pytest.raises(RuntimeError, match="something else"):
        ray_executor.connect(FakeRay(RuntimeError("something else")), "head:6379")


def test_explain_parser_error_on_jsonargparse_messages():
    """The message shapes jsonargparse 4.x gives (copied from real runs), each made one line."""
    from ganaug.config_errors import did_you_mean, explain_parser_error

    keys = ["config", "seed_everything", "trainer.max_epochs", "trainer.min_epochs",
            "trainer.devices", "model", "data"]
    err = explain_parser_error("Subcommand 'fit' does not accept option 'trainer.max_epoch'", keys)
    assert str(err) == ("the config's 'trainer' has no key 'max_epoch' (in 'trainer.max_epoch'); "
                        "did you mean 'max_epochs' or 'min_epochs'?")
    err = explain_parser_error("unrecognized arguments: --modle.lr 1", keys)
    assert str(err) == "the config has no key 'modle' (in 'modle.lr'); did you mean 'model'?"
    err = explain_parser_error(
        'Parser key "model":\n  Does not validate against any of the Union subtypes\n  Errors:\n'
        "    - Problem with given class_path 'ganaug.GAN':\n"
        "        Option 'ema_decey' is not accepted\n", keys,
        {"ganaug.GAN": ["ema_decay", "ema_start", "loss"]})
    assert str(err) == ("ganaug.GAN has no option 'model.init_args.ema_decey'; "
                        "did you mean 'ema_decay'?")
    err = explain_parser_error(
        'Parser key "model":\n  Errors:\n'
        "    - Problem with given class_path 'ganaug.GAN':\n"
        '        Parser key "ema_decay":\n'
        "          Expected a <class 'float'>. Got value: abc\n", keys)
    assert str(err) == "ganaug.GAN option 'model.init_args.ema_decay' cannot be 'abc' (expected float)"
    err = explain_parser_error(
        'Parser key "trainer.max_epochs":\n  Errors:\n'
        "    - Expected a <class 'int'>\n    - Expected a <class 'NoneType'>\n"
        "  Given value type: <class 'str'>\n  Given value: abc", keys, hint="see --help")
    assert str(err) == "the config's 'trainer.max_epochs' cannot be 'abc' (expected int) (see --help)"
    assert did_you_mean("zzz", ["model", "data"]) == ""
