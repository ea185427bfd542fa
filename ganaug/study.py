"""``ganaug study``: does synthetic data make a classifier better, at which ratio, with which control?

The experiment follows the published CIFAR-10 replacement / augmentation study in form and adds
what an honest comparison needs: every run is *paired* (the same real subset and the same seed
across arms) and there are four arms,

- ``real``: the real subset only;
- ``classic``: the real subset with classic augmentation (flips, crops, rotations, affine maps);
- ``gan``: the real subset blended with synthetic images (``replace`` or ``augment``, ratio r);
- ``gan+classic``: the blend with classic augmentation on every sample, real or synthetic.

The GAN is trained once per distinct GAN configuration on the same real subset the classifiers
see (never on the test set). Synthetic banks are drawn per diversity variant and seed. Finished
runs are recorded one JSON file each, so an interrupted study resumes where it stopped.
Outputs in the study folder: ``results.csv`` (one row per run), ``summary.json``, ``table.txt``,
and PNG plots (error vs ratio, per-class error, sample grids).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from tqdm.auto import tqdm

from ganaug.classify import ClassifierModule
from ganaug.data import (
    ImageDataModule,
    PairedImageDataModule,
    SyntheticBlendDataModule,
    generate_bank,
    load_bank,
    save_bank,
)
from ganaug.data.datasets import LabelledImages
from ganaug.diversity import DiversityControl
from ganaug.images import write_png

__all__ = ["StudyConfig", "Variant", "run_study", "summarize"]

ARMS = ("real", "classic", "gan", "gan+classic")


@dataclass
class Variant:
    """One way of making synthetic data: a GAN configuration plus a sampling-time control."""

    name: str = "plain"
    gan_options: dict[str, Any] = field(default_factory=dict)  # overrides of the study's GAN options
    control: dict[str, Any] = field(default_factory=dict)  # DiversityControl fields

    def diversity(self) -> DiversityControl:
        return DiversityControl(**self.control)


@dataclass
class StudyConfig:
    """Everything a study varies; YAML files under ``configs/study_*.yaml`` set these fields."""

    # real data: the subset every arm shares
    dataset: str = "mnist5k"
    root: str = "data"
    n_per_class: int = 50  # real training images per class
    test_per_class: int | None = None  # None = the official test split, or the rest of the pool
    image_size: int | None = None
    channels: int | None = None
    data_seed: int = 0  # seeds the real subset; the same for every run, so runs are paired

    # the grid
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    classifiers: list[str] = field(default_factory=lambda: ["small_cnn"])
    modes: list[str] = field(default_factory=lambda: ["augment"])
    ratios: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8, 1.0])
    variants: list[Variant] = field(default_factory=lambda: [Variant()])

    # classifier training
    classic_augment: str = "affine"  # the classic arm's policy (ganaug.classify.CLASSIC_POLICIES)
    classifier_options: dict[str, Any] = field(default_factory=lambda: dict(
        optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[]))
    max_steps: int = 1500  # classifier optimizer steps per run
    batch_size: int = 64
    per_classifier: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides of
    # classifier_options and max_steps for that classifier (the paper trains DIANet differently)

    # the GAN
    gan_class: str = "ganaug.ConditionalGAN"
    gan_options: dict[str, Any] = field(default_factory=lambda: dict(
        latent_dim=64, g_width=32, d_width=32, ema_decay=0.995, ema_start=200))
    gan_max_steps: int = 2000  # optimizer steps (D and G alike, as Lightning counts)
    gan_batch_size: int = 64
    gan_checkpoint: str | None = None  # use this trained GAN instead of training one

    # running
    accelerator: str = "auto"

    @classmethod
    def quick(cls) -> StudyConfig:
        """The small default that ``ganaug study`` runs with no options (under 10 minutes on two
        CPU cores); ``configs/study/mnist5k.yaml`` spells out the same settings."""
        return cls(ratios=[1.0], max_steps=1000, variants=[
            Variant("filtered", control=dict(filter_misclassified=True))])

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown study options {sorted(unknown)}; known: {sorted(known)}")
        values = dict(values)
        if "variants" in values:
            values["variants"] = [v if isinstance(v, Variant) else Variant(**v)
                                  for v in values["variants"]]
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> StudyConfig:
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})

    def validate(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        for mode in self.modes:
            if mode not in ("replace", "augment"):
                raise ValueError(f"modes must be 'replace' or 'augment', got {mode!r}")
        for ratio in self.ratios:
            if not (math.isfinite(ratio) and ratio > 0):
                raise ValueError(f"ratios must be finite and > 0 (ratio 0 is the real arm), got {ratio}")
            if "replace" in self.modes and ratio > 1:
                raise ValueError(f"ratio {ratio} > 1 cannot be used with mode 'replace'")
        unknown = set(self.per_classifier) - set(self.classifiers)
        if unknown:
            raise ValueError(f"per_classifier names {sorted(unknown)} that are not in classifiers")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        for variant in self.variants:
            variant.diversity()  # validates the control

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def training(self, classifier: str) -> tuple[dict[str, Any], int]:
        """The ClassifierModule options and step count of ``classifier``."""
        overrides = dict(self.per_classifier.get(classifier, {}))
        max_steps = int(overrides.pop("max_steps", self.max_steps))
        return {**self.classifier_options, **overrides}, max_steps


# ---------------------------------------------------------------------------------------------
# the grid of runs


@dataclass(frozen=True)
class Run:
    """One classifier training: arm, synthetic setting (for GAN arms), classifier and seed."""

    arm: str
    classifier: str
    seed: int
    variant: str = ""
    mode: str = ""
    ratio: float = 0.0

    @property
    def run_id(self) -> str:
        parts = [self.classifier, self.arm.replace("+", "_"), f"seed{self.seed}"]
        if self.variant:
            parts[2:2] = [self.variant, self.mode, f"r{self.ratio:g}"]
        return "-".join(parts)


def plan_runs(config: StudyConfig) -> list[Run]:
    """Every run of the study, seed-major so that a partial study has whole seeds."""
    runs = []
    for seed in config.seeds:
        for classifier in config.classifiers:
            runs += [Run("real", classifier, seed), Run("classic", classifier, seed)]
            for variant in config.variants:
                for mode in config.modes:
                    for ratio in config.ratios:
                        for arm in ("gan", "gan+classic"):
                            runs.append(Run(arm, classifier, seed, variant.name, mode, ratio))
    return runs


# ---------------------------------------------------------------------------------------------
# running


class Study:
    """Runs a :class:`StudyConfig` in ``out``; see :func:`run_study`."""

    def __init__(self, config: StudyConfig, out: str | Path, *, progress: bool = True) -> None:
        config.validate()
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        self._gans: dict[str, Any] = {}
        self._referee: ClassifierModule | None = None
        self._banks: dict[tuple[str, int], LabelledImages] = {}

    # data

    def real_data(self, datamodule_class: type[ImageDataModule] = ImageDataModule) -> ImageDataModule:
        c = self.config
        return datamodule_class(c.dataset, c.root, image_size=c.image_size, channels=c.channels,
                                n_per_class=c.n_per_class, test_per_class=c.test_per_class,
                                batch_size=c.batch_size, seed=c.data_seed)

    def _trainer(self, max_steps: int, **kwargs: Any) -> L.Trainer:
        return L.Trainer(max_steps=max_steps, accelerator=self.config.accelerator, devices=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0,
                         default_root_dir=str(self.out), **kwargs)

    # the GANs

    def gan(self, variant: Variant) -> Any:
        """The trained GAN of ``variant`` (trained here once, or loaded from the study folder)."""
        from ganaug.modules import load_gan

        c = self.config
        options = {**c.gan_options, **variant.gan_options}
        key = json.dumps(options, sort_keys=True)
        if key in self._gans:
            return self._gans[key]
        if c.gan_checkpoint and not variant.gan_options:
            model = load_gan(c.gan_checkpoint)
        else:
            name = "gan-" + (variant.name if variant.gan_options else "base")
            checkpoint = self.out / name / "gan.ckpt"
            if checkpoint.is_file():
                model = load_gan(checkpoint)
            else:
                model = self._train_gan(options, checkpoint)
            write_png(model.sample_grid(), self.out / f"samples-{name}.png")
        self._gans[key] = model.eval()
        return model

    def _train_gan(self, options: dict[str, Any], checkpoint: Path) -> Any:
        import importlib

        c = self.config
        module_name, _, class_name = c.gan_class.rpartition(".")
        gan_class = getattr(importlib.import_module(module_name), class_name)
        # an image-conditioned GAN (DAGAN) trains on batches of same-class pairs
        paired = hasattr(gan_class, "with_source")
        data = self.real_data(PairedImageDataModule if paired else ImageDataModule)
        data.batch_size = c.gan_batch_size
        data.drop_last = True
        model = gan_class(num_classes=data.num_classes, channels=data.image_shape[0],
                          image_size=data.image_shape[1], **options)
        L.seed_everything(c.data_seed, verbose=False)
        trainer = L.Trainer(max_steps=c.gan_max_steps, accelerator=c.accelerator, devices=1,
                            logger=False, enable_checkpointing=False,
                            enable_progress_bar=self.progress, enable_model_summary=False,
                            default_root_dir=str(checkpoint.parent))
        trainer.fit(model, data)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(checkpoint)
        return model

    # the referee: a classifier of the real subset for filtering and k-centre features. It is
    # the classic arm's classifier of the first architecture with seed data_seed, saved by that
    # run (and trained the same way here when the plan holds no such run).

    def referee(self) -> ClassifierModule:
        if self._referee is None:
            c = self.config
            path = self.out / "referee.pt"
            real = self.real_data()
            options, max_steps = c.training(c.classifiers[0])
            model = ClassifierModule(architecture=c.classifiers[0], num_classes=real.num_classes,
                                     channels=real.image_shape[0], image_size=real.image_shape[1],
                                     classic_augment=c.classic_augment, seed=c.data_seed, **options)
            if path.is_file():
                model.load_state_dict(torch.load(path, weights_only=True))
            else:  # the classic arm's run with seed data_seed, when the plan does not hold it
                blend = SyntheticBlendDataModule(real, None, seed=c.data_seed)
                self._trainer(max_steps).fit(model, blend)
                torch.save(model.state_dict(), path)
            self._referee = model.eval()
        return self._referee

    def bank(self, variant: Variant, seed: int, needed: list[int]) -> LabelledImages:
        """Synthetic images of ``variant`` for ``seed``: enough per class for the largest ratio."""
        key = (variant.name, seed)
        if key not in self._banks:
            path = self.out / "banks" / f"{variant.name}-seed{seed}.pt"
            if path.is_file():
                bank = load_bank(path)
            else:
                control = variant.diversity()
                referee = self.referee() if control.needs_referee or control.selection == "kcenter" \
                    else None
                model = self.gan(variant)
                if hasattr(model, "with_source"):  # DAGAN: each class from its real images
                    real = self.real_data()
                    real.setup()
                    model = model.with_source(real.train_dataset)
                bank = generate_bank(model, needed, control=control, referee=referee,
                                     seed=seed, progress=False)
                save_bank(bank, path, meta={"variant": variant.name, "seed": seed})
            self._banks[key] = bank
        return self._banks[key]

    # one run

    def run(self, run: Run) -> dict[str, Any]:
        c = self.config
        record_path = self.out / "runs" / f"{run.run_id}.json"
        if record_path.is_file():
            return json.loads(record_path.read_text())
        started = time.perf_counter()
        real = self.real_data()
        if run.arm in ("gan", "gan+classic"):
            real.setup()
            variant = next(v for v in c.variants if v.name == run.variant)
            needed = torch.floor(real.train_dataset.class_counts().double() * max(c.ratios) + 0.5)
            bank = self.bank(variant, run.seed, needed.long().tolist())
            data = SyntheticBlendDataModule(real, bank, mode=run.mode, ratio=run.ratio, seed=run.seed)
        else:
            data = SyntheticBlendDataModule(real, None, seed=run.seed)
        classic = c.classic_augment if run.arm in ("classic", "gan+classic") else "none"
        options, max_steps = c.training(run.classifier)
        model = ClassifierModule(architecture=run.classifier, num_classes=real.num_classes,
                                 channels=real.image_shape[0], image_size=real.image_shape[1],
                                 classic_augment=classic, seed=run.seed, **options)
        trainer = self._trainer(max_steps)
        trainer.fit(model, data)
        if (run.arm, run.classifier, run.seed) == ("classic", c.classifiers[0], c.data_seed):
            torch.save(model.state_dict(), self.out / "referee.pt")
        trainer.test(model, data, verbose=False)
        metrics = model.test_metrics()
        record = {**dataclasses.asdict(run), "run_id": run.run_id,
                  "train_images": len(data.train_dataset),
                  "synthetic_images": int(data.train_dataset.synthetic.sum()),
                  "test_error": metrics["test_error"], "test_samples": metrics["test_samples"],
                  "class_errors": [metrics[f"test_error_class{k}"] for k in range(real.num_classes)],
                  "seconds": round(time.perf_counter() - started, 1)}
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2))
        return record

    def run_all(self) -> list[dict[str, Any]]:
        runs = plan_runs(self.config)
        records = []
        bar = tqdm(runs, desc="study", unit="run", disable=not self.progress)
        for run in bar:
            bar.set_postfix_str(run.run_id)
            records.append(self.run(run))
        return records


# ---------------------------------------------------------------------------------------------
# summaries


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std of test error per setting, with the paired differences to ``real`` and
    ``classic`` (the same classifier and seed), and the relative change of the mean error."""
    baseline = {(r["classifier"], r["seed"], r["arm"]): r["test_error"] for r in records
                if r["arm"] in ("real", "classic")}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        key = (r["classifier"], r["arm"], r["variant"], r["mode"], r["ratio"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (classifier, arm, variant, mode, ratio), members in groups.items():
        errors = [m["test_error"] for m in members]
        mean, std = _mean_std(errors)
        row = {"classifier": classifier, "arm": arm, "variant": variant, "mode": mode,
               "ratio": ratio, "seeds": len(members), "error_mean": mean, "error_std": std,
               "class_error_mean": np.nanmean([m["class_errors"] for m in members], 0).tolist()}
        for reference in ("real", "classic"):
            pairs = [(m["test_error"], baseline.get((classifier, m["seed"], reference)))
                     for m in members]
            pairs = [(a, b) for a, b in pairs if b is not None]
            if pairs and arm != reference:
                diff_mean, diff_std = _mean_std([a - b for a, b in pairs])
                base_mean = float(np.mean([b for _, b in pairs]))
                row[f"vs_{reference}_mean"] = diff_mean
                row[f"vs_{reference}_std"] = diff_std
                row[f"vs_{reference}_relative"] = diff_mean / base_mean if base_mean else float("nan")
        rows.append(row)
    order = {arm: i for i, arm in enumerate(ARMS)}
    rows.sort(key=lambda r: (r["classifier"], order[r["arm"]], r["variant"], r["mode"], r["ratio"]))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table (errors in %)."""
    header = f"{'classifier':<11} {'arm':<12} {'variant':<10} {'mode':<8} {'r':>5} {'n':>2} " \
             f"{'test error %':>14} {'vs real':>16} {'vs classic':>16}"
    lines = [header, "-" * len(header)]

    def paired(row: dict[str, Any], reference: str) -> str:
        if f"vs_{reference}_mean" not in row:
            return ""
        return f"{row[f'vs_{reference}_mean']:+.2f} ({100 * row[f'vs_{reference}_relative']:+.0f}%)"

    for row in rows:
        ratio = f"{row['ratio']:g}" if row["variant"] else ""
        lines.append(
            f"{row['classifier']:<11} {row['arm']:<12} {row['variant']:<10} {row['mode']:<8} "
            f"{ratio:>5} {row['seeds']:>2} {row['error_mean']:>7.2f} ± {row['error_std']:<4.2f} "
            f"{paired(row, 'real'):>16} {paired(row, 'classic'):>16}")
    lines.append("paired differences: mean over seeds of (error - reference error of the same "
                 "seed), in points, and relative to the reference's mean error")
    return "\n".join(lines)


def write_results(records: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path) -> None:
    """``results.csv``, ``summary.json``, ``table.txt`` and the PNG plots."""
    fields = ["run_id", "classifier", "arm", "variant", "mode", "ratio", "seed", "train_images",
              "synthetic_images", "test_error", "test_samples", "seconds"]
    with open(out / "results.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields + ["class_errors"])
        writer.writeheader()
        for record in records:
            writer.writerow({**{k: record[k] for k in fields},
                             "class_errors": " ".join(f"{e:.2f}" for e in record["class_errors"])})
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    (out / "table.txt").write_text(format_table(rows) + "\n")
    from ganaug.study_plots import plot_class_errors, plot_error_vs_ratio

    plot_error_vs_ratio(rows, out)
    plot_class_errors(rows, out)


def run_study(config: StudyConfig, out: str | Path, *, progress: bool = True) -> list[dict[str, Any]]:
    """Run (or resume) the study in ``out``; returns the summary rows and writes every output."""
    study = Study(config, out, progress=progress)
    records = study.run_all()
    rows = summarize(records)
    write_results(records, rows, study.out)
    return rows


def copy_config(config: StudyConfig, **changes: Any) -> StudyConfig:
    """A validated copy of ``config`` with ``changes``."""
    changed = copy.deepcopy(config)
    for name, value in changes.items():
        setattr(changed, name, value)
    changed.validate()
    return changed


# ---------------------------------------------------------------------------------------------
# command line


def _quiet_lightning() -> None:
    """Keep the command's output to its progress bar and table: a study makes dozens of
    Trainers, and each would print its hardware summary and tips."""
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA G


def study_main(argv: list[str]) -> None:
    """``ganaug study [--config FILE] [--out DIR] [overrides]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="ganaug study",
        description="Train a GAN on a few real images per class, then classifiers on real, "
                    "classically augmented, synthetic-blended and both, paired by seed; write "
                    "results.csv, summary.json, table.txt and PNG plots. With no options: the "
                    "small MNIST-5k default (50 real images per class, the rest as test set).")
    parser.add_argument("--config", help="a study YAML file (see configs/study/)")
    parser.add_argument("--out", default="runs/study", help="study folder; rerun to resume")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--ratios", type=float, nargs="+")
    parser.add_argument("--modes", nargs="+", choices=("replace", "augment"))
    parser.add_argument("--classifiers", nargs="+")
    parser.add_argument("--n-per-class", type=int)
    parser.add_argument("--max-steps", type=int, help="classifier steps per run")
    parser.add_argument("--gan-max-steps", type=int, help="GAN optimizer steps")
    parser.add_argument("--gan-checkpoint", help="use this trained GAN instead of training one")
    parser.add_argument("--root", help="dataset folder")
    parser.add_argument("--accelerator", help="auto, cpu, gpu, ...")
    args = parser.parse_args(argv)
    _quiet_lightning()

    config = StudyConfig.from_yaml(args.config) if args.config else StudyConfig.quick()
    overrides = {name: getattr(args, name) for name in (
        "seeds", "ratios", "modes", "classifiers", "n_per_class", "max_steps", "gan_max_steps",
        "gan_checkpoint", "root", "accelerator") if getattr(args, name) is not None}
    config = copy_config(config, **overrides)
    started = time.perf_counter()
    rows = run_study(config, args.out)
    print(format_table(rows))
    print(f"\nstudy folder: {args.out} (results.csv, summary.json, table.txt, *.png); "
          f"{time.perf_counter() - started:.0f} s")
