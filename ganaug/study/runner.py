"""Running a study: :class:`Study` trains the GANs, the referee, the judge, the synthetic banks
and every run (each recorded as one JSON file, so a rerun resumes), and :func:`run_study` writes
the outputs.

Three classifiers of real images play a part besides the runs themselves:

- the *teacher* of a seed is that seed's classic-arm classifier (saved by the classic run), the
  source of soft labels for distillation recipes;
- the *referee* is the teacher of ``data_seed``: it filters banks, gives k-centre features and
  selects the GAN's EMA snapshot during training, so it guides the synthetic data;
- the *judge* is trained on ``judge_per_class`` real images per class that no run, no GAN and no
  referee sees (the datamodule's validation split), and measures each bank's class faithfulness.
  It never guides anything, so its verdict is independent.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
from lightning.pytorch.loggers import Logger
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ganaug.atomic import atomic_save, atomic_write_json, atomic_write_text, remove_partials
from ganaug.checkpoint_io import SafeCheckpointIO
from ganaug.classify import ClassifierEnsemble, ClassifierModule
from ganaug.data import (
    ImageDataModule,
    PairedImageDataModule,
    SyntheticBlendDataModule,
    balance_counts,
    blend_counts,
    generate_bank,
    load_bank,
    save_bank,
)
from ganaug.data.datamodule import EpochSeededRandomSampler
from ganaug.data.interpolation import InterpolationSource
from ganaug.data.labelled import LabelledImages
from ganaug.diversity import DiversityControl
from ganaug.images import from_uint8, write_png
from ganaug.metrics.faithfulness import bank_faithfulness, judge_agreement
from ganaug.metrics.novelty import class_novelty
from ganaug.metrics.selection import SelectGenerator
from ganaug.modules import load_gan, resolve_gan
from ganaug.seeding import step_seed
from ganaug.serialization import load_weights
from ganaug.study.config import DEFAULTS_BEFORE_0_2, StudyConfig, Variant, setting_differences
from ganaug.study.curves import LearningCurve
from ganaug.study.lock import LOCK_NAME, StudyLock
from ganaug.study.plan import CLASSIC_ARMS, Run, plan_runs
from ganaug.study.report import summarize, write_results
from ganaug.study.timings import TaskTimings

if TYPE_CHECKING:
    from ganaug.study.executors import Executor

__all__ = ["Study", "run_study", "teacher_task_name", "torch_threads"]

# what to do when a classifier the study saved does not fit the model its settings build
_REDO = ("the file was replaced, or written with other settings: delete it (and the runs and "
         "banks made with it) to have the study train it again")
VERDICT_PER_CLASS = {"faithfulness_per_class": "per_class",
                     "second_judge_per_class": "second_judge_per_class",
                     "spread_per_class": "spread_per_class",
                     "novelty_per_class": "novelty_per_class", "judges_agree": "judges_agree"}
"""A bank's per-class measures a synthetic run's record copies from its verdict: record field ->
verdict key."""
_JUDGE_STREAM = 0x70D6E  # the judge's initialisation and augmentation, apart from every run's


def teacher_task_name(classifier: str, seed: int, recipe: str = "") -> str:
    """The task (and timing) name of a teacher that no run of the plan saves."""
    return f"teacher-{classifier}-{recipe}-seed{seed}" if recipe else f"teacher-{classifier}-seed{seed}"


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (``torch.set_num_threads``), then
    restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Study:
    """Runs a :class:`StudyConfig` in ``out``; see :func:`run_study`."""

    def __init__(self, config: StudyConfig, out: str | Path, *, progress: bool = True,
                 loggers: Sequence[Logger] = ()) -> None:
        config.validate()
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.loggers = list(loggers)  # get every run's learning curve, keys prefixed "<run_id>/"
        self._check_folder()  # before anything in the folder is written
        self.out.mkdir(parents=True, exist_ok=True)
        if not (self.out / "config.json").is_file():  # the settings the folder's runs are made with
            atomic_write_json(self.out / "config.json", config.to_dict())
        self._gans: dict[str, Any] = {}
        self._teachers: dict[tuple[str, int], ClassifierModule] = {}
        self._judges: dict[int, ClassifierModule] = {}
        self._banks: dict[tuple[str, int], LabelledImages] = {}
        self._faithfulness: dict[tuple[str, int], dict[str, Any]] = {}
        self.timings = TaskTimings()  # the seconds of every task done here (timings.json)

    @classmethod
    def from_folder(cls, out: str | Path, *, progress: bool = False) -> Study:
        """The study of an existing folder, with the settings its ``config.json`` records (to
        read or extend a finished study)."""
        path = Path(out) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {out} is not a study folder (ganaug study "
                                    f"--out writes one)")
        # a setting the record lacks was written by a ganaug before it: its default of that day
        recorded = {**DEFAULTS_BEFORE_0_2, **json.loads(path.read_text())}
        return cls(StudyConfig.from_dict(recorded), out, progress=progress)

    def threads(self, kind: str) -> Any:
        """A context in which torch uses the CPU threads of a task of ``kind``
        (:meth:`StudyConfig.task_threads`): every task's work runs in one, under every executor."""
        return torch_threads(self.config.task_threads(kind))

    def _check_folder(self) -> None:
        """Stop when the folder holds runs of other settings (see :func:`setting_differences`)."""
        path = self.out / "config.json"
        if not path.is_file():
            return
        try:
            recorded = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            recorded = error
        if not isinstance(recorded, dict):
            raise ValueError(f"{path} does not hold a study's settings ({recorded}); restore it, or "
                             f"use a new study folder (--out)")
        differences = setting_differences(recorded, self.config)
        if differences:
            listed = "; ".join(f"{name}: {old!r} in the folder, {new!r} now"
                               for name, (old, new) in differences.items())
            raise ValueError(f"the study folder {self.out} holds runs made with other settings "
                             f"({listed}); use a new folder (--out), or resume with the settings "
                             f"of its config.json")

    # data

    def real_data(self, datamodule_class: type[ImageDataModule] = ImageDataModule) -> ImageDataModule:
        c = self.config
        return datamodule_class(c.dataset, c.root, image_size=c.image_size, channels=c.channels,
                                n_per_class=c.n_per_class, imbalance_factor=c.imbalance_factor,
                                val_per_class=c.judge_per_class,
                                test_per_class=c.test_per_class, batch_size=c.batch_size,
                                seed=c.data_seed)

    def _trainer(self, max_steps: int, **kwargs: Any) -> L.Trainer:
        return L.Trainer(max_steps=max_steps, accelerator=self.config.accelerator, devices=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0,
                         default_root_dir=str(self.out), plugins=[SafeCheckpointIO()], **kwargs)

    # the GANs

    def gan(self, variant: Variant) -> Any:
        """The trained GAN of ``variant`` (trained here once, or loaded from the study folder)."""
        c = self.config
        options = {**c.gan_options, **variant.gan_options}
        key = json.dumps([options, variant.gan_sampler], sort_keys=True)
        if key in self._gans:
            return self._gans[key]
        if c.gan_checkpoint and not variant.trains_own_gan:
            model = load_gan(c.gan_checkpoint)
        else:
            name = "gan-" + (variant.name if variant.trains_own_gan else "base")
            checkpoint = self.out / name / "gan.ckpt"
            with self.threads("gan"):  # the sample grid too, whichever task draws it
                if checkpoint.is_file():
                    model = load_gan(checkpoint)
                    self.timings.reused(name, "gan")
                else:
                    with self.timings.timing(name, "gan"):  # training and snapshot selection
                        model = self._train_gan(options, checkpoint, variant.gan_sampler)
                write_png(model.sample_grid(), self.out / f"samples-{name}.png")
        self._gans[key] = model.eval()
        return model

    def _train_gan(self, options: dict[str, Any], checkpoint: Path, sampler: str = "random") -> Any:
        c = self.config
        gan_class = resolve_gan(c.gan_class)  # registered classes only, never an import
        # an image-conditioned GAN (DAGAN) trains on batches of same-class pairs
        paired = gan_class.conditions_on == "image"
        data = self.real_data(PairedImageDataModule if paired else ImageDataModule)
        data.batch_size = c.gan_batch_size
        data.drop_last = True
        data.sampler = sampler  # the order of D's real batches (class-balanced on a long tail)
        # the GAN's initialisation, noise and augmentation follow data_seed; a progress grid
        # every 25 epochs (gan-*/samples/) rather than one per epoch of 500 images
        options = {"seed": c.data_seed, "sample_every_n_epochs": 25, **options}
        model = gan_class(num_classes=data.num_classes, channels=data.image_shape[0],
                          image_size=data.image_shape[1], **options)
        callbacks = []
        if c.gan_selection is not None:
            judge = self.judge()  # recorded next to the referee's verdict, never used to select
            selection = SelectGenerator(self.referee().network, seed=c.data_seed,
                                        monitor=judge.network if judge is not None else None,
                                        **c.gan_selection)
            callbacks.append(selection)
        L.seed_everything(c.data_seed, verbose=False)
        trainer = L.Trainer(max_steps=c.gan_max_steps, accelerator=c.accelerator, devices=1,
                            logger=False, enable_checkpointing=False,
                            enable_progress_bar=self.progress, enable_model_summary=False,
                            default_root_dir=str(checkpoint.parent), callbacks=callbacks,
                            plugins=[SafeCheckpointIO()])  # gan.ckpt written atomically
        trainer.fit(model, data)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(checkpoint, weights_only=False)  # the full state: the GAN resumes
        history = getattr(model.augment_schedule, "history", None)
        if history is not None:  # adaptive augmentation: p's curve (D step, r_t, p)
            atomic_write_json(checkpoint.parent / "augment.json", {
                "schedule": repr(model.augment_schedule),
                "history": [dict(d_step=d, ratio=r, probability=p) for d, r, p in history]})
        if c.gan_selection is not None:
            judged = {i: (m, w) for i, m, w in selection.monitor_history}
            atomic_write_text(checkpoint.parent / "selection.json", json.dumps(
                {"best_iteration": selection.best_iteration, "criterion": selection.criterion,
                 "history": [dict(iteration=i, referee_mean=m, referee_worst=w,
                                  judge_mean=judged.get(i, (None, None))[0],
                                  judge_worst=judged.get(i, (None, None))[1])
                             for i, m, w in selection.history]}, indent=2))
        return model

    # the classifiers of real images: teachers, the referee and the judge

    def _classifier(self, architecture: str, seed: int, classic: str, **extra: Any) -> ClassifierModule:
        real = self.real_data()
        options, _ = self.config.training(architecture)
        return ClassifierModule(architecture=architecture, num_classes=real.num_classes,
                                channels=real.image_shape[0], image_size=real.image_shape[1],
                                classic_augment=classic, seed=seed, **{**options, **extra})

    def _teacher_path(self, classifier: str, seed: int, recipe: str = "") -> Path:
        name = f"{classifier}-{recipe}-seed{seed}" if recipe else f"{classifier}-seed{seed}"
        return self.out / "teachers" / f"{name}.pt"

    def teacher(self, classifier: str, seed: int, recipe: str = "") -> ClassifierModule:
        """The classic-arm classifier of ``seed``, or with ``recipe`` that recipe's control run's
        (saved by that run; trained the same way here when the plan does not hold it)."""
        key = (classifier, seed, recipe)
        if key not in self._teachers:
            c = self.config
            remedy = next((r for r in c.recipes if r.name == recipe), None) if recipe else None
            extra = remedy.classifier_options() if remedy else {}
            model = self._classifier(classifier, seed, c.classic_augment, **extra)
            path = self._teacher_path(classifier, seed, recipe)
            name = teacher_task_name(classifier, seed, recipe)
            if path.is_file():
                load_weights(path, model, kind="teacher classifier", remedy=_REDO)
                if Run("classic", classifier, seed, recipe=recipe) not in plan_runs(c):
                    self.timings.reused(name, "teacher")  # else that run's file
            else:
                with self.timings.timing(name, "teacher"), self.threads("teacher"):
                    _, max_steps = c.training(classifier)
                    real = self.real_data()
                    options = remedy.real_blend_options() if remedy else {}
                    self._trainer(max_steps).fit(
                        model, SyntheticBlendDataModule(real, None, seed=seed, **options))
                    atomic_save(model.state_dict(), path)
            self._teachers[key] = model.eval()
        return self._teachers[key]

    def referee(self) -> ClassifierModule:
        """The referee: the teacher of the first classifier and ``data_seed``."""
        c = self.config
        return self.teacher(c.classifiers[0], c.data_seed)

    def bank_referee(self) -> nn.Module:
        """What filters and picks the banks' images: the referee, or with ``bank_referee_seeds``
        the :class:`ClassifierEnsemble` of those seeds' teachers (first classifier); with
        ``bank_referee_recipe``, the teachers of that recipe's control runs instead."""
        c = self.config
        seeds = c.bank_referee_seed_list()
        recipe = c.bank_referee_recipe or ""
        if seeds == [c.data_seed] and not recipe:
            return self.referee()
        members = [self.teacher(c.classifiers[0], s, recipe) for s in seeds]
        return members[0] if len(members) == 1 else ClassifierEnsemble(members).eval()

    def judge(self, index: int = 0) -> ClassifierModule | None:
        """The independent judge of class faithfulness (None when ``judge_per_class`` is 0),
        trained on the held-out validation split; its accuracy on the real test set is written
        to ``judge.json``. ``index=1`` is the second judge (``second_judge``): the same images,
        another seed (``judge2.pt``, ``judge2.json``)."""
        c = self.config
        if not c.judge_per_class:
            return None
        if index not in self._judges:
            seed = step_seed(c.data_seed, 0, index, _JUDGE_STREAM) % 2**31
            model = self._classifier(c.classifiers[0], seed, c.classic_augment)
            name = "judge" if index == 0 else f"judge{index + 1}"
            path = self.out / f"{name}.pt"
            if path.is_file():
                load_weights(path, model, kind="judge", remedy=_REDO)
                self.timings.reused(name, "judge")
            else:
                with self.timings.timing(name, "judge"), self.threads("judge"):
                    self._train_judge(model, seed, path)
            self._judges[index] = model.eval()
        return self._judges[index]

    def judges(self) -> list[ClassifierModule]:
        """Every judge the study trains: the judge, and the second one with ``second_judge``."""
        count = 2 if self.config.second_judge else 1
        return [judge for i in range(count) if (judge := self.judge(i)) is not None]

    def _train_judge(self, model: ClassifierModule, seed: int, path: Path) -> None:
        """Train the judge on the validation split, save it to ``path`` and its test accuracy
        (overall and per class) to the ``.json`` file of the same name."""
        c = self.config
        real = self.real_data()
        real.setup()
        order = EpochSeededRandomSampler(len(real.val_dataset), seed=seed)
        trainer = self._trainer(c.training(c.classifiers[0])[1])
        trainer.fit(model, DataLoader(real.val_dataset, batch_size=c.batch_size, sampler=order))
        trainer.test(model, real.test_dataloader(), verbose=False)
        metrics = model.test_metrics()
        atomic_save(model.state_dict(), path)
        atomic_write_text(path.with_suffix(".json"), json.dumps(
            {"trained_on": f"{c.judge_per_class} held-out real images per class",
             "architecture": c.classifiers[0], "seed": seed,
             "test_accuracy": metrics["test_acc"],
             "test_accuracy_per_class": [metrics[f"test_acc_class{k}"]
                                         for k in range(real.num_classes)]}, indent=2))

    def bank(self, variant: Variant, seed: int, needed: list[int]) -> LabelledImages:
        """Synthetic images of ``variant`` for ``seed``: enough per class for the largest ratio."""
        key = (variant.name, seed)
        if key not in self._banks:
            path = self.out / "banks" / f"{variant.name}-seed{seed}.pt"
            name = f"bank-{variant.name}-seed{seed}"  # as in ganaug.study.tasks
            if path.is_file():
                bank = load_bank(path)
                self.timings.reused(name, "bank")
            else:
                # less the GAN and referee it trains
                with self.timings.timing(name, "bank"), self.threads("bank"):
                    bank = self.draw_bank(variant, seed, needed)
                    save_bank(bank, path, meta={"variant": variant.name, "seed": seed})
            self._banks[key] = bank
        return self._banks[key]

    def bank_control(self, variant: Variant) -> tuple[DiversityControl, nn.Module | None]:
        """``variant``'s diversity control, and the :meth:`bank_referee` it draws with (None when
        the control uses none)."""
        control = variant.diversity()
        return control, self.bank_referee() if control.uses_referee else None

    def synthetic_source(self, variant: Variant) -> Any:
        """What ``variant``'s images are drawn from: its GAN bound to the real training images
        (DAGAN makes images from them), or an :class:`InterpolationSource` of those images."""
        real = self.real_data()
        real.setup()
        if variant.source == "interpolation":
            return InterpolationSource(real.train_dataset, **variant.source_options)
        return self.gan(variant).bind(real.train_dataset)

    def draw_bank(self, variant: Variant, seed: int, counts: list[int]) -> LabelledImages:
        """``counts`` images per class from ``variant``'s source (:meth:`synthetic_source`),
        drawn for ``seed`` under its diversity control (:meth:`bank_control`), as every bank of
        the study is; nothing is saved."""
        control, referee = self.bank_control(variant)
        return generate_bank(self.synthetic_source(variant), counts, control=control,
                             referee=referee, seed=seed, progress=False)

    def faithfulness(self, variant: Variant, seed: int, bank: LabelledImages) -> dict[str, Any]:
        """The judge's verdict on a bank (written next to it); empty without a judge."""
        key = (variant.name, seed)
        if key not in self._faithfulness:
            path = self.out / "banks" / f"{variant.name}-seed{seed}.faithfulness.json"
            judge = self.judge()
            if judge is None:
                verdict: dict[str, Any] = {}
            elif path.is_file():
                verdict = json.loads(path.read_text())
            else:
                with self.timings.timing(f"bank-{variant.name}-seed{seed}", "bank"), \
                        self.threads("bank"):
                    verdict = bank_faithfulness(bank.images, bank.labels, judge.network,
                                                num_classes=bank.num_classes).to_dict()
                    verdict.update(self._bank_measures(bank))
                    atomic_write_json(path, verdict)
            self._faithfulness[key] = verdict
        return self._faithfulness[key]

    def _bank_measures(self, bank: LabelledImages) -> dict[str, Any]:
        """What a bank's verdict holds beside the judge's faithfulness: with ``second_judge``,
        the second judge's per-class faithfulness and how often the two judges agree on the
        bank's images; with ``class_novelty``, its spread and novelty per class (None for a class
        it holds too few images of) against the judge's held-out real images."""
        c = self.config
        measures: dict[str, Any] = {}
        if c.second_judge:
            first, second = (judge.network for judge in self.judges())
            measures["second_judge_per_class"] = bank_faithfulness(
                bank.images, bank.labels, second, num_classes=bank.num_classes).per_class
            measures["judges_agree"] = judge_agreement(bank.images, first, second)
        if c.class_novelty:
            real = self.real_data()
            real.setup()
            train, held = real.train_dataset, real.val_dataset
            results = class_novelty(from_uint8(bank.images), bank.labels,
                                    from_uint8(train.images), train.labels,
                                    from_uint8(held.images), held.labels, bank.num_classes)
            measures["spread_per_class"] = [r.spread if r else None for r in results]
            measures["novelty_per_class"] = [r.novelty if r else None for r in results]
        return measures

    # one run

    def run(self, run: Run) -> dict[str, Any]:
        """Train and test ``run`` (or read its record from the folder); returns its record."""
        record_path = self.out / "runs" / f"{run.run_id}.json"
        if record_path.is_file():
            record = _read_record(record_path)
            if record is not None:
                self.timings.reused(run.run_id, "run", arm=run.arm)
                return record
        # the run's own seconds: less the bank, GAN, judge or teacher it makes on the way
        with self.timings.timing(run.run_id, "run", arm=run.arm), self.threads("run"):
            return self._train_run(run, record_path)

    def _train_run(self, run: Run, record_path: Path) -> dict[str, Any]:
        c = self.config
        started = time.perf_counter()
        real = self.real_data()
        verdict: dict[str, Any] = {}
        recipe = next((r for r in c.recipes if r.name == run.recipe), None)
        if run.synthetic:
            real.setup()
            variant = next(v for v in c.variants if v.name == run.variant)
            bank = self.bank(variant, run.seed, bank_counts(c, real.train_dataset.class_counts()))
            verdict = self.faithfulness(variant, run.seed, bank)
            blend_options = recipe.blend_options() if recipe else {}
            source: Any = bank
            if blend_options.get("resample_every_epoch"):
                # the source itself, drawn from afresh at every epoch as the bank was drawn; the
                # bank's verdict above stands for its draws
                control, referee = self.bank_control(variant)  # as for the bank
                source = self.synthetic_source(variant)
                blend_options = {**blend_options, "diversity": control, "referee": referee}
            balance = run.mode == "balance"  # tops every class up to the largest; no ratio
            data = SyntheticBlendDataModule(real, source, mode=run.mode, seed=run.seed,
                                            ratio=0.0 if balance else run.ratio, **blend_options)
        else:
            real_options = recipe.real_blend_options() if recipe else {}  # e.g. re-sampling
            data = SyntheticBlendDataModule(real, None, seed=run.seed, **real_options)
        classic = c.classic_augment if run.arm in CLASSIC_ARMS else "none"
        extra: dict[str, Any] = recipe.classifier_options() if recipe else {}
        if recipe is not None and recipe.needs_teacher:
            extra["teacher"] = self.teacher(run.classifier, run.seed).network
        model = self._classifier(run.classifier, run.seed, classic, **extra)
        max_steps = c.training(run.classifier)[1]
        reload = {"reload_dataloaders_every_n_epochs": 1} if data.reloads_every_epoch else {}
        trainer = self._trainer(max_steps, callbacks=self._curve(run, max_steps), **reload)
        trainer.fit(model, data)
        if run.arm == "classic":  # this seed's teacher (and the referee), or its recipe's
            path = self._teacher_path(run.classifier, run.seed, run.recipe)
            atomic_save(model.state_dict(), path)
        trainer.test(model, data, verbose=False)
        metrics = model.test_metrics()
        record = {**dataclasses.asdict(run), "run_id": run.run_id,
                  "train_images": len(data.train_dataset),
                  "synthetic_images": int(data.train_dataset.synthetic.sum()),
                  "test_error": metrics["test_error"], "test_samples": metrics["test_samples"],
                  "balanced_error": metrics["test_balanced_error"],
                  "class_errors": [metrics[f"test_error_class{k}"] for k in range(real.num_classes)],
                  "confusion": model.test_confusion(),  # row = true class, column = predicted
                  "class_train_counts": real.train_dataset.class_counts().tolist(),
                  "faithfulness_mean": verdict.get("mean"),
                  "faithfulness_worst": verdict.get("worst"),
                  **{field: verdict[key] for field, key in VERDICT_PER_CLASS.items()
                     if key in verdict},
                  "seconds": round(time.perf_counter() - started, 1)}
        atomic_write_json(record_path, record)  # a kill leaves no half file
        return record

    def _curve(self, run: Run, max_steps: int) -> list[LearningCurve]:
        """The run's learning-curve recorder (none when ``curve_points`` is 0)."""
        c = self.config
        if not c.curve_points:
            return []
        return [LearningCurve(every_n_steps=max(1, max_steps // c.curve_points),
                              test_per_class=c.curve_test_per_class, seed=c.data_seed,
                              path=self.out / "curves" / f"{run.run_id}.csv",
                              loggers=self.loggers, prefix=f"{run.run_id}/")]

    def run_all(self) -> list[dict[str, Any]]:
        runs = plan_runs(self.config)
        records = []
        bar = tqdm(runs, desc="study", unit="run", disable=not self.progress)
        for run in bar:
            bar.set_postfix_str(run.run_id)
            records.append(self.run(run))
        return records


def _read_record(path: Path) -> dict[str, Any] | None:
    """A finished run's record; None when the file is not a JSON object (a write cut short), which
    is then named in a warning and moved aside to ``<name>.corrupt`` so that the run is redone."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if isinstance(record, dict):
        return record
    aside = path.with_name(path.name + ".corrupt")
    path.replace(aside)
    warnings.warn(f"the run record {path} is corrupt (not a JSON object); moved to {aside.name} "
                  f"and the run is trained again", stacklevel=3)
    return None


def bank_counts(config: StudyConfig, real_counts: torch.Tensor) -> list[int]:
    """Synthetic images per class that every blend of the study can draw from: the largest ratio's
    ``floor(r * N_c + 0.5)`` (1 when a synthetic-only arm runs), and the re-balancing counts
    when a mode is ``balance`` (to the largest class, or to a recipe's ``target``)."""
    ratio_modes = [mode for mode in config.modes if mode != "balance"]
    cas = config.cas or config.cas_classic
    largest = max([*(config.ratios if ratio_modes else []), 1.0 if cas else 0.0])
    needed = blend_counts(real_counts, largest, "augment")
    if "balance" in config.modes:
        targets = [None] + [recipe.options["target"] for recipe in config.recipes
                            if recipe.options.get("target") is not None]
        for target in targets:  # a cap only lowers a count: the uncapped one covers it
            needed = torch.maximum(needed, balance_counts(real_counts, target))
    return needed.tolist()


def run_study(config: StudyConfig, out: str | Path, *, progress: bool = True,
              loggers: Sequence[Logger] = (),
              executor: Executor | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the study in ``out``; returns the summary rows and writes every output.
    ``loggers`` (any Lightning loggers) get each run's learning curve as it trains. ``executor``
    does the work: None = this process, one run after the other
    (:class:`~ganaug.study.executors.SequentialExecutor`); a
    :class:`~ganaug.study.local_executor.LocalExecutor` runs tasks side by side in worker
    processes, a :class:`~ganaug.study.ray_executor.RayExecutor` spreads them over a Ray
    cluster. Every executor runs each task with the config's ``threads`` (``gan_threads``).
    A second driver on the same ``out`` stops at once with :class:`~ganaug.study.lock.StudyLocked`
    (:class:`~ganaug.study.lock.StudyLock`)."""
    config.validate()  # an invalid setting makes no folder
    with StudyLock(out):  # one driver per folder, whichever executor it uses
        # the only driver: a temporary file here is a killed writer's, never to be completed
        if removed := remove_partials(out, keep_prefix=LOCK_NAME):
            warnings.warn(f"removed {len(removed)} unfinished file(s) that an interrupted study "
                          f"left in {out}: {', '.join(p.name for p in removed[:3])}"
                          f"{', ...' if len(removed) > 3 else ''}", stacklevel=2)
        study = Study(config, out, progress=progress, loggers=loggers)
        records = study.run_all() if executor is None else executor.execute(study)
        with study.timings.timing("outputs", "outputs"):
            rows = summarize(records)
            write_results(records, rows, study.out)
        # apart from the results: wall times differ from one invocation to the next
        study.timings.write(study.out / "timings.json",
                            executor=type(executor).__name__ if executor else "SequentialExecutor",
                            threads=config.threads, gan_threads=config.task_threads("gan"),
                            cpus=getattr(executor, "cpus", None))
    return rows
