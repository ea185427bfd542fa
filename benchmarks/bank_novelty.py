"""Novelty and spread of a finished study's banks: copies of the training digits, or a tight cluster?

For every bank of a variant (one per seed), prints the median distance of its images to their
nearest training image of the same class and to their nearest other bank image of the same
class (:func:`ganaug.metrics.novelty.bank_novelty`). It also prints the same distances for real
images: held-out real images (the judge's, as many per class as the bank holds) to the training
set, and the training images among themselves. Distances are in pixels and in the referee's
features. The study folder is only read.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bank_novelty.py runs/study
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganaug.data.bank import load_bank
from ganaug.data.labelled import LabelledImages
from ganaug.images import from_uint8
from ganaug.metrics.novelty import bank_novelty
from ganaug.study.runner import Study


def images_and_labels(images: LabelledImages) -> tuple[torch.Tensor, torch.Tensor]:
    """A labelled set's images as float in [-1, 1], and its labels."""
    return from_uint8(images.images), images.labels


def first_per_class(images: torch.Tensor, labels: torch.Tensor,
                    counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``counts[k]`` images of every class ``k``."""
    keep = torch.cat([torch.nonzero(labels == k).flatten()[: int(n)]
                      for k, n in enumerate(counts.tolist())])
    return images[keep], labels[keep]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a finished study's folder (config.json, banks/)")
    parser.add_argument("--variant", help="default: the study's first variant")
    args = parser.parse_args(argv)

    folder = Path(args.folder)
    study = Study.from_folder(folder)
    config = study.config
    variant = args.variant or config.variants[0].name
    real = study.real_data()
    real.setup()
    train, train_labels = images_and_labels(real.train_dataset)
    if real.val_dataset is None or not len(real.val_dataset):
        parser.error("the study holds no held-out real images (judge_per_class: 0)")
    held_out, held_labels = images_and_labels(real.val_dataset)
    features = study.referee().eval().features
    print(f"study: {folder}, variant {variant}; median nearest same-class distance")
    print("| bank | space | bank -> train | held-out real -> train | novelty | "
          "bank -> bank | train -> train | spread |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for seed in config.seeds:
        path = folder / "banks" / f"{variant}-seed{seed}.pt"
        if not path.is_file():
            continue
        images, labels = images_and_labels(load_bank(path))
        counts = torch.bincount(labels, minlength=real.num_classes)
        held = first_per_class(held_out, held_labels, counts)
        for space, extract in (("pixels", None), ("referee features", features)):
            r = bank_novelty(images, labels, train, train_labels, *held, features=extract)
            print(f"| seed {seed} | {space} | {r.to_train:.2f} | {r.reference_to_train:.2f} | "
                  f"{r.novelty:.2f} | {r.within:.2f} | {r.reference_within:.2f} | "
                  f"{r.spread:.2f} |")


if __name__ == "__main__":
    main()
