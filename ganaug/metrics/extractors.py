"""Pluggable feature extractors: Inception-v3, a TorchScript file, or any ``nn.Module``.

Every extractor maps images in [-1, 1] (N, C, H, W) to ``(features (N, D), logits (N, K) or
None)``: features feed FID, KID, precision / recall; logits feed the Inception Score. Each one
knows its identity (:meth:`FeatureExtractor.identity`: name, SHA-256 of its weights, input
format, resize), which is stored with every result and in every cached reference statistic.

- :class:`InceptionV3`: the TF 2015-12-05 Inception weights of the FID reference code, through
  torch-fidelity's ``FeatureExtractorInceptionV3`` (pool3 2048 features, "unbiased" logits for IS
  as torch-fidelity uses). Downloaded by torch-fidelity on first use into the ``torch.hub`` cache,
  or read from ``weights_path`` on machines without internet.
- :class:`TorchScriptExtractor`: a TorchScript file mapping images to features, the format of
  stylegan2-ada-pytorch's ``inception-2015-12-05.pt`` (uint8 in, ``return_features=True``) and
  clean-fid.
- :class:`ModuleExtractor`: any module, e.g. a classifier trained on the real data; gives a
  "domain" FID and IS for data unlike ImageNet (MNIST digits).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.images import from_uint8
from ganaug.metrics.protocol import (
    QUANTISATION,
    RESIZE_TF1X_BILINEAR,
    resize_tf1x_bilinear,
    to_extractor_uint8,
)
from ganaug.serialization import load_file

__all__ = [
    "FeatureExtractor",
    "InceptionV3",
    "ModuleExtractor",
    "TorchScriptExtractor",
    "build_extractor",
    "weights_sha256",
]


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and values, in key order)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def split_outputs(outputs: Any, where: str) -> tuple[Tensor, Tensor | None]:
    """Read ``(features, logits)`` from what a network returned: a tensor, a pair or a dict."""
    if isinstance(outputs, Tensor):
        features, logits = outputs, None
    elif isinstance(outputs, dict) and "features" in outputs:
        features, logits = outputs["features"], outputs.get("logits")
    elif isinstance(outputs, (tuple, list)) and len(outputs) == 2:
        features, logits = outputs
    else:
        raise ValueError(f"{where} must return features (N, D), a pair (features, logits) or a "
                         f"dict with 'features' (and 'logits'); got {type(outputs).__name__}")
    features = features.flatten(1).float()
    return features, (logits.flatten(1).float() if logits is not None else None)


class FeatureExtractor(nn.Module):
    """Base class: images in [-1, 1] -> ``(features (N, D), logits (N, K) or None)``.

    Subclasses implement :meth:`extract` and fill ``name``, ``input_format`` and ``resize``.
    The extractor is frozen and always in eval mode.
    """

    name: str = "extractor"
    input_format: str = ""
    resize: str = "none"

    def __init__(self) -> None:
        super().__init__()
        self._hash: str | None = None

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():
            return self.extract(images)

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # frozen: BatchNorm must keep its statistics

    def identity(self) -> dict[str, Any]:
        """Name, weights hash and the image protocol: what makes two results comparable.

        The hash is computed on the first call and kept: extractors are frozen.
        """
        if self._hash is None:
            self._hash = weights_sha256(self)
        return {"name": self.name, "weights_sha256": self._hash, "input": self.input_format,
                "quantisation": QUANTISATION, "resize": self.resize}

    def feature_dims(self, image_shape: tuple[int, int, int]) -> tuple[int, int | None]:
        """(feature dimension, logit count or None) for images of shape (C, H, W)."""
        device = next((t.device for t in self.state_dict().values()), torch.device("cpu"))
        # a black and a white image: valid images in [-1, 1] (zeros alone would trip the warning
        # for images in [0, 1] that every extractor's input check gives)
        probe = torch.tensor([-1.0, 1.0], device=device).view(2, 1, 1, 1).expand(2, *image_shape)
        features, logits = self(probe.contiguous())
        return features.shape[1], (logits.shape[1] if logits is not None else None)


class InceptionV3(FeatureExtractor):
    """Inception-v3 with the TF 2015-12-05 FID weights, via torch-fidelity.

    Input: RGB, or grayscale repeated to RGB; uint8; resized to 299 x 299 inside
    torch-fidelity's network with the TF 1.x bilinear filter. Features: pool3 (2048); logits:
    the 1008 "unbiased" logits (no bias term) that torch-fidelity's IS uses.
    """

    name = "inception-v3-tf-2015-12-05"
    input_format = "uint8 RGB (grayscale repeated)"
    resize = f"299x299, {RESIZE_TF1X_BILINEAR}"

    def __init__(
        self,
        *,
        weights_path: str | None = None,  # local weights file; None = torch-fidelity's download
        repeat_grayscale: bool = True,  # repeat 1-channel images to RGB instead of refusing them
    ) -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        if weights_path is not None:
            # torch-fidelity reads the file with weights_only=False: read it safely first, so a
            # file holding anything but tensors and plain values is refused before that
            load_file(weights_path, kind="Inception weights file", mmap=True)
        self.repeat_grayscale = repeat_grayscale
        self.network = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"],
            feature_extractor_weights_path=None if weights_path is None else str(weights_path))

    def feature_dims(self, image_shape: tuple[int, int, int]) -> tuple[int, int | None]:
        return 2048, 1008  # known: no probing pass through the network

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        pixels = to_extractor_uint8(images, rgb=True, repeat_grayscale=self.repeat_grayscale)
        features, logits = self.network(pixels)
        return features.float(), logits.float()


class TorchScriptExtractor(FeatureExtractor):
    """A TorchScript file that maps images to features (or to ``(features, logits)``).

    ``input="uint8"`` passes uint8 pixels (stylegan2-ada's Inception file, which resizes
    itself); ``"float255"`` passes float pixels in [0, 255] (clean-fid); ``"float"`` passes float
    images in [-1, 1] after the uint8 round trip. ``resize`` resizes with the TF 1.x bilinear
    filter first; ``call_kwargs`` are passed on each call (``{"return_features": True}`` for
    stylegan2-ada's file).
    """

    def __init__(
        self,
        path: str,  # the TorchScript file (torch.jit.save)
        *,
        input: str = "uint8",  # "uint8", "float255" or "float" (see the class docstring)
        resize: int | None = None,  # resize to resize x resize first; None = native size
        call_kwargs: dict[str, Any] | None = None,  # keyword arguments of every call
        repeat_grayscale: bool = True,  # repeat 1-channel images to RGB
        rgb: bool = True,  # the network takes 3 channels
        name: str | None = None,  # the name in results; None = the file name
    ) -> None:
        super().__init__()
        if input not in ("uint8", "float255", "float"):
            raise ValueError(f"input must be 'uint8', 'float255' or 'float', got {input!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"no TorchScript file at {path}")
        try:
            self.network = torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as error:
            raise ValueError(f"{path} is not a TorchScript file (torch.jit.save): {error}") from None
        self.input = input
        self.size = resize
        self.call_kwargs = dict(call_kwargs or {})
        self.repeat_grayscale = repeat_grayscale
        self.rgb = rgb
        self.name = name or Path(path).name
        self.input_format = {"uint8": "uint8", "float255": "float [0, 255]",
                             "float": "float [-1, 1] after uint8"}[input] + (" RGB" if rgb else "")
        self.resize = f"{resize}x{resize}, {RESIZE_TF1X_BILINEAR}" if resize else \
            "none (native size; the network may resize itself)"

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        pixels = to_extractor_uint8(images, rgb=self.rgb, repeat_grayscale=self.repeat_grayscale)
        if self.size is not None:
            resized = resize_tf1x_bilinear(pixels, self.size)
            pixels = resized.round().clamp(0, 255).to(torch.uint8) if self.input == "uint8" \
                else resized
        if self.input == "float255":
            pixels = pixels.float()
        elif self.input == "float":
            pixels = from_uint8(pixels)
        return split_outputs(self.network(pixels, **self.call_kwargs), f"TorchScript {self.name}")


class ModuleExtractor(FeatureExtractor):
    """Any ``nn.Module`` mapping images in [-1, 1] to features, ``(features, logits)`` or a dict.

    The images pass through the same uint8 quantisation as for Inception (and back to [-1, 1]),
    at their native size and channel count, so real and generated images are treated alike. A
    classifier trained on the real data makes a "domain" FID (its penultimate features) and IS
    (its logits) for data unlike ImageNet.
    """

    input_format = "float [-1, 1] after uint8, native channels"
    resize = "none (native size)"

    def __init__(
        self,
        module: nn.Module,  # images (N, C, H, W) in [-1, 1] -> features / (features, logits)
        *,
        name: str | None = None,  # the name in results; None = the module's class name
    ) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.network = module
        self.name = name or type(module).__name__

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        pixels = to_extractor_uint8(images, rgb=False)
        quantised = from_uint8(pixels)
        return split_outputs(self.network(quantised), f"module {self.name}")


def build_extractor(
    spec: str | nn.Module = "inception",
    *,
    weights_path: str | None = None,
    **kwargs: Any,
) -> FeatureExtractor:
    """An extractor from a short description.

    ``"inception"`` (with an optional local ``weights_path``), a path to a TorchScript file
    (``"torchscript:PATH"`` or a path ending in ``.pt`` / ``.pth`` / ``.ts``; ``kwargs`` go to
    :class:`TorchScriptExtractor`), a :class:`FeatureExtractor` (returned as is) or any other
    ``nn.Module`` (wrapped in :class:`ModuleExtractor`).
    """
    if isinstance(spec, FeatureExtractor):
        return spec
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec, **kwargs)
    if spec == "inception":
        return InceptionV3(weights_path=weights_path, **kwargs)
    path = spec.removeprefix("torchscript:")
    if spec.startswith("torchscript:") or Path(path).suffix in (".pt", ".pth", ".ts"):
        return TorchScriptExtractor(path, **kwargs)
    raise ValueError(f"unknown feature extractor {spec!r}: use 'inception', 'torchscript:PATH' "
                     "or pass an nn.Module")
