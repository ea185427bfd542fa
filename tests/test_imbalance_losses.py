"""Losses for long-tailed training sets: logit adjustment and deferred re-weighting against
hand-computed values, their wiring into ClassifierModule (built from the training counts at fit
start, or from the real images alone with prior "real", the DRW switch at its step, nothing
saved), and option checks."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganaug.classify import (
    ClassifierModule,
    DeferredReweighting,
    LogitAdjustedLoss,
    build_imbalance_loss,
    class_balanced_weights,
)
from ganaug.data import ImageDataModule, LabelledImages, SyntheticBlendDataModule


def test_logit_adjusted_loss_by_hand():
    # prior (3/4, 1/4); with zero logits the loss of label y is -log(prior_y)
    loss = LogitAdjustedLoss([3, 1])
    zero = torch.zeros(1, 2)
    assert loss(zero, torch.tensor([1])).item() == pytest.approx(math.log(4))
    assert loss(zero, torch.tensor([0])).item() == pytest.approx(math.log(4 / 3))
    # tau = 2, logits (1, 0), label 0: z = (1 + 2 log .75, 2 log .25)
    z0, z1 = 1 + 2 * math.log(0.75), 2 * math.log(0.25)
    expected = -(z0 - math.log(math.exp(z0) + math.exp(z1)))
    strong = LogitAdjustedLoss([3, 1], tau=2.0)
    assert strong(torch.tensor([[1.0, 0.0]]), torch.tensor([0])).item() == pytest.approx(expected,
                                                                             rel=1e-5)
    # tau = 0 is plain cross-entropy
    logits, labels = torch.randn(6, 2, generator=torch.Generator().manual_seed(0)), torch.tensor(
        [0, 1, 1, 0, 0, 1])
    torch.testing.assert_close(LogitAdjustedLoss([3, 1], tau=0.0)(logits, labels),
                               F.cross_entropy(logits, labels))


def test_class_balanced_weights_by_hand():
    # effective numbers (1 - .99^n) / (1 - .99) of n = 100 and 10; weights 1 / E, summing to 2
    e100 = (1 - 0.99 ** 100) / 0.01
    e10 = (1 - 0.99 ** 10) / 0.01
    w = torch.tensor([1 / e100, 1 / e10])
    expected = w * 2 / w.sum()
    torch.testing.assert_close(class_balanced_weights([100, 10], 0.99), expected.float())
    assert class_balanced_weights([5, 50, 500], 0.0).tolist() == [1.0, 1.0, 1.0]
    # an empty class gets 0, the present ones sum to their number
    weights = class_balanced_weights([4, 0, 4], 0.9)
    assert weights.tolist() == pytest.approx([1.0, 0.0, 1.0])


def test_deferred_reweighting_switches_on_at_its_step():
    loss = DeferredReweighting([100, 10], start_step=5, beta=0.99)
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(8, 2, generator=g), torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    torch.testing.assert_close(loss(logits, labels, step=4), F.cross_entropy(logits, labels))
    weights = class_balanced_weights([100, 10], 0.99)
    ce = F.cross_entropy(logits, labels, reduction="none")
    by_hand = (6 * [weights[0]] + 2 * [weights[1]])
    by_hand = torch.stack(by_hand)
    torch.testing.assert_close(loss(logits, labels, step=5), (by_hand * ce).sum() / by_hand.sum())
    torch.testing.assert_close(loss(logits, labels, step=5),
                               F.cross_entropy(logits, labels, weight=weights))


def test_build_by_name_turns_the_start_fraction_into_a_step():
    drw = build_imbalance_loss("deferred_reweighting", [9, 3], total_steps=200, start=0.75)
    assert isinstance(drw, DeferredReweighting) and drw.start_step == 150 and drw.beta == 0.9999
    assert build_imbalance_loss("deferred_reweighting", [9, 3], total_steps=200).start_step == 160
    la = build_imbalance_loss("logit_adjusted", [9, 3], total_steps=200, tau=0.5)
    assert isinstance(la, LogitAdjustedLoss) and la.tau == 0.5


def test_the_module_builds_the_loss_from_the_training_counts(trainer_factory):
    counts = [8, 4, 4, 2, 2, 2, 2, 2, 2, 2]  # N = 30
    real = ImageDataModule("digits", image_size=28, class_counts=counts, test_per_class=2,
                           batch_size=6)
    model = ClassifierModule(imbalance_loss="logit_adjusted", imbalance_options={"tau": 1.0})
    trainer_factory(max_steps=2).fit(model, real)
    expected = torch.log(torch.tensor(counts, dtype=torch.float64) / 30).float()
    torch.testing.assert_close(model.imbalance.offset, expected)
    # the training loss is the adjusted cross-entropy; nothing of it is saved
    images = torch.zeros(3, 1, 28, 28)
    logits, labels = torch.zeros(3, 10), torch.tensor([0, 3, 3])
    by_hand = torch.tensor([-math.log(8 / 30), -math.log(2 / 30), -math.log(2 / 30)]).mean()
    torch.testing.assert_close(model.training_loss(images, logits, labels, None), by_hand.float())
    assert not any("imbalance" in key for key in model.state_dict())
    ClassifierModule().load_state_dict(model.state_dict())


def _capped_blend() -> tuple[SyntheticBlendDataModule, list[int], list[int]]:
    """A long tail of 8, 4, 4 and 2 real digits topped up to 8 with at most 2 synthetic images
    per real one: the real counts and the blended counts, by hand."""
    real_counts = [8, 4, 4, 2, 2, 2, 2, 2, 2, 2]  # N = 30
    blended = [8, 8, 8, 6, 6, 6, 6, 6, 6, 6]  # + min(8 - n, 2 n) synthetic: N = 66
    real = ImageDataModule("digits", image_size=28, class_counts=real_counts, test_per_class=2,
                           batch_size=6)
    labels = torch.arange(10).repeat_interleave(6)
    bank = LabelledImages(torch.zeros(60, 1, 28, 28, dtype=torch.uint8), labels, num_classes=10)
    blend = SyntheticBlendDataModule(real, bank, mode="balance", max_synthetic_per_real=2)
    return blend, real_counts, blended


@pytest.mark.parametrize("prior", ["training", "real"])
def test_the_real_prior_leaves_a_blends_synthetic_images_out(trainer_factory, prior):
    blend, real_counts, blended = _capped_blend()
    model = ClassifierModule(imbalance_loss="logit_adjusted",
                             imbalance_options={"tau": 1.0, "prior": prior})
    trainer_factory(max_steps=1).fit(model, blend)
    assert blend.train_dataset.class_counts().tolist() == blended
    counts, total = (real_counts, 30) if prior == "real" else (blended, 66)
    expected = torch.log(torch.tensor(counts, dtype=torch.float64) / total).float()
    torch.testing.assert_close(model.imbalance.offset, expected)
    # zero logits: the loss of a label-y sample is -log(prior_y); real prior (8/30, 2/30),
    # blended prior (8/66, 6/66), for labels 0, 9, 9
    images, logits, labels = torch.zeros(3, 1, 28, 28), torch.zeros(3, 10), torch.tensor([0, 9, 9])
    p0, p9 = (8 / 30, 2 / 30) if prior == "real" else (8 / 66, 6 / 66)
    by_hand = (-math.log(p0) - 2 * math.log(p9)) / 3
    assert model.training_loss(images, logits, labels, None).item() == pytest.approx(by_hand,
                                                                                      rel=1e-5)


def test_the_real_prior_of_deferred_reweighting_and_of_a_real_set(trainer_factory):
    blend, real_counts, _ = _capped_blend()
    model = ClassifierModule(imbalance_loss="deferred_reweighting",
                             imbalance_options={"beta": 0.9, "prior": "real"})
    trainer_factory(max_steps=1).fit(model, blend)
    torch.testing.assert_close(model.imbalance.weights, class_balanced_weights(real_counts, 0.9))
    # a real training set has no synthetic images: the real prior is its whole prior
    real = ImageDataModule("digits", image_size=28, class_counts=real_counts, test_per_class=2,
                           batch_size=6)
    model = ClassifierModule(imbalance_loss="logit_adjusted", imbalance_options={"prior": "real"})
    trainer_factory(max_steps=1).fit(model, real)
    expected = torch.log(torch.tensor(real_counts, dtype=torch.float64) / 30).float()
    torch.testing.assert_close(model.imbalance.offset, expected)


def test_deferred_reweighting_in_the_module_weighs_by_step(trainer_factory):
    real = ImageDataModule("digits", image_size=28, class_counts=[8] + [2] * 9, test_per_class=2,
                           batch_size=6)
    model = ClassifierModule(imbalance_loss="deferred_reweighting",
                             imbalance_options={"start": 0.5, "beta": 0.9}, synthetic_weight=0.5)
    trainer_factory(max_steps=4).fit(model, real)
    assert model.imbalance.start_step == 2
    images, logits = torch.zeros(2, 1, 28, 28), torch.randn(2, 10)
    labels, synthetic = torch.tensor([0, 1]), torch.tensor([False, True])
    ce = F.cross_entropy(logits, labels, reduction="none")
    weights = class_balanced_weights([8] + [2] * 9, 0.9)
    # after the fit, global_step = 4 >= 2: class weights times the synthetic weight
    w = torch.stack([weights[0], 0.5 * weights[1]])
    torch.testing.assert_close(model.training_loss(images, logits, labels, synthetic),
                               (w * ce).sum() / w.sum())


@pytest.mark.parametrize(("options", "message"), [
    ({"imbalance_loss": "focal"}, "unknown imbalance_loss 'focal'"),
    ({"imbalance_loss": "logit_adjusted", "imbalance_options": {"beta": 0.9}}, "takes options"),
    ({"imbalance_options": {"tau": 1.0}}, "without an imbalance_loss"),
    ({"imbalance_loss": "deferred_reweighting", "imbalance_options": {"start": 1.5}}, "start"),
    ({"imbalance_loss": "logit_adjusted", "imbalance_options": {"prior": "blend"}}, "prior"),
    ({"imbalance_loss": "logit_adjusted", "class_weights": "inverse_frequency"}, "choose one"),
])
def test_bad_module_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        ClassifierModule(**options)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: LogitAdjustedLoss([3, 0]), "no training image"),
    (lambda: LogitAdjustedLoss([3, 1], tau=-1.0), "tau"),
    (lambda: LogitAdjustedLoss([3]), "at least 2 classes"),
    (lambda: DeferredReweighting([3, 1], start_step=-1), "start_step"),
    (lambda: DeferredReweighting([3, 1], start_step=0, beta=1.0), "beta"),
    (lambda: class_balanced_weights([0, 0], 0.9), "all 0"),
])
def test_bad_loss_arguments_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()
