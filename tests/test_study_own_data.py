"""The study on a user's own images in one line, and configs that start from the default study.

``ganaug study --dataset image_folder --root DIR`` (with ``--image-size`` / ``--channels``)
runs the default study's recipe on a folder of class folders; a YAML config or a dict that
names a few fields changes only those (``StudyConfig``'s defaults are the default study's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ganaug.cli import main
from ganaug.study import StudyConfig, copy_config
from ganaug.study.config import DEFAULTS_BEFORE_0_2, setting_differences

ROOT = Path(__file__).parents[1]


def image_folder(root: Path, classes: int = 3, per_class: int = 40) -> Path:
    """Grey 20 x 20 PNGs, class c with a bright vertical band at columns 6c..6c+5."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((20, 20)) * 60).astype(np.uint8)
            pixels[:, 6 * c:6 * c + 6] = 220
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


def test_a_partial_config_keeps_the_default_study_recipe(tmp_path):
    default = StudyConfig.quick()
    assert StudyConfig() == default  # one source of defaults
    # the recipe the default study is known by (docs/study.md, "The default")
    assert default.gan_options["class_loss"] == "adc" and default.gan_options["mode_seeking_weight"] == 0.25
    assert default.bank_referee_seeds == [0, 1, 2] and default.ratios == [1.0]
    assert default.variants[0].control["min_confidence"] == 0.9 and default.gan_selection is not None
    path = tmp_path / "mine.yaml"
    path.write_text("dataset: image_folder\nroot: /my/images\nn_per_class: 20\n")
    assert StudyConfig.from_yaml(path) == copy_config(default, dataset="image_folder",
                                                      root="/my/images", n_per_class=20)


def test_every_shipped_config_names_each_setting_whose_default_changed():
    """So that each still means what it meant before the defaults became the default study's."""
    files = sorted((ROOT / "configs" / "study").glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        named = set(yaml.safe_load(path.read_text()))
        missing = set(DEFAULTS_BEFORE_0_2) - named
        assert not missing, f"{path.name} leaves {sorted(missing)} to the default"


def test_a_folder_record_without_a_setting_counts_as_the_default_of_its_day():
    config = copy_config(StudyConfig.quick(), bank_referee_seeds=None)
    record = json.loads(json.dumps(config.to_dict()))
    del record["bank_referee_seeds"]  # written before the setting existed: the referee alone
    assert setting_differences(record, config) == {}
    assert setting_differences(record, StudyConfig.quick()) == {
        "bank_referee_seeds": (None, [0, 1, 2])}


def test_study_flags_name_the_data_and_keep_the_recipe(tmp_path, monkeypatch, capsys):
    import ganaug.cli as cli

    seen = {}

    def fake_run_study(config, out, executor=None):
        seen["config"], seen["out"] = config, out
        return []

    monkeypatch.setattr(cli, "run_study", fake_run_study)
    monkeypatch.setattr(cli, "format_table", lambda rows: "")
    folder = image_folder(tmp_path / "images", per_class=2)
    main(["study", "--dataset", "image_folder", "--root", str(folder), "--image-size", "32",
          "--channels", "3", "--judge-per-class", "0", "--out", str(tmp_path / "s")])
    assert seen["config"] == copy_config(StudyConfig.quick(), dataset="image_folder",
                                         root=str(folder), image_size=32, channels=3,
                                         judge_per_class=0)
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    with pytest.raises(SystemExit):
        main(["study", "--dataset", "image_folder", "--root", str(tmp_path / "nothing"),
              "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ganaug: error: image_folder needs root to be a folder")
    with pytest.raises(SystemExit):
        main(["study", "--dataset", "mnist5", "--out", str(tmp_path / "s")])
    assert "mnist5" in capsys.readouterr().err


@pytest.mark.slow
def test_the_default_study_runs_on_an_image_folder_in_one_line(tmp_path, capsys):
    """The one line of docs/study.md, sized down: every arm of the default study's recipe runs
    on a user's folder of class folders (the three referees, the filter, the selection)."""
    folder = image_folder(tmp_path / "images")
    out = tmp_path / "study"
    main(["study", "--dataset", "image_folder", "--root", str(folder), "--image-size", "28",
          "--channels", "1", "--n-per-class", "22", "--test-per-class", "8",
          "--judge-per-class", "8", "--max-steps", "2", "--gan-max-steps", "4", "--seeds", "0",
          "--executor", "sequential", "--out", str(out)])
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["dataset"] == "image_folder" and recorded["image_size"] == 28
    assert recorded["bank_referee_seeds"] == [0, 1, 2]
    arms = {row["arm"] for row in json.loads((out / "summary.json").read_text())}
    assert arms == {"real", "classic", "gan+classic", "synthetic"}
    assert "study folder:" in capsys.readouterr().out


def test_study_flags_choose_variants_and_recipes_of_a_config(tmp_path, monkeypatch, capsys):
    import ganaug.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "run_study", lambda config, out, executor=None:
                        seen.setdefault("config", config) and [])
    monkeypatch.setattr(cli, "format_table", lambda rows: "")
    config = Path(__file__).parents[1] / "configs" / "study" / "mnist5k_longtail_levers.yaml"
    main(["study", "--config", str(config), "--recipes", "deferred", "capped1",
          "--out", str(tmp_path / "s")])
    full = StudyConfig.from_yaml(config)
    chosen = seen.pop("config")
    assert [r.name for r in chosen.recipes] == ["capped1", "deferred"]  # the config's order
    assert chosen.recipes == [r for r in full.recipes if r.name in ("capped1", "deferred")]
    assert chosen.variants == full.variants
    main(["study", "--config", str(config), "--recipes", "--variants", "uniform-bal",
          "--out", str(tmp_path / "s")])
    assert seen["config"].recipes == [] and seen["config"].variants == full.variants
    monkeypatch.delenv("GANAUG_DEBUG", raising=False)
    with pytest.raises(SystemExit):
        main(["study", "--config", str(config), "--recipes", "deferd", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "has no recipe 'deferd'; did you mean 'deferred'" in err and "its recipes: " in err
    with pytest.raises(SystemExit):
        main(["study", "--variants", "uniform", "--out", str(tmp_path)])
    assert "the default study has no variant 'uniform'" in capsys.readouterr().err
