"""Class faithfulness and generator selection: counts by hand, a judge that is a known function,
the callback and ``evaluate`` logging it, and the selection restoring the best EMA snapshot."""

import math

import pytest
import torch
from metrics_data import tiny_cgan, tiny_digits
from torch import nn

from ganaug.metrics.faithfulness import (
    ClassFaithfulness,
    FaithfulnessResult,
    bank_faithfulness,
    generator_faithfulness,
    judge_agreement,
)
from ganaug.metrics.selection import SelectGenerator


class BrightnessJudge(nn.Module):
    """Class = mean brightness in [-1, 1] cut into ``k`` equal bins: a judge with known verdicts."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.anchor = nn.Parameter(torch.zeros(()))  # a device to move to

    def forward(self, images):
        level = ((images.mean(dim=(1, 2, 3)) + 1) / 2 * self.k).clamp(0, self.k - 1e-6).floor().long()
        return nn.functional.one_hot(level, self.k).float() + self.anchor


def brightness_images(levels, k, size=4):
    """Uniform images whose brightness falls in the middle of bin ``level`` of ``k``."""
    values = (torch.as_tensor(levels, dtype=torch.float) + 0.5) / k * 2 - 1
    return values.view(-1, 1, 1, 1).expand(-1, 1, size, size).clone()


def test_faithfulness_counts_by_hand():
    # claimed classes 0,0,0,1,1,2; the judge sees 0,1,0,1,1,0
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    images = brightness_images([0, 1, 0, 1, 1, 0], 3)
    result = bank_faithfulness(images, labels, BrightnessJudge(3), num_classes=3)
    assert result.per_class == pytest.approx([2 / 3, 1.0, 0.0])
    assert result.samples_per_class == [3, 2, 1]
    assert result.mean == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert result.worst == 0.0 and result.worst_class == 2
    logged = result.log_values()
    assert logged["faithfulness_worst"] == 0.0 and logged["faithfulness/class_0"] == pytest.approx(2 / 3)
    # uint8 banks are converted to [-1, 1] first: 0 -> -1 (class 0), 255 -> +1 (class 2)
    uint8 = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    assert bank_faithfulness(uint8, torch.tensor([0, 2]), BrightnessJudge(3),
                             num_classes=3).per_class[::2] == [1.0, 1.0]


def test_a_class_without_samples_is_nan_and_ignored_by_mean_and_worst():
    result = FaithfulnessResult([0.5, math.nan, 1.0], [2, 0, 1])
    assert result.mean == pytest.approx(0.75) and result.worst == 0.5 and result.worst_class == 0


def test_metric_checks_the_judge_shape():
    metric = ClassFaithfulness(3)
    with pytest.raises(ValueError, match=r"judge logits of shape \(2, 3\)"):
        metric.update(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        ClassFaithfulness(1)


class LevelSampler:
    """Draws class ``c`` at brightness level ``mapping[c]``: a generator with known mistakes."""

    def __init__(self, mapping):
        self.mapping = torch.tensor(mapping)
        self.num_classes = len(mapping)

    def sample(self, n, labels, generator=None, **kwargs):
        return brightness_images(self.mapping[labels], self.num_classes)


def test_generator_faithfulness_of_a_sampler_with_known_mistakes():
    result = generator_faithfulness(LevelSampler([0, 0, 2]), BrightnessJudge(3), n_per_class=5)
    assert result.per_class == [1.0, 0.0, 1.0] and result.samples_per_class == [5, 5, 5]


def test_selection_keeps_the_best_snapshot_and_puts_it_back(trainer_factory):
    """Evaluate after every iteration with a judge that rewards one fixed snapshot only."""
    model, data = tiny_cgan(), tiny_digits()
    scores = iter([0.2, 0.9, 0.5, 0.4, 0.1, 0.3, 0.0, 0.0])
    snapshots = {}

    class Scripted(SelectGenerator):
        def evaluate(self, pl_module):
            score = next(scores)
            snapshots[pl_module.iteration] = {k: v.clone() for k, v in
                                              pl_module.generator_ema.state_dict().items()}
            result = FaithfulnessResult([score, score], [1, 1])
            self.history.append((pl_module.iteration, score, score))
            if self.best_score is None or self.score(result) >= self.best_score:
                self.best_score, self.best_iteration = self.score(result), pl_module.iteration
                self._best_state = snapshots[pl_module.iteration]
            return result

    selection = Scripted(BrightnessJudge(10), every_n_iterations=1)
    trainer_factory(max_steps=8, callbacks=[selection]).fit(model, data)  # 4 iterations
    assert [row[0] for row in selection.history] == [1, 2, 3, 4]
    assert selection.best_iteration == 2
    for key, value in model.generator_ema.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key
    assert not torch.equal(model.generator_ema.stem[0].weight, model.generator.stem[0].weight)


def test_selection_measures_with_the_selector_and_resumes_its_state(trainer_factory):
    model, data = tiny_cgan(), tiny_digits()
    monitor = BrightnessJudge(10)
    selection = SelectGenerator(BrightnessJudge(10), every_n_iterations=2, n_per_class=3,
                                monitor=monitor)
    trainer = trainer_factory(max_steps=8, callbacks=[selection])
    trainer.fit(model, data)
    assert [row[0] for row in selection.history] == [2, 4]
    assert [row[0] for row in selection.monitor_history] == [2, 4]
    assert "monitor/faithfulness_worst" in trainer.callback_metrics
    # the generator left in place is the best one, and measures as it did when it was chosen
    expected = generator_faithfulness(model, BrightnessJudge(10), n_per_class=3, seed=0)
    chosen = {iteration: mean for iteration, mean, _ in selection.history}[selection.best_iteration]
    assert chosen == pytest.approx(expected.mean)
    state = selection.state_dict()
    again = SelectGenerator(BrightnessJudge(10))
    again.load_state_dict(state)
    assert again.history == selection.history and again.best_iteration == selection.best_iteration
    assert again.monitor_history == selection.monitor_history
    with pytest.raises(ValueError, match="criterion"):
        SelectGenerator(BrightnessJudge(10), criterion="median")


def test_the_metrics_callback_logs_faithfulness_without_an_extractor(trainer_factory):
    from ganaug.metrics import GenerativeMetrics

    model, data = tiny_cgan(), tiny_digits()
    callback = GenerativeMetrics(metrics=(), judge=BrightnessJudge(10), n_samples=20, batch_size=8)
    trainer = trainer_factory(max_epochs=1, callbacks=[callback])
    trainer.fit(model, data)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    model.eval()
    judge = BrightnessJudge(10)
    from ganaug.metrics.callback import generated_batches

    metric = ClassFaithfulness(10)
    for images, labels in generated_batches(model, 20, seed=0, batch_size=8):
        metric.update(judge(images), labels)
    expected = metric.result()
    assert logged["faithfulness_mean"] == pytest.approx(expected.mean)
    assert logged["faithfulness_worst"] == pytest.approx(expected.worst)
    assert callback.evaluator is None  # no feature extractor was built
    with pytest.raises(ValueError, match="nothing to measure"):
        GenerativeMetrics(metrics=())


def test_two_judges_agree_on_the_images_they_class_alike():
    # brightness bins of 2 and of 4 judges: levels 0-3 of 4 map to classes 0, 0, 1, 1 and
    # 0, 1, 2, 3; the two agree where the class is the same: level 0 (0 = 0) only
    images = brightness_images([0, 1, 2, 3, 0, 0], 4)
    assert judge_agreement(images, BrightnessJudge(2), BrightnessJudge(4)) == pytest.approx(3 / 6)
    assert judge_agreement(images, BrightnessJudge(4), BrightnessJudge(4), batch_size=4) == 1.0
    assert math.isnan(judge_agreement(images[:0], BrightnessJudge(4), BrightnessJudge(4)))
