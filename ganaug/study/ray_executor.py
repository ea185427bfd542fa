"""Running a study on a Ray cluster (``ganaug study --executor ray``; ``pip install 'ganaug[ray]'``).

:class:`RayExecutor` turns the study into the tasks of :func:`~ganaug.study.tasks.plan_tasks`
and submits each one as a Ray task as soon as the tasks it needs have finished: the judge, the
real-image runs and the GAN trainings at once, the banks after their GAN, the runs with synthetic
images after their bank. Each task reserves ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs
(``gpus_per_gan`` for a GAN; Ray accepts fractions, so four runs of 0.25 share a GPU, and shows a
task only the GPUs it reserved; a task that reserves none runs on the CPU under
``accelerator: auto``) and rebuilds what it needs from the configuration and the study
folder, which every node must therefore see at the same path (a shared file system). Nothing of
the driver's memory travels but the configuration and the task's name.

A task that fails is reported by name when the study ends, and the tasks that need it are not
started; every other task finishes and is recorded, so the same command (with either executor)
retries only what is missing.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from ganaug.study.config import StudyConfig
from ganaug.study.executors import StudyFailed, last_line, quiet_lightning
from ganaug.study.plan import plan_runs
from ganaug.study.runner import Study
from ganaug.study.tasks import Task, is_done, perform, plan_tasks, read_record

__all__ = ["RayExecutor"]


class RayExecutor:
    """Does a study's tasks on a Ray cluster: the one at ``address`` (``ray://host:10001`` or
    ``host:6379``), else the one ``RAY_ADDRESS`` names, else a local cluster started on this
    machine with ``num_cpus`` CPUs and ``num_gpus`` GPUs (None = all it has) and stopped at the
    end. When this process has already called ``ray.init`` (a notebook, a test), that cluster is
    used and left running."""

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 num_gpus: int | None = None, poll_seconds: float = 0.5) -> None:
        _import_ray()  # fail here, before any work, when the extra is not installed
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.poll_seconds = poll_seconds  # how often the progress line is brought up to date

    def execute(self, study: Study) -> list[dict[str, Any]]:
        """Do every task of ``study`` that its folder does not hold yet; return the records of its
        runs in the plan's order, or raise :class:`StudyFailed` naming the tasks that failed."""
        if study.loggers:
            raise ValueError("Lightning loggers cannot follow runs in other processes: run with "
                             "the sequential executor, or read each run's curves/<run_id>.csv")
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            address = self.address or os.environ.get("RAY_ADDRESS") or None
            if address:
                ray.init(address=address)
            else:
                ray.init(num_cpus=self.num_cpus, num_gpus=self.num_gpus, include_dashboard=False)
        try:
            _check_resources(ray, study.config)
            return _Schedule(ray, study, self.poll_seconds).run()
        finally:
            if started_here:
                ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError("the ray executor needs Ray: pip install 'ganaug[ray]' (or use the "
                          "sequential executor)") from error
    return ray


def _check_resources(ray: Any, config: StudyConfig) -> None:
    """Refuse a study whose tasks no node of the cluster could ever start (they would wait
    forever), and a GPU study whose runs would see no GPU."""
    if config.accelerator in ("gpu", "cuda") and config.gpus_per_run == 0:
        raise ValueError("accelerator gpu under the ray executor needs gpus_per_run > 0 (e.g. 0.25 "
                         "for four runs per GPU; --gpus-per-run), or Ray shows the runs no GPU")
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    wanted = {"CPU": config.cpus_per_run,
              "GPU": max(config.gpus_per_run, _gan_gpus(config))}
    for resource, amount in wanted.items():
        largest = max((node.get(resource, 0.0) for node in nodes), default=0.0)
        if amount > largest:
            setting = "cpus_per_run" if resource == "CPU" else "gpus_per_run / gpus_per_gan"
            raise ValueError(f"a task of this study reserves {amount:g} {resource}, and the "
                             f"largest node of the Ray cluster has {largest:g}; lower {setting} "
                             f"or connect to a cluster that has them")


def _gan_gpus(config: StudyConfig) -> float:
    return config.gpus_per_run if config.gpus_per_gan is None else config.gpus_per_gan


class _Schedule:
    """One execution: submits each task when its needs have finished, follows progress, and
    collects the runs' records and the failures."""

    def __init__(self, ray: Any, study: Study, poll_seconds: float) -> None:
        self.ray = ray
        self.study = study
        self.poll_seconds = poll_seconds
        self.tasks = plan_tasks(study.config)
        self.finished = {task.name for task in self.tasks if is_done(study, task)}
        for task in self.tasks:
            if task.name in self.finished:  # timings.json: reused from the folder, not timed
                study.timings.reused(task.name, task.kind, arm=_arm(task))
        self.failures: dict[str, str] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.in_flight: dict[Any, Task] = {}  # object ref -> task
        self.tracker = ray.remote(num_cpus=0)(_tracker()).remote()
        self.remote = ray.remote(_perform_in_worker)
        self.config = study.config.to_dict()

    def run(self) -> list[dict[str, Any]]:
        waiting = [task for task in self.tasks if task.name not in self.finished]
        bar = tqdm(total=len(self.tasks), initial=len(self.finished), desc="study", unit="task",
                   disable=not self.study.progress)
        while waiting or self.in_flight:
            waiting = self._submit_ready(waiting)
            if not self.in_flight:
                break
            # the first task to finish, or none within poll_seconds; then any others done by now
            done, rest = self.ray.wait(list(self.in_flight), num_returns=1,
                                       timeout=self.poll_seconds)
            if done and rest:
                done += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            for ref in done:
                self._collect(ref, bar)
            running = self.ray.get(self.tracker.running.remote()) & \
                {task.name for task in self.in_flight.values()}
            bar.set_postfix_str(f"running {len(running)}, "
                                f"queued {len(waiting) + len(self.in_flight) - len(running)}, "
                                f"failed {len(self.failures)}")
        bar.close()
        if self.failures:
            raise StudyFailed(self.failures, len(self.finished), len(self.tasks))
        records = []
        for run in plan_runs(self.study.config):
            record = self.records.get(run.run_id) or read_record(self.study, run)
            if record is None:
                raise RuntimeError(f"the run {run.run_id} finished, and {self.study.out}/runs "
                                   f"holds no record of it: was the folder changed meanwhile?")
            records.append(record)
        return records

    def _submit_ready(self, waiting: list[Task]) -> list[Task]:
        """Submit the waiting tasks whose needs have finished, fail those whose needs failed, and
        return the others."""
        still = []
        for task in waiting:
            failed = [need for need in task.needs if need in self.failures]
            if failed:
                self.failures[task.name] = f"not started: it needs {failed[0]}, which failed"
            elif all(need in self.finished for need in task.needs):
                self.in_flight[self._submit(task)] = task
            else:
                still.append(task)
        return still

    def _submit(self, task: Task) -> Any:
        c = self.study.config
        gpus = _gan_gpus(c) if task.kind == "gan" else c.gpus_per_run
        options = dict(num_cpus=c.cpus_per_run, num_gpus=gpus, name=task.name)
        return self.remote.options(**options).remote(
            task_config(self.config, gpus), str(self.study.out), task,
            max(1, int(c.cpus_per_run)), self.tracker)

    def _collect(self, ref: Any, bar: tqdm) -> None:
        task = self.in_flight.pop(ref)
        try:
            result, seconds = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            self.failures[task.name] = str(error)
            bar.write(f"study: {task.name} failed: {last_line(str(error))}")
            return
        self.finished.add(task.name)
        self.study.timings.add(task.name, task.kind, seconds, arm=_arm(task))
        if task.kind == "run":
            self.records[task.name] = result
        bar.update(1)


def _arm(task: Task) -> str | None:
    """The arm of a run task (None for the other kinds), as timings.json lists it."""
    return task.run.arm if task.run is not None else None


def task_config(config: dict[str, Any], gpus: float) -> dict[str, Any]:
    """The configuration a task reserving ``gpus`` GPUs runs with: on the CPU when it reserves
    none and the accelerator is ``auto`` (Ray 2.60 no longer hides the GPUs from such a task,
    and Lightning would take one that another task reserved)."""
    if gpus == 0 and config["accelerator"] == "auto":
        return {**config, "accelerator": "cpu"}
    return config


def _tracker() -> type:
    """A Ray actor class that tasks tell when they start, so that progress can tell running tasks
    from queued ones (a submitted task may wait for resources). Defined in a function so that Ray
    ships the class itself and its process starts without importing ganaug (and torch)."""

    class Tracker:
        def __init__(self) -> None:
            self._started: set[str] = set()

        def started(self, name: str) -> None:
            self._started.add(name)

        def running(self) -> set[str]:
            return set(self._started)

    return Tracker


def _perform_in_worker(config: dict[str, Any], out: str, task: Task, threads: int,
                       tracker: Any) -> tuple[dict[str, Any] | None, float]:
    """One task in a Ray worker: rebuilt from the configuration and the study folder alone.
    Returns what :func:`perform` returns and the task's wall seconds in the worker (with the
    reading of the files it needs)."""
    tracker.started.remote(task.name)
    torch.set_num_threads(threads)  # as many as the CPUs it reserved, in a reused worker too
    quiet_lightning()
    study = Study(StudyConfig.from_dict(config), out, progress=False)
    started = time.perf_counter()
    return perform(study, task), time.perf_counter() - started
