"""Which referee should filter a long-tail study's banks? Per-class precision by the judge.

For a variant of a study folder, draws a pool of candidate images per class from the variant's
source (its trained GAN, or interpolation of the real images), and applies the variant's filter
with each candidate referee: the classic-arm classifiers of ``bank_referee_seeds`` (what the
study filters with by default) and, for each recipe that trains real images differently (the
real-only remedies: class weights, logit adjustment, deferred re-weighting, re-sampling), the
classifiers of that recipe's control runs of the same seeds. For every referee and class it
prints the fraction accepted and the precision by the judge (:func:`ganaug.metrics.
filter_precision`), beside the judge's own accuracy on real test images of the class. Referees
whose classifiers the folder does not hold are trained (as the study would) unless
``--existing-only``. The better referee is then named in the config as ``bank_referee_recipe``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/referee_precision.py runs/longtail \\
        --variant filtered --per-class 200
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from ganaug.classify import ClassifierEnsemble
from ganaug.metrics import filter_precision
from ganaug.sampling import draw_class_balanced
from ganaug.study.runner import Study


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a study folder (config.json; trained GAN and teachers)")
    parser.add_argument("--variant", help="default: the study's first variant")
    parser.add_argument("--per-class", type=int, default=200, help="candidates per class")
    parser.add_argument("--seed", type=int, default=0, help="seeds the pool")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="the referees' seeds (default: the study's bank_referee_seeds)")
    parser.add_argument("--min-confidence", type=float,
                        help="the filter's threshold (default: the variant's min_confidence)")
    parser.add_argument("--existing-only", action="store_true",
                        help="skip referees whose classifiers the folder does not hold")
    args = parser.parse_args(argv)

    folder = Path(args.folder)
    study = Study.from_folder(folder)
    config = study.config
    variant = next((v for v in config.variants if v.name == (args.variant or
                                                             config.variants[0].name)), None)
    if variant is None:
        parser.error(f"no variant {args.variant!r} in {folder}")
    judge = study.judge()
    if judge is None:
        parser.error("the study has no judge (judge_per_class: 0)")
    control = variant.diversity()
    if args.min_confidence is not None:
        control = dataclasses.replace(control, min_confidence=args.min_confidence)
    classifier = config.classifiers[0]
    seeds = args.seeds if args.seeds is not None else config.bank_referee_seed_list()

    # the pool: as the banks draw it, before any filter
    with study.threads("bank"):
        source = study.synthetic_source(variant)
        generator = torch.Generator().manual_seed(args.seed)
        images, labels = draw_class_balanced(source, args.per_class, generator,
                                             truncation=control.truncation,
                                             temperature=control.temperature)
    images = images.cpu()

    # the candidate referees: classic, then each real-only remedy's control classifiers
    recipes = [""] + [r.name for r in config.recipes if r.needs_control and not r.needs_teacher]
    judge_record = folder / "judge.json"
    judge_accuracy = (json.loads(judge_record.read_text())["test_accuracy_per_class"]
                      if judge_record.is_file() else None)
    print(f"study: {folder}, variant {variant.name}, {args.per_class} candidates per class "
          f"(seed {args.seed}); filter: misclassified={control.filter_misclassified}, "
          f"min_confidence={control.min_confidence}; referees of seeds {seeds}")
    if judge_accuracy is not None:
        print("judge accuracy on real test images per class: "
              + " ".join(f"{a:.2f}" for a in judge_accuracy))
    print("| referee | worst precision | per class: accepted / precision |")
    print("| --- | ---: | --- |")
    for recipe in recipes:
        paths = [study._teacher_path(classifier, s, recipe) for s in seeds]
        if args.existing_only and not all(p.is_file() for p in paths):
            continue
        with study.threads("bank"):
            members = [study.teacher(classifier, s, recipe) for s in seeds]
            referee = members[0] if len(members) == 1 else ClassifierEnsemble(members).eval()
            result = filter_precision(images, labels, referee, judge.network,
                                      num_classes=source.num_classes,
                                      drop_misclassified=control.filter_misclassified,
                                      min_confidence=control.min_confidence,
                                      drop_confident_above=control.drop_confident_above)
        cells = " ".join(f"{a:.2f}/{p:.2f}" for a, p in zip(result.accepted, result.precision))
        print(f"| {recipe or 'classic'} | {result.worst_precision:.2f} | {cells} |")
    pool = filter_precision(images, labels, judge.network, judge.network,
                            num_classes=source.num_classes).pool_faithful
    print("| (no filter: the pool) | {:.2f} | {} |".format(
        min(pool), " ".join(f"1.00/{p:.2f}" for p in pool)))


if __name__ == "__main__":
    main()
