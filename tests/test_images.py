"""The two conversions at the edge of the image convention: uint8 pixels <-> floats in [-1, 1]."""

import numpy as np
import torch

from ganaug.images import from_uint8, to_uint8

PIXELS = torch.arange(256, dtype=torch.uint8)


def test_from_uint8_maps_the_grid_onto_minus_one_to_one():
    images = from_uint8(PIXELS)
    assert images.dtype == torch.float32
    expected = np.arange(256, dtype=np.float64) / 127.5 - 1  # in float64, then rounded once
    assert np.allclose(images.numpy(), expected, rtol=0, atol=1e-7)
    assert images[0] == -1 and images[255] == 1
    assert torch.all(images[1:] > images[:-1])


def test_to_uint8_inverts_from_uint8_exactly_on_every_pixel_value():
    assert torch.equal(to_uint8(from_uint8(PIXELS)), PIXELS)
    assert torch.equal(to_uint8(from_uint8(PIXELS.int())), PIXELS)  # any integer dtype
    batch = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    assert torch.equal(to_uint8(from_uint8(batch)), batch)


def test_to_uint8_rounds_half_up_and_clamps():
    # exact half steps of the grid round up; values outside [-1, 1] clamp instead of wrapping
    half = from_uint8(torch.tensor([10, 200])) + 0.5 / 127.5
    assert to_uint8(half).tolist() == [11, 201]
    assert to_uint8(torch.tensor([-3.0, 2.5])).tolist() == [0, 255]
