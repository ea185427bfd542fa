"""Tests of DiffAugment against hand-computed values and a pixel-loop reference.

The reference below applies the published ops one at a time to one image at a time, moving
pixels in Python loops, so it shares no code and no algebra with the fused implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ganaug.augment import POLICY_GROUPS, AugmentParameters, DiffAugment


# an independent reference


def reference(images: Tensor, params: AugmentParameters, policy: str, *,
              translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> Tensor:
    """The published ops in policy order, sample by sample, pixel by pixel (differentiable)."""
    ops = [op for name in policy.split(",") if name.strip() for op in POLICY_GROUPS[name.strip()]]
    out = []
    for i, image in enumerate(images):
        _, h, w = image.shape
        for op in ops:
            if op == "brightness":
                image = image + params.brightness[i].item()
            elif op == "saturation":
                mean = image.mean(dim=0, keepdim=True)
                image = (image - mean) * params.saturation[i].item() + mean
            elif op == "contrast":
                mean = image.mean()
                image = (image - mean) * params.contrast[i].item() + mean
            elif op == "translation":
                dx, dy = params.translation_x[i].item(), params.translation_y[i].item()
                moved = torch.zeros_like(image)
                for r in range(h):
                    for c in range(w):
                        if 0 <= r + dy < h and 0 <= c + dx < w:
                            moved[:, r, c] = image[:, r + dy, c + dx]
                image = moved
            else:
                size_h, size_w = int(cutout_ratio * h + 0.5), int(cutout_ratio * w + 0.5)
                top = params.cutout_y[i].item() - size_h // 2
                left = params.cutout_x[i].item() - size_w // 2
                keep = torch.ones(h, w, dtype=image.dtype)
                for r in range(top, top + size_h):
                    for c in range(left, left + size_w):
                        if 0 <= r < h and 0 <= c < w:
                            keep[r, c] = 0
                image = image * keep
        out.append(image)
    return torch.stack(out)


def fixed_parameters(n: int, *, seed: int = 0, shift: int = 2, height: int = 8,
                     width: int = 8) -> AugmentParameters:
    """Parameters spread over (and a little beyond) the published ranges."""
    g = torch.Generator().manual_seed(seed)
    ints = lambda low, high: torch.randint(low, high, (n,), generator=g)  # noqa: E731
    return AugmentParameters(
        brightness=torch.rand(n, generator=g) - 0.5,
        saturation=torch.rand(n, generator=g) * 2,
        contrast=torch.rand(n, generator=g) + 0.5,
        translation_x=ints(-shift, shift + 1),
        translation_y=ints(-shift, shift + 1),
        cutout_x=ints(0, width + 1),
        cutout_y=ints(0, height + 1),
    )


# exact values on tiny inputs


def ramp(h: int = 4, w: int = 4) -> Tensor:
    return torch.arange(h * w, dtype=torch.float64).view(1, 1, h, w)


def one(value) -> Tensor:
    return torch.tensor([value])


def test_translation_moves_a_ramp_and_fills_zeros():
    augment = DiffAugment("translation")
    left = augment.apply(ramp(), AugmentParameters(translation_x=one(1), translation_y=one(0)))
    expected = torch.tensor([[1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0], [13, 14, 15, 0]])
    assert torch.equal(left[0, 0], expected.double())

    up_right = augment.apply(ramp(), AugmentParameters(translation_x=one(-1), translation_y=one(2)))
    expected = torch.tensor([[0, 8, 9, 10], [0, 12, 13, 14], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert torch.equal(up_right[0, 0], expected.double())


def test_translation_beyond_the_image_gives_zeros():
    augment = DiffAugment("translation")
    for dx, dy in [(100, 0), (0, -100), (4, 0), (-7, 9)]:
        out = augment.apply(ramp(), AugmentParameters(translation_x=one(dx), translation_y=one(dy)))
        assert torch.equal(out, torch.zeros_like(out))


def test_cutout_zeroes_a_known_square():
    augment = DiffAugment("cutout")  # 4x4 image: a 2x2 square from centre - 1
    out = augment.apply(torch.ones(1, 2, 4, 4), AugmentParameters(cutout_x=one(2), cutout_y=one(1)))
    expected = torch.ones(4, 4)
    expected[0:2, 1:3] = 0
    assert torch.equal(out[0, 0], expected) and torch.equal(out[0, 1], expected)

    # A 5x5 image has a 3x3 square; at centre (0, 4) it is clipped to two columns and one row.
    out = augment.apply(torch.ones(1, 1, 5, 5), AugmentParameters(cutout_x=one(0), cutout_y=one(4)))
    expected = torch.ones(5, 5)
    expected[3:5, 0:2] = 0
    assert torch.equal(out[0, 0], expected)


def test_brightness_saturation_contrast_closed_forms():
    pixel = torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64).view(1, 3, 1, 1)
    out = DiffAugment("brightness").apply(pixel, AugmentParameters(brightness=one(0.25)))
    assert torch.allclose(out.flatten(), torch.tensor([1.25, 2.25, 6.25], dtype=torch.float64))

    out = DiffAugment("saturation").apply(pixel, AugmentParameters(saturation=one(0.5)))
    assert torch.allclose(out.flatten(), torch.tensor([2.0, 2.5, 4.5], dtype=torch.float64))

    pair = torch.tensor([0.0, 2.0], dtype=torch.float64).view(1, 1, 1, 2)
    out = DiffAugment("contrast").apply(pair, AugmentParameters(contrast=one(1.5)))
    assert torch.allclose(out.flatten(), torch.tensor([-0.5, 2.5], dtype=torch.float64))


def test_color_composes_in_published_order():
    # Two pixels of three channels; every step written out by hand.
    x = torch.tensor([[1.0, 4.0], [2.0, 0.0], [6.0, 2.0]], dtype=torch.float64).view(1, 3, 1, 2)
    b, s, c = 0.5, 2.0, 0.5
    bright = x + b  # [[1.5, 4.5], [2.5, 0.5], [6.5, 2.5]]; channel means [3.5, 2.5]
    saturated = torch.tensor([[-0.5, 6.5], [1.5, -1.5], [9.5, 2.5]], dtype=torch.float64)
    assert torch.allclose((bright.view(3, 2) - bright.view(3, 2).mean(0)) * s
                          + bright.view(3, 2).mean(0), saturated)
    mean = saturated.mean()  # 3.0
    expected = (saturated - mean) * c + mean
    params = AugmentParameters(brightness=one(b), saturation=one(s), contrast=one(c))
    assert torch.allclose(DiffAugment("color").apply(x, params).view(3, 2), expected)


def test_saturation_of_one_channel_is_identity():
    x = torch.randn(3, 1, 5, 6, dtype=torch.float64)
    params = AugmentParameters(saturation=torch.tensor([0.0, 0.7, 1.9]))
    assert torch.allclose(DiffAugment("saturation").apply(x, params), x)


# agreement with the reference


POLICIES = [
    "color,translation,cutout",
    "color",
    "brightness",
    "saturation",
    "contrast",
    "translation",
    "cutout",
    "translation,cutout",
    "cutout,translation",
    "translation,color",
    "contrast,saturation,brightness",
    "brightness,translation,contrast,cutout,saturation",
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("shape", [(3, 3, 7, 10), (2, 1, 8, 8), (2, 3, 6, 5), (2, 5, 4, 6)])
def test_matches_pixel_loop_reference(policy, shape):
    n, _, h, w = shape
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    params = fixed_parameters(n, seed=sum(shape), shift=3, height=h, width=w)
    augment = DiffAugment(policy, translation_ratio=0.3, cutout_ratio=0.4)
    ours = augment.apply(x, params)
    theirs = reference(x, params, policy, translation_ratio=0.3, cutout_ratio=0.4)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)

    # The custom backward must equal autograd through the reference.
    grad = torch.randn(shape, dtype=torch.float64)
    (ours_grad,) = torch.autograd.grad(ours, x, grad)
    (theirs_grad,) = torch.autograd.grad(theirs, x, grad)
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=0, atol=1e-12)


def test_drawn_parameters_match_reference_too():
    x = torch.randn(6, 3, 12, 20, dtype=torch.float64)
    augment = DiffAugment()
    params = augment.sample_parameters(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(augment.apply(x, params), reference(x, params, augment.policy),
                               rtol=0, atol=1e-12)


# gradients


@pytest.mark.parametrize("policy", POLICIES)
def test_gradcheck(policy):
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    params = fixed_parameters(2, seed=1, shift=2, height=5, width=6)
    augment = DiffAugment(policy, translation_ratio=0.4)
    assert torch.autograd.gradcheck(lambda t: augment.apply(t, params), (x,))


@pytest.mark.parametrize("policy", ["color,translation,cutout", "cutout,translation,color"])
def test_double_backward(policy):
    # R1 and gradient penalties differentiate through the augmentation twice.
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    params = fixed_parameters(2, seed=2, shift=1, height=5, width=4)
    augment = DiffAugment(policy)
    assert torch.autograd.gradgradcheck(lambda t: augment.apply(t, params), (x,))


# drawn parameters


def test_parameter_distributions():
    augment = DiffAugment("color,translation,cutout")
    n = 40_000
    p = augment.sample_parameters((n, 3, 16, 40), torch.Generator().manual_seed(0))
    for values, low, high in [(p.brightness, -0.5, 0.5), (p.saturation, 0.0, 2.0),
                              (p.contrast, 0.5, 1.5)]:
        assert values.shape == (n,) and values.dtype == torch.float32
        assert low <= values.min() and values.max() < high
        assert abs(values.mean().item() - (low + high) / 2) < 0.01 * (high - low)
        assert abs(values.std().item() - (high - low) / math.sqrt(12)) < 0.01 * (high - low)

    # Shifts of int(0.125 * side + 0.5) pixels: 5 for 40 columns, 2 for 16 rows.
    for values, s in [(p.translation_x, 5), (p.translation_y, 2)]:
        assert values.dtype == torch.int64
        counts = torch.bincount(values + s)
        assert len(counts) == 2 * s + 1 and counts.min() > 0
        assert (counts.float() / n - 1 / (2 * s + 1)).abs().max() < 0.01

    # Cutout squares of 20 (even) columns and 8 (even) rows: centres in [0, side].
    for values, side in [(p.cutout_x, 40), (p.cutout_y, 16)]:
        assert values.dtype == torch.int64
        assert set(values.unique().tolist()) == set(range(side + 1))


def test_parameter_ranges_for_odd_sizes():
    augment = DiffAugment("translation,cutout", translation_ratio=0.25, cutout_ratio=0.5)
    p = augment.sample_parameters((20_000, 1, 13, 10), torch.Generator().manual_seed(1))
    # int(3.25 + 0.5) = 3 rows and int(2.5 + 0.5) = 3 columns of shift.
    assert set(p.translation_y.unique().tolist()) == set(range(-3, 4))
    assert set(p.translation_x.unique().tolist()) == set(range(-3, 4))
    # A 7-row (odd) square: centres in [0, 13); a 5-column (odd) square: [0, 10).
    assert set(p.cutout_y.unique().tolist()) == set(range(13))
    assert set(p.cutout_x.unique().tolist()) == set(range(10))
    assert p.brightness is None and p.saturation is None and p.contrast is None


def test_sample_parameters_from_images_lands_on_their_device():
    x = torch.zeros(5, 3, 8, 8, dtype=torch.float64)
    p = DiffAugment().sample_parameters(x)
    assert all(t.device == x.device and t.shape == (5,) for t in
               (p.brightness, p.translation_x, p.cutout_y))


# policies and validation


@pytest.mark.parametrize("policy", ["", "   ", " , "])
def test_empty_policy_is_identity(policy):
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(DiffAugment(policy)(x), x)


def test_policy_attribute_and_repr():
    augment = DiffAugment(" color , cutout", cutout_ratio=0.25)
    assert augment.policy == "color,cutout"
    assert augment.ops == ("brightness", "saturation", "contrast", "cutout")
    assert "policy='color,cutout'" in repr(augment) and "cutout_ratio=0.25" in repr(augment)


def test_unknown_policy_name_is_rejected():
    with pytest.raises(ValueError, match="'colour'.*color, brightness, saturation"):
        DiffAugment("colour,translation")
    with pytest.raises(ValueError, match="twice"):
        DiffAugment("color,brightness")


@pytest.mark.parametrize("kwargs", [
    dict(translation_ratio=1.0), dict(translation_ratio=-0.1), dict(translation_ratio=math.nan),
    dict(translation_ratio=math.inf), dict(cutout_ratio=0.0), dict(cutout_ratio=1.5),
    dict(cutout_ratio=math.nan), dict(cutout_ratio=-math.inf),
])
def test_bad_ratios_are_rejected(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DiffAugment(**kwargs)


def test_boundary_ratios_are_accepted():
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(DiffAugment("translation", translation_ratio=0.0)(x), x)
    out = DiffAugment("cutout", cutout_ratio=1.0)(x)
    assert out.shape == x.shape


@pytest.mark.parametrize("images", [
    torch.zeros(3, 8, 8), torch.zeros(1, 2, 3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
    torch.zeros(2, 3, 8, 8, dtype=torch.int64),
])
def test_bad_images_are_rejected(images):
    with pytest.raises(ValueError, match="DiffAugment expects"):
        DiffAugment()(images)


def test_incomplete_parameters_are_rejected():
    x = torch.zeros(2, 3, 8, 8)
    augment = DiffAugment("brightness,translation")
    with pytest.raises(ValueError, match="translation_x"):
        augment.apply(x, AugmentParameters(brightness=torch.zeros(2)))
    with pytest.raises(ValueError, match="shape"):
        augment.apply(x, fixed_parameters(3))
    with pytest.raises(ValueError, match="integer"):
        augment.apply(x, AugmentParameters(brightness=torch.zeros(2), translation_x=torch.zeros(2),
                                           translation_y=torch.zeros(2)))


# randomness


def test_seeded_generator_is_deterministic():
    x = torch.randn(8, 3, 16, 16)
    augment = DiffAugment()
    first = augment(x, torch.Generator().manual_seed(7))
    assert torch.equal(first, augment(x, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, augment(x, torch.Generator().manual_seed(8)))


def test_generator_leaves_the_global_rng_alone():
    x = torch.randn(8, 3, 16, 16)
    augment = DiffAugment()
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = augment(x, torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2)
    assert torch.equal(first, augment(x, torch.Generator().manual_seed(7)))


def test_global_rng_without_generator():
    x = torch.randn(8, 3, 16, 16)
    augment = DiffAugment()
    torch.manual_seed(3)
    first = augment(x)
    torch.manual_seed(3)
    assert torch.equal(first, augment(x))
    assert not torch.equal(first, augment(x))


def test_forward_is_apply_of_sample_parameters():
    x = torch.randn(4, 3, 8, 12)
    augment = DiffAugment()
    params = augment.sample_parameters(x, torch.Generator().manual_seed(5))
    assert torch.equal(augment(x, torch.Generator().manual_seed(5)), augment.apply(x, params))
    # From a shape, the same generator gives the same draws.
    from_shape = augment.sample_parameters(x.shape, torch.Generator().manual_seed(5))
    assert torch.equal(from_shape.cutout_x, params.cutout_x)


def test_same_parameters_augment_a_pair_alike():
    augment = DiffAugment("translation,cutout")
    a, b = torch.rand(4, 3, 8, 8) + 1, torch.rand(4, 1, 8, 8) + 1  # no zero before augmenting
    params = augment.sample_parameters(a, torch.Generator().manual_seed(0))
    assert torch.equal(augment.apply(a, params)[:, :1] == 0, augment.apply(b, params) == 0)


# dtypes and devices


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_dtype_is_preserved(dtype):
    x = torch.randn(4, 3, 8, 8).to(dtype).requires_grad_(True)
    augment = DiffAugment()
    params = augment.sample_parameters(x, torch.Generator().manual_seed(0))
    out = augment.apply(x, params)
    out.float().sum().backward()
    assert out.dtype == dtype and x.grad.dtype == dtype
    expected = reference(x.detach().double(), params, augment.policy)
    tolerance = {torch.bfloat16: 0.05, torch.float16: 0.01}.get(dtype, 1e-5)
    torch.testing.assert_close(out.double(), expected, rtol=tolerance, atol=tolerance)


def test_non_contiguous_input():
    x = torch.randn(3, 8, 8, 3, dtype=torch.float64).permute(0, 3, 1, 2)
    augment = DiffAugment()
    params = augment.sample_parameters(x)
    torch.testing.assert_close(augment.apply(x, params), reference(x, params, augment.policy),
                               rtol=0, atol=1e-12)


def test_empty_batch():
    assert DiffAugment()(torch.zeros(0, 3, 8, 8)).shape == (0, 3, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_images_with_cpu_generator():
    x = torch.randn(4, 3, 16, 16, device="cuda")
    augment = DiffAugment()
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.device == x.device
    expected = augment(x.cpu(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.cpu(), expected)


def test_module_apply_with_a_function_still_recurses():
    # DiffAugment.apply(images, params) shadows nn.Module.apply(fn); the latter must keep working.
    model = torch.nn.Sequential(DiffAugment(), torch.nn.Linear(2, 2))
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["DiffAugment", "Linear", "Sequential"]
    with pytest.raises(ValueError, match="params"):
        DiffAugment().apply(torch.zeros(1, 3, 4, 4))
