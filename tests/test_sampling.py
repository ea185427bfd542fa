"""The one class-balanced draw: label order and counts, and what a draw passes to the sampler."""

import pytest
import torch

from ganaug.modules import ConditionalGAN
from ganaug.sampling import ClassConditionalSampler, class_balanced_labels, draw_class_balanced


def test_class_major_labels_keep_each_class_together():
    labels = class_balanced_labels(3, 2)
    assert labels.dtype == torch.int64
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert class_balanced_labels(torch.tensor([4, 1]), 3).tolist() == [4, 4, 4, 1, 1, 1]


def test_interleaved_labels_cycle_so_every_prefix_is_balanced():
    labels = class_balanced_labels(4, 5, interleaved=True)
    assert labels.tolist() == [0, 1, 2, 3] * 5
    for stop in range(len(labels) + 1):
        counts = torch.bincount(labels[:stop], minlength=4)
        assert int(counts.max() - counts.min()) <= 1


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize(("classes", "n"), [(10, 7), (1, 3), (5, 0), (0, 4)])
def test_every_class_gets_exactly_n(classes, n, interleaved):
    labels = class_balanced_labels(classes, n, interleaved=interleaved)
    assert len(labels) == classes * n
    assert torch.bincount(labels, minlength=classes).tolist() == [n] * classes


def test_bad_counts_are_refused():
    for n in (-1, 2.0, True):
        with pytest.raises(ValueError, match="n_per_class must be an integer >= 0"):
            class_balanced_labels(3, n)
    with pytest.raises(ValueError, match="number of classes must be >= 0"):
        class_balanced_labels(-2, 1)


class Recorder:
    """A sampler that records its calls and returns its labels as one-pixel images."""

    num_classes = 3

    def __init__(self):
        self.calls = []

    def sample(self, n, labels, generator=None, **kwargs):
        self.calls.append((n, labels.tolist(), generator, kwargs))
        return labels.float().reshape(n, 1, 1, 1)


def test_a_draw_is_one_call_with_class_major_labels_and_the_options():
    sampler = Recorder()
    assert isinstance(sampler, ClassConditionalSampler)
    rng = torch.Generator()
    images, labels = draw_class_balanced(sampler, 2, rng, batch_size=7, truncation=0.5)
    assert sampler.calls == [(6, [0, 0, 1, 1, 2, 2], rng, dict(batch_size=7, truncation=0.5))]
    assert torch.equal(images.flatten().long(), labels)
    draw_class_balanced(sampler, 1, classes=[2, 0])
    assert sampler.calls[-1][:2] == (2, [2, 0])


def test_one_call_draws_what_a_call_per_batch_drew():
    # the draw GAN selection and faithfulness made before: one sample() call per batch of labels
    torch.manual_seed(0)
    model = ConditionalGAN(num_classes=4, channels=1, image_size=28, latent_dim=8, g_width=4,
                           d_width=4).eval()
    images, labels = draw_class_balanced(model, 5, torch.Generator().manual_seed(3), batch_size=6)
    rng = torch.Generator().manual_seed(3)
    expected = torch.cat([model.sample(len(chunk), chunk, rng, batch_size=6)
                          for chunk in torch.arange(4).repeat_interleave(5).split(6)])
    assert torch.equal(images, expected)
    generated, generated_labels = model.generate(5, torch.Generator().manual_seed(3), batch_size=6)
    assert torch.equal(generated, expected) and torch.equal(generated_labels, labels)
