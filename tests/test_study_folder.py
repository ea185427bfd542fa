"""A study folder records the settings of its runs: resuming with other settings stops before
anything is written, and a corrupt run record is named, moved aside and redone."""

from __future__ import annotations

import json

import pytest

from ganaug.cli import main
from ganaug.study import Run, Study, StudyConfig, copy_config
from ganaug.study.config import RESULT_NEUTRAL_SETTINGS, setting_differences

TINY = dict(
    dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
    modes=["augment"], ratios=[0.5], classic_augment="flip", max_steps=3, batch_size=8,
    gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10), gan_max_steps=4,
    gan_batch_size=8, accelerator="cpu", judge_per_class=0, curve_points=0,
    # the defaults before 0.2.0 (the default study's recipe since) that these tests were built on
    gan_arms=["gan", "gan+classic"], bank_referee_seeds=None, gan_selection=None,
    classifier_options=dict(optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[]),
)


def test_setting_differences_names_each_changed_setting_by_its_path():
    config = StudyConfig.from_dict(TINY)
    recorded = json.loads(json.dumps(config.to_dict()))
    assert setting_differences(recorded, config) == {}
    assert set(RESULT_NEUTRAL_SETTINGS) == {"accelerator", "root", "cpus_per_run", "gpus_per_run",
                                            "gpus_per_gan"}
    changed = copy_config(config, n_per_class=5, accelerator="gpu", root="elsewhere",
                          gan_options={**config.gan_options, "latent_dim": 16})
    assert setting_differences(recorded, changed) == {
        "n_per_class": (4, 5), "gan_options.latent_dim": (8, 16)}
    # a record of an older ganaug, without a later setting: that setting counts as its default
    del recorded["curve_test_per_class"]
    assert setting_differences(recorded, config) == {}
    assert setting_differences(recorded, copy_config(config, curve_test_per_class=7)) == {
        "curve_test_per_class": (50, 7)}


def test_resuming_with_other_settings_stops_and_overwrites_nothing(tmp_path):
    config = StudyConfig.from_dict(TINY)
    Study(config, tmp_path, progress=False)
    recorded = (tmp_path / "config.json").read_text()
    for changes in (dict(n_per_class=1), dict(n_per_class=100000), dict(seeds=[0, 1])):
        with pytest.raises(ValueError, match=r"other settings \(.*; use a new folder \(--out\)"):
            Study(copy_config(config, **changes), tmp_path, progress=False)
    assert (tmp_path / "config.json").read_text() == recorded
    # the command: one line naming each difference, exit 2, the folder untouched
    with pytest.raises(SystemExit) as stopped:
        main(["study", "--out", str(tmp_path), "--n-per-class", "7"])
    assert stopped.value.code == 2
    assert (tmp_path / "config.json").read_text() == recorded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    # settings that change no result may differ; the record keeps the first ones
    Study(copy_config(config, accelerator="auto", root="elsewhere"), tmp_path, progress=False)
    assert (tmp_path / "config.json").read_text() == recorded
    # an invalid setting is refused before the folder is made, and a corrupt record is named
    with pytest.raises(ValueError, match="n_per_class must be >= 1"):
        Study(copy_config(config, n_per_class=0), tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()
    (tmp_path / "config.json").write_text(recorded[:20])
    with pytest.raises(ValueError, match="config.json does not hold a study's settings"):
        Study(config, tmp_path, progress=False)


def test_a_corrupt_run_record_is_named_moved_aside_and_run_again(tmp_path):
    study = Study(StudyConfig.from_dict(TINY), tmp_path, progress=False)
    run = Run("real", "small_cnn", 0)
    first = study.run(run)
    path = tmp_path / "runs" / f"{run.run_id}.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a write cut short
    with pytest.warns(UserWarning, match=f"{run.run_id}.json is corrupt"):
        again = study.run(run)
    assert (tmp_path / "runs" / f"{run.run_id}.json.corrupt").read_text() == text[: len(text) // 2]
    assert json.loads(path.read_text()) == again
    assert {k: v for k, v in again.items() if k != "seconds"} == \
        {k: v for k, v in first.items() if k != "seconds"}
