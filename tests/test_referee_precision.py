"""filter_precision: per-class acceptance and precision of a bank filter by the judge, on images
whose referee and judge verdicts are written into their pixels (fractions counted by hand)."""

import math

import pytest
import torch
from torch import nn

from ganaug.metrics import filter_precision


class PixelClassifier(nn.Module):
    """Logits that put a confidence on the class written in pixel ``which`` (0 or 1) of an
    image in [-1, 1] (the class is ``round((x + 1) * 127.5)``), the rest spread evenly; the
    confidence is pixel 2 / 255 for the referee, 0.9 for the judge."""

    def __init__(self, which: int, num_classes: int = 3) -> None:
        super().__init__()
        self.which, self.num_classes = which, num_classes
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = images.flatten(1)[:, self.which]
        classes = torch.round((pixels + 1) * 127.5).long()
        confidence = (images.flatten(1)[:, 2] + 1) / 2 if self.which == 0 \
            else torch.full_like(pixels, 0.9)
        probabilities = ((1 - confidence) / (self.num_classes - 1))[:, None].repeat(
            1, self.num_classes)
        probabilities.scatter_(1, classes[:, None], confidence[:, None])
        return probabilities.clamp(min=1e-6).log()


def pool(rows):
    """uint8 images (N, 1, 1, 3) from rows (referee's class, judge's class, confidence in 0..255)."""
    return torch.tensor(rows, dtype=torch.uint8).view(-1, 1, 1, 3)


def test_precision_acceptance_and_rejected_faithfulness_by_hand():
    # class 0: four images; the referee keeps the two it calls 0 (one the judge calls 0, one 1);
    # of the two rejected, the judge calls one 0. class 1: the referee keeps all three, the judge
    # agrees with two. class 2: none kept.
    rows = [(0, 0, 255), (0, 1, 255), (1, 0, 255), (2, 1, 255),
            (1, 1, 255), (1, 1, 255), (1, 2, 255),
            (0, 2, 255)]
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2])
    result = filter_precision(pool(rows), labels, PixelClassifier(0), PixelClassifier(1),
                              num_classes=3)
    assert result.accepted == [0.5, 1.0, 0.0]
    assert result.precision[:2] == [0.5, pytest.approx(2 / 3)] and math.isnan(result.precision[2])
    assert result.pool_faithful == [0.5, pytest.approx(2 / 3), 1.0]
    assert result.rejected_faithful[0] == 0.5 and math.isnan(result.rejected_faithful[1])
    assert result.rejected_faithful[2] == 1.0
    assert result.samples_per_class == [4, 3, 1]
    assert result.worst_precision == 0.5
    assert result.to_dict()["worst_precision"] == 0.5


def test_a_confidence_floor_drops_the_unsure():
    # both images are called 0 by referee and judge; the referee's confidence is 1.0 and 0.6
    rows = [(0, 0, 255), (0, 0, 153)]
    result = filter_precision(pool(rows), torch.tensor([0, 0]), PixelClassifier(0),
                              PixelClassifier(1), num_classes=3, min_confidence=0.9)
    assert result.accepted[0] == 0.5 and result.precision[0] == 1.0
    assert result.rejected_faithful[0] == 1.0


def test_mismatched_input_is_refused():
    with pytest.raises(ValueError, match="2 labels"):
        filter_precision(pool([(0, 0, 255)]), torch.tensor([0, 1]), PixelClassifier(0),
                         PixelClassifier(1), num_classes=3)
    with pytest.raises(ValueError, match="labels must lie in"):
        filter_precision(pool([(0, 0, 255)]), torch.tensor([3]), PixelClassifier(0),
                         PixelClassifier(1), num_classes=3)
