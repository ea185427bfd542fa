"""Running a study: :class:`Study` trains the GANs, the referee, the synthetic banks and every
run (each recorded as one JSON file, so a rerun resumes), and :func:`run_study` writes the
outputs."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import lightning as L
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
from ganaug.images import write_png
from ganaug.study.config import StudyConfig, Variant
from ganaug.study.plan import Run, plan_runs
from ganaug.study.report import summarize, write_results

__all__ = ["Study", "run_study"]


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


def run_study(config: StudyConfig, out: str | Path, *, progress: bool = True) -> list[dict[str, Any]]:
    """Run (or resume) the study in ``out``; returns the summary rows and writes every output."""
    study = Study(config, out, progress=progress)
    records = study.run_all()
    rows = summarize(records)
    write_results(records, rows, study.out)
    return rows
