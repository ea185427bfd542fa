"""Running a study on a Ray cluster (``ganaug study --executor ray``; ``pip install 'ganaug[ray]'``).

:class:`RayExecutor` turns the study into the tasks of :func:`~ganaug.study.tasks.plan_tasks`
and submits each one as a Ray task as soon as the tasks it needs have finished: the judge, the
real-image runs and the GAN trainings at once, the banks after their GAN, the runs with synthetic
images after their bank. Each task reserves ``cpus_per_run`` CPUs (or its torch threads,
``threads`` / ``gan_threads``, when they are more) and ``gpus_per_run`` GPUs
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

from tqdm.auto import tqdm

from ganaug.study.config import StudyConfig
from ganaug.study.executors import error_line, quiet_lightning
from ganaug.study.runner import Study
from ganaug.study.schedule import Schedule
from ganaug.study.tasks import Task, perform

__all__ = ["RayConnectionError", "RayExecutor", "connect"]


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
                connect(ray, address)
            else:
                ray.init(num_cpus=self.num_cpus, num_gpus=self.num_gpus, include_dashboard=False)
        try:
            _check_resources(ray, study.config)
            return _Schedule(ray, study, self.poll_seconds).run()
        finally:
            if started_here:
                ray.shutdown()


class RayConnectionError(ConnectionError):
    """This process could not join the Ray cluster at the address it was given; the message says
    what to check (the address, and token authentication: ``RAY_AUTH_MODE=token``)."""


def connect(ray: Any, address: str) -> None:
    """``ray.init(address=address)``, with a failure to connect as one :class:`RayConnectionError`
    that names the likely causes instead of Ray's traceback.

    The usual cause beside a wrong address (measured with Ray 2.60): a head started by
    ``ray start`` on a machine where a local ``ray.init()`` once ran finds ``~/.ray/auth_token``
    and turns token authentication on; a driver without ``RAY_AUTH_MODE=token`` is refused
    (``AuthenticationError`` / ``InvalidAuthToken``, then a ``ConnectionError``).
    """
    try:
        ray.init(address=address)
    except Exception as error:
        if not _is_connection_failure(error):
            raise
        cause = " ".join(str(error).split())[:200] or type(error).__name__
        auth = os.environ.get("RAY_AUTH_MODE")
        advice = ("if the cluster uses token authentication (a head started by `ray start` "
                  "turns it on when ~/.ray/auth_token exists), run with RAY_AUTH_MODE=token "
                  "and the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN)"
                  if auth != "token" else
                  "RAY_AUTH_MODE=token is set: check that this machine has the cluster's "
                  "token (~/.ray/auth_token or RAY_AUTH_TOKEN)")
        raise RayConnectionError(
            f"cannot connect to the Ray cluster at {address} ({type(error).__name__}: {cause}); "
            f"check the address with `ray status --address {address}`; {advice}; see "
            "docs/scaling.md, 'Connecting to a cluster'") from error


def _is_connection_failure(error: BaseException) -> bool:
    """A failure to reach or to be admitted by a cluster, anywhere in ``error``'s chain."""
    seen = 0
    while error is not None and seen < 10:
        name = type(error).__name__
        if isinstance(error, (ConnectionError, TimeoutError)) or "Auth" in name:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


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
    wanted = {"CPU": max(config.cpus_per_run, config.task_threads("run"),
                         config.task_threads("gan")),
              "GPU": max(config.gpus_per_run, _gan_gpus(config))}
    for resource, amount in wanted.items():
        largest = max((node.get(resource, 0.0) for node in nodes), default=0.0)
        if amount > largest:
            setting = "cpus_per_run / threads / gan_threads" if resource == "CPU" \
                else "gpus_per_run / gpus_per_gan"
            raise ValueError(f"a task of this study reserves {amount:g} {resource}, and the "
                             f"largest node of the Ray cluster has {largest:g}; lower {setting} "
                             f"or connect to a cluster that has them")


def _gan_gpus(config: StudyConfig) -> float:
    return config.gpus_per_run if config.gpus_per_gan is None else config.gpus_per_gan


class _Schedule:
    """One execution on the cluster: submits each task that :class:`Schedule` hands out and
    follows progress."""

    def __init__(self, ray: Any, study: Study, poll_seconds: float) -> None:
        self.ray = ray
        self.study = study
        self.poll_seconds = poll_seconds
        self.schedule = Schedule.of(study)  # no CPU limit here: Ray places the tasks
        self.in_flight: dict[Any, Task] = {}  # object ref -> task
        self.tracker = ray.remote(num_cpus=0)(_tracker()).remote()
        self.remote = ray.remote(_perform_in_worker)
        self.config = study.config.to_dict()

    def run(self) -> list[dict[str, Any]]:
        schedule = self.schedule
        bar = tqdm(total=len(schedule.tasks), initial=len(schedule.finished), desc="study",
                   unit="task", disable=not self.study.progress)
        while schedule.active:
            for task in schedule.start():
                self.in_flight[self._submit(task)] = task
            if not self.in_flight:
                break
            # the first task to finish, or none within poll_seconds; then any others done by now
            done, rest = self.ray.wait(list(self.in_flight), num_returns=1,
                                       timeout=self.poll_seconds)
            if done and rest:
                done += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            for ref in done:
                self._collect(ref, bar)
            running = self.ray.get(self.tracker.running.remote()) & set(schedule.running)
            bar.set_postfix_str(schedule.progress(len(running)))
        bar.close()
        return schedule.outcome(self.study)

    def _submit(self, task: Task) -> Any:
        c = self.study.config
        gpus = _gan_gpus(c) if task.kind == "gan" else c.gpus_per_run
        # at least as many CPUs as the task's torch threads (which Study sets)
        options = dict(num_cpus=task_cpus(c, task), num_gpus=gpus, name=task.name)
        return self.remote.options(**options).remote(
            task_config(self.config, gpus), str(self.study.out), task, self.tracker)

    def _collect(self, ref: Any, bar: tqdm) -> None:
        task = self.in_flight.pop(ref)
        try:
            result, seconds = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            self.schedule.failed(task, str(error))
            bar.write(f"study: {task.name} failed: {error_line(str(error))}")
            return
        self.schedule.succeeded(task, result, seconds, self.study.timings)
        bar.update(1)


def task_cpus(config: StudyConfig, task: Task) -> float:
    """The CPUs ``task`` reserves on a Ray cluster: ``cpus_per_run``, or its torch threads when
    they are more."""
    return max(config.cpus_per_run, config.task_threads(task.kind))


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


def _perform_in_worker(config: dict[str, Any], out: str, task: Task,
                       tracker: Any) -> tuple[dict[str, Any] | None, float]:
    """One task in a Ray worker: rebuilt from the configuration and the study folder alone
    (:class:`Study` sets its torch threads). Returns what :func:`perform` returns and the task's
    wall seconds in the worker (with the reading of the files it needs)."""
    tracker.started.remote(task.name)
    quiet_lightning()
    study = Study(StudyConfig.from_dict(config), out, progress=False)
    started = time.perf_counter()
    return perform(study, task), time.perf_counter() - started
