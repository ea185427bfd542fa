"""ClassifierEnsemble, and a study's banks filtered by the classic-arm classifiers of several seeds
(``bank_referee_seeds``)."""

from __future__ import annotations

import math

import pytest
import torch
from test_study import TINY
from torch import nn

from ganaug.classify import ClassifierEnsemble
from ganaug.data.bank import generate_bank, load_bank
from ganaug.diversity import classifier_filter
from ganaug.study import LocalExecutor, StudyConfig, run_study
from ganaug.study.runner import Study
from ganaug.study.tasks import plan_tasks


class Fixed(nn.Module):
    """A 'classifier' whose logits are the log of given class probabilities, for every image."""

    def __init__(self, probabilities: list[float], features: bool = True) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(probabilities).log() + 3.0)  # any shift
        if features:
            self.features = lambda images: images.flatten(1)[:, :2] * sum(probabilities[:1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(images), -1)


def test_the_ensemble_gives_the_log_of_the_mean_probability():
    images = torch.zeros(4, 1, 2, 2)
    ensemble = ClassifierEnsemble([Fixed([0.9, 0.1]), Fixed([0.3, 0.7])])
    # (0.9 + 0.3) / 2 = 0.6 and (0.1 + 0.7) / 2 = 0.4
    assert torch.allclose(ensemble(images), torch.tensor([[math.log(0.6), math.log(0.4)]] * 4))
    assert torch.allclose(ensemble(images).softmax(1), torch.tensor([[0.6, 0.4]] * 4))
    # one member: its own probabilities
    alone = ClassifierEnsemble([Fixed([0.2, 0.5, 0.3])])(images)
    assert torch.allclose(alone.exp(), torch.tensor([[0.2, 0.5, 0.3]] * 4))


def test_an_image_one_member_is_sure_of_and_the_other_doubts_loses_the_confidence_filter():
    images = torch.zeros(1, 1, 2, 2)
    labels = torch.zeros(1, dtype=torch.long)
    sure, doubting = Fixed([0.95, 0.05]), Fixed([0.45, 0.55])
    assert classifier_filter(sure(images), labels, drop_misclassified=True, min_confidence=0.9)
    ensemble = ClassifierEnsemble([sure, doubting])  # 0.7 for class 0: still its class
    assert classifier_filter(ensemble(images), labels, drop_misclassified=True)
    assert not classifier_filter(ensemble(images), labels, drop_misclassified=True,
                                 min_confidence=0.9)


def test_features_are_the_members_side_by_side_and_missing_ones_are_named():
    images = torch.arange(8.0).reshape(2, 1, 2, 2)
    ensemble = ClassifierEnsemble([Fixed([0.5, 0.5]), Fixed([0.25, 0.75])])
    expected = torch.cat([images.flatten(1)[:, :2] * 0.5, images.flatten(1)[:, :2] * 0.25], 1)
    assert torch.equal(ensemble.features(images), expected)
    with pytest.raises(TypeError, match=r"members \['Fixed'\].*no features"):
        ClassifierEnsemble([Fixed([0.5, 0.5]), Fixed([0.5, 0.5], features=False)]).features(images)
    with pytest.raises(ValueError, match="at least one member"):
        ClassifierEnsemble([])


@pytest.mark.parametrize("seeds", [[], [0, 0], [0.5], [True]])
def test_bank_referee_seeds_must_be_distinct_whole_numbers(seeds):
    with pytest.raises(ValueError, match="bank_referee_seeds must be distinct whole numbers"):
        StudyConfig.from_dict({**TINY, "bank_referee_seeds": seeds})


FILTERED = {**TINY, "modes": ["augment"], "curve_points": 0, "judge_per_class": 0,
            "variants": [{"name": "kept", "control": {"filter_misclassified": True,
                                                       "pool_factor": 2, "selection": "kcenter"}}],
            "bank_referee_seeds": [1, 7], "gan_max_steps": 40}  # a GAN whose images differ


def test_the_banks_wait_for_every_referee_and_the_gan_for_the_first_alone():
    config = StudyConfig.from_dict({**FILTERED, "judge_per_class": 5,
                                    "gan_selection": dict(every_n_iterations=1, n_per_class=2)})
    needs = {task.name: task.needs for task in plan_tasks(config)}
    # seed 1's classic run saves its classifier; seed 7 is no seed of the plan: a task of its own
    assert needs["bank-kept-seed0"] == ("gan-base", "small_cnn-classic-seed1",
                                        "teacher-small_cnn-seed7", "judge")
    assert needs["gan-base"] == ("small_cnn-classic-seed0", "judge")  # the referee, data_seed 0
    assert needs["teacher-small_cnn-seed7"] == ()


def test_the_banks_are_drawn_under_the_ensemble_of_those_seeds_classifiers(tmp_path):
    config = StudyConfig.from_dict(FILTERED)
    run_study(config, tmp_path / "sequential", progress=False)
    study = Study(config, tmp_path / "sequential", progress=False)
    # rebuilt here from the saved classifiers: the classic run of seed 1 and the teacher of seed 7
    teachers = [study._classifier("small_cnn", seed, config.classic_augment) for seed in (1, 7)]
    for teacher, seed in zip(teachers, (1, 7)):
        teacher.load_state_dict(torch.load(tmp_path / "sequential" / "teachers" /
                                           f"small_cnn-seed{seed}.pt", weights_only=True))
    real = study.real_data()
    real.setup()
    variant = config.variants[0]
    for seed in config.seeds:
        expected = generate_bank(study.gan(variant).bind(real.train_dataset),
                                 [int(n) for n in real.train_dataset.class_counts()],
                                 control=variant.diversity(),
                                 referee=ClassifierEnsemble([t.eval() for t in teachers]),
                                 seed=seed, progress=False)
        bank = load_bank(tmp_path / "sequential" / "banks" / f"kept-seed{seed}.pt")
        assert torch.equal(bank.images, expected.images) and torch.equal(bank.labels,
                                                                         expected.labels)
    # one of them alone draws another bank (else the check above could not tell them apart)
    alone = generate_bank(study.gan(variant).bind(real.train_dataset),
                          [int(n) for n in real.train_dataset.class_counts()],
                          control=variant.diversity(), referee=teachers[1], seed=seed,
                          progress=False)
    assert not torch.equal(alone.images, expected.images)
    # worker processes draw the same banks
    run_study(config, tmp_path / "local", progress=False, executor=LocalExecutor(cpus=2))
    for seed in config.seeds:
        name = f"banks/kept-seed{seed}.pt"
        assert torch.equal(load_bank(tmp_path / "local" / name).images,
                           load_bank(tmp_path / "sequential" / name).images)
    assert (tmp_path / "local" / "results.csv").read_bytes() == \
        (tmp_path / "sequential" / "results.csv").read_bytes()
