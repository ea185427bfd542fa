"""The study: plan, paired summaries checked by hand, outputs, resume, config errors, command."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch
import yaml

from ganaug.cli import main
from ganaug.study import (
    Run,
    StudyConfig,
    Variant,
    format_table,
    plan_runs,
    run_study,
    summarize,
)

TINY = dict(
    dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0, 1],
    modes=["augment", "replace"], ratios=[0.5], classic_augment="flip",
    variants=[Variant("plain"), Variant("spread", control=dict(pool_factor=2, selection="kcenter"))],
    max_steps=3, batch_size=8,
    gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10),
    gan_max_steps=4, gan_batch_size=8, accelerator="cpu",
)


def test_plan_pairs_every_gan_run_with_real_and_classic_runs():
    config = StudyConfig.from_dict(TINY)
    runs = plan_runs(config)
    # per seed: real, classic, then 2 variants x 2 modes x 1 ratio x 2 arms
    assert len(runs) == 2 * (2 + 2 * 2 * 1 * 2)
    assert len({run.run_id for run in runs}) == len(runs)
    for run in runs:
        assert Run("real", run.classifier, run.seed) in runs
        assert Run("classic", run.classifier, run.seed) in runs


def record(arm, seed, error, variant="", mode="", ratio=0.0, class_errors=(1.0, 3.0)):
    return dict(arm=arm, classifier="small_cnn", seed=seed, variant=variant, mode=mode,
                ratio=ratio, test_error=error, class_errors=list(class_errors))


def test_summary_means_spreads_and_paired_differences_by_hand():
    records = [
        record("real", 0, 10.0), record("real", 1, 12.0),
        record("classic", 0, 6.0), record("classic", 1, 8.0),
        record("gan", 0, 9.0, "plain", "augment", 1.0, class_errors=(2.0, 4.0)),
        record("gan", 1, 9.0, "plain", "augment", 1.0, class_errors=(4.0, 6.0)),
        record("gan+classic", 0, 5.0, "plain", "augment", 1.0),
        record("gan+classic", 1, 8.0, "plain", "augment", 1.0),
    ]
    rows = {row["arm"]: row for row in summarize(records)}
    assert rows["real"]["error_mean"] == 11.0
    assert rows["real"]["error_std"] == pytest.approx(math.sqrt(2))  # sample std of 10, 12
    gan = rows["gan"]
    # paired differences with real: 9 - 10 = -1 and 9 - 12 = -3
    assert gan["vs_real_mean"] == pytest.approx(-2.0)
    assert gan["vs_real_std"] == pytest.approx(math.sqrt(2))
    assert gan["vs_real_relative"] == pytest.approx(-2.0 / 11.0)
    assert gan["class_error_mean"] == [3.0, 5.0]
    both = rows["gan+classic"]
    # paired with classic: 5 - 6 = -1 and 8 - 8 = 0
    assert both["vs_classic_mean"] == pytest.approx(-0.5)
    assert both["vs_classic_relative"] == pytest.approx(-0.5 / 7.0)
    assert "vs_real_mean" not in rows["real"] and "vs_classic_mean" not in rows["classic"]
    table = format_table(summarize(records))
    assert "11.00 ± 1.41" in table and "-2.00 (-18%)" in table


def test_a_study_runs_writes_its_outputs_and_resumes(tmp_path, monkeypatch):
    config = StudyConfig.from_dict(TINY)
    rows = run_study(config, tmp_path, progress=False)
    assert len(rows) == 2 + 2 * 2 * 2  # real, classic, and (variant, mode, arm)
    runs = plan_runs(config)
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == sorted(r.run_id for r in runs)
    for name in ("results.csv", "summary.json", "table.txt", "samples-gan-base.png",
                 "error_vs_ratio-small_cnn-augment.png", "error_vs_ratio-small_cnn-replace.png",
                 "class_errors-small_cnn.png", "referee.pt", "gan-base/gan.ckpt"):
        assert (tmp_path / name).is_file(), name
    assert len((tmp_path / "results.csv").read_text().splitlines()) == 1 + len(runs)

    # the blends hold exactly the planned synthetic counts: 4 real per class, r = 0.5 -> 2
    for path in (tmp_path / "runs").glob("*-r0.5-*.json"):
        run = json.loads(path.read_text())
        assert run["synthetic_images"] == 20
        assert run["train_images"] == (60 if run["mode"] == "augment" else 40)

    # resuming trains nothing when everything is done ...
    def no_training(*args, **kwargs):
        raise AssertionError("a finished study must not train again")

    with monkeypatch.context() as patched:
        patched.setattr(L.Trainer, "fit", no_training)
        assert run_study(config, tmp_path, progress=False) == rows

    # ... and exactly the missing run after an interruption
    missing = tmp_path / "runs" / f"{runs[-1].run_id}.json"
    missing.unlink()
    others = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    run_study(config, tmp_path, progress=False)
    assert missing.is_file()
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in others.items())


@pytest.mark.parametrize(("changes", "message"), [
    (dict(colour="red"), r"unknown study options \['colour'\]"),
    (dict(modes=["replace"], ratios=[1.5]), "cannot be used with mode 'replace'"),
    (dict(ratios=[0.0]), "ratios must be finite and > 0"),
    (dict(variants=[dict(name="a"), dict(name="a")]), "variant names must be unique"),
    (dict(variants=[dict(name="a", control=dict(selection="best"))]), "selection must be"),
    (dict(seeds=[]), "at least one seed"),
])
def test_bad_study_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        StudyConfig.from_dict({**TINY, **changes})


def test_the_command_reads_yaml_applies_overrides_and_prints_the_table(tmp_path, capsys):
    values = {**TINY, "variants": [{"name": "plain"}], "modes": ["augment"]}
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(values))
    main(["study", "--config", str(config), "--out", str(tmp_path / "out"), "--seeds", "3"])
    printed = capsys.readouterr().out
    assert "test error %" in printed and "gan+classic" in printed
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["seeds"] == [3] and saved["dataset"] == "digits"


def test_shipped_study_configs_parse():
    from pathlib import Path

    configs = sorted((Path(__file__).parents[1] / "configs" / "study").glob("*.yaml"))
    assert configs, "configs/study/ holds the study configs"
    for path in configs:
        StudyConfig.from_yaml(path)


def test_the_quick_default_is_what_its_yaml_spells_out():
    from pathlib import Path

    spelled = StudyConfig.from_yaml(Path(__file__).parents[1] / "configs" / "study" / "mnist5k.yaml")
    assert spelled == StudyConfig.quick()


def test_a_dagan_study_draws_each_class_from_its_real_images(tmp_path):
    values = {**TINY, "seeds": [0], "modes": ["augment"], "variants": [{"name": "plain"}],
              "gan_class": "ganaug.DAGAN", "gan_max_steps": 3,
              "gan_options": dict(latent_dim=8, g_width=4, d_width=4, grid_size=4, d_steps=1)}
    rows = run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    assert {row["arm"] for row in rows} == {"real", "classic", "gan", "gan+classic"}
    assert (tmp_path / "samples-gan-base.png").is_file()
    bank = torch.load(tmp_path / "banks" / "plain-seed0.pt", weights_only=True)
    assert torch.bincount(bank["labels"]).tolist() == [2] * 10  # r = 0.5 of 4 per class
