"""What limits a study GAN's classification accuracy score (CAS): how many images, or what they show.

For each seed of a finished study this trains the study's classifier (its first) on synthetic
images only. The images are drawn by the study's GAN under the variant's diversity control, with the
same referee and seed, just as the study draws its banks. It does this at several bank sizes: ``1``
times the real training set (the study's CAS setting), ``10`` times, and so on. A factor of
``max_steps * batch_size / N`` shows every image once, as fresh images at every step would. With
``--classic``, the 1x bank is also used with the study's classic augmentation. Each classifier is
tested on the study's real test set. The table gives test error and CAS next to the study's own
real, classic and synthetic runs. CAS is the accuracy over that of the study's real images
trained the same way and with the same seed: the `real` run, or the `classic` run for the rows
with classic augmentation (CAS+c).

If CAS grows with the bank, the study's CAS is limited by its bank size. If it stays flat, it is
limited by the generator's distribution, and drawing more images will not help. The finished
study's GAN, referee and real runs are reused; nothing in the folder changes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cas_limits.py runs/study --factors 1 10 128 \\
        --classic
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from ganaug.data.datamodule import EpochSeededRandomSampler
from ganaug.study import Variant
from ganaug.study.runner import Study


def synthetic_only(study: Study, variant: Variant, seed: int, factor: int,
                   classic: bool = False) -> dict[str, Any]:
    """Train the study's first classifier on a bank of ``factor`` times the real training set,
    drawn as the study draws ``seed``'s bank, and test it on the real test set.

    Returns the test error in % and the number of synthetic images trained on.
    """
    c = study.config
    classifier = c.classifiers[0]
    with study.threads("run"):
        real = study.real_data()
        real.setup()
        counts = [factor * int(n) for n in real.train_dataset.class_counts()]
        bank = study.draw_bank(variant, seed, counts)
        model = study._classifier(classifier, seed, c.classic_augment if classic else "none")
        order = EpochSeededRandomSampler(len(bank), seed=seed)
        trainer = study._trainer(c.training(classifier)[1])
        trainer.fit(model, DataLoader(bank, batch_size=c.batch_size, sampler=order))
        trainer.test(model, real.test_dataloader(), verbose=False)
    return {"test_error": model.test_metrics()["test_error"], "images": len(bank)}


def study_errors(study: Study, arm: str, variant: str = "") -> dict[int, float]:
    """Test error by seed of the study's own runs of ``arm`` (no recipe) for its first classifier."""
    errors = {}
    for path in sorted((study.out / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        if (record["arm"], record["classifier"], record.get("recipe", "")) == \
                (arm, study.config.classifiers[0], "") and record.get("variant", "") == variant:
            errors[int(record["seed"])] = float(record["test_error"])
    return errors


def table(rows: list[tuple[str, dict[int, float], dict[int, float]]], seeds: list[int]) -> str:
    """A Markdown table: test error per seed, mean ± std, and CAS paired by seed against each
    row's reference (the real images trained the same way: ``real`` or ``classic``)."""
    lines = ["| trained on | " + " | ".join(f"seed {s} %" for s in seeds)
             + " | mean ± std % | CAS |", "| --- |" + " ---: |" * (len(seeds) + 2)]
    for name, errors, reference in rows:
        values = [errors.get(s) for s in seeds]
        present = [v for v in values if v is not None]
        cas = [(100 - errors[s]) / (100 - reference[s]) for s in seeds
               if s in errors and s in reference]
        cells = [f"{v:.2f}" if v is not None else "—" for v in values]
        spread = f"{np.mean(present):.2f} ± {np.std(present, ddof=1):.2f}" if len(present) > 1 \
            else (f"{present[0]:.2f}" if present else "—")
        score = f"{np.mean(cas):.2f}" if cas else "—"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {spread} | {score} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a finished study's folder (config.json, runs/, GAN)")
    parser.add_argument("--variant", help="the variant whose bank is drawn (default: the first)")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the study's seeds")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10],
                        help="bank sizes, in multiples of the real training set")
    parser.add_argument("--classic", action="store_true",
                        help="also train on the 1x bank with the study's classic augmentation")
    args = parser.parse_args(argv)

    study = Study.from_folder(args.folder)
    c = study.config
    variant = next((v for v in c.variants if v.name == args.variant), None) if args.variant \
        else c.variants[0]
    if variant is None:
        parser.error(f"no variant {args.variant!r} in {args.folder}: "
                     f"{[v.name for v in c.variants]}")
    seeds = args.seeds or list(c.seeds)
    real = study_errors(study, "real")
    if not set(seeds) <= set(real):
        parser.error(f"the study has no real-only run for seeds {sorted(set(seeds) - set(real))}")
    classic = study_errors(study, "classic")
    rows = [("real images (the study's `real` runs)", real, real),
            ("real images + classic augmentation (`classic`)", classic, classic),
            (f"the study's bank (`synthetic`, {variant.name})",
             study_errors(study, "synthetic", variant.name), real)]
    measured = [(f"a bank of {factor}x", factor, False) for factor in args.factors]
    if args.classic:
        measured.append((f"a bank of 1x + classic augmentation ({c.classic_augment})", 1, True))
    for name, factor, augmented in measured:
        results = {s: synthetic_only(study, variant, s, factor, augmented) for s in seeds}
        images = sorted({r["images"] for r in results.values()})
        rows.append((f"{name} ({'/'.join(map(str, images))} images)",
                     {s: r["test_error"] for s, r in results.items()},
                     classic if augmented else real))
        print(f"measured: {rows[-1][0]}", flush=True)
    print(f"study: {args.folder}, classifier {c.classifiers[0]}, {c.training(c.classifiers[0])[1]} "
          f"steps of {c.batch_size}; variant {variant.name}")
    print(table(rows, seeds))


if __name__ == "__main__":
    main()
