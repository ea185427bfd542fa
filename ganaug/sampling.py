"""Class-balanced drawing: the labels of ``n`` images of every class, and one draw with them.

Every place that wants "n images per class" builds its labels with
:func:`class_balanced_labels`, so they agree on counts and order: ``GANModule.generate`` (DAGAN's
and its bound source's too, through :func:`draw_class_balanced`), ``ganaug generate``, the faithfulness draw
of evaluation and GAN selection, the generated images of the generative metrics, and the
fixed-noise sample grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["ClassConditionalSampler", "class_balanced_labels", "draw_class_balanced"]


@runtime_checkable
class ClassConditionalSampler(Protocol):
    """What class-balanced images are drawn from: a conditional GAN module, or anything sampling
    like one (``n`` images of the classes ``labels``, floats in [-1, 1], noise from
    ``generator``)."""

    num_classes: int

    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None, **kwargs: Any
               ) -> Tensor: ...


def class_balanced_labels(
    classes: int | Sequence[int] | Tensor,  # K (the classes 0..K-1), or the classes themselves
    n_per_class: int,  # images of every class
    *,
    interleaved: bool = False,  # False: 0, 0, ..., 1, 1, ...; True: 0, 1, ..., K-1, 0, 1, ...
) -> Tensor:
    """int64 labels (len(classes) * n_per_class,) of ``n_per_class`` images of every class.

    Class-major order (the default) keeps each class's images together, as banks and folders per
    class want. Interleaved order cycles through the classes, so that every prefix is as balanced
    as it can be: a total cut short, a share of processes, one sample of each class per grid row.
    """
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 0:
        raise ValueError(f"n_per_class must be an integer >= 0, got {n_per_class!r}")
    if isinstance(classes, int):
        if classes < 0:
            raise ValueError(f"the number of classes must be >= 0, got {classes}")
        classes = torch.arange(classes)
    classes = torch.as_tensor(classes, dtype=torch.long).reshape(-1)
    if interleaved:
        return classes.repeat(n_per_class)
    return classes.repeat_interleave(n_per_class)


@torch.no_grad()
def draw_class_balanced(
    sampler: ClassConditionalSampler,
    n_per_class: int,  # images of every class
    generator: torch.Generator | None = None,  # RNG of the noise; None = the global one
    *,
    classes: Sequence[int] | Tensor | None = None,  # None = 0 .. num_classes - 1
    batch_size: int = 256,  # images per forward pass
    **sample_options: Any,  # truncation, temperature, ... for sampler.sample
) -> tuple[Tensor, Tensor]:
    """``n_per_class`` images of every class in one ``sampler.sample`` call, class-major:
    ``(images, labels)``, images where the sampler makes them, labels int64 on the CPU."""
    labels = class_balanced_labels(sampler.num_classes if classes is None else classes,
                                   n_per_class)
    images = sampler.sample(len(labels), labels, generator, batch_size=batch_size,
                            **sample_options)
    return images, labels
