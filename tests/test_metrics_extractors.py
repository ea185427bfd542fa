"""Feature extractors offline: Inception-v3 from a weights file the test writes (random init) and
from a patched download, a TorchScript file, any nn.Module; the uint8 protocol and the resize."""

from unittest import mock

import numpy as np
import pytest
import torch
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from torch import nn

from ganaug.metrics import (
    GenerativeEvaluator,
    InceptionV3,
    ModuleExtractor,
    TorchScriptExtractor,
    build_extractor,
)
from ganaug.metrics.protocol import resize_tf1x_bilinear


def write_random_inception(path, seed=0):
    """A weights file in the format torch-fidelity's FeatureExtractorInceptionV3 loads."""
    torch.manual_seed(seed)
    with mock.patch.object(tf_inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None):
        network = tf_inception.FeatureExtractorInceptionV3("random", ["2048"])
    for module in network.modules():  # He init keeps the random features away from zero
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    return write_random_inception(tmp_path_factory.mktemp("inception") / "weights-random.pth")


def reference_uint8(images):
    """Independent quantisation: round half up of 127.5 (x + 1), clipped."""
    return torch.from_numpy(np.clip(np.floor((images.double().numpy() + 1) * 127.5 + 0.5), 0, 255)
                            .astype(np.uint8))


def numpy_tf1x_bilinear(image, size):
    """TF 1.x resize_bilinear(align_corners=False, half_pixel_centers=False), one (C, H, W) image."""
    c, h, w = image.shape
    out = np.zeros((c, size, size))
    for i in range(size):
        y = i * h / size
        y0, y1 = int(np.floor(y)), min(int(np.floor(y)) + 1, h - 1)
        for j in range(size):
            x = j * w / size
            x0, x1 = int(np.floor(x)), min(int(np.floor(x)) + 1, w - 1)
            top = image[:, y0, x0] + (image[:, y0, x1] - image[:, y0, x0]) * (x - x0)
            bottom = image[:, y1, x0] + (image[:, y1, x1] - image[:, y1, x0]) * (x - x0)
            out[:, i, j] = top + (bottom - top) * (y - y0)
    return out


def test_resize_is_tf1x_bilinear_without_antialias():
    image = torch.rand(1, 2, 5, 7) * 255
    ours = resize_tf1x_bilinear(image, 11)[0].double().numpy()
    np.testing.assert_allclose(ours, numpy_tf1x_bilinear(image[0].double().numpy(), 11), atol=1e-3)
    down = resize_tf1x_bilinear(image, 3)[0].double().numpy()  # downsampling: no antialias blur
    np.testing.assert_allclose(down, numpy_tf1x_bilinear(image[0].double().numpy(), 3), atol=1e-3)


def test_inception_from_a_local_weights_file(inception_file):
    extractor = InceptionV3(weights_path=str(inception_file))
    grey = torch.rand(1, 1, 12, 12) * 2 - 1
    grey[0, 0, 0, 0] = 1.0  # the edge value must not wrap around to 0
    features, logits = extractor(grey)
    assert features.shape == (1, 2048) and logits.shape == (1, 1008)
    # the same network called directly on independently quantised pixels, grey repeated to RGB
    direct = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                      feature_extractor_weights_path=str(inception_file))
    expected_features, expected_logits = direct(reference_uint8(grey).repeat(1, 3, 1, 1))
    torch.testing.assert_close(features, expected_features)
    torch.testing.assert_close(logits, expected_logits)
    assert features.std() > 1e-3  # the random weights do not collapse everything
    identity = extractor.identity()
    assert identity["name"] == "inception-v3-tf-2015-12-05" and len(identity["weights_sha256"]) == 64
    assert "299x299" in identity["resize"] and "no antialias" in identity["resize"]


def test_inception_downloads_through_torch_fidelity_when_no_path_is_given(inception_file):
    calls = []

    def fake_download(url, progress=True):
        calls.append(url)
        return torch.load(inception_file, weights_only=False)

    with mock.patch.object(tf_inception, "load_state_dict_from_url", fake_download):
        extractor = build_extractor("inception")
    assert calls and calls[0].endswith("weights-inception-2015-12-05-6726825d.pth")
    local = InceptionV3(weights_path=str(inception_file))
    assert extractor.identity()["weights_sha256"] == local.identity()["weights_sha256"]


def test_inception_refuses_bad_images(inception_file):
    extractor = InceptionV3(weights_path=str(inception_file), repeat_grayscale=False)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        extractor(torch.rand(2, 3, 8, 8) * 3)
    with pytest.raises(ValueError, match="needs RGB images.*repeat_grayscale=True"):
        extractor(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="got 2 channel"):
        extractor(torch.rand(2, 2, 8, 8))
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        extractor(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="floating point"):
        extractor(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(FileNotFoundError):
        InceptionV3(weights_path="/nonexistent/weights.pth")


def test_full_inception_path_through_the_evaluator(inception_file, monkeypatch):
    # 75 x 75 (Inception's smallest input) instead of 299 x 299 keeps this test cheap
    monkeypatch.setattr(tf_inception.FeatureExtractorInceptionV3, "INPUT_IMAGE_SIZE", 75)
    extractor = InceptionV3(weights_path=str(inception_file))
    # FID's maths is the same for every extractor (tested in test_metrics_maths.py); with two
    # samples in 2048 dimensions it would only time a singular eigendecomposition
    evaluator = GenerativeEvaluator(extractor, image_shape=(1, 8, 8), metrics=("is", "kid", "pr"),
                                    is_splits=2, kid_subsets=2, pr_k=1)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(2, 1, 8, 8, generator=g) * 2 - 1, torch.rand(2, 1, 8, 8, generator=g) - 0.5
    evaluator.update(real, real=True)
    evaluator.update(fake, real=False)
    with pytest.warns(UserWarning, match="KID subset_size lowered"):
        result = evaluator.compute()
    assert set(result.values) == {"is", "is_std", "kid", "kid_std", "precision", "recall"}
    assert np.isfinite(list(result.values.values())).all() and result.values["kid"] != 0
    assert result.counts["kid"] == {"real": 2, "generated": 2}
    assert result.extractor == extractor.identity()
    table = result.table()
    assert "kid" in table and "2 / 2" in table and extractor.identity()["weights_sha256"] in table


class TinyFeatures(nn.Module):
    """Pools, then a linear map: features (N, 6)."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.linear = nn.Linear(channels * 4, 6)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(x.float() / 255.0, 2).flatten(1)
        out = self.linear(pooled)
        return out if return_features else out.softmax(dim=1)


def test_torchscript_file_with_uint8_input_and_resize(tmp_path):
    torch.manual_seed(0)
    module = TinyFeatures()
    path = tmp_path / "features.pt"
    torch.jit.save(torch.jit.script(module), str(path))
    extractor = build_extractor(str(path), resize=10, call_kwargs={"return_features": True})
    assert isinstance(extractor, TorchScriptExtractor)
    images = torch.rand(3, 1, 6, 6) * 2 - 1
    features, logits = extractor(images)
    assert logits is None
    pixels = reference_uint8(images).repeat(1, 3, 1, 1)
    resized = np.stack([numpy_tf1x_bilinear(p.double().numpy(), 10) for p in pixels])
    expected = module(torch.from_numpy(np.clip(np.floor(resized + 0.5), 0, 255)).to(torch.uint8),
                      return_features=True)
    torch.testing.assert_close(features, expected.detach())
    identity = extractor.identity()
    assert identity["name"] == "features.pt" and "10x10" in identity["resize"]
    assert identity["weights_sha256"] == build_extractor(f"torchscript:{path}").identity()["weights_sha256"]
    # float [-1, 1] input at native size
    as_float = TorchScriptExtractor(str(path), input="float", rgb=False)
    assert as_float(images.repeat(1, 3, 1, 1))[0].shape == (3, 6)


def test_torchscript_refuses_missing_and_non_torchscript_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        TorchScriptExtractor(str(tmp_path / "absent.pt"))
    plain = tmp_path / "plain.pt"
    torch.save({"not": "a script"}, plain)
    with pytest.raises(ValueError, match="not a TorchScript file"):
        TorchScriptExtractor(str(plain))
    with pytest.raises(ValueError, match="input must be"):
        TorchScriptExtractor(str(plain), input="bgr")
    with pytest.raises(ValueError, match="unknown feature extractor"):
        build_extractor("vgg")


class Classifier(nn.Module):
    """Features and logits, as a classifier trained on the real data would give."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16, 5), nn.Tanh())
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        features = self.body(x)
        return features, self.head(features)


def test_module_extractor_quantises_and_reads_pairs_and_dicts():
    torch.manual_seed(0)
    classifier = Classifier()
    extractor = build_extractor(classifier)
    assert isinstance(extractor, ModuleExtractor) and extractor.name == "Classifier"
    images = torch.randint(0, 256, (4, 1, 4, 4)) / 127.5 - 1  # on the uint8 grid
    features, logits = extractor(images)
    quantised = reference_uint8(images).float() / 127.5 - 1
    expected_features, expected_logits = classifier(quantised)
    torch.testing.assert_close(features, expected_features.detach())
    torch.testing.assert_close(logits, expected_logits.detach())
    # changes below half a quantisation step do not change the features
    torch.testing.assert_close(extractor((images + 3e-3).clamp(-1, 1))[0], features)
    assert extractor.feature_dims((1, 4, 4)) == (5, 3)

    as_dict = ModuleExtractor(nn.Sequential(nn.Flatten(), _Dict()))
    assert as_dict(images)[1] is None and as_dict(images)[0].shape == (4, 16)
    with pytest.raises(ValueError, match="must return features"):
        ModuleExtractor(nn.Sequential(nn.Flatten(), _Bad()))(images)
    with pytest.raises(ValueError, match="needs logits"):
        GenerativeEvaluator(as_dict, image_shape=(1, 4, 4), metrics=("fid", "is"))


class _Dict(nn.Module):
    def forward(self, x):
        return {"features": x}


class _Bad(nn.Module):
    def forward(self, x):
        return [x, x, x]


def test_evaluator_refuses_mismatched_images_missing_labels_and_unknown_metrics():
    extractor = ModuleExtractor(Classifier())
    with pytest.raises(ValueError, match="subset of"):
        GenerativeEvaluator(extractor, image_shape=(1, 4, 4), metrics=("fid", "lpips"))
    with pytest.raises(ValueError, match="num_classes >= 1"):
        GenerativeEvaluator(extractor, image_shape=(1, 4, 4), metrics=("class_fid",))
    evaluator = GenerativeEvaluator(extractor, image_shape=(1, 4, 4), metrics=("fid", "class_fid"),
                                    num_classes=2)
    with pytest.raises(ValueError, match=r"shape \(N, 1, 4, 4\)"):
        evaluator.update(torch.zeros(2, 1, 5, 5), real=True)
    with pytest.raises(ValueError, match="needs the labels"):
        evaluator.update(torch.zeros(2, 1, 4, 4), real=True)
    with pytest.raises(ValueError, match="empty"):
        evaluator.update(torch.zeros(0, 1, 4, 4), real=True)


def test_evaluator_probe_gives_no_range_warning():
    """Building an evaluator probes the extractor for its dimensions; that probe must not trip
    the warning for images in [0, 1], which is about the user's images, not ours."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluator = GenerativeEvaluator(ModuleExtractor(Classifier()), image_shape=(1, 4, 4),
                                        metrics=("fid", "kid", "pr"))
    assert evaluator is not None
    # the warning itself still reaches a user's images that look like [0, 1]
    with pytest.warns(UserWarning, match=r"looks like images in \[0, 1\]"):
        evaluator.update(torch.rand(4, 1, 4, 4), real=True)
