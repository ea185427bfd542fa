"""Running a study's tasks in parallel on this machine (``ganaug study``, the command's default
executor): :class:`LocalExecutor` turns the study into the tasks of
:func:`~ganaug.study.tasks.plan_tasks` and does each in a worker process as soon as the tasks it
needs have finished and its CPUs are free. A task takes as many CPUs as its torch threads
(``threads``; ``gan_threads`` for a GAN training), and at most ``cpus`` are busy at once, so two
single-thread runs share a 2-core machine while a 2-thread GAN training runs alone.

Each task is rebuilt in its worker from the configuration and the study folder, and runs with the
threads :class:`~ganaug.study.runner.Study` sets, as under the other executors: the files are
the same, byte for byte, and a study started with one executor resumes with another. A task that
fails is reported by name when the study ends, the tasks that need it are not started, and every
other task finishes and is recorded.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tqdm.auto import tqdm

from ganaug.study.config import StudyConfig
from ganaug.study.executors import error_line, quiet_lightning
from ganaug.study.runner import Study
from ganaug.study.schedule import Schedule
from ganaug.study.tasks import Task, perform

__all__ = ["LocalExecutor", "available_cpus"]


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalExecutor:
    """Does a study's tasks in worker processes on this machine, keeping at most ``cpus`` CPUs
    busy (None: :func:`available_cpus`). A task takes its torch threads in CPUs (``threads``, or
    ``gan_threads`` for a GAN training; capped at ``cpus``, so a wider GAN training runs alone);
    ready tasks start in the order of :func:`~ganaug.study.tasks.plan_tasks`."""

    def __init__(self, cpus: int | None = None) -> None:
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
            raise ValueError(f"cpus must be a whole number >= 1, got {cpus!r}")
        self.cpus = cpus if cpus is not None else available_cpus()

    def execute(self, study: Study) -> list[dict[str, Any]]:
        """Do every task of ``study`` that its folder does not hold yet; return the records of its
        runs in the plan's order, or raise :class:`~ganaug.study.executors.StudyFailed` naming
        the tasks that failed."""
        if study.loggers:
            raise ValueError("Lightning loggers cannot follow runs in other processes: run with "
                             "the sequential executor, or read each run's curves/<run_id>.csv")
        config = study.config
        schedule = Schedule.of(study, cpus=self.cpus,
                               cost=lambda task: min(config.task_threads(task.kind), self.cpus))
        if not schedule.active:
            return schedule.outcome(study)
        values, out = config.to_dict(), str(study.out)
        bar = tqdm(total=len(schedule.tasks), initial=len(schedule.finished), desc="study",
                   unit="task", disable=not study.progress)
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        in_flight: dict[Future, Task] = {}
        with ProcessPoolExecutor(max_workers=self.cpus, mp_context=context,
                                 initializer=_start_worker, initargs=(os.getpid(),)) as pool:
            while schedule.active:
                for task in schedule.start():
                    try:
                        in_flight[pool.submit(_perform_in_process, values, out, task)] = task
                    except BrokenProcessPool as error:  # a worker died (killed, out of memory)
                        schedule.failed(task, f"{type(error).__name__}: {error}")
                bar.set_postfix_str(schedule.progress())
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        result, seconds = future.result()
                    except Exception as error:  # what the task raised, with its traceback
                        reason = "".join(traceback.format_exception(error))
                        schedule.failed(task, reason)
                        bar.write(f"study: {task.name} failed: {error_line(reason)}")
                    else:
                        schedule.succeeded(task, result, seconds, study.timings)
                        bar.update(1)
                bar.set_postfix_str(schedule.progress())
        bar.close()
        return schedule.outcome(study)


def _start_worker(driver: int, poll_seconds: float = 1.0) -> None:
    """Set a worker process up: Lightning's output kept quiet, and (on POSIX systems) a watch that
    ends the worker when the ``driver`` process is gone. A killed ``ganaug study`` would otherwise
    leave its workers training on into the study folder (Lightning catches their SIGTERM)."""
    quiet_lightning()
    if os.name != "posix":
        return

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            try:
                os.kill(driver, 0)  # signal 0: only asks whether the process exists
            except (ProcessLookupError, PermissionError):  # gone, or the pid reused by another user
                os._exit(1)

    threading.Thread(target=watch, name="ganaug-driver-watch", daemon=True).start()


def _perform_in_process(config: dict[str, Any], out: str,
                        task: Task) -> tuple[dict[str, Any] | None, float]:
    """One task in a worker process, rebuilt from the configuration and the study folder alone
    (:class:`~ganaug.study.runner.Study` sets its torch threads). Returns what
    :func:`~ganaug.study.tasks.perform` returns and the task's wall seconds in the worker."""
    study = Study(StudyConfig.from_dict(config), out, progress=False)
    started = time.perf_counter()
    return perform(study, task), time.perf_counter() - started
