"""Class faithfulness against training length for conditional-GAN remedies on the default setting.

Trains one GAN per remedy on the default study's real subset (MNIST-5k, 50 digits per class,
``data_seed`` 0) and prints, every ``--every`` iterations, the faithfulness of the EMA generator
as the study's two classifiers of real images see it: the referee (trained on the same 500
digits; it selects the snapshot the study keeps) and the independent judge (trained on 150
held-out digits per class, never used to choose). Everything goes through the study's own code,
so a remedy here is exactly a ``gan_options`` change of a study config.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gan_faithfulness.py --out runs/faithfulness \\
        --remedies ac adc adc_ms --iterations 2000

Remedies (``ConditionalGAN`` options on top of the default study's networks, without its
classification and mode-seeking terms):

- ``plain``: the label as an embedding concatenated with z, projection discriminator;
- ``cbn``: class-conditional batch norm in every generator layer (``g_conditioning="cbn"``);
- ``ac``: an auxiliary classifier in the discriminator (``class_loss_weight=1``, AC-GAN);
- ``ac_cbn``: both;
- ``adc``: ADC-GAN's classifier of real and fake classes (``class_loss="adc"``);
- ``adc_fade``: ``adc`` with transitional conditioning over iterations 400-1,000;
- ``adc_ms``: ``adc`` with the MSGAN term (``mode_seeking_weight=0.25``), the default study's GAN.

Results go to ``<out>/gan-<remedy>/selection.json`` (rerunning reuses finished GANs) and a table
on stdout; record them in docs/synthetic-data.md with the machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ganaug.study import StudyConfig, Variant
from ganaug.study.runner import Study

REMEDIES = {
    "plain": {},
    "cbn": {"g_conditioning": "cbn"},
    "ac": {"class_loss_weight": 1.0},
    "ac_cbn": {"class_loss_weight": 1.0, "g_conditioning": "cbn"},
    "adc": {"class_loss_weight": 1.0, "class_loss": "adc"},
    "adc_fade": {"class_loss_weight": 1.0, "class_loss": "adc", "condition_fade": [400, 1000]},
    "adc_ms": {"class_loss_weight": 1.0, "class_loss": "adc", "mode_seeking_weight": 0.25},
}
TERMS = ("class_loss_weight", "class_loss", "mode_seeking_weight", "condition_fade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/faithfulness")
    parser.add_argument("--remedies", nargs="+", default=["ac", "adc", "adc_ms"],
                        choices=REMEDIES)
    parser.add_argument("--iterations", type=int, default=2000, help="G steps of every GAN")
    parser.add_argument("--every", type=int, default=250, help="iterations between evaluations")
    parser.add_argument("--n-per-class", type=int, default=100, help="images per class measured")
    args = parser.parse_args()

    base = StudyConfig.quick()
    options = {k: v for k, v in base.gan_options.items() if k not in TERMS}
    config = StudyConfig.from_dict({
        **{k: v for k, v in base.to_dict().items() if k not in ("variants", "recipes")},
        "gan_options": options, "gan_max_steps": 2 * args.iterations,
        "gan_selection": {"every_n_iterations": args.every, "start_iteration": args.every,
                          "n_per_class": args.n_per_class, "criterion": "mean"}})
    study = Study(config, args.out, progress=False)
    judge = json.loads((Path(args.out) / "judge.json").read_text()) if study.judge() else {}
    print(f"judge: {judge.get('trained_on')}, test accuracy {judge.get('test_accuracy', 0):.4f}")

    print(f"{'remedy':<8} {'iteration':>9} {'referee mean':>12} {'worst':>6} {'judge mean':>10} "
          f"{'worst':>6}   seconds")
    for remedy in args.remedies:
        started = time.perf_counter()
        study.gan(Variant(remedy, gan_options=REMEDIES[remedy] or {"g_conditioning": "concat"}))
        seconds = time.perf_counter() - started
        record = json.loads((Path(args.out) / f"gan-{remedy}" / "selection.json").read_text())
        for row in record["history"]:
            kept = " <- kept" if row["iteration"] == record["best_iteration"] else ""
            print(f"{remedy:<8} {row['iteration']:>9} {row['referee_mean']:>12.3f} "
                  f"{row['referee_worst']:>6.3f} {row['judge_mean']:>10.3f} "
                  f"{row['judge_worst']:>6.3f}{kept}")
        print(f"{remedy:<8} trained in {seconds:.0f} s (0 when reused)")


if __name__ == "__main__":
    main()
