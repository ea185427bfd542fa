"""Reference features: computed once, keyed by the images and the extractor, written atomically."""

from unittest import mock

import pytest
import torch
from metrics_data import ToyClassifier

from ganaug.data import LabelledImages
from ganaug.metrics import ModuleExtractor, load_or_compute_reference
from ganaug.metrics import reference as reference_module


def labelled(seed):
    g = torch.Generator().manual_seed(seed)
    return LabelledImages(torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8, generator=g),
                          torch.arange(12) % 3)


def test_reference_is_cached_and_keyed_by_images_and_extractor(tmp_path):
    extractor = ModuleExtractor(ToyClassifier())
    data = labelled(0)
    first = load_or_compute_reference(data, extractor, description={"dataset": "toy"},
                                      cache_dir=tmp_path, batch_size=5)
    expected = extractor(data.images.float() / 127.5 - 1)[0]
    torch.testing.assert_close(first.features, expected)
    assert torch.equal(first.labels, data.labels)
    assert first.info["extractor"] == extractor.identity() and first.info["count"] == 12
    assert len(list(tmp_path.glob("reference-*.pt"))) == 1
    assert not list(tmp_path.glob("*.tmp"))

    with mock.patch.object(reference_module, "compute_reference", side_effect=AssertionError):
        cached = load_or_compute_reference(data, extractor, cache_dir=tmp_path)
    torch.testing.assert_close(cached.features, first.features)

    # other images, or an extractor with other weights, get their own entry
    load_or_compute_reference(labelled(1), extractor, cache_dir=tmp_path)
    other = ModuleExtractor(ToyClassifier())
    with torch.no_grad():
        other.network.head.add_(1.0)
    load_or_compute_reference(data, other, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("reference-*.pt"))) == 3

    # a plain tensor of images works too, and use_cache=False writes nothing
    plain = load_or_compute_reference(data.images.float() / 127.5 - 1, extractor,
                                      cache_dir=tmp_path / "off", use_cache=False)
    torch.testing.assert_close(plain.features, first.features)
    assert plain.labels is None and not (tmp_path / "off").exists()
    with pytest.raises(ValueError, match="empty"):
        load_or_compute_reference(torch.zeros(0, 1, 8, 8), extractor, use_cache=False)
