"""Per-class faithfulness, spread and novelty of a finished study's banks (issue 26).

For every bank of a variant (one per seed), prints one row per class: the real training images,
the judge's accuracy on real test images of the class, the share of the bank's images of the
class the judge (and the second judge, where the study has one) assigns to it, how often the two
judges agree, and the bank's spread and novelty in the class against as many held-out real
images (:func:`ganaug.metrics.class_novelty`; 1 = as varied, as new as unseen real digits).
Faithful is not enough: a bank of 245 near-copies of 5 digits is 100 % faithful and teaches the
classifier as little as re-sampling them. With ``--discriminator`` it also prints, per class, the
mean logit of each label-conditioned GAN's discriminator (no augmentation) on the class's
training images and on its held-out ones: a discriminator that memorised a 5-image class scores
its training images far above unseen ones (issue 22: DiffAugment should keep that gap small).
The study folder is only read.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/long_tail_banks.py runs/longtail_gan \
        --variant uniform-bal
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ganaug.data.bank import load_bank
from ganaug.images import from_uint8
from ganaug.metrics.faithfulness import bank_faithfulness, judge_agreement
from ganaug.metrics.novelty import class_novelty
from ganaug.modules import load_gan
from ganaug.study.runner import Study


def number(value: float | None, percent: bool = False) -> str:
    if value is None or value != value:
        return ""
    return f"{100 * value:.0f} %" if percent else f"{value:.2f}"


@torch.no_grad()
def print_memorisation(checkpoint: Path, train, held, counts: list[int]) -> None:
    """Mean logit of a label-conditioned GAN's discriminator on each class's training images and
    on as many of its held-out ones, without augmentation."""
    model = load_gan(checkpoint).eval()
    if model.conditions_on != "label" or not model.conditional:
        return
    print(f"\ndiscriminator of {checkpoint.parent.name}: mean logit, no augmentation")
    print("| class | real | training images | held-out images | gap | generated (100) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for k, count in enumerate(counts):
        seen = from_uint8(train.images[train.labels == k])
        unseen = from_uint8(held.images[held.labels == k])[: max(count, 2)]
        fake = model.sample(100, [k] * 100, torch.Generator().manual_seed(k))
        logit = lambda images: float(model.discriminator(  # noqa: E731
            images, torch.full((len(images),), k, dtype=torch.long)).mean())
        a, b = logit(seen), logit(unseen)
        print(f"| {k} | {count} | {a:.2f} | {b:.2f} | {a - b:+.2f} | {logit(fake):.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a finished study's folder (config.json, banks/, judge.pt)")
    parser.add_argument("--variant", help="default: every variant")
    parser.add_argument("--discriminator", action="store_true",
                        help="also the GANs' discriminator logits, training vs held-out images")
    args = parser.parse_args(argv)

    folder = Path(args.folder)
    study = Study.from_folder(folder)
    config = study.config
    judge = study.judge()
    if judge is None:
        parser.error("the study has no judge (judge_per_class: 0)")
    second = study.judge(1) if (folder / "judge2.pt").is_file() else None
    accuracy = json.loads((folder / "judge.json").read_text())["test_accuracy_per_class"]
    real = study.real_data()
    real.setup()
    train, held = real.train_dataset, real.val_dataset
    counts = train.class_counts().tolist()
    variants = [args.variant] if args.variant else [v.name for v in config.variants]
    if args.discriminator:
        for checkpoint in sorted(folder.glob("gan-*/gan.ckpt")):
            print_memorisation(checkpoint, train, held, counts)
    for variant in variants:
        for seed in config.seeds:
            path = folder / "banks" / f"{variant}-seed{seed}.pt"
            if not path.is_file():
                continue
            bank = load_bank(path)
            faithful = bank_faithfulness(bank.images, bank.labels, judge.network,
                                         num_classes=bank.num_classes).per_class
            faithful_2 = (bank_faithfulness(bank.images, bank.labels, second.network,
                                            num_classes=bank.num_classes).per_class
                          if second is not None else [None] * bank.num_classes)
            novelty = class_novelty(from_uint8(bank.images), bank.labels,
                                    from_uint8(train.images), train.labels,
                                    from_uint8(held.images), held.labels, bank.num_classes)
            print(f"\nbank {variant}, seed {seed}: {len(bank)} images")
            print("| class | real | bank | judge acc | faithful | faithful (judge 2) | "
                  "judges agree | spread | novelty |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for k in range(bank.num_classes):
                mine = bank.labels == k
                agree = (judge_agreement(bank.images[mine], judge.network, second.network)
                         if second is not None and bool(mine.any()) else None)
                result = novelty[k]
                print(f"| {k} | {counts[k]} | {int(mine.sum())} | {number(accuracy[k], True)} | "
                      f"{number(faithful[k], True)} | {number(faithful_2[k], True)} | "
                      f"{number(agree, True)} | {number(result.spread if result else None)} | "
                      f"{number(result.novelty if result else None)} |")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
