"""The bookkeeping that every parallel executor of a study shares: :class:`Schedule` holds the
tasks of :func:`~ganaug.study.tasks.plan_tasks` that wait, run, finished or failed, says which
to start next, fails those whose needs failed, and collects the runs' records in the plan's
order. The executors (:class:`~ganaug.study.local_executor.LocalExecutor`,
:class:`~ganaug.study.ray_executor.RayExecutor`) only start tasks and report how they ended."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ganaug.study.executors import StudyFailed
from ganaug.study.plan import plan_runs
from ganaug.study.tasks import Task, is_done, plan_tasks, read_record

if TYPE_CHECKING:
    from ganaug.study.runner import Study
    from ganaug.study.timings import TaskTimings

__all__ = ["Schedule"]


class Schedule:
    """The state of one execution of ``tasks`` (in the order of :func:`plan_tasks`, each after
    its needs), of which those named in ``done`` are already done.

    :meth:`start` hands out the tasks to start now, in the plan's order: a task whose needs have
    all finished, while at most ``cpus`` CPUs are taken, a task taking ``cost(task)`` of them
    (None: no limit, as on a Ray cluster, which places tasks itself). A ready task that does not
    fit waits for CPUs, and so do the ready tasks after it, so that a wide task (a GAN training
    with more threads) is not passed over for ever. The executor reports each task's end with
    :meth:`succeeded` or :meth:`failed`.
    """

    def __init__(self, tasks: Sequence[Task], done: Iterable[str] = (), *,
                 cpus: float | None = None,
                 cost: Callable[[Task], float] = lambda task: 1.0) -> None:
        self.tasks = list(tasks)
        self.finished = set(done)
        self.waiting = [task for task in self.tasks if task.name not in self.finished]
        self.running: dict[str, Task] = {}
        self.failures: dict[str, str] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.cpus = cpus
        self.cost = cost

    @classmethod
    def of(cls, study: Study, *, cpus: float | None = None,
           cost: Callable[[Task], float] = lambda task: 1.0) -> Schedule:
        """The schedule of ``study``'s tasks; those its folder already holds are done, and listed
        as reused in its timings."""
        tasks = plan_tasks(study.config)
        done = [task.name for task in tasks if is_done(study, task)]
        for task in tasks:
            if task.name in done:
                study.timings.reused(task.name, task.kind, arm=_arm(task))
        return cls(tasks, done, cpus=cpus, cost=cost)

    @property
    def active(self) -> bool:
        """Whether some task still waits or runs."""
        return bool(self.waiting or self.running)

    @property
    def busy(self) -> float:
        """The CPUs the running tasks take."""
        return sum(self.cost(task) for task in self.running.values())

    def start(self) -> list[Task]:
        """The tasks to start now, moved from waiting to running; a waiting task whose need
        failed fails without starting."""
        started, still = [], []
        free = None if self.cpus is None else self.cpus - self.busy
        blocked = False
        for task in self.waiting:
            failed = [need for need in task.needs if need in self.failures]
            if failed:
                self.failures[task.name] = f"not started: it needs {failed[0]}, which failed"
            elif blocked or not all(need in self.finished for need in task.needs):
                still.append(task)
            elif free is not None and self.cost(task) > free:
                blocked = True
                still.append(task)
            else:
                if free is not None:
                    free -= self.cost(task)
                self.running[task.name] = task
                started.append(task)
        self.waiting = still
        return started

    def succeeded(self, task: Task, result: dict[str, Any] | None, seconds: float,
                  timings: TaskTimings | None = None) -> None:
        """``task`` finished in ``seconds`` (added to ``timings``); ``result`` is a run's record."""
        del self.running[task.name]
        self.finished.add(task.name)
        if timings is not None:
            timings.add(task.name, task.kind, seconds, arm=_arm(task))
        if task.kind == "run" and result is not None:
            self.records[task.name] = result

    def failed(self, task: Task, reason: str) -> None:
        """``task`` failed: ``reason`` is what went wrong (a traceback where there is one)."""
        self.running.pop(task.name, None)
        self.failures[task.name] = reason

    def progress(self, running: int | None = None) -> str:
        """The progress line's postfix; ``running`` counts the started tasks that run (None: all
        of them; on a cluster a started task may still wait for resources, and counts as
        queued)."""
        running = len(self.running) if running is None else running
        return (f"running {running}, queued {len(self.waiting) + len(self.running) - running}, "
                f"failed {len(self.failures)}")

    def outcome(self, study: Study) -> list[dict[str, Any]]:
        """The records of ``study``'s runs in the plan's order, or :class:`StudyFailed` naming
        the tasks that failed."""
        if self.failures:
            raise StudyFailed(self.failures, len(self.finished), len(self.tasks))
        records = []
        for run in plan_runs(study.config):
            record = self.records.get(run.run_id) or read_record(study, run)
            if record is None:
                raise RuntimeError(f"the run {run.run_id} finished, and {study.out}/runs "
                                   f"holds no record of it: was the folder changed meanwhile?")
            records.append(record)
        return records


def _arm(task: Task) -> str | None:
    """The arm of a run task (None for the other kinds), as timings.json lists it."""
    return task.run.arm if task.run is not None else None
