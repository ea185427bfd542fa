"""The ``ganaug`` command.

- ``ganaug fit``: LightningCLI over any GAN module and datamodule, configured by YAML files
  (``--config configs/cgan_mnist5k.yaml``) and typed flags; the datamodule's class count and
  image shape are linked into the model's constructor.
- ``ganaug generate``: checkpoint -> n images per class, as a tensor file or an image folder
  with one sub-folder per class, plus an optional sample grid PNG.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LightningCLI

from ganaug.data import ImageDataModule
from ganaug.modules import GANModule
from ganaug.modules.loading import load_gan

__all__ = ["GANCLI", "main", "generate", "load_gan"]


class GANCLI(LightningCLI):
    """LightningCLI for GAN modules: links the data's classes and image shape into the model."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("data.num_classes", "model.init_args.num_classes",
                              apply_on="instantiate")
        parser.link_arguments("data.image_shape", "model.init_args.channels",
                              compute_fn=lambda shape: shape[0], apply_on="instantiate")
        parser.link_arguments("data.image_shape", "model.init_args.image_size",
                              compute_fn=_square_size, apply_on="instantiate")


def _square_size(shape: tuple[int, int, int]) -> int:
    if shape[1] != shape[2]:
        raise ValueError(f"GAN modules train on square images, the data is {shape[1]}x{shape[2]}; "
                         "set data.image_size")
    return shape[1]


def fit(args: list[str]) -> None:
    """Run ``ganaug fit`` with command-line ``args`` (after the word ``fit``)."""
    # The EMA generator is in eval mode on purpose (it samples with running BN statistics).
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
    GANCLI(
        GANModule,
        ImageDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=["fit", *args],
        save_config_kwargs={"overwrite": True},
    )


def generate(
    checkpoint: str | Path,
    output: str | Path,
    *,
    n_per_class: int = 100,
    seed: int = 0,
    batch_size: int = 256,
    grid: str | Path | None = None,
    device: str = "cpu",
) -> Path:
    """Write ``n_per_class`` images of every class from ``checkpoint`` to ``output``.

    ``output`` ending in ``.pt`` gets ``{"images": float (N, C, H, W) in [-1, 1], "labels":
    int64 (N,) or None}``; any other path becomes an image folder with one sub-folder per class
    (``unlabelled/`` for unconditional models). ``grid`` also writes the fixed-noise sample grid.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from ganaug.images import to_uint8, write_png

    model = load_gan(checkpoint, map_location=device)
    rng = torch.Generator(device=device).manual_seed(seed)
    classes = range(model.hparams.num_classes) if model.conditional else [None]
    output = Path(output)
    images, labels = [], []
    for c in tqdm(classes, desc="generating", unit="class", disable=len(classes) == 1):
        y = None if c is None else torch.full((n_per_class,), c, dtype=torch.long)
        images.append(model.sample(n_per_class, y, rng, batch_size=batch_size).cpu())
        labels.append(y)

    if output.suffix == ".pt":
        output.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"images": torch.cat(images),
                    "labels": torch.cat(labels) if model.conditional else None}, output)
    else:
        for c, batch in zip(classes, images):
            folder = output / ("unlabelled" if c is None else f"{c}")
            folder.mkdir(parents=True, exist_ok=True)
            for i, pixels in enumerate(to_uint8(batch).permute(0, 2, 3, 1).numpy()):
                Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(
                    folder / f"{i:06d}.png")
    if grid is not None:
        write_png(model.sample_grid(), grid)
    return output


def _generate_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ganaug generate", description=generate.__doc__)
    parser.add_argument("checkpoint", help="a checkpoint written by `ganaug fit`")
    parser.add_argument("output", help="a .pt file, or a folder for one sub-folder per class")
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--grid", default=None, help="also write the fixed-noise grid PNG here")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    a = parser.parse_args(argv)
    out = generate(a.checkpoint, a.output, n_per_class=a.n_per_class, seed=a.seed,
                   batch_size=a.batch_size, grid=a.grid, device=a.device)
    print(f"wrote {out}" + (f" and {a.grid}" if a.grid else ""))


def _study_main(argv: list[str]) -> None:
    from ganaug.study import study_main

    study_main(argv)


COMMANDS = {"fit": fit, "generate": _generate_main, "study": _study_main}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ganaug`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: ganaug {study,fit,generate} [-h] ...\n\n"
              "  study     does GAN data help a classifier? paired real / classic / GAN / GAN + classic runs\n"
              "  fit       train a GAN (LightningCLI; try `ganaug fit --config configs/cgan_mnist5k.yaml`)\n"
              "  generate  write n images per class from a checkpoint", file=sys.stderr)
        raise SystemExit(0 if argv and argv[0] in ("-h", "--help") else 2)
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
