"""Where a study's time went: :class:`TaskTimings` records the wall seconds of every task a study
does (the judge, each teacher, each GAN training with its snapshot selection, each bank with the
judge's verdict on it, each classifier run) under its phase, and writes them to ``timings.json``
in the study folder.

Wall times are not reproducible, so they stay out of ``results.csv``, ``summary.json`` and the
run records that results are built from. A task is named and phased as in
:mod:`ganaug.study.tasks` (the phase is the task's kind: ``judge``, ``teacher``, ``gan``,
``bank``, ``run``); writing the outputs is the phase ``outputs``.

In one process tasks nest (the first run with synthetic images draws its bank, which trains the
GAN, which trains the judge), so each task's seconds are its own: the time of the tasks done
inside it is taken off. A task whose files the folder already held (a resumed study) is listed
as reused, without seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ganaug.atomic import atomic_write_text
__all__ = ["PHASES", "TaskTimings"]

PHASES = ("judge", "teacher", "gan", "bank", "run", "outputs")
"""The phases of a study, in the order they first occur in a fresh study."""


class TaskTimings:
    """The wall seconds of the tasks one study invocation does, each under its phase (one of
    :data:`PHASES`); runs also carry their arm. See the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock  # seconds from any origin
        self.started = clock()
        self.tasks: dict[str, dict[str, Any]] = {}  # name -> entry, in the order first seen
        self._nested: list[float] = []  # per open task: seconds of the tasks done inside it

    @contextmanager
    def timing(self, name: str, phase: str, arm: str | None = None) -> Iterator[None]:
        """Time the block as (part of) task ``name``: its seconds, less those of the tasks timed
        inside it, are added to the task's. A block that raises records nothing."""
        started = self.clock()
        self._nested.append(0.0)
        try:
            yield
        except BaseException:
            self._close(started)
            raise
        self.add(name, phase, self._close(started), arm=arm)

    def _close(self, started: float) -> float:
        """End the innermost open block; returns its own seconds and charges its whole time to
        the block around it."""
        elapsed = self.clock() - started
        inner = self._nested.pop()
        if self._nested:
            self._nested[-1] += elapsed
        return elapsed - inner

    def add(self, name: str, phase: str, seconds: float, *, arm: str | None = None) -> None:
        """Add ``seconds`` to task ``name`` (a task done in another process, or in parts)."""
        entry = self._entry(name, phase, arm)
        entry["seconds"] = (entry["seconds"] or 0.0) + seconds
        entry["reused"] = False

    def reused(self, name: str, phase: str, arm: str | None = None) -> None:
        """Note that task ``name`` was not done: the study folder already held its files."""
        self._entry(name, phase, arm)

    def _entry(self, name: str, phase: str, arm: str | None) -> dict[str, Any]:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        entry = self.tasks.setdefault(name, {"name": name, "phase": phase, "seconds": None,
                                             "reused": True})
        if arm is not None:
            entry["arm"] = arm
        return entry

    def summary(self, **about: Any) -> dict[str, Any]:
        """The JSON object of ``timings.json``: ``about`` (executor, threads), the wall seconds
        since this object was made, seconds per phase and per run arm (sums over the tasks
        timed; under a parallel executor they can exceed the wall time), and every task."""
        phases = {phase: 0.0 for phase in PHASES}
        arms: dict[str, float] = {}
        for entry in self.tasks.values():
            if entry["seconds"] is None:
                continue
            phases[entry["phase"]] += entry["seconds"]
            if entry["phase"] == "run":
                arms[entry["arm"]] = arms.get(entry["arm"], 0.0) + entry["seconds"]
        return {**about, "wall_seconds": round(self.clock() - self.started, 3),
                "phase_seconds": {k: round(v, 3) for k, v in phases.items()},
                "run_seconds_by_arm": {k: round(v, 3) for k, v in arms.items()},
                "tasks": [{**entry, "seconds": None if entry["seconds"] is None
                           else round(entry["seconds"], 3)} for entry in self.tasks.values()]}

    def write(self, path: str | Path, **about: Any) -> None:
        """Write :meth:`summary` to ``path`` (``timings.json`` in the study folder)."""
        atomic_write_text(path, json.dumps(self.summary(**about), indent=2) + "\n")
