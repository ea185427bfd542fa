"""Time one training step of the default study's networks in NCHW against NHWC (``channels_last``),
at 1 and 2 torch threads, side by side.

- ``small_cnn``: one Adam step of the study's classifier on a batch of 64 MNIST-sized images
  (forward, cross-entropy, backward, step), with ``ClassifierModule(channels_last=...)``.
- ``cgan``: one iteration of the default study's conditional GAN (width 16, ADC term, mode
  seeking), i.e. a discriminator step and a generator step on a batch of 64, called through the
  module's own ``discriminator_losses`` / ``generator_losses``, with
  ``GANModule(channels_last=...)`` and both ``mode_seeking_pairs``.

Each row runs in a fresh interpreter state of its own thread count (``torch.set_num_threads``);
``torch.utils.benchmark`` reports the median of several blocks. Run with
``.venv/bin/python benchmarks/channels_last.py``; record results in docs/benchmarks.md with the
machine.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import torch
from torch.utils import benchmark

from ganaug.classify import ClassifierModule
from ganaug.modules import ConditionalGAN
from ganaug.study.config import StudyConfig

BATCH = 64


def classifier_step(channels_last: bool) -> Callable[[], None]:
    """One Adam step of the study's small CNN on a fixed batch."""
    model = ClassifierModule(architecture="small_cnn", num_classes=10, channels=1, image_size=28,
                             optimizer="adam", lr=1e-3, seed=0, channels_last=channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = torch.Generator().manual_seed(0)
    images = torch.rand(BATCH, 1, 28, 28, generator=rng) * 2 - 1
    labels = torch.randint(0, 10, (BATCH,), generator=rng)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def gan_iteration(channels_last: bool, pairs: str) -> Callable[[], None]:
    """One D step and one G step of the default study's conditional GAN on a fixed batch."""
    options = {**StudyConfig.quick().gan_options, "channels_last": channels_last,
               "mode_seeking_pairs": pairs}
    model = ConditionalGAN(num_classes=10, channels=1, image_size=28, seed=0, **options)
    opt_g, opt_d = model.configure_optimizers()
    model._rng = torch.Generator().manual_seed(0)  # the step generator Lightning would seed
    rng = torch.Generator().manual_seed(1)
    real = torch.rand(BATCH, 1, 28, 28, generator=rng) * 2 - 1
    labels = torch.arange(BATCH) % 10

    def step() -> None:
        for optimizer, losses in ((opt_d, model.discriminator_losses),
                                  (opt_g, model.generator_losses)):
            loss = losses(real, labels)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return step


def milliseconds(step: Callable[[], None], threads: int) -> float:
    torch.set_num_threads(threads)
    step()  # the first call allocates and picks oneDNN kernels
    timer = benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=3.0).median * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}")
    rows = [("small_cnn step", lambda cl: classifier_step(cl)),
            ("cgan iteration, mode seeking extra", lambda cl: gan_iteration(cl, "extra")),
            ("cgan iteration, mode seeking split", lambda cl: gan_iteration(cl, "split"))]
    print("| what | threads | NCHW ms | channels_last ms | speed-up |")
    print("| --- | --- | --- | --- | --- |")
    for name, make in rows:
        for threads in args.threads:
            plain = milliseconds(make(False), threads)
            fast = milliseconds(make(True), threads)
            print(f"| {name} | {threads} | {plain:.1f} | {fast:.1f} | {plain / fast:.2f}x |")


if __name__ == "__main__":
    main()
