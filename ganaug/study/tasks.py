"""The study as a graph of named tasks, for executors that spread it over processes and machines.

Every piece of a study's work becomes one :class:`Task` that a fresh process can do from the
configuration and the study folder alone (:func:`perform`), and that names the tasks whose files
it reads (``needs``):

- ``judge``: the independent judge (``judge.pt``), when the study has one and something uses it;
- ``teacher-<classifier>-seed<s>``: a real-image classifier that no run of the plan saves (the
  referee when ``data_seed`` is not among the seeds, a bank referee of another seed); otherwise
  the teacher of a seed *is* that seed's classic run, and tasks that need it name the run;
- ``gan-<name>``: one GAN training per ``gan-*`` folder, after the referee and the judge when the
  GAN's snapshot is selected (none for a variant of ``source: interpolation``);
- ``bank-<variant>-seed<s>``: a synthetic bank and the judge's verdict on it, after its GAN (and
  the referee, or the teachers of ``bank_referee_seeds``, when its control filters or picks with
  it);
- ``<run_id>``: one classifier run, after its bank and, for a soft-label recipe, its teacher.

The graph only orders the work: each task calls the same :class:`~ganaug.study.runner.Study`
method that the sequential executor calls, so both write the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganaug.study.config import StudyConfig, Variant
from ganaug.study.plan import Run, plan_runs
from ganaug.study.runner import Study, bank_counts, teacher_task_name

__all__ = ["Task", "is_done", "perform", "plan_tasks"]


@dataclass(frozen=True)
class Task:
    """One piece of a study's work: ``kind`` is ``judge``, ``teacher``, ``gan``, ``bank`` or
    ``run``; ``needs`` names the tasks that must finish first."""

    name: str
    kind: str
    needs: tuple[str, ...] = ()
    run: Run | None = None  # kind "run"
    variant: str = ""  # kinds "gan" and "bank"
    classifier: str = ""  # kind "teacher"
    seed: int = 0  # kinds "teacher" and "bank"
    recipe: str = ""  # kind "teacher": the recipe of its control run ("" = plain classic)


def gan_folder(config: StudyConfig, variant: Variant) -> str | None:
    """The ``gan-*`` folder the GAN of ``variant`` is trained into (None: ``gan_checkpoint``, or
    a variant whose images come from no GAN)."""
    if variant.source != "gan" or config.gan_checkpoint and not variant.trains_own_gan:
        return None
    return "gan-" + (variant.name if variant.trains_own_gan else "base")


def plan_tasks(config: StudyConfig) -> list[Task]:
    """Every task of the study, each after the tasks it needs, the runs in the plan's order."""
    runs = plan_runs(config)
    run_names = {run.run_id for run in runs}
    tasks: dict[str, Task] = {}

    def teacher(classifier: str, seed: int, recipe: str = "") -> str:
        run = Run("classic", classifier, seed, recipe=recipe)
        if run.run_id in run_names:  # the classic run saves its seed's teacher (or recipe's)
            return run.run_id
        name = teacher_task_name(classifier, seed, recipe)
        tasks.setdefault(name, Task(name, "teacher", classifier=classifier, seed=seed,
                                    recipe=recipe))
        return name

    def referee() -> str:
        return teacher(config.classifiers[0], config.data_seed)

    def bank_referees() -> list[str]:  # as Study.bank_referee
        recipe = config.bank_referee_recipe or ""
        return [teacher(config.classifiers[0], seed, recipe)
                for seed in config.bank_referee_seed_list()]

    variants = {variant.name: variant for variant in config.variants}
    synthetic = [run for run in runs if run.synthetic]
    judged = config.judge_per_class > 0 and (bool(synthetic) or config.gan_selection is not None)
    if judged:
        tasks["judge"] = Task("judge", "judge")

    # the GANs, then the banks they draw, each after what guides or judges it
    for name in dict.fromkeys(run.variant for run in synthetic):
        variant = variants[name]
        folder = gan_folder(config, variant)
        needs = []
        if folder is not None:
            if folder not in tasks:
                selected = config.gan_selection is not None
                gan_needs = ((referee(),) + (("judge",) if judged else ())) if selected else ()
                tasks[folder] = Task(folder, "gan", gan_needs, variant=name)
            needs.append(folder)
        control = variant.diversity()
        if control.uses_referee:
            needs.extend(bank_referees())
        if judged:
            needs.append("judge")
        for seed in config.seeds:
            bank = f"bank-{name}-seed{seed}"
            tasks[bank] = Task(bank, "bank", tuple(needs), variant=name, seed=seed)

    # the runs, in the plan's order
    recipes = {recipe.name: recipe for recipe in config.recipes}
    for run in runs:
        needs = [f"bank-{run.variant}-seed{run.seed}"] if run.synthetic else []
        recipe = recipes.get(run.recipe)
        if recipe is not None and recipe.needs_teacher:
            needs.append(teacher(run.classifier, run.seed))
        tasks[run.run_id] = Task(run.run_id, "run", tuple(needs), run=run)
    return _ordered(tasks)


def _ordered(tasks: dict[str, Task]) -> list[Task]:
    """``tasks`` in their order of insertion, each moved after the tasks it needs."""
    ordered: dict[str, Task] = {}

    def visit(task: Task) -> None:
        if task.name not in ordered:
            for need in task.needs:
                visit(tasks[need])
            ordered[task.name] = task

    for task in tasks.values():
        visit(task)
    return list(ordered.values())


def is_done(study: Study, task: Task) -> bool:
    """Whether the study folder already holds what ``task`` makes (then no process need do it)."""
    out = study.out
    if task.kind == "run":
        return _record(out / "runs" / f"{task.name}.json") is not None
    if task.kind == "judge":
        names = ("judge", "judge2") if study.config.second_judge else ("judge",)
        return all((out / f"{name}.pt").is_file() for name in names)
    if task.kind == "teacher":
        return study._teacher_path(task.classifier, task.seed, task.recipe).is_file()
    if task.kind == "gan":
        return (out / task.name / "gan.ckpt").is_file()
    bank = out / "banks" / f"{task.variant}-seed{task.seed}.pt"
    verdict = bank.with_name(f"{task.variant}-seed{task.seed}.faithfulness.json")
    return bank.is_file() and (verdict.is_file() or not study.config.judge_per_class)


def perform(study: Study, task: Task) -> dict[str, Any] | None:
    """Do ``task`` with ``study`` (its files go to the study folder); a run returns its record."""
    c = study.config
    if task.kind == "run":
        assert task.run is not None
        return study.run(task.run)
    if task.kind == "judge":
        study.judges()
    elif task.kind == "teacher":
        study.teacher(task.classifier, task.seed, task.recipe)
    elif task.kind == "gan":
        study.gan(_variant(c, task.variant))
    elif task.kind == "bank":
        # the same counts a run asks for; the judge's verdict is written beside the bank, so
        # the runs that share it only read it
        real = study.real_data()
        real.setup()
        variant = _variant(c, task.variant)
        bank = study.bank(variant, task.seed, bank_counts(c, real.train_dataset.class_counts()))
        study.faithfulness(variant, task.seed, bank)
    else:
        raise ValueError(f"unknown task kind {task.kind!r}")
    return None


def read_record(study: Study, run: Run) -> dict[str, Any] | None:
    """The record of a finished run from the study folder (None while it is not finished)."""
    return _record(study.out / "runs" / f"{run.run_id}.json")


def _variant(config: StudyConfig, name: str) -> Variant:
    return next(variant for variant in config.variants if variant.name == name)


def _record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
