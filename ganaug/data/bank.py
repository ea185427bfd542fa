"""Synthetic image banks: class-labelled images drawn from a generator, saved and loaded as files.

A bank is a :class:`~ganaug.data.labelled.LabelledImages` (uint8, like the real data, so real and
synthetic images share one quantisation) plus a record of where it came from. On disk it is a
``.pt`` file ``{"images", "labels", "meta"}``; ``ganaug generate`` writes the same layout with
float images in [-1, 1], which :func:`load_bank` also reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ganaug.atomic import atomic_save
from ganaug.data.labelled import LabelledImages
from ganaug.diversity import DiversityControl, draw_class_bank
from ganaug.images import check_images, to_uint8
from ganaug.sampling import ClassConditionalSampler
from ganaug.serialization import load_file

__all__ = ["ClassConditionalSampler", "generate_bank", "load_bank", "save_bank"]

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def load_bank(path: str | Path) -> LabelledImages:
    """Read a bank file (``{"images", "labels"}``; images uint8 or float in [-1, 1]).

    Float images outside [-1, 1] (pixels in [0, 255] stored as floats, say) are refused, and
    float images that are all >= 0 (likely [0, 1] data) give a warning.
    """
    path = Path(path)
    content = load_file(path, kind="synthetic bank")
    if not isinstance(content, dict) or "images" not in content or content.get("labels") is None:
        raise ValueError(
            f"{path} is not a labelled bank: expected a dict with 'images' and 'labels' (an "
            "unconditional model's samples have no labels and cannot be blended per class)"
        )
    images = content["images"]
    if not isinstance(images, torch.Tensor) or images.dtype not in (torch.uint8, *_FLOATS):
        raise ValueError(f"the images of the bank {path} must be uint8 pixels or floats in "
                         f"[-1, 1], got {getattr(images, 'dtype', type(images).__name__)}")
    if images.is_floating_point():
        check_images(images, name=f"the float images of the bank {path}")
        images = to_uint8(images)
    meta = content.get("meta") or {}
    return LabelledImages(images, content["labels"], num_classes=meta.get("num_classes"))


def save_bank(bank: LabelledImages, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``bank`` to ``path`` atomically (a reader never sees half a file)."""
    record = dict(meta or {}, num_classes=bank.num_classes)
    return atomic_save({"images": bank.images, "labels": bank.labels, "meta": record}, path)


@torch.no_grad()
def generate_bank(
    model: ClassConditionalSampler,
    n_per_class: int | list[int],  # images per class (one count, or one per class)
    *,
    control: DiversityControl | None = None,  # truncation, filtering, selection; None = plain
    referee: nn.Module | None = None,  # classifier of the real data, for filtering / features
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = True,
) -> LabelledImages:
    """Draw a class-balanced bank from a conditional generator with a diversity control."""
    num_classes = getattr(model, "num_classes", 0)
    if not num_classes:
        raise ValueError(
            "a bank needs class labels, but this model is unconditional: train a ConditionalGAN "
            "(or another class-conditional model) to draw class-balanced synthetic data"
        )
    counts = [n_per_class] * num_classes if isinstance(n_per_class, int) else list(n_per_class)
    if len(counts) != num_classes or min(counts) < 0:
        raise ValueError(f"need one count >= 0 per class ({num_classes}), got {n_per_class}")
    control = control or DiversityControl()
    if referee is not None:
        referee.eval()
    device = getattr(model, "device", torch.device("cpu"))
    generator = torch.Generator(device=device).manual_seed(seed)

    def sample(n: int, label: int, rng: torch.Generator) -> Tensor:
        labels = torch.full((n,), label, dtype=torch.long)
        return model.sample(n, labels, rng, batch_size=batch_size, truncation=control.truncation,
                            temperature=control.temperature).cpu()

    images, labels = [], []
    for label in tqdm(range(num_classes), desc="drawing synthetic bank", unit="class",
                      disable=not progress):
        drawn = draw_class_bank(sample, label, counts[label], control, generator=generator,
                                referee=referee)
        images.append(to_uint8(drawn))
        labels.append(torch.full((len(drawn),), label, dtype=torch.long))
    return LabelledImages(torch.cat(images), torch.cat(labels), num_classes=num_classes)
