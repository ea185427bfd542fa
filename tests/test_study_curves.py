"""Learning curves: the recorder against a by-hand replay of the same steps, the test subset,
reading and averaging curves, and the plot's tolerance of runs without a curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule
from ganaug.study.curves import LearningCurve, mean_curve, read_curve
from ganaug.study.plots import plot_curves


def random_set(n, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    return TensorDataset(images, torch.arange(n) % classes)


def test_curve_points_match_a_replay_of_the_same_batches(trainer_factory, tmp_path):
    # a learning rate of 1e-12 keeps the weights where they start, so each step's loss and
    # predictions can be replayed afterwards; batch norm in train mode uses the batch's statistics
    train, test = random_set(20), random_set(12, seed=1)
    model = ClassifierModule(architecture="small_cnn", num_classes=4, channels=1, image_size=8,
                             optimizer="sgd", lr=1e-12, momentum=0.0, nesterov=False)
    curve = LearningCurve(every_n_steps=3, test_data=test, test_per_class=None,
                          path=tmp_path / "curve.csv")
    trainer_factory(max_steps=7, callbacks=[curve]).fit(model, DataLoader(train, batch_size=4))

    batches = list(DataLoader(train, batch_size=4))
    model.train()
    losses, wrong = [], []
    with torch.no_grad():
        for step in range(7):  # 5 batches per epoch: steps 6 and 7 see batches 0 and 1 again
            images, labels = batches[step % 5]
            logits = model(images)
            losses.append(F.cross_entropy(logits, labels).item())
            wrong.append(int((logits.argmax(1) != labels).sum()))
    model.eval()
    with torch.no_grad():
        test_error = 100.0 * float((model(test.tensors[0]).argmax(1) != test.tensors[1]).float().mean())

    assert [p["step"] for p in curve.points] == [3, 6, 7]
    for point, (start, stop) in zip(curve.points, [(0, 3), (3, 6), (6, 7)]):
        assert point["train_loss"] == pytest.approx(np.mean(losses[start:stop]), rel=1e-5)
        assert point["train_error"] == pytest.approx(100.0 * sum(wrong[start:stop]) / (4 * (stop - start)))
        assert point["test_error"] == pytest.approx(test_error)
    read = read_curve(tmp_path / "curve.csv")
    assert read["step"].tolist() == [3, 6, 7]
    assert read["test_error"] == pytest.approx([p["test_error"] for p in curve.points])


def test_the_test_subset_is_class_balanced_and_fixed_by_the_seed(trainer_factory):
    test = random_set(40)  # 10 per class
    subsets = []
    for _ in range(2):
        curve = LearningCurve(every_n_steps=1, test_data=test, test_per_class=3, seed=5)
        model = ClassifierModule(architecture="small_cnn", num_classes=4, channels=1, image_size=8)
        trainer_factory(max_steps=1, callbacks=[curve]).fit(model, DataLoader(random_set(8), batch_size=4))
        images, labels = curve._test
        assert torch.bincount(labels).tolist() == [3, 3, 3, 3]
        subsets.append(images)
    assert torch.equal(subsets[0], subsets[1])
    with pytest.raises(ValueError, match="every_n_steps"):
        LearningCurve(every_n_steps=0)


def test_mean_curve_averages_seeds_at_shared_steps(tmp_path):
    a = {"step": np.array([1.0, 2.0, 3.0]), "train_loss": np.array([3.0, 2.0, 1.0]),
         "train_error": np.array([50.0, 40.0, 30.0]), "test_error": np.array([60.0, 50.0, 40.0])}
    b = {"step": np.array([2.0, 3.0]), "train_loss": np.array([4.0, 3.0]),
         "train_error": np.array([20.0, 10.0]), "test_error": np.array([30.0, 20.0])}
    mean = mean_curve([a, b])
    assert mean["step"].tolist() == [2.0, 3.0]
    assert mean["test_error"].tolist() == [40.0, 30.0]
    assert mean["train_loss"].tolist() == [3.0, 2.0]
    assert mean_curve([]) is None
    assert read_curve(tmp_path / "missing.csv") is None


def test_curves_plot_leaves_out_runs_without_a_curve(tmp_path):
    records = [dict(run_id=f"small_cnn-{arm}-seed0", classifier="small_cnn", arm=arm, variant="",
                    mode="", ratio=0.0, recipe="") for arm in ("real", "classic")]
    assert plot_curves(records, tmp_path) == []  # an older study: no curve at all
    (tmp_path / "curves").mkdir()
    (tmp_path / "curves" / "small_cnn-real-seed0.csv").write_text(
        "step,train_loss,train_error,test_error\n5,1.0,40.0,50.0\n10,0.5,20.0,30.0\n")
    assert plot_curves(records, tmp_path) == [tmp_path / "curves-small_cnn.png"]
    assert (tmp_path / "curves-small_cnn.png").stat().st_size > 0
    assert not math.isnan(read_curve(tmp_path / "curves" / "small_cnn-real-seed0.csv")["train_loss"][0])
