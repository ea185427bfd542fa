"""ClassicAugment: per-sample parameters, exact results against hand references, seeding."""

import pytest
import torch
import torch.nn.functional as F

from ganaug.classify import CLASSIC_POLICIES, ClassicAugment, ClassicParameters
from ganaug.classify.augment import affine_grid


def batch(n=64, channels=1, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    one = torch.rand(1, channels, size, size, generator=g) * 2 - 1
    return one.expand(n, -1, -1, -1).contiguous()


def shifted(image, dx, dy, fill=-1.0):
    """``image`` (C, H, W) with its content moved dx px right and dy px down, ``fill`` behind."""
    out = torch.roll(image, (dy, dx), (1, 2))
    height, width = image.shape[1:]
    rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
    uncovered = (rows - dy < 0) | (rows - dy >= height) | (cols - dx < 0) | (cols - dx >= width)
    return torch.where(uncovered, torch.full_like(out, fill), out)


def affine(angle=0.0, shift=(0, 0), scale=1.0):
    """Parameters of one sample."""
    return ClassicParameters(angle=torch.tensor([float(angle)]), shift=torch.tensor([shift]),
                             scale=torch.tensor([float(scale)]))


def test_none_is_the_identity():
    x = batch()
    assert ClassicAugment("none")(x, torch.Generator().manual_seed(0)) is x


def test_unknown_policy_lists_choices():
    with pytest.raises(ValueError, match="flip_crop"):
        ClassicAugment("mixup")
    with pytest.raises(ValueError, match="translate"):
        ClassicAugment("affine", translate=1.5)
    with pytest.raises(ValueError, match="nearest"):
        ClassicAugment("affine", interpolation="bicubic")


def test_interpolation_choice():
    x = torch.rand(2, 1, 12, 12) * 2 - 1
    params = ClassicParameters(angle=torch.tensor([7.0, 7.0]))
    nearest = ClassicAugment("rotate").apply(x, params)
    bilinear = ClassicAugment("rotate", interpolation="bilinear").apply(x, params)
    assert not torch.allclose(nearest, bilinear)
    # nearest neighbour only moves pixels: every output value is an input value or the fill
    values = set(x[0].flatten().tolist()) | {-1.0}
    assert set(nearest[0].flatten().tolist()) <= values


def test_flip_mirrors_about_half_of_a_batch_per_sample():
    x = batch(n=400)
    y = ClassicAugment("flip")(x, torch.Generator().manual_seed(1))
    same = (y == x).flatten(1).all(1)
    mirrored = (y == x.flip(-1)).flatten(1).all(1)
    assert (same ^ mirrored).all()  # every image is one or the other, exactly
    assert 160 < int(mirrored.sum()) < 240  # Binomial(400, 1/2): mean 200, sd 10


def test_crop_matches_padding_and_slicing():
    x = torch.rand(32, 3, 10, 10) * 2 - 1
    augment = ClassicAugment("crop", pad=4)
    params = augment.sample_parameters(32, 10, 10, torch.Generator().manual_seed(2))
    y = augment.apply(x, params)
    padded = F.pad(x, (4, 4, 4, 4), value=-1.0)
    for i in range(32):
        t, l = int(params.crop_top[i]), int(params.crop_left[i])
        assert torch.equal(y[i], padded[i, :, t:t + 10, l:l + 10])
    offsets = torch.stack([params.crop_top, params.crop_left], 1)
    assert offsets.min() >= 0 and offsets.max() <= 8
    assert len({tuple(o) for o in offsets.tolist()}) > 16  # drawn per sample


def test_flip_crop_draws_both():
    augment = ClassicAugment("flip_crop")
    params = augment.sample_parameters(200, 32, 32, torch.Generator().manual_seed(3))
    assert params.flip is not None and params.crop_top is not None and params.angle is None
    assert 0 < int(params.flip.sum()) < 200


def test_affine_parameters_are_per_sample_and_in_range():
    augment = ClassicAugment("affine")  # ±10°, ±10 % shift, 0.9–1.1 scale
    params = augment.sample_parameters(500, 28, 28, torch.Generator().manual_seed(4))
    assert params.angle.abs().max() <= 10 and params.angle.std() > 4  # U(-10, 10): sd 5.8
    assert params.shift.abs().max() <= 3  # round(U(-2.8, 2.8))
    assert set(params.shift.flatten().tolist()) == {-3, -2, -1, 0, 1, 2, 3}
    assert params.scale.min() >= 0.9 and params.scale.max() <= 1.1
    assert len(set(params.angle.tolist())) == 500
    g = torch.Generator().manual_seed(4)
    rotate = ClassicAugment("rotate").sample_parameters(50, 28, 28, g)
    assert rotate.shift is None and rotate.scale is None and rotate.angle.abs().max() <= 10


def test_affine_applies_each_samples_own_transform():
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    augment = ClassicAugment("affine")
    params = ClassicParameters(angle=torch.tensor([90.0, 0.0, 0.0]),
                               shift=torch.tensor([[0, 0], [2, 0], [0, 0]]),
                               scale=torch.tensor([1.0, 1.0, 1.0]))
    y = augment.apply(x, params)
    assert torch.allclose(y[0], torch.rot90(x[0], -1, (1, 2)), atol=1e-5)  # 90° clockwise
    shifted = torch.full_like(x[1], -1.0)
    shifted[..., 2:] = x[1][..., :-2]  # content moves 2 px right, black fills in
    assert torch.allclose(y[1], shifted, atol=1e-5)
    assert torch.allclose(y[2], x[2], atol=1e-6)


def test_flip_crop_flips_then_crops():
    x = torch.rand(32, 2, 9, 9) * 2 - 1
    augment = ClassicAugment("flip_crop", pad=3, fill=0.25)
    params = augment.sample_parameters(32, 9, 9, torch.Generator().manual_seed(7))
    y = augment.apply(x, params)
    padded = F.pad(torch.where(params.flip[:, None, None, None], x.flip(-1), x), (3, 3, 3, 3),
                   value=0.25)
    for i in range(32):
        t, l = int(params.crop_top[i]), int(params.crop_left[i])
        assert torch.equal(y[i], padded[i, :, t:t + 9, l:l + 9])
    assert 0 < int(params.flip.sum()) < 32


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_identity_parameters_return_the_input(interpolation):
    x = torch.rand(5, 3, 7, 10) * 2 - 1
    params = ClassicParameters(angle=torch.zeros(5), shift=torch.zeros(5, 2, dtype=torch.long),
                               scale=torch.ones(5))
    y = ClassicAugment("affine", interpolation=interpolation).apply(x, params)
    assert torch.allclose(y, x, atol=1e-5)
    if interpolation == "nearest":
        assert torch.equal(y, x)


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 2), (-3, 1), (2, -2), (-1, -4)])
def test_whole_pixel_shifts_equal_rolling_with_fill(dx, dy):
    x = torch.rand(1, 2, 9, 8) * 2 - 1
    y = ClassicAugment("affine", fill=0.5).apply(x, affine(shift=(dx, dy)))
    assert torch.equal(y[0], shifted(x[0], dx, dy, fill=0.5))


@pytest.mark.parametrize("size", [(8, 8), (7, 7)])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3, -1])
def test_quarter_turns_equal_rot90(size, quarter_turns):
    x = torch.rand(1, 3, *size) * 2 - 1
    params = ClassicParameters(angle=torch.tensor([90.0 * quarter_turns]))
    y = ClassicAugment("rotate").apply(x, params)
    assert torch.equal(y[0], torch.rot90(x[0], -quarter_turns, (1, 2)))  # angles are clockwise


def test_quarter_turn_of_a_wide_image_keeps_its_aspect():
    # A 6x10 image turned 90° about its centre: the central 6x6 square turns in place, the
    # columns it leaves take the fill. Checks the aspect-ratio terms of the normalised matrix.
    x = torch.rand(1, 1, 6, 10) * 2 - 1
    y = ClassicAugment("rotate").apply(x, ClassicParameters(angle=torch.tensor([90.0])))
    expected = torch.full_like(x[0], -1.0)
    expected[:, :, 2:8] = torch.rot90(x[0, :, :, 2:8], -1, (1, 2))
    assert torch.equal(y[0], expected)


def test_shift_applies_after_rotation():
    x = torch.rand(1, 1, 8, 8) * 2 - 1
    y = ClassicAugment("affine").apply(x, affine(angle=90, shift=(2, -1)))
    assert torch.equal(y[0], shifted(torch.rot90(x[0], -1, (1, 2)), 2, -1))


def test_scale_zooms_about_the_centre():
    # Zoom 2 on 4 px: output centres at -1.5, -0.5, 0.5, 1.5 px from the middle read the input at
    # half that, i.e. at pixel positions 0.75, 1.25, 1.75, 2.25 (centres of pixels at 0, 1, 2, 3).
    ramp = torch.arange(4.0).expand(1, 1, 4, 4) / 4  # value = column / 4
    bilinear = ClassicAugment("affine", interpolation="bilinear").apply(ramp, affine(scale=2))
    assert torch.allclose(bilinear[0, 0], torch.tensor([0.75, 1.25, 1.75, 2.25]).expand(4, 4) / 4,
                          atol=1e-6)
    x = torch.rand(1, 1, 4, 4) * 2 - 1
    nearest = ClassicAugment("affine").apply(x, affine(scale=2))
    middle = torch.tensor([1, 1, 2, 2])  # nearest pixel of each position above
    assert torch.equal(nearest[0, 0], x[0, 0][middle][:, middle])


def test_bilinear_blends_the_border_with_the_fill():
    # Zoom 0.8 on a constant 4x4 image: the outer output pixel centre (1.5 px from the middle)
    # reads 1.875 px from it, 0.375 of a pixel outside, so it is 0.625 image and 0.375 fill per
    # axis, as if the image were surrounded by the fill.
    value, fill = 0.5, -1.0
    x = torch.full((1, 1, 4, 4), value)
    y = ClassicAugment("affine", interpolation="bilinear").apply(x, affine(scale=0.8))[0, 0]
    edge, corner = 0.625, 0.625**2
    assert torch.allclose(y[1:3, 1:3], torch.full((2, 2), value))
    assert torch.allclose(y[1, 0], torch.tensor(edge * value + (1 - edge) * fill))
    assert torch.allclose(y[0, 0], torch.tensor(corner * value + (1 - corner) * fill))


def test_affine_grid_matches_torch():
    theta = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(8))
    ours = affine_grid(theta, 5, 9)
    assert torch.allclose(ours, F.affine_grid(theta, [6, 1, 5, 9], align_corners=False),
                          atol=1e-6)


def test_rotations_and_scales_are_drawn_across_their_whole_range():
    g = torch.Generator().manual_seed(9)
    params = ClassicAugment("affine", degrees=20, scale=(0.8, 1.2)).sample_parameters(
        2000, 16, 16, g)
    assert -20 <= params.angle.min() < -19.5 and 19.5 < params.angle.max() <= 20
    assert 0.8 <= params.scale.min() < 0.81 and 1.19 < params.scale.max() <= 1.2
    assert params.shift.abs().max() == 2  # round(U(-1.6, 1.6))


def test_every_sample_gets_its_own_transform():
    x = batch(n=32, size=16)  # 32 copies of one image
    for policy in ("rotate", "affine", "flip_crop"):
        y = ClassicAugment(policy)(x, torch.Generator().manual_seed(10))
        distinct = {tuple(image.flatten().tolist()) for image in y}
        assert len(distinct) > 16, policy


def test_keeps_dtype_shape_and_memory_layout():
    for dtype in (torch.float32, torch.float64):
        x = torch.rand(4, 3, 9, 11, dtype=dtype) * 2 - 1
        for policy in ("flip", "flip_crop", "affine"):
            y = ClassicAugment(policy)(x, torch.Generator().manual_seed(11))
            assert y.dtype == dtype and y.shape == x.shape and y.is_contiguous(), policy


def test_seeded_generator_reproduces_and_differs_across_seeds():
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    for policy in CLASSIC_POLICIES:
        if policy == "none":
            continue
        augment = ClassicAugment(policy)
        a = augment(x, torch.Generator().manual_seed(5))
        b = augment(x, torch.Generator().manual_seed(5))
        c = augment(x, torch.Generator().manual_seed(6))
        assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c), policy
        assert a.min() >= -1 - 1e-6 and a.max() <= 1 + 1e-6


def test_rejects_non_image_batches():
    with pytest.raises(ValueError, match="N, C, H, W"):
        ClassicAugment("flip")(torch.zeros(3, 8, 8))
