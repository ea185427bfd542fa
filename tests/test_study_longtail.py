"""Long-tail remedies in the study: real-only recipes (imbalance losses, class-balanced
re-sampling) as control runs alone, partial top-ups as recipes of balance mode with bank counts
by hand, an interpolation variant that trains no GAN, and the config checks."""

from __future__ import annotations

import json

import pytest
import torch

from ganaug.data import InterpolationSource, SyntheticBlendDataModule
from ganaug.study import Recipe, StudyConfig, plan_runs, run_study
from ganaug.study.runner import bank_counts
from ganaug.study.tasks import plan_tasks
from ganaug.study.config import DEFAULTS_BEFORE_0_2

# digits, 6 real images of class 0 down to 2 of class 9: 6, 5, 5, 4, 4, 3, 3, 3, 2, 2 (37)
COUNTS = [6, 5, 5, 4, 4, 3, 3, 3, 2, 2]
LONG_TAIL = {**DEFAULTS_BEFORE_0_2, **dict(  # the defaults of its day, then its own
    dataset="digits", image_size=28, n_per_class=6, imbalance_factor=3, test_per_class=3,
    seeds=[0], modes=["balance"], ratios=[1.0], classic_augment="flip", max_steps=3,
    batch_size=8, accelerator="cpu", judge_per_class=0, cas=False, gan_arms=["gan+classic"],
    curve_points=0,
    variants=[dict(name="smote", source="interpolation", source_options=dict(neighbours=2))],
    recipes=[
        dict(name="la", options=dict(imbalance_loss="logit_adjusted", real_only=True)),
        dict(name="drw", options=dict(imbalance_loss="deferred_reweighting",
                                      imbalance_options=dict(start=0.5), real_only=True)),
        dict(name="resampled", options=dict(sampling="class_balanced", real_only=True)),
        dict(name="capped", options=dict(max_synthetic_per_real=1)),
        dict(name="to8", options=dict(target=8)),
    ],
)}


def test_real_only_recipes_add_their_control_run_alone():
    runs = [run.run_id for run in plan_runs(StudyConfig.from_dict(LONG_TAIL))]
    assert runs == [
        "small_cnn-real-seed0", "small_cnn-classic-seed0", "small_cnn-classic-la-seed0",
        "small_cnn-classic-drw-seed0", "small_cnn-classic-resampled-seed0",
        "small_cnn-gan_classic-smote-balance-r1-seed0",
        "small_cnn-gan_classic-smote-balance-r1-capped-seed0",
        "small_cnn-gan_classic-smote-balance-r1-to8-seed0"]


def test_recipe_options_go_where_they_act():
    recipe = Recipe("x", dict(imbalance_loss="logit_adjusted", imbalance_options=dict(tau=0.5),
                              sampling="class_balanced", max_synthetic_per_real=2,
                              real_only=False))
    assert recipe.classifier_options() == dict(imbalance_loss="logit_adjusted",
                                               imbalance_options=dict(tau=0.5))
    assert recipe.blend_options() == dict(sampling="class_balanced", max_synthetic_per_real=2)
    assert recipe.real_blend_options() == dict(sampling="class_balanced")
    assert recipe.needs_control and not recipe.real_only
    assert not Recipe("cap", dict(max_synthetic_per_real=2)).needs_control


def test_bank_counts_cover_every_target_by_hand():
    config = StudyConfig.from_dict(LONG_TAIL)
    # to the largest class (6): 0, 1, 1, 2, 2, 3, 3, 3, 4, 4; to 8: 2, 3, 3, 4, 4, 5, 5, 5, 6, 6
    assert bank_counts(config, torch.tensor(COUNTS)) == [2, 3, 3, 4, 4, 5, 5, 5, 6, 6]
    config.recipes = [r for r in config.recipes if r.name != "to8"]
    assert bank_counts(config, torch.tensor(COUNTS)) == [0, 1, 1, 2, 2, 3, 3, 3, 4, 4]


def test_an_interpolation_variant_trains_no_gan():
    names = [task.name for task in plan_tasks(StudyConfig.from_dict(LONG_TAIL))]
    assert not [name for name in names if name.startswith("gan-")]
    assert "bank-smote-seed0" in names


def test_the_long_tail_remedies_run_in_a_tiny_study(tmp_path, monkeypatch):
    blends = []
    original_init = SyntheticBlendDataModule.__init__

    def spy_init(self, real, synthetic=None, **kwargs):
        blends.append((synthetic, kwargs))
        original_init(self, real, synthetic, **kwargs)

    monkeypatch.setattr(SyntheticBlendDataModule, "__init__", spy_init)
    rows = run_study(StudyConfig.from_dict(LONG_TAIL), tmp_path, progress=False)
    records = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "runs").glob("*.json")}
    assert len(records) == 8
    assert all(r["class_train_counts"] == COUNTS for r in records.values())
    synthetic = {r["recipe"]: r["synthetic_images"] for r in records.values()
                 if r["arm"] == "gan+classic"}
    # to 6: 23; capped at one per real image: 0, 1, 1, 2, 2, 3, 3, 3, 2, 2 = 19; to 8: 43
    assert synthetic == {"": 23, "capped": 19, "to8": 43}
    assert not list(tmp_path.glob("gan-*")) and not list(tmp_path.glob("samples-*"))
    bank = torch.load(tmp_path / "banks" / "smote-seed0.pt", weights_only=True)
    assert torch.bincount(bank["labels"]).tolist() == [2, 3, 3, 4, 4, 5, 5, 5, 6, 6]
    # the re-sampling recipe's control run draws class-balanced batches of real images only
    real_only = [kwargs for source, kwargs in blends if source is None]
    assert sum(kwargs.get("sampling") == "class_balanced" for kwargs in real_only) == 1
    assert all(isinstance(source, InterpolationSource) or source is None
               or hasattr(source, "labels") for source, _ in blends)
    arms = {(row["arm"], row["recipe"]) for row in rows}
    assert {("classic", "la"), ("classic", "drw"), ("classic", "resampled")} <= arms


def test_a_deferred_recipe_ends_training_on_the_real_images(tmp_path, monkeypatch):
    seen = []
    original = SyntheticBlendDataModule.train_dataloader

    def spy(self):
        loader = original(self)
        seen.append((self.synthetic_until, self.trainer.reload_dataloaders_every_n_epochs,
                     int(loader.dataset.synthetic.sum()) if hasattr(loader.dataset, "synthetic")
                     else None))
        return loader

    monkeypatch.setattr(SyntheticBlendDataModule, "train_dataloader", spy)
    # 20 steps, the blend (37 real + 23 synthetic) in batches of 8: epochs 0-1 blended, then
    # real images alone from epoch 2, the first to start at or after step 10
    values = {**LONG_TAIL, "seeds": [0], "max_steps": 20,
              "recipes": [dict(name="deferred", options=dict(synthetic_until=0.5))]}
    rows = run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    assert ("gan+classic", "deferred") in {(row["arm"], row["recipe"]) for row in rows}
    deferred = [entry for entry in seen if entry[0] == 0.5]
    assert all(reload == 1 for _, reload, _ in deferred)
    assert [synthetic for _, _, synthetic in deferred][:3] == [23, 23, 0]


@pytest.mark.parametrize(("changes", "message"), [
    (dict(recipes=[dict(name="t", options=dict(target=5))], modes=["augment"]),
     "options of mode 'balance'"),
    (dict(recipes=[dict(name="r", options=dict(real_only=True))]), "changes nothing"),
    (dict(recipes=[dict(name="r", options=dict(real_only=True, class_weights="inverse_frequency",
                                                synthetic_weight=0.5))]), "act on synthetic"),
    (dict(recipes=[dict(name="r", options=dict(real_only=True, imbalance_loss="logit_adjusted",
                                                synthetic_until=0.7))]), "act on synthetic"),
    (dict(recipes=[dict(name="r", options=dict(synthetic_until=1.0))]), "synthetic_until is the"),
    (dict(recipes=[dict(name="r", options=dict(imbalance_loss="focal"))]), "unknown imbalance_loss"),
    (dict(recipes=[dict(name="r", options=dict(sampling="balanced"))]), "sampling must be one of"),
    (dict(recipes=[dict(name="r", options=dict(real_only="yes"))]), "real_only must be"),
    (dict(recipes=[dict(name="r", options=dict(imbalance_loss="logit_adjusted",
                                                class_weights="inverse_frequency"))]),
     "choose one"),
    (dict(recipes=[dict(name="r", options=dict(sampling="class_balanced",
                                                synthetic_share=0.25))]), "choose one"),
    (dict(variants=[dict(name="v", source="vae")]), "source must be one of"),
    (dict(variants=[dict(name="v", source="interpolation", gan_options=dict(latent_dim=8))]),
     "leave gan_options empty"),
    (dict(variants=[dict(name="v", source="interpolation", source_options=dict(k=3))]),
     "takes options \\['neighbours'\\]"),
])
def test_bad_long_tail_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        StudyConfig.from_dict({**LONG_TAIL, **changes})


def test_the_banks_can_be_filtered_by_a_real_only_remedys_classifiers(tmp_path):
    from ganaug.classify import ClassifierEnsemble
    from ganaug.study.runner import Study

    values = {**LONG_TAIL, "bank_referee_recipe": "la", "bank_referee_seeds": [0, 5],
              "variants": [dict(name="smote", source="interpolation",
                                control=dict(filter_misclassified=True))]}
    config = StudyConfig.from_dict(values)
    tasks = {task.name: task for task in plan_tasks(config)}
    # seed 0's control run of the recipe is a referee; seed 5 is no seed of the plan: a task
    assert set(tasks["bank-smote-seed0"].needs) == {"small_cnn-classic-la-seed0",
                                                     "teacher-small_cnn-la-seed5"}
    assert tasks["teacher-small_cnn-la-seed5"].recipe == "la"
    study = Study(config, tmp_path, progress=False)
    referee = study.bank_referee()
    assert isinstance(referee, ClassifierEnsemble)
    assert [m.hparams.imbalance_loss for m in referee.members] == ["logit_adjusted"] * 2
    assert (tmp_path / "teachers" / "small_cnn-la-seed5.pt").is_file()
    # the control run of the recipe saves its classifier where the referee looks for it
    study.run(next(run for run in plan_runs(config) if run.recipe == "la"))
    assert (tmp_path / "teachers" / "small_cnn-la-seed0.pt").is_file()


@pytest.mark.parametrize("recipe", ["nothing", "capped"])
def test_the_bank_referee_recipe_must_train_real_images_differently(recipe):
    with pytest.raises(ValueError, match="bank_referee_recipe must name a recipe"):
        StudyConfig.from_dict({**LONG_TAIL, "bank_referee_recipe": recipe})


def test_the_referee_precision_script_compares_the_remedies_classifiers(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    values = {**LONG_TAIL, "judge_per_class": 5, "recipes": LONG_TAIL["recipes"][:3],
              "variants": [dict(name="smote", source="interpolation",
                                control=dict(filter_misclassified=True))]}
    run_study(StudyConfig.from_dict(values), tmp_path, progress=False)
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "referee_precision.py"
    spec = importlib.util.spec_from_file_location("referee_precision", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main([str(tmp_path), "--per-class", "4", "--existing-only"])
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    assert [row[0].strip() for row in rows] == ["classic", "la", "drw", "resampled",
                                                "(no filter: the pool)"]
    assert all(len(row[2].split()) == 10 for row in rows)  # accepted / precision per class
