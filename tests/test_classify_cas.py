"""Classification accuracy score: cases with a known answer on real digits."""

import pytest
import torch

from ganaug.data import LabelledImages, load_dataset
from ganaug.metrics.cas import classification_accuracy_score


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")  # 8x8 digits: cheap, and as learnable as MNIST
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=g)
    return data.subset(order[:200]), data.subset(order[200:500])


def run(synthetic, train, test, **kwargs):
    return classification_accuracy_score(
        synthetic, train, test, max_steps=40, batch_size=32, seed=1,
        trainer_kwargs=dict(accelerator="cpu", devices=1), **kwargs)


def test_copy_of_the_real_data_scores_the_real_accuracy(digits):
    train, test = digits
    copy = LabelledImages(train.images.clone(), train.labels.clone(), num_classes=10)
    result = run(copy, train, test)
    assert result["real_accuracy"] > 0.6  # chance 0.1
    assert result["cas"] == result["real_accuracy"]  # same seed, same data: same training
    assert result["cas_per_class"] == result["real_per_class"]
    assert result["cas_error"] == pytest.approx(100 * (1 - result["cas"]))
    assert (result["synthetic_samples"], result["real_train_samples"], result["test_samples"]) \
        == (200, 200, 300)
    assert result["architecture"] == "small_cnn" and result["max_steps"] == 40


def test_shuffled_labels_score_about_chance(digits):
    train, test = digits
    shuffled = train.labels[torch.randperm(200, generator=torch.Generator().manual_seed(2))]
    result = run(LabelledImages(train.images, shuffled, num_classes=10), train, test)
    assert result["cas"] < 0.3 < 0.6 < result["real_accuracy"]


def test_mismatched_shapes_are_refused(digits):
    train, test = digits
    small = LabelledImages(torch.zeros(4, 1, 12, 12, dtype=torch.uint8), [0, 1, 2, 3],
                           num_classes=10)
    with pytest.raises(ValueError, match="different shapes"):
        run(small, train, test)
