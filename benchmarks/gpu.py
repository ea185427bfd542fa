"""The GPU figures the docs lack, measured in one run of a few minutes on one GPU.

1. One DiffAugment-BigGAN CIFAR-10 iteration (width 64, 4 D steps and 1 G step on batches of
   50, as ``benchmarks/biggan.py`` times it: the Lightning module under ``Trainer.fit``) in
   fp32, in ``bf16-mixed`` and in ``bf16-mixed`` with ``torch.compile`` of G and D.
2. DiffAugment (``color,translation,cutout``, forward and backward) on the device against the
   published implementation's way of computing it (``benchmarks/augment.py``: separate colour
   passes, meshgrid gathers, index-put cutout); both run on the same parameters first and must
   agree.
3. FID feature extraction: images per second through Inception-v3 (torch-fidelity's network,
   32 px images resized to 299 inside) with ``GenerativeEvaluator``; random-init weights in
   torch-fidelity's format, since the network's cost does not depend on its values.
4. One training step of the paper's classifiers (DenseNet-40, DIANet-56; batch 64, 32 px, SGD),
   the ``t_D`` and ``t_I`` of the resource arithmetic in docs/scaling.md.
5. The default study, ``ganaug study --accelerator gpu`` (``configs/study/mnist5k.yaml``), in a
   fresh folder: its wall time and the classic and GAN + classic errors.

Prints one Markdown table and appends it, headed by the device's name and the date, to
``--append`` (default docs/benchmarks.md). Run it through ``benchmarks/gpu.sh``, which refuses
to start without a GPU. ``--device cpu --quick`` is a dry run of every part at toy sizes (the
compiled BigGAN row is skipped, the study is the test suite's tiny one), which the tests run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils import benchmark

# the sibling benchmarks this one reuses (run as a script, this folder is on sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from augment import published_way  # noqa: E402
from biggan import BATCH, D_STEPS, run_ours  # noqa: E402
from metrics import random_weights  # noqa: E402

from ganaug.augment import DiffAugment  # noqa: E402
from ganaug.classify import build_classifier  # noqa: E402
from ganaug.cli import main as ganaug_main  # noqa: E402
from ganaug.metrics import GenerativeEvaluator, InceptionV3  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POLICY = "color,translation,cutout"


@dataclass
class Sizes:
    """How big each part is: the real measurement, or the dry run of ``--quick``."""

    biggan_width: int
    biggan_iterations: int
    augment_shape: tuple[int, int, int, int]
    fid_images: int
    fid_batch: int
    classifier_batch: int
    classifier_steps: int
    warmup: int  # untimed BigGAN iterations and classifier steps before the timed ones

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(2, 1, (8, 3, 32, 32), 4, 2, 2, 1, 1)
        return cls(64, 10, (256, 3, 32, 32), 5000, 250, 64, 30, 3)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def biggan_rows(device: torch.device, sizes: Sizes, quick: bool) -> list[tuple[str, str, str]]:
    """ms per iteration of the Lightning BigGAN in fp32, bf16 and bf16 + torch.compile."""
    what = f"BigGAN CIFAR iteration (width {sizes.biggan_width}, {D_STEPS} D + 1 G step, batch {BATCH})"
    rows, fp32 = [], None
    settings = [("fp32", "fp32", False), ("bf16-mixed", "bf16", False),
                ("bf16-mixed + torch.compile", "bf16", True)]
    for label, precision, compiled in settings:
        if compiled and quick:
            rows.append((what, label, "skipped in the --quick dry run"))
            continue
        warmup = sizes.warmup + compiled  # compiling happens in the first iterations
        args = argparse.Namespace(width=sizes.biggan_width, device=device.type,
                                  precision=precision, channels_last=False, compile=compiled)
        torch.manual_seed(0)
        times = run_ours(args, warmup + sizes.biggan_iterations + 1)[0][warmup:]
        seconds = statistics.median(wall for wall, _ in times)
        fp32 = fp32 or seconds
        rows.append((what, label, f"{seconds * 1e3:.1f} ms ({D_STEPS * BATCH / seconds:.0f} real "
                                  f"images / s; {fp32 / seconds:.2f}x fp32)"))
    return rows


def augment_rows(device: torch.device, sizes: Sizes) -> list[tuple[str, str, str]]:
    """DiffAugment forward + backward against the published way, after checking they agree."""
    augment = DiffAugment(POLICY)
    x = torch.randn(sizes.augment_shape, device=device, requires_grad=True)
    grad = torch.randn(sizes.augment_shape, device=device)
    params = augment.sample_parameters(x, torch.Generator(device=device).manual_seed(0))
    error = (augment.apply(x, params) - published_way(x, params)).abs().max().item()
    if error > 1e-5:
        raise SystemExit(f"DiffAugment and the published way disagree by {error:.2e} on {device}")
    what = f"DiffAugment {POLICY}, forward + backward, {'x'.join(map(str, sizes.augment_shape))}"
    times = {}
    for name, fn in (("published way", published_way), ("ganaug", augment)):
        timer = benchmark.Timer("torch.autograd.grad(fn(x), x, grad)",
                                globals={"fn": fn, "x": x, "grad": grad, "torch": torch})
        times[name] = timer.blocked_autorange(min_run_time=0.5).median
    speedup = times["published way"] / times["ganaug"]
    return [(what, "published way", f"{times['published way'] * 1e6:.0f} µs"),
            (what, "ganaug", f"{times['ganaug'] * 1e6:.0f} µs ({speedup:.1f}x; outputs agree "
                             f"to {error:.0e})")]


def fid_rows(device: torch.device, sizes: Sizes, folder: Path) -> list[tuple[str, str, str]]:
    """Images per second through Inception-v3 in GenerativeEvaluator.update."""
    weights = random_weights(folder / "inception.pth")
    evaluator = GenerativeEvaluator(InceptionV3(weights_path=str(weights)), image_shape=(3, 32, 32),
                                    metrics=("fid",)).to(device)
    images = torch.rand(sizes.fid_images, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    images = (images * 2 - 1).to(device)
    evaluator.update(images[: sizes.fid_batch], real=True)  # warm-up: kernels, allocator
    synchronize(device)
    started = time.perf_counter()
    for chunk in images.split(sizes.fid_batch):
        evaluator.update(chunk, real=False)
    synchronize(device)
    rate = sizes.fid_images / (time.perf_counter() - started)
    return [(f"FID feature extraction (Inception-v3, 32 px resized to 299, {sizes.fid_images} "
             f"images)", f"batch {sizes.fid_batch}", f"{rate:.0f} images / s")]


def classifier_rows(device: torch.device, sizes: Sizes) -> list[tuple[str, str, str]]:
    """Median time of one SGD training step of DenseNet-40 and DIANet-56 (fp32)."""
    rows = []
    for name in ("densenet40", "dianet56"):
        torch.manual_seed(0)
        network = build_classifier(name, num_classes=10, channels=3, image_size=32).to(device)
        optimizer = torch.optim.SGD(network.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        images = torch.randn(sizes.classifier_batch, 3, 32, 32, device=device)
        labels = torch.randint(0, 10, (sizes.classifier_batch,), device=device)
        times = []
        for step in range(sizes.warmup + sizes.classifier_steps):
            synchronize(device)
            started = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(network(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            synchronize(device)
            if step >= sizes.warmup:
                times.append(time.perf_counter() - started)
        rows.append((f"{name} training step (batch {sizes.classifier_batch}, 32 px, SGD)", "fp32",
                     f"{statistics.median(times) * 1e3:.1f} ms"))
    return rows


TINY_STUDY = """dataset: digits
image_size: 28
n_per_class: 4
test_per_class: 3
seeds: [0]
ratios: [1.0]
classic_augment: flip
variants: [{name: plain}]
gan_arms: [gan+classic]
max_steps: 3
batch_size: 8
gan_options: {latent_dim: 8, g_width: 4, d_width: 4, grid_size: 10}
gan_max_steps: 4
gan_batch_size: 8
judge_per_class: 5
"""


def study_rows(device: torch.device, quick: bool, folder: Path) -> list[tuple[str, str, str]]:
    """The default study (the tiny one with --quick) through the command, in a fresh folder."""
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    command = ["study", "--out", str(folder / "study"), "--accelerator", accelerator]
    if quick:
        (folder / "tiny.yaml").write_text(TINY_STUDY)
        command += ["--config", str(folder / "tiny.yaml")]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the command's table: read from its files
        ganaug_main(command)
    wall = time.perf_counter() - started
    rows = json.loads((folder / "study" / "summary.json").read_text())
    errors = {row["arm"]: f"{row['error_mean']:.2f} ± {row['error_std']:.2f}" for row in rows
              if row["arm"] in ("classic", "gan+classic") and not row["recipe"]}
    what = ("the tiny study of the tests" if quick else "the default study (mnist5k.yaml)") + \
        f", `ganaug study --accelerator {accelerator}`"
    described = ", ".join(f"{arm} {error} %" for arm, error in errors.items())
    return [(what, "wall time", f"{wall:.0f} s (test error: {described})")]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"CPU ({platform.processor() or platform.machine()})"


def table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| what | setting | result |", "| --- | --- | --- |"]
    lines += [f"| {what} | {setting} | {result} |" for what, setting, result in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, or cpu")
    parser.add_argument("--quick", action="store_true", help="a dry run of every part at toy sizes")
    parser.add_argument("--append", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="the Markdown file the table is appended to")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"benchmarks/gpu.py: --device {args.device} asks for a CUDA GPU and torch "
                         f"{torch.__version__} sees none; run it on a machine with one, or try "
                         f"--device cpu --quick for a dry run")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    sizes = Sizes.of(args.quick)

    with tempfile.TemporaryDirectory() as folder:
        rows = biggan_rows(device, sizes, args.quick)
        rows += augment_rows(device, sizes)
        rows += fid_rows(device, sizes, Path(folder))
        rows += classifier_rows(device, sizes)
        rows += study_rows(device, args.quick, Path(folder))

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    heading = (f"### {device_name(device)}: `benchmarks/gpu.sh`{' --quick dry run' * args.quick}, "
               f"{stamp}, torch {torch.__version__}")
    block = f"{heading}\n\n{table(rows)}\n"
    print(block)
    with open(args.append, "a", encoding="utf-8") as out:
        out.write(f"\n{block}")
    print(f"appended to {args.append}")
    return block


if __name__ == "__main__":
    main()
