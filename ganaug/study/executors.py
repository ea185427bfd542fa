"""Who does a study's work: :class:`SequentialExecutor` (one process, the default of
:func:`~ganaug.study.runner.run_study`),
:class:`~ganaug.study.local_executor.LocalExecutor` (tasks side by side in worker processes, the
default of ``ganaug study``) or :class:`~ganaug.study.ray_executor.RayExecutor` (tasks on a Ray
cluster), each an :class:`Executor`; :class:`StudyFailed` names the tasks that did not finish.

Every executor writes the same files in the study folder (one JSON record per finished run, the
GANs, banks, teachers and judge), with each task run with the config's torch threads, so a study
started with one resumes with another.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ganaug.study.runner import Study

__all__ = ["Executor", "SequentialExecutor", "StudyFailed", "quiet_lightning"]


class Executor(Protocol):
    """Does every task of a study and returns the records of its runs, in the plan's order."""

    def execute(self, study: Study) -> list[dict[str, Any]]: ...


class SequentialExecutor:
    """Every run in this process, one after the other, in the plan's order (each run trains the
    GAN, bank, teacher or judge it needs when the folder does not hold it yet). The first error
    stops the study; a rerun resumes after the last finished run."""

    def execute(self, study: Study) -> list[dict[str, Any]]:
        return study.run_all()


class StudyFailed(RuntimeError):
    """Some tasks of a study failed (or could not start because a task they need failed); the
    others finished and are recorded, so rerunning the same command retries only these.
    ``failures`` maps each task's name to what went wrong (a traceback where there is one)."""

    def __init__(self, failures: dict[str, str], finished: int, total: int) -> None:
        self.failures = dict(failures)
        lines = [f"{name}: {error_line(reason)}" for name, reason in failures.items()]
        super().__init__(f"{len(failures)} of {total} tasks failed ({finished} finished, recorded "
                         f"in the study folder; rerun the same command to retry the others): "
                         + "; ".join(lines))


def error_line(text: str) -> str:
    """The whole first line of an error: after a traceback (the last one, for chained errors),
    its ``Type: message`` line; otherwise the first line of ``text``. A message of several lines
    keeps its first, which names what went wrong (and, for ganaug's errors, the file)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines)
              if line.startswith((" ", "\t")) and line.lstrip().startswith('File "')]
    if frames:
        for line in lines[frames[-1] + 1:]:
            if not line.startswith((" ", "\t")):  # a frame's lines are indented, the error not
                return line.strip()
    return lines[0].strip() if lines else "failed"


def quiet_lightning() -> None:
    """Keep a study's output to its progress and table: a study makes dozens of Trainers, and
    each would print its hardware summary, tips and the same few warnings. Called by the command
    and in every worker process (local or Ray)."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA G
    warnings.filterwarnings("ignore", message=r".*validation_step. but have no .val_dataloader.*")
    warnings.filterwarnings("ignore", message=r".*val_dataloader. but have no .validation_step.*")
