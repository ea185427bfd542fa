"""InterpolationSource: images on segments between a real image and one of its k nearest
same-class neighbours (constant images whose segments are known by hand), classes kept,
determinism by generator, a bank and a balanced blend drawn from it, bad input."""

import pytest
import torch

from ganaug.data import (
    ImageDataModule,
    InterpolationSource,
    LabelledImages,
    SyntheticBlendDataModule,
    generate_bank,
)
from ganaug.images import to_uint8
from ganaug.sampling import ClassConditionalSampler

# class 0: constant images of 0, 10, 100, 130; class 1: 200 and 250; class 2: 60 alone
VALUES = [0, 10, 100, 130, 200, 250, 60]
LABELS = [0, 0, 0, 0, 1, 1, 2]


def constant_images() -> LabelledImages:
    images = torch.tensor(VALUES, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)
    return LabelledImages(images.contiguous(), LABELS, num_classes=4)  # class 3 has no image


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """Each image's one value in uint8 units (float, before quantisation)."""
    flat = images.flatten(1)
    assert torch.allclose(flat, flat[:, :1].expand_as(flat))  # still constant images
    return (flat[:, 0] + 1) * 127.5


def test_nearest_neighbour_partners_stay_on_their_segments():
    # with k = 1: 0 <-> 10 and 100 <-> 130, so class 0 never lands strictly between 10 and 100
    source = InterpolationSource(constant_images(), neighbours=1)
    assert isinstance(source, ClassConditionalSampler)
    values = pixel_values(source.sample(400, torch.zeros(400, dtype=torch.long),
                                        torch.Generator().manual_seed(0)))
    tol = 1e-3
    near = ((values > -tol) & (values < 10 + tol)) | ((values > 100 - tol) & (values < 130 + tol))
    assert bool(near.all())
    assert bool((values < 10).any()) and bool((values > 100).any())
    # any partner (k = None): some land between 10 and 100
    anywhere = pixel_values(InterpolationSource(constant_images(), neighbours=None).sample(
        400, torch.zeros(400, dtype=torch.long), torch.Generator().manual_seed(0)))
    assert bool(((anywhere > 10 + tol) & (anywhere < 100 - tol)).any())
    assert bool((anywhere > -tol).all() and (anywhere < 130 + tol).all())


def test_classes_are_kept_and_a_lone_image_is_copied():
    source = InterpolationSource(constant_images())
    labels = torch.tensor([1, 2, 1, 0, 2] * 20)
    values = pixel_values(source.sample(len(labels), labels, torch.Generator().manual_seed(3)))
    ones = values[labels == 1]
    assert bool((ones > 200 - 1e-3).all() and (ones < 250 + 1e-3).all())
    assert torch.allclose(values[labels == 2], torch.full((40,), 60.0), atol=1e-3)
    zeros = values[labels == 0]
    assert bool((zeros > -1e-3).all() and (zeros < 130 + 1e-3).all())


def test_a_seeded_generator_fixes_the_images():
    source = InterpolationSource(constant_images())
    labels = torch.tensor([0, 1, 0, 1, 0])

    def draw(seed):
        return source.sample(5, labels, torch.Generator().manual_seed(seed))

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


def test_a_bank_and_a_balanced_blend_from_interpolated_digits():
    real = ImageDataModule("digits", class_counts=[10, 8, 6, 5, 4, 3, 3, 2, 1, 1],
                           test_per_class=5, batch_size=10)
    real.setup()
    source = InterpolationSource(real.train_dataset, neighbours=3)
    bank = generate_bank(source, [2, 3, 0, 1, 1, 1, 1, 1, 1, 1], seed=0, progress=False)
    assert bank.class_counts().tolist() == [2, 3, 0, 1, 1, 1, 1, 1, 1, 1]
    assert bank.image_shape == real.train_dataset.image_shape
    blend = SyntheticBlendDataModule(real, source, mode="balance", max_synthetic_per_real=2, seed=0)
    blend.setup()
    synthetic = blend.train_dataset.labels[blend.train_dataset.synthetic]
    assert torch.bincount(synthetic, minlength=10).tolist() == [0, 2, 4, 5, 6, 6, 6, 4, 2, 2]
    # the one-image classes 8 and 9 get copies of their image
    for label in (8, 9):
        real_image = real.train_dataset.images[real.train_dataset.labels == label]
        copies = blend.train_dataset.images[blend.train_dataset.synthetic
                                            & (blend.train_dataset.labels == label)]
        assert torch.equal(copies, real_image.expand_as(copies))
    assert to_uint8(source.sample(1, torch.tensor([8]))).equal(
        real.train_dataset.images[real.train_dataset.labels == 8])


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.sample(2, torch.tensor([0, 3])), "class\\(es\\) \\[3\\] have no real image"),
    (lambda s: s.sample(2, torch.tensor([0, 4])), "labels must lie in \\[0, 4\\)"),
    (lambda s: s.sample(3, torch.tensor([0, 1])), "one label per image"),
    (lambda s: s.sample(1, torch.tensor([0]), truncation=1.0), "no latent"),
])
def test_bad_requests_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(InterpolationSource(constant_images()))


@pytest.mark.parametrize(("data", "options", "message"), [
    (None, {}, "LabelledImages"),
    (constant_images(), {"neighbours": 0}, "neighbours must be an integer >= 1"),
])
def test_bad_construction_is_refused(data, options, message):
    with pytest.raises(ValueError, match=message):
        InterpolationSource(data, **options)
