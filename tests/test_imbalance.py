"""Classifiers on imbalanced data: balanced accuracy against scikit-learn, class-weighted loss
by hand, inverse-frequency weights counted on the training set at fit start, option checks."""

import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule, inverse_frequency_weights
from ganaug.data import ImageDataModule, LabelledImages, SyntheticBlendDataModule
from ganaug.study import format_table, summarize
from ganaug.study.report import minority_classes


def test_balanced_accuracy_and_recall_match_scikit_learn(trainer_factory):
    # an imbalanced test set: 40, 12, 5 images of the three classes
    g = torch.Generator().manual_seed(2)
    labels = torch.tensor([0] * 40 + [1] * 12 + [2] * 5)
    images = torch.rand(len(labels), 1, 8, 8, generator=g) * 2 - 1
    images[:, 0, 0, 0] = labels.float() - 1  # some signal, so recalls differ between classes
    model = ClassifierModule(num_classes=3, image_size=8, seed=1)
    trainer_factory().test(model, DataLoader(TensorDataset(images, labels), batch_size=16),
                           verbose=False)
    metrics = model.test_metrics()
    with torch.no_grad():
        predictions = model.eval()(images).argmax(1)
    balanced = balanced_accuracy_score(labels.numpy(), predictions.numpy())
    recalls = recall_score(labels.numpy(), predictions.numpy(), labels=[0, 1, 2], average=None,
                           zero_division=0)
    assert metrics["test_balanced_acc"] == pytest.approx(balanced)
    assert metrics["test_balanced_error"] == pytest.approx(100 * (1 - balanced))
    for c in range(3):
        assert metrics[f"test_acc_class{c}"] == pytest.approx(recalls[c])
    assert metrics["test_balanced_acc"] == pytest.approx(sum(recalls) / 3)


def test_balanced_accuracy_skips_classes_without_test_images(trainer_factory):
    labels = torch.tensor([0] * 6 + [2] * 2)  # class 1 has no test image
    images = torch.zeros(len(labels), 1, 8, 8)
    model = ClassifierModule(num_classes=3, image_size=8, seed=0)
    trainer_factory().test(model, DataLoader(TensorDataset(images, labels), batch_size=8),
                           verbose=False)
    metrics = model.test_metrics()
    assert math.isnan(metrics["test_acc_class1"])
    # constant images: every image gets one class, so the recalls are 1 and 0 (or 0 and 0)
    expected = (metrics["test_acc_class0"] + metrics["test_acc_class2"]) / 2
    assert metrics["test_balanced_acc"] == pytest.approx(expected)


def test_inverse_frequency_weights_by_hand():
    # N = 100, K = 4: 100 / (4 * 50), 100 / (4 * 25), none, 100 / (4 * 25)
    weights = inverse_frequency_weights(torch.tensor([50, 25, 0, 25]))
    assert weights.tolist() == [0.5, 1.0, 0.0, 1.0]
    assert inverse_frequency_weights(torch.tensor([7, 7, 7])).tolist() == [1.0, 1.0, 1.0]


def test_class_weighted_loss_by_hand_and_against_torch():
    torch.manual_seed(0)
    images = torch.zeros(5, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 1, 0])
    synthetic = torch.tensor([False, True, False, False, True])
    logits = torch.randn(5, 3)
    ce = F.cross_entropy(logits, labels, reduction="none")
    weights = [1.0, 2.0, 0.5]

    model = ClassifierModule(num_classes=3, class_weights=weights)
    expected = (ce[0] + 2 * ce[1] + 0.5 * ce[2] + 2 * ce[3] + ce[4]) / 6.5
    torch.testing.assert_close(model.training_loss(images, logits, labels, None), expected)
    torch.testing.assert_close(model.training_loss(images, logits, labels, None),
                               F.cross_entropy(logits, labels, weight=torch.tensor(weights)))
    # with a synthetic weight the two multiply
    both = ClassifierModule(num_classes=3, class_weights=weights, synthetic_weight=0.5)
    expected = (ce[0] + 0.5 * 2 * ce[1] + 0.5 * ce[2] + 2 * ce[3] + 0.5 * ce[4]) / 5.0
    torch.testing.assert_close(both.training_loss(images, logits, labels, synthetic), expected)
    # the weights are not saved: a checkpoint of a weighted run loads into a plain module
    assert "class_weight" not in model.state_dict()


def test_inverse_frequency_is_counted_on_the_training_set_at_fit_start(trainer_factory):
    counts = [8, 4, 4, 2, 2, 2, 2, 2, 2, 2]  # N = 30
    real = ImageDataModule("digits", image_size=28, class_counts=counts, test_per_class=2,
                           batch_size=6)
    model = ClassifierModule(class_weights="inverse_frequency", seed=0)
    trainer_factory(max_steps=1).fit(model, real)
    torch.testing.assert_close(model.class_weight, torch.tensor([30 / (10 * n) for n in counts]))

    # a re-balanced blend gives every class the same weight
    labels = torch.arange(10).repeat_interleave(8)
    bank = LabelledImages(torch.zeros(80, 1, 28, 28, dtype=torch.uint8), labels, num_classes=10)
    blend = SyntheticBlendDataModule(real, bank, mode="balance")
    balanced = ClassifierModule(class_weights="inverse_frequency", seed=0)
    trainer_factory(max_steps=1).fit(balanced, blend)
    assert balanced.class_weight.tolist() == [1.0] * 10


def test_inverse_frequency_needs_a_datamodule(trainer_factory):
    data = TensorDataset(torch.zeros(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    model = ClassifierModule(class_weights="inverse_frequency")
    with pytest.raises(ValueError, match="counts the training images per class of the datamodule"):
        trainer_factory(max_steps=1).fit(model, DataLoader(data, batch_size=2))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("inverse", "a list of weights, 'inverse_frequency' or None"),
        ([1.0, 2.0], "one weight per class \\(10\\), got 2"),
        ([1.0] * 9 + [-1.0], "finite numbers >= 0, not all 0"),
        ([0.0] * 10, "finite numbers >= 0, not all 0"),
        ([1.0] * 9 + [float("nan")], "finite numbers >= 0"),
    ],
)
def test_bad_class_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        ClassifierModule(class_weights=weights)


# ---------------------------------------------------------------------------------------------
# the study's summary of an imbalanced set


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([50, 39, 30, 23, 18, 14, 11, 8, 6, 5], [5, 6, 7, 8, 9]),
        ([3, 1, 1, 3], [1, 2]),
        ([2, 1, 1, 1], [2, 3]),  # ties: the higher labels, the end of a long tail
        ([5, 5, 5], []),
    ],
)
def test_minority_classes_by_hand(counts, expected):
    assert minority_classes(counts) == expected


def imbalanced_record(arm, seed, class_errors, variant="", mode="", ratio=0.0, recipe=""):
    return dict(arm=arm, classifier="small_cnn", seed=seed, variant=variant, mode=mode, ratio=ratio,
                recipe=recipe, test_error=sum(class_errors) / 4, balanced_error=sum(class_errors) / 4,
                class_errors=list(class_errors), class_train_counts=[8, 6, 2, 1])


def test_summary_gives_minority_errors_with_paired_intervals_by_hand():
    # minority classes are 2 and 3 (2 and 1 real images)
    records = [
        imbalanced_record("real", 0, (2.0, 4.0, 30.0, 50.0)),  # minority 40
        imbalanced_record("real", 1, (2.0, 4.0, 40.0, 60.0)),  # minority 50
        imbalanced_record("real", 2, (2.0, 4.0, 20.0, 40.0)),  # minority 30
        imbalanced_record("classic", 0, (1.0, 3.0, 20.0, 40.0)),  # minority 30
        imbalanced_record("classic", 1, (1.0, 3.0, 30.0, 40.0)),  # minority 35
        imbalanced_record("classic", 2, (1.0, 3.0, 20.0, 30.0)),  # minority 25
        imbalanced_record("gan", 0, (2.0, 4.0, 10.0, 20.0), "plain", "balance"),  # minority 15
        imbalanced_record("gan", 1, (2.0, 4.0, 20.0, 30.0), "plain", "balance"),  # minority 25
        imbalanced_record("gan", 2, (2.0, 4.0, 10.0, 30.0), "plain", "balance"),  # minority 20
    ]
    rows = {row["arm"]: row for row in summarize(records)}
    t2 = 4.302653  # t(0.975, 2)
    real, classic, gan = rows["real"], rows["classic"], rows["gan"]
    assert real["minority_classes"] == [2, 3]
    assert real["minority_error_mean"] == pytest.approx(40.0)
    assert real["minority_error_std"] == pytest.approx(10.0)
    assert real["balanced_error_mean"] == pytest.approx(real["error_mean"])
    # gan vs its control (real): 15 - 40, 25 - 50, 20 - 30 = -25, -25, -10: mean -20, sd sqrt(75)
    result = gan["minority_vs_control"]
    assert result["mean"] == pytest.approx(-20.0)
    assert result["high"] == pytest.approx(-20.0 + t2 * math.sqrt(75) / math.sqrt(3), rel=1e-6)
    assert result["significant"] == 0.0  # [-41.5, +1.5] holds zero
    # classic is the best real-only arm; gan vs classic: -15, -10, -5: mean -10, sd 5
    assert classic.get("best_real")
    assert gan["minority_vs_best_real"]["mean"] == pytest.approx(-10.0)
    assert gan["minority_vs_best_real"]["low"] == pytest.approx(-10.0 - t2 * 5 / math.sqrt(3),
                                                                rel=1e-6)
    table = format_table(summarize(records))
    assert "minority err %" in table and "classes 2, 3" in table
    assert "-20.00 [" in table


def test_balanced_studies_have_no_minority_columns():
    records = [dict(imbalanced_record("real", s, (1.0, 2.0, 3.0, 4.0)),
                    class_train_counts=[5, 5, 5, 5]) for s in (0, 1)]
    rows = summarize(records)
    assert "minority_error_mean" not in rows[0]
    assert "minority" not in format_table(rows)


def test_a_bank_may_hold_no_image_of_a_class():
    from ganaug.data import generate_bank
    from ganaug.diversity import DiversityControl
    from ganaug.modules import ConditionalGAN

    model = ConditionalGAN(num_classes=10, channels=1, image_size=28, latent_dim=8, g_width=4,
                           d_width=4, grid_size=10)
    counts = [0, 2, 0, 1, 0, 0, 0, 0, 0, 3]
    for control in (DiversityControl(), DiversityControl(filter_misclassified=True)):
        referee = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
        bank = generate_bank(model, counts, control=control, referee=referee, progress=False)
        assert bank.class_counts().tolist() == counts
        assert bank.images.shape == (6, 1, 28, 28)
