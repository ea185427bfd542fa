"""ClassicAugment: per-sample parameters, exact results against hand references, seeding."""

import pytest
import torch
import torch.nn.functional as F

from ganaug.classify import CLASSIC_POLICIES, ClassicAugment, ClassicParameters


def batch(n=64, channels=1, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    one = torch.rand(1, channels, size, size, generator=g) * 2 - 1
    return one.expand(n, -1, -1, -1).contiguous()


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
