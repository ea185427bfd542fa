"""The study: plan, paired summaries checked by hand, outputs, resume, config errors, command."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger

from ganaug.cli import main
from ganaug.study import (
    Recipe,
    Run,
    StudyConfig,
    Variant,
    copy_config,
    format_table,
    paired_interval,
    plan_runs,
    run_study,
    summarize,
)
from ganaug.study.curves import read_curve
from ganaug.study.runner import Study

TINY = dict(
    dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0, 1],
    modes=["augment", "replace"], ratios=[0.5], classic_augment="flip",
    variants=[Variant("plain"), Variant("spread", control=dict(pool_factor=2, selection="kcenter"))],
    max_steps=3, batch_size=8,
    gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10),
    gan_max_steps=4, gan_batch_size=8, accelerator="cpu", judge_per_class=5,
    # the defaults before 0.2.0 (the default study's recipe since) that these tests were built on
    gan_arms=["gan", "gan+classic"], bank_referee_seeds=None, gan_selection=None,
    classifier_options=dict(optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[]),
)


# TINY with a k-centre variant that needs the referee, a GAN selected under referee and judge,
# and a soft-label recipe that needs each seed's teacher: every kind of dependency of the
# executors' task graph
EVERY_DEPENDENCY = {
    **TINY, "modes": ["augment"],
    "variants": [dict(name="spread", control=dict(pool_factor=2, selection="kcenter"))],
    "recipes": [dict(name="kd", options=dict(distill_weight=0.5, distill_on="synthetic"))],
    "gan_selection": dict(every_n_iterations=1, n_per_class=2), "curve_points": 2,
}

def test_plan_pairs_every_gan_run_with_real_and_classic_runs():
    config = StudyConfig.from_dict(TINY)
    runs = plan_runs(config)
    # per seed: real, classic, then 2 variants x (2 modes x 1 ratio x 2 arms + 1 synthetic-only)
    assert len(runs) == 2 * (2 + 2 * (2 * 1 * 2 + 1))
    assert len({run.run_id for run in runs}) == len(runs)
    for run in runs:
        assert Run("real", run.classifier, run.seed) in runs
        assert Run("classic", run.classifier, run.seed) in runs
    synthetic = [run for run in runs if run.arm == "synthetic"]
    assert {(run.mode, run.ratio) for run in synthetic} == {("replace", 1.0)}


def test_recipes_add_gan_runs_and_a_control_only_when_real_images_learn_differently():
    recipes = [Recipe("kd", dict(distill_weight=0.5)),
               Recipe("kd_syn", dict(distill_weight=0.5, distill_on="synthetic")),
               Recipe("w", dict(synthetic_weight=0.5)), Recipe("s", dict(synthetic_share=0.25))]
    config = StudyConfig.from_dict({**TINY, "seeds": [0], "modes": ["augment"],
                                    "variants": [Variant("plain")], "recipes": recipes,
                                    "gan_arms": ["gan+classic"], "cas": False})
    runs = plan_runs(config)
    assert [r.run_id for r in runs] == [
        "small_cnn-real-seed0", "small_cnn-classic-seed0", "small_cnn-classic-kd-seed0",
        "small_cnn-gan_classic-plain-augment-r0.5-seed0",
        "small_cnn-gan_classic-plain-augment-r0.5-kd-seed0",
        "small_cnn-gan_classic-plain-augment-r0.5-kd_syn-seed0",
        "small_cnn-gan_classic-plain-augment-r0.5-w-seed0",
        "small_cnn-gan_classic-plain-augment-r0.5-s-seed0"]
    with pytest.raises(ValueError, match="sets \\['lr'\\]"):
        StudyConfig.from_dict({**TINY, "recipes": [dict(name="x", options=dict(lr=1.0))]})


def record(arm, seed, error, variant="", mode="", ratio=0.0, class_errors=(1.0, 3.0), recipe="",
           faithful=None):
    return dict(arm=arm, classifier="small_cnn", seed=seed, variant=variant, mode=mode,
                ratio=ratio, recipe=recipe, test_error=error, class_errors=list(class_errors),
                faithfulness_mean=faithful and faithful[0], faithfulness_worst=faithful and faithful[1])


def test_paired_interval_by_hand():
    # differences -1, -2, -6: mean -3, sample sd sqrt(7), t(0.975, 2) = 4.302653 (tables)
    result = paired_interval([-1.0, -2.0, -6.0])
    half = 4.302653 * math.sqrt(7) / math.sqrt(3)
    assert result["mean"] == pytest.approx(-3.0)
    assert result["low"] == pytest.approx(-3.0 - half, rel=1e-6)
    assert result["high"] == pytest.approx(-3.0 + half, rel=1e-6)
    assert result["significant"] == 0.0  # [-9.57, 3.57] holds zero
    tight = paired_interval([-1.0, -1.1, -0.9, -1.0, -1.0])  # t(0.975, 4) = 2.776445
    assert tight["high"] == pytest.approx(-1.0 + 2.776445 * math.sqrt(0.005) / math.sqrt(5), rel=1e-6)
    assert tight["significant"] == 1.0
    single = paired_interval([2.0])
    assert single["mean"] == 2.0 and math.isnan(single["low"]) and single["significant"] == 0.0


def test_summary_means_spreads_paired_intervals_faithfulness_and_cas_by_hand():
    records = [
        record("real", 0, 10.0), record("real", 1, 12.0), record("real", 2, 11.0),
        record("classic", 0, 6.0), record("classic", 1, 8.0), record("classic", 2, 7.0),
        record("classic", 0, 5.0, recipe="kd"), record("classic", 1, 8.0, recipe="kd"),
        record("classic", 2, 5.0, recipe="kd"),
        record("gan", 0, 9.0, "plain", "augment", 1.0, class_errors=(2.0, 4.0), faithful=(0.9, 0.8)),
        record("gan", 1, 9.0, "plain", "augment", 1.0, class_errors=(4.0, 6.0), faithful=(0.95, 0.7)),
        record("gan", 2, 9.0, "plain", "augment", 1.0, class_errors=(3.0, 5.0), faithful=(1.0, 0.9)),
        record("gan+classic", 0, 5.0, "plain", "augment", 1.0),
        record("gan+classic", 1, 7.0, "plain", "augment", 1.0),
        record("gan+classic", 2, 6.0, "plain", "augment", 1.0),
        record("gan+classic", 0, 4.0, "plain", "augment", 1.0, recipe="kd"),
        record("gan+classic", 1, 7.0, "plain", "augment", 1.0, recipe="kd"),
        record("gan+classic", 2, 4.0, "plain", "augment", 1.0, recipe="kd"),
        record("synthetic", 0, 28.0, "plain", "replace", 1.0),
        record("synthetic", 1, 34.0, "plain", "replace", 1.0),
        record("synthetic", 2, 20.0, "plain", "replace", 1.0),
    ]
    rows = {(row["arm"], row["recipe"]): row for row in summarize(records)}
    real = rows[("real", "")]
    assert real["error_mean"] == 11.0 and real["error_std"] == pytest.approx(1.0)
    assert "vs_control" not in real
    # the best arm without synthetic images is classic + kd (mean 6.0 < classic's 7.0)
    best = rows[("classic", "kd")]
    assert best.get("best_real") and "vs_best_real" not in best
    t2 = 4.302653
    gan = rows[("gan", "")]
    # vs its control (real): 9 - 10, 9 - 12, 9 - 11 = -1, -3, -2: mean -2, sd 1
    assert gan["vs_control"]["mean"] == pytest.approx(-2.0)
    assert gan["vs_control"]["low"] == pytest.approx(-2.0 - t2 / math.sqrt(3), rel=1e-6)
    assert gan["vs_control"]["relative"] == pytest.approx(-2.0 / 11.0)
    # vs the best real-only arm (classic + kd): 4, 1, 4
    assert gan["vs_best_real"]["mean"] == pytest.approx(3.0)
    assert gan["class_error_mean"] == [3.0, 5.0]
    assert gan["faithfulness_mean"] == pytest.approx(0.95)
    assert gan["faithfulness_worst"] == pytest.approx(0.7)  # the worst bank's worst class
    # CAS: accuracy of synthetic-only over real-only, paired: 72/90, 66/88, 80/89
    assert gan["cas"] == pytest.approx((72 / 90 + 66 / 88 + 80 / 89) / 3)
    # gan+classic with the recipe is credited against the recipe's own control: -1, -1, -1
    recipe_row = rows[("gan+classic", "kd")]
    assert recipe_row["vs_control"]["mean"] == pytest.approx(-1.0)
    # no spread: the interval shrinks to the point -1, which excludes zero
    assert recipe_row["vs_control"]["low"] == recipe_row["vs_control"]["high"] == -1.0
    # plain gan+classic against classic: -1, -1, -1
    assert rows[("gan+classic", "")]["vs_control"]["mean"] == pytest.approx(-1.0)
    table = format_table(summarize(records))
    assert "11.00 ± 1.00" in table and "(best real-only)" in table
    # [-4.48, +0.48] holds zero: no mark; the recipe's [-1, -1] does not: marked
    assert f"-2.00 [{-2 - t2 / math.sqrt(3):+.2f}, {-2 + t2 / math.sqrt(3):+.2f}] " in table
    assert "-1.00 [-1.00, -1.00]*" in table


def test_a_study_runs_writes_its_outputs_and_resumes(tmp_path, monkeypatch):
    config = StudyConfig.from_dict(TINY)
    rows = run_study(config, tmp_path, progress=False)
    assert len(rows) == 2 + 2 * (2 * 2 + 1)  # real, classic, and (variant, mode, arm) + synthetic
    runs = plan_runs(config)
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == sorted(r.run_id for r in runs)
    for name in ("results.csv", "summary.json", "table.txt", "samples-gan-base.png",
                 "error_vs_ratio-small_cnn-augment.png", "error_vs_ratio-small_cnn-replace.png",
                 "class_errors-small_cnn.png", "teachers/small_cnn-seed0.pt",
                 "teachers/small_cnn-seed1.pt", "judge.pt", "judge.json", "gan-base/gan.ckpt",
                 "banks/plain-seed0.faithfulness.json", "curves-small_cnn.png"):
        assert (tmp_path / name).is_file(), name
    # every run's learning curve: max_steps 3 and 10 points -> a point at every step
    for run in runs:
        assert read_curve(tmp_path / "curves" / f"{run.run_id}.csv")["step"].tolist() == [1, 2, 3]
    assert len((tmp_path / "results.csv").read_text().splitlines()) == 1 + len(runs)
    for row in rows:
        if row["arm"] in ("gan", "gan+classic", "synthetic"):
            assert 0 <= row["faithfulness_worst"] <= row["faithfulness_mean"] <= 1
            assert row["cas"] > 0
    judge = json.loads((tmp_path / "judge.json").read_text())
    assert 0 <= judge["test_accuracy"] <= 1

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

    # ... and exactly the missing run after an interruption; a finished run without a curve
    # (from an older study) is left out of the curves plot
    missing = tmp_path / "runs" / f"{runs[-1].run_id}.json"
    missing.unlink()
    (tmp_path / "curves" / f"{runs[0].run_id}.csv").unlink()
    others = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    run_study(config, tmp_path, progress=False)
    assert missing.is_file() and (tmp_path / "curves" / f"{runs[-1].run_id}.csv").is_file()
    assert not (tmp_path / "curves" / f"{runs[0].run_id}.csv").exists()
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in others.items())


def test_the_same_study_twice_writes_the_same_results(tmp_path):
    values = {**TINY, "seeds": [0], "modes": ["augment"], "variants": [{"name": "plain"}],
              "recipes": [dict(name="kd", options=dict(distill_weight=0.5)),
                          dict(name="share", options=dict(synthetic_share=0.25))],
              "gan_selection": dict(every_n_iterations=1, n_per_class=2)}
    config = StudyConfig.from_dict(values)
    logger = CSVLogger(tmp_path / "logs", name="study")
    run_study(config, tmp_path / "a", progress=False, loggers=[logger])
    # without learning curves: recording them changes no result
    run_study(copy_config(config, curve_points=0), tmp_path / "b", progress=False)
    first = (tmp_path / "a" / "results.csv").read_text()
    assert first == (tmp_path / "b" / "results.csv").read_text()
    assert not (tmp_path / "b" / "curves").exists()
    # the user's logger got every run's curve under the run's name
    logged = (tmp_path / "logs" / "study" / "version_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "small_cnn-real-seed0/test_error" in logged
    assert "small_cnn-gan_classic-plain-augment-r0.5-kd-seed0/train_error" in logged
    assert "classic-kd-seed0" in first and "gan_classic-plain-augment-r0.5-kd-seed0" in first
    selection = json.loads((tmp_path / "a" / "gan-base" / "selection.json").read_text())
    assert selection["best_iteration"] in [row["iteration"] for row in selection["history"]]
    assert all(0 <= row["judge_worst"] <= row["judge_mean"] <= 1 for row in selection["history"])


@pytest.mark.parametrize(("changes", "message"), [
    (dict(colour="red"), r"a study config has no option 'colour'"),
    (dict(modes=["replace"], ratios=[1.5]), "cannot be used with mode 'replace'"),
    (dict(ratios=[0.0]), "ratios must be finite and > 0"),
    (dict(variants=[dict(name="a"), dict(name="a")]), "variant names must be unique"),
    (dict(variants=[dict(name="a", control=dict(selection="best"))]), "selection must be"),
    (dict(seeds=[]), "at least one seed"),
    (dict(curve_points=-1), "curve_points must be >= 0"),
    (dict(curve_test_per_class=0), "curve_test_per_class must be >= 1"),
    (dict(cpus_per_run=0), "cpus_per_run must be > 0"),
    (dict(gpus_per_run=1.5), r"gpus_per_run must be a fraction of one GPU \(0, 0.25, 0.5, 1\)"),
    (dict(gpus_per_gan=-1), "gpus_per_gan must be a fraction"),
    (dict(variants=[dict(name="a", gan_sampler="balanced")]), "gan_sampler must be one of"),
    (dict(variants=[dict(name="a", gan_sampler="class_balanced")], gan_class="ganaug.DAGAN"),
     "same-class pairs"),
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
    # the command's default executor: tasks side by side in worker processes
    assert json.loads((tmp_path / "out" / "timings.json").read_text())["executor"] == "LocalExecutor"


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
    assert {row["arm"] for row in rows} == {"real", "classic", "gan", "gan+classic", "synthetic"}
    assert (tmp_path / "samples-gan-base.png").is_file()
    bank = torch.load(tmp_path / "banks" / "plain-seed0.pt", weights_only=True)
    # the bank holds what the largest need asks: the synthetic-only (CAS) run's 4 per class
    assert torch.bincount(bank["labels"]).tolist() == [4] * 10


def test_the_long_tail_study_runs_at_a_tiny_size(tmp_path):
    from pathlib import Path

    values = yaml.safe_load(
        (Path(__file__).parents[1] / "configs" / "study" / "mnist5k_longtail.yaml").read_text())
    sizes = {key: TINY[key] for key in ("dataset", "image_size", "test_per_class", "max_steps",
                                        "batch_size", "gan_options", "gan_max_steps",
                                        "gan_batch_size", "accelerator", "judge_per_class")}
    values.update(sizes, n_per_class=6, imbalance_factor=3, seeds=[0, 1],
                  bank_referee_seeds=[0, 1],
                  gan_selection=dict(every_n_iterations=1, n_per_class=2))
    rows = run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    # real images: 6 * 3 ** (-c / 9) rounded = 6, 5, 5, 4, 4, 3, 3, 3, 2, 2 (37); balance tops
    # every class up to 6 with 23 synthetic images (the cap of 2 per real image does not bind)
    counts = [6, 5, 5, 4, 4, 3, 3, 3, 2, 2]
    for path in (tmp_path / "runs").glob("*.json"):
        run = json.loads(path.read_text())
        assert run["class_train_counts"] == counts
        synthetic = run["arm"] == "gan+classic"
        assert run["synthetic_images"] == (23 if synthetic else 0)
        assert run["train_images"] == (60 if synthetic else 37)
    arms = {(row["arm"], row["variant"], row["recipe"]) for row in rows}
    assert arms == {("real", "", ""), ("classic", "", ""), ("classic", "", "logit_adjusted"),
                    *{("gan+classic", variant, recipe) for variant in ("uniform-bal", "smote")
                      for recipe in ("", "logit_adjusted")}}
    assert not (tmp_path / "gan-smote").exists()  # interpolation trains no GAN
    # the minority classes are the rarest half, and every row reports their error
    assert all(row["minority_classes"] == [5, 6, 7, 8, 9] for row in rows)
    gan = next(row for row in rows if row["arm"] == "gan+classic")
    assert gan["mode"] == "balance" and "minority_vs_control" in gan
    assert "minority err %" in (tmp_path / "table.txt").read_text()
    # where the minority classes' test images go: every one of them counted once per seed
    test_per_class = TINY["test_per_class"]
    for row in rows:
        assert [sum(counts) for counts in row["confusion"]] == [2 * test_per_class] * 10
        errors = [100 * (1 - counts[c] / sum(counts)) for c, counts in enumerate(row["confusion"])]
        assert errors == pytest.approx(row["class_error_mean"])
    confusions = (tmp_path / "confusions.txt").read_text()
    assert "class 9: " in confusions and f"/{2 * test_per_class} right" in confusions


def test_confusions_name_where_the_minority_classes_go():
    from ganaug.study.report import format_confusions

    row = {"classifier": "small_cnn", "arm": "classic", "variant": "", "recipe": "la", "seeds": 2,
           "minority_classes": [1, 2],
           "confusion": [[9, 1, 0], [3, 5, 3], [0, 0, 10]]}
    assert format_confusions([row, {**row, "minority_classes": []}]) == (
        "small_cnn classic la (2 seeds)\n"
        "  class 1: 5/11 right  -> 0: 3, -> 2: 3\n"  # ties: the lower class first
        "  class 2: 10/10 right")
    without = {k: v for k, v in row.items() if k != "confusion"}  # an older study's row
    assert format_confusions([without]) == ""


def test_a_resampling_recipe_trains_on_fresh_gan_images_every_epoch(tmp_path, monkeypatch):
    from ganaug.data import LabelledImages, SyntheticBlendDataModule
    from ganaug.modules import GANModule

    values = {**TINY, "seeds": [0], "modes": ["augment"], "cas": False, "max_steps": 12,
              "variants": [dict(name="kept", control=dict(filter_misclassified=True))],
              "recipes": [dict(name="fresh", options=dict(resample_every_epoch=True))]}
    config = StudyConfig.from_dict(values)
    recipe = config.recipes[0]
    assert recipe.blend_options() == {"resample_every_epoch": True}
    assert recipe.classifier_options() == {}
    blends, draws = [], []
    original_init = SyntheticBlendDataModule.__init__
    original_draw = SyntheticBlendDataModule._draw_for_epoch

    def spy_init(self, real, synthetic=None, **kwargs):
        blends.append((synthetic, kwargs))
        original_init(self, real, synthetic, **kwargs)

    monkeypatch.setattr(SyntheticBlendDataModule, "__init__", spy_init)
    monkeypatch.setattr(SyntheticBlendDataModule, "_draw_for_epoch",
                        lambda self, epoch: (draws.append(epoch), original_draw(self, epoch)))
    run_study(config, tmp_path, progress=False)
    sources = {kwargs.get("resample_every_epoch", False): (synthetic, kwargs)
               for synthetic, kwargs in blends if synthetic is not None}
    fresh, plain = sources[True], sources[False]
    assert isinstance(fresh[0], GANModule) and isinstance(plain[0], LabelledImages)
    assert fresh[1]["diversity"].filter_misclassified and fresh[1]["referee"] is not None
    assert len(draws) >= 2 and draws == sorted(set(draws))  # one fresh draw per new epoch
    results = (tmp_path / "results.csv").read_text()
    assert "gan_classic-kept-augment-r0.5-fresh-seed0" in results


def test_cas_with_classic_augmentation_is_paired_with_the_classic_arm_by_hand():
    records = [
        record("real", 0, 10.0), record("real", 1, 12.0),
        record("classic", 0, 5.0), record("classic", 1, 4.0),
        record("synthetic", 0, 28.0, "plain", "replace", 1.0),
        record("synthetic", 1, 34.0, "plain", "replace", 1.0),
        record("synthetic+classic", 0, 14.0, "plain", "replace", 1.0),
        record("synthetic+classic", 1, 16.0, "plain", "replace", 1.0),
    ]
    rows = {row["arm"]: row for row in summarize(records)}
    both = rows["synthetic+classic"]
    # against classic, not real: 86 / 95 and 84 / 96; plain CAS stays against real
    assert both["cas_classic"] == pytest.approx((86 / 95 + 84 / 96) / 2)
    assert both["cas"] == pytest.approx((72 / 90 + 66 / 88) / 2)
    assert both["vs_control"]["mean"] == pytest.approx(10.5)  # 14 - 5, 16 - 4
    assert rows["synthetic"]["vs_control"]["mean"] == pytest.approx(20.0)  # 28 - 10, 34 - 12
    table = format_table(summarize(records)).splitlines()
    assert table[0].endswith("CAS+c") and "CAS+c: the same, both with classic" in table[-1]
    line = next(row for row in table if row.split()[1:2] == ["synthetic+classic"])
    assert line.endswith(f"{100 * both['cas']:>4.0f}% {100 * both['cas_classic']:>4.0f}%")
    assert line.index("plain") == table[0].index("variant")  # the wider arm name keeps columns
    # without that arm, the column is left out
    assert "CAS+c" not in format_table(summarize(records[:6]))


def test_a_study_trains_each_bank_alone_with_classic_augmentation_too(tmp_path, monkeypatch):
    config = StudyConfig.from_dict({**TINY, "seeds": [0], "modes": ["augment"],
                                    "variants": [{"name": "plain"}], "gan_arms": [],
                                    "cas_classic": True, "curve_points": 0})
    assert [run.arm for run in plan_runs(config)] == ["real", "classic", "synthetic",
                                                      "synthetic+classic"]
    policies = []  # the classic augmentation each classifier is built with, in the plan's order
    build = Study._classifier
    monkeypatch.setattr(Study, "_classifier", lambda self, architecture, seed, classic, **extra:
                        policies.append(classic) or build(self, architecture, seed, classic, **extra))
    rows = {row["arm"]: row for row in run_study(config, tmp_path, progress=False)}
    # real, classic, the judge (trained with classic augmentation on the held-out images),
    # the bank alone, the bank alone with classic augmentation
    assert policies == ["none", "flip", "flip", "none", "flip"]
    alone = json.loads((tmp_path / "runs" / "small_cnn-synthetic-plain-replace-r1-seed0.json")
                       .read_text())
    augmented = json.loads((tmp_path / "runs" /
                            "small_cnn-synthetic_classic-plain-replace-r1-seed0.json").read_text())
    # the same bank, alone, trained without and with classic augmentation
    assert alone["synthetic_images"] == augmented["synthetic_images"] == 40
    assert alone["train_images"] == augmented["train_images"] == 40
    assert rows["synthetic+classic"]["cas_classic"] == pytest.approx(
        (100 - augmented["test_error"]) / (100 - rows["classic"]["error_mean"]))


def test_a_variant_with_class_balanced_gan_batches_trains_its_own_gan_on_them(tmp_path,
                                                                               monkeypatch):
    import ganaug.data.datamodule as datamodule
    from ganaug.study.config import setting_differences
    from ganaug.study.tasks import gan_folder

    drawn = []

    class RecordingSampler(datamodule.ClassBalancedSampler):
        def __iter__(self):
            drawn.append(self.labels)
            return super().__iter__()

    monkeypatch.setattr(datamodule, "ClassBalancedSampler", RecordingSampler)
    config = StudyConfig.from_dict({**TINY, "variants": [
        {"name": "plain"}, {"name": "balanced", "gan_sampler": "class_balanced"}]})
    plain, balanced = config.variants
    assert (gan_folder(config, plain), gan_folder(config, balanced)) == ("gan-base", "gan-balanced")
    Study(config, tmp_path, progress=False).gan(plain)
    assert not drawn  # the study's GAN takes each image once an epoch
    Study(config, tmp_path, progress=False).gan(balanced)
    assert drawn and (tmp_path / "gan-balanced" / "gan.ckpt").is_file()

    # a folder recorded before variants had a gan_sampler resumes with the default one
    recorded = json.loads(json.dumps(config.to_dict()))
    for variant in recorded["variants"]:
        if variant["name"] == "plain":
            del variant["gan_sampler"]
    assert setting_differences(recorded, config) == {}


def test_summary_averages_the_banks_per_class_measures_and_shows_the_rarest_two_by_hand():
    from ganaug.study.report import rarest_classes

    assert rarest_classes([50, 5, 8]) == [1, 2] and rarest_classes([4, 4, 4]) == []
    assert rarest_classes([9, 5, 5]) == [2, 1]  # the higher label first among equal counts
    counts = [50, 5, 8]
    records = [
        dict(record("real", s, 10.0, class_errors=(1.0, 2.0, 3.0)), class_train_counts=counts)
        for s in (0, 1)
    ] + [
        dict(record("gan", 0, 9.0, "plain", "balance", 1.0, class_errors=(1.0, 2.0, 3.0),
                    faithful=(0.8, 0.6)), class_train_counts=counts,
             faithfulness_per_class=[None, 0.6, 1.0], spread_per_class=[None, 0.5, 0.3],
             judges_agree=0.9),
        dict(record("gan", 1, 9.0, "plain", "balance", 1.0, class_errors=(1.0, 2.0, 3.0),
                    faithful=(0.9, 0.8)), class_train_counts=counts,
             faithfulness_per_class=[None, 0.8, 1.0], spread_per_class=[None, 0.7, None],
             judges_agree=0.8),
    ]
    rows = {row["arm"]: row for row in summarize(records)}
    gan = rows["gan"]
    assert gan["faithfulness_per_class"] == pytest.approx([None, 0.7, 1.0])
    assert gan["spread_per_class"] == pytest.approx([None, 0.6, 0.3])  # a seed without: skipped
    assert gan["judges_agree"] == pytest.approx(0.85)
    assert "faithfulness_per_class" not in rows["real"]
    table = format_table(list(rows.values()))
    # the rarest two: class 1 (5 images), then class 2 (8)
    assert "faithful 1/2" in table and "spread 1/2" in table and "judges agree" in table
    assert "70/100%" in table and "0.60/0.30" in table and "85%" in table


def test_a_long_tail_study_reports_two_judges_and_per_class_spread(tmp_path):
    values = {**TINY, "n_per_class": 6, "imbalance_factor": 3, "seeds": [0], "modes": ["balance"],
              "ratios": [1.0], "variants": [{"name": "plain"}], "gan_arms": ["gan+classic"],
              "cas": False, "second_judge": True, "class_novelty": True}
    rows = run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    assert (tmp_path / "judge2.pt").is_file()
    first, second = (json.loads((tmp_path / f"{name}.json").read_text())
                     for name in ("judge", "judge2"))
    assert first["seed"] != second["seed"] and len(second["test_accuracy_per_class"]) == 10
    verdict = json.loads((tmp_path / "banks" / "plain-seed0.faithfulness.json").read_text())
    assert 0 <= verdict["judges_agree"] <= 1
    # real images 6, 5, 5, 4, 4, 3, 3, 3, 2, 2: class 0 gets no synthetic image, classes 1 and 2
    # one (no nearest other: no spread), the others 2 to 4, measured against as many of the 5
    # held-out images
    spread = verdict["spread_per_class"]
    assert spread[:3] == [None, None, None] and all(v is not None and v >= 0 for v in spread[3:])
    # the 4-step GAN draws one image whatever the noise: a collapsed bank, spread 0
    bank = torch.load(tmp_path / "banks" / "plain-seed0.pt", weights_only=True)["images"]
    if len(torch.unique(bank.flatten(1), dim=0)) == 1:
        assert spread[3:] == [0.0] * 7
    gan = next(row for row in rows if row["arm"] == "gan+classic")
    assert gan["spread_per_class"] == pytest.approx(spread)
    assert gan["judges_agree"] == pytest.approx(verdict["judges_agree"])
    page = (tmp_path / "report.html").read_text()
    assert "judge2 accuracy" in page and "gan+classic plain: spread" in page
    assert "spread 9/8" in (tmp_path / "table.txt").read_text()


@pytest.mark.parametrize("name", ["mnist5k_longtail_gan", "mnist5k_longtail_dagan"])
def test_the_long_tail_gan_and_dagan_studies_run_at_a_tiny_size(tmp_path, name):
    from pathlib import Path

    values = yaml.safe_load(
        (Path(__file__).parents[1] / "configs" / "study" / f"{name}.yaml").read_text())
    sizes = {key: TINY[key] for key in ("dataset", "image_size", "test_per_class", "max_steps",
                                        "batch_size", "gan_max_steps", "accelerator",
                                        "judge_per_class")}
    tiny_gan = {"latent_dim": 8, "g_width": 4, "d_width": 4, "grid_size": 10}
    values.update(sizes, n_per_class=6, imbalance_factor=3, seeds=[0], gan_batch_size=8,
                  gan_options={**values["gan_options"], **tiny_gan})
    if values.get("gan_selection"):
        values["gan_selection"] = dict(every_n_iterations=1, n_per_class=2)
    rows = run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    variants = {v["name"] for v in values["variants"]}
    synthetic = [row for row in rows if row["arm"] == "gan+classic"]
    assert {row["variant"] for row in synthetic} == variants
    assert all("spread_per_class" in row and "judges_agree" in row for row in synthetic)


def test_the_long_tail_bar_config_pairs_the_gan_with_the_best_real_only_remedy():
    """mnist5k_longtail_bar.yaml: per seed, the real-only arms (classic, weighted, and classic +
    logit adjustment as the controls of capped_la and capped_la_real) and the one GAN's full,
    capped and capped + logit adjusted top-ups (prior of the blend, of the real images); one GAN
    for all seeds."""
    from pathlib import Path

    from ganaug.study.plan import plan_runs
    from ganaug.study.tasks import plan_tasks

    config = StudyConfig.from_yaml(
        Path(__file__).parents[1] / "configs" / "study" / "mnist5k_longtail_bar.yaml")
    gan = "small_cnn-gan_classic-uniform-bal-balance-r1"
    per_seed = ["small_cnn-real", "small_cnn-classic", "small_cnn-classic-weighted",
                "small_cnn-classic-capped_la", "small_cnn-classic-capped_la_real", gan,
                f"{gan}-capped", f"{gan}-capped_la", f"{gan}-capped_la_real"]
    assert [run.run_id for run in plan_runs(config)] == \
        [f"{name}-seed{seed}" for seed in range(5) for name in per_seed]
    assert [task.name for task in plan_tasks(config) if task.kind == "gan"] == ["gan-uniform-bal"]
    capped_la = next(recipe for recipe in config.recipes if recipe.name == "capped_la")
    # the control run trains on real images with the loss alone: the cap acts on synthetic ones
    assert capped_la.needs_control and capped_la.real_blend_options() == {}
    assert capped_la.classifier_options() == {"imbalance_loss": "logit_adjusted",
                                              "imbalance_options": {"tau": 1.0}}
    real_prior = next(recipe for recipe in config.recipes if recipe.name == "capped_la_real")
    assert real_prior.needs_control and real_prior.blend_options() == {"max_synthetic_per_real": 2}
    assert real_prior.classifier_options() == {
        "imbalance_loss": "logit_adjusted", "imbalance_options": {"tau": 1.0, "prior": "real"}}


@pytest.mark.parametrize(("name", "recipes"), [
    ("mnist5k_longtail_if10", ["logit_adjusted"]),
    ("digits_longtail", ["logit_adjusted"]),
    ("mnist5k_longtail_levers",
     ["logit_adjusted", "capped1", "half_weight", "deferred", "deferred_full"]),
])
def test_the_long_tail_gan_side_configs_pair_one_gan_with_the_bar(name, recipes):
    """The IF-10, digits and levers configs: per seed real, classic, and for each recipe (all
    logit-adjusted with the real images' prior) its control and its GAN run, beside the GAN's
    plain full top-up; one GAN for all seeds."""
    from pathlib import Path

    from ganaug.study.plan import plan_runs
    from ganaug.study.tasks import plan_tasks

    config = StudyConfig.from_yaml(Path(__file__).parents[1] / "configs" / "study" / f"{name}.yaml")
    gan = "small_cnn-gan_classic-uniform-bal-balance-r1"
    per_seed = ["small_cnn-real", "small_cnn-classic",
                *[f"small_cnn-classic-{recipe}" for recipe in recipes], gan,
                *[f"{gan}-{recipe}" for recipe in recipes]]
    assert [run.run_id for run in plan_runs(config)] == \
        [f"{name}-seed{seed}" for seed in range(5) for name in per_seed]
    assert [task.name for task in plan_tasks(config) if task.kind == "gan"] == ["gan-uniform-bal"]
    assert all(recipe.classifier_options()["imbalance_options"] == {"tau": 1.0, "prior": "real"}
               for recipe in config.recipes)
