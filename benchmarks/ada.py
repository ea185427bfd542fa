"""Fixed DiffAugment against adaptive augmentation (ADA) on the default study's GAN, small budget.

Trains the default study's GAN (``StudyConfig.quick()``: the ADC GAN with mode seeking on 50
MNIST-5k digits per class) once with every DiffAugment op always on (p = 1, the default) and once
with ``ada_target`` (Karras et al. 2020; p starts at 0 and follows E[sign(D(real))]), for each GAN
seed, through the study's own code, so an arm is exactly a ``gan_options`` change of a study
config. For each GAN it prints the largest and the final augment probability and the last r_t
(the whole curve is in ``gan-ada-s<seed>/augment.json``), the class faithfulness of the EMA
generator as the study's independent judge sees it (150 held-out digits per class; mean over
classes and worst class, at the last iteration and at the snapshot the referee keeps), and the
FID of 100 images per class against the 3,000 test digits in the judge's penultimate features.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ada.py --out runs/ada \\
        --iterations 400 --seeds 0 1

Results go to ``<out>/gan-<arm>-s<seed>/`` (rerunning reuses finished GANs) and a table on
stdout; record them in docs/benchmarks.md with the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from ganaug.metrics import GenerativeEvaluator
from ganaug.metrics.extractors import ModuleExtractor
from ganaug.study import StudyConfig, Variant
from ganaug.study.runner import Study


class JudgeFeatures(nn.Module):
    """The judge network's penultimate features: the space of a domain FID."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: Tensor) -> Tensor:
        return self.network.features(images)


@torch.no_grad()
def judge_fid(model, judge: nn.Module, test, *, n_per_class: int, seed: int) -> float:
    """FID between ``n_per_class`` EMA images per class and the ``test`` images, in the judge's
    features."""
    features = ModuleExtractor(JudgeFeatures(judge), name="judge").eval()
    c, h, w = test[0][0].shape
    evaluator = GenerativeEvaluator(features, image_shape=(c, h, w), metrics=("fid",),
                                    num_classes=model.num_classes)
    loader = torch.utils.data.DataLoader(test, batch_size=500)
    for images, labels in loader:
        evaluator.update(images, real=True, labels=labels)
    fake, labels = model.eval().generate(n_per_class, torch.Generator().manual_seed(seed))
    for start in range(0, len(fake), 500):
        evaluator.update(fake[start:start + 500], real=False, labels=labels[start:start + 500])
    return float(evaluator.compute().values["fid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/ada")
    parser.add_argument("--iterations", type=int, default=400, help="G steps of every GAN")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="GAN seeds")
    parser.add_argument("--target", type=float, default=0.6, help="ada_target (ADA: 0.6)")
    parser.add_argument("--ada-images", type=int, default=20_000,
                        help="ada_images: real images over which p can rise from 0 to 1")
    parser.add_argument("--fid-per-class", type=int, default=100)
    args = parser.parse_args()

    base = StudyConfig.quick()
    every = max(1, args.iterations // 4)
    config = StudyConfig.from_dict({
        **{k: v for k, v in base.to_dict().items() if k not in ("variants", "recipes")},
        "gan_max_steps": 2 * args.iterations,
        "gan_selection": {**base.gan_selection, "every_n_iterations": every,
                          "start_iteration": every}})
    study = Study(config, args.out, progress=False)
    judge = study.judge()
    record = json.loads((Path(args.out) / "judge.json").read_text())
    print(f"judge: {record.get('trained_on')}, test accuracy {record.get('test_accuracy', 0):.4f}")
    real = study.real_data()
    real.setup("fit")
    arms = {"fixed": {}, "ada": {"ada_target": args.target, "ada_images": args.ada_images}}

    print(f"{'arm':<6} {'seed':>4} {'max p':>5} {'final p':>7} {'last r_t':>8} "
          f"{'judge mean':>10} {'worst':>6} "
          f"{'kept mean':>9} {'worst':>6} {'FID(judge)':>10} {'seconds':>7}")
    for seed in args.seeds:
        for arm, options in arms.items():
            name = f"{arm}-s{seed}"
            started = time.perf_counter()
            model = study.gan(Variant(name, gan_options={"seed": seed, **options}))
            seconds = time.perf_counter() - started
            selection = json.loads((Path(args.out) / f"gan-{name}" / "selection.json").read_text())
            last = selection["history"][-1]
            kept = next(r for r in selection["history"]
                        if r["iteration"] == selection["best_iteration"])
            fid = judge_fid(model, judge.network, real.test_dataset,
                            n_per_class=args.fid_per_class, seed=seed)
            ratio = getattr(model.augment_schedule, "last_ratio", None)
            ratio = "-" if ratio is None else f"{ratio:.3f}"
            history = getattr(model.augment_schedule, "history", None)
            top = model.augment_probability if not history else max(p for *_, p in history)
            print(f"{arm:<6} {seed:>4} {top:>5.3f} {model.augment_probability:>7.3f} {ratio:>8} "
                  f"{last['judge_mean']:>10.3f} {last['judge_worst']:>6.3f} "
                  f"{kept['judge_mean']:>9.3f} {kept['judge_worst']:>6.3f} {fid:>10.2f} "
                  f"{seconds:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
