"""The local executor and the study's torch threads: the shared schedule keeps to its CPUs,
every task runs with the config's threads, the command's options, and workers that end with their
driver. Its results against the sequential executor: test_study_executors.py."""

from __future__ import annotations

import heapq
import json
import multiprocessing
import os
import subprocess
import sys
import time

import lightning as L
import pytest
import torch
from test_study import EVERY_DEPENDENCY, TINY

from ganaug.cli import main
from ganaug.modules import GANModule
from ganaug.study import (
    LocalExecutor,
    Study,
    StudyConfig,
    copy_config,
    plan_runs,
    run_study,
)
from ganaug.study.config import setting_differences
from ganaug.study.schedule import Schedule
from ganaug.study.tasks import Task, plan_tasks

VALUES = EVERY_DEPENDENCY


def simulate(schedule: Schedule, seconds: dict[str, float]) -> list[tuple[float, float, Task]]:
    """Run ``schedule`` on a fake clock, each task taking ``seconds[kind]``; returns every
    task's (start, end, task), checking at each start that the CPUs in use fit."""
    clock, ends, spans = 0.0, [], []
    while schedule.active:
        for task in schedule.start():
            assert schedule.cpus is None or schedule.busy <= schedule.cpus
            heapq.heappush(ends, (clock + seconds[task.kind], len(spans)))
            spans.append((clock, clock + seconds[task.kind], task))
        if not ends:
            break
        clock, index = heapq.heappop(ends)
        task = spans[index][2]
        if task.name.endswith("boom"):
            schedule.failed(task, "RuntimeError: boom")
        else:
            schedule.succeeded(task, {"run_id": task.name} if task.kind == "run" else None, 0.0)
    return spans


def test_the_schedule_gives_a_wide_gan_the_cpus_alone_and_starts_tasks_in_the_plans_order():
    config = StudyConfig.from_dict({**VALUES, "threads": 1, "gan_threads": 2})
    tasks = plan_tasks(config)
    cpus = 2
    schedule = Schedule(tasks, cpus=cpus,
                        cost=lambda task: min(config.task_threads(task.kind), cpus))
    spans = simulate(schedule, {"judge": 3, "teacher": 2, "gan": 5, "bank": 1, "run": 2})
    assert not schedule.failures and schedule.finished == {task.name for task in tasks}
    gan = next(span for span in spans if span[2].kind == "gan")
    others = [span for span in spans if span is not gan]
    assert all(end <= gan[0] or start >= gan[1] for start, end, _ in others)  # never beside it
    # two single-thread tasks at a time otherwise, and ready tasks start in the plan's order
    assert max(sum(start <= t < end for start, end, _ in spans) for t, _, _ in spans) == 2
    starts = [span[2].name for span in sorted(spans, key=lambda span: span[0])]
    assert starts[:2] == ["judge", "small_cnn-classic-seed0"]  # what the GAN needs goes first
    assert starts.index("gan-base") < starts.index("small_cnn-real-seed1")
    # a GAN with more threads than CPUs still runs (alone)
    schedule = Schedule(tasks, cpus=1, cost=lambda task: min(config.task_threads(task.kind), 1))
    spans = simulate(schedule, {"judge": 3, "teacher": 2, "gan": 5, "bank": 1, "run": 2})
    assert schedule.finished == {task.name for task in tasks}
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_the_schedule_fails_the_dependents_of_a_failed_task_and_finishes_the_others():
    tasks = [Task("a-boom", "gan"), Task("b", "bank", ("a-boom",)), Task("c", "run", ("b",)),
             Task("d", "run"), Task("e", "run", ("d",))]
    schedule = Schedule(tasks, ["d"], cpus=None)
    spans = simulate(schedule, {"gan": 1, "bank": 1, "run": 1})
    assert [span[2].name for span in spans] == ["a-boom", "e"]  # d was done already
    assert schedule.failures == {"a-boom": "RuntimeError: boom",
                                 "b": "not started: it needs a-boom, which failed",
                                 "c": "not started: it needs b, which failed"}
    assert schedule.finished == {"d", "e"} and set(schedule.records) == {"e"}
    assert schedule.progress() == "running 0, queued 0, failed 3"


def test_every_task_runs_with_the_configs_threads_and_the_previous_count_is_restored(
        tmp_path, monkeypatch):
    config = StudyConfig.from_dict({**VALUES, "seeds": [0], "recipes": [], "curve_points": 0,
                                    "threads": 2, "gan_threads": 3})
    seen = []
    original_fit = L.Trainer.fit

    def fit(trainer, model, *args, **kwargs):
        seen.append((isinstance(model, GANModule), torch.get_num_threads()))
        return original_fit(trainer, model, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "fit", fit)
    before = torch.get_num_threads()
    study = Study(config, tmp_path, progress=False)
    study.run(next(run for run in plan_runs(config) if run.arm == "gan+classic"))
    assert torch.get_num_threads() == before
    # the referee (the classic run of seed 0, trained for the k-centre bank), the judge, the GAN
    # they select with, then the run
    assert seen == [(False, 2), (False, 2), (True, 3), (False, 2)]


def test_threads_are_result_settings(tmp_path):
    for changes, message in [(dict(threads=0), "threads must be a whole number >= 1"),
                             (dict(threads=1.5), "threads must be a whole number >= 1"),
                             (dict(gan_threads=0), r"gan_threads must .* \(None = threads\)")]:
        with pytest.raises(ValueError, match=message):
            StudyConfig.from_dict({**TINY, **changes})
    config = StudyConfig.from_dict(TINY)
    assert (config.task_threads("gan"), copy_config(config, gan_threads=4).task_threads("gan"),
            copy_config(config, gan_threads=4).task_threads("run")) == (1, 4, 1)
    recorded = json.loads(json.dumps(config.to_dict()))
    assert setting_differences(recorded, copy_config(config, threads=2)) == \
        {"threads": (1, 2), "gan_threads": (1, 2)}  # the GAN's too: None means threads
    assert setting_differences(recorded, copy_config(config, gan_threads=1)) == {}  # the same
    assert setting_differences(recorded, copy_config(config, threads=2, gan_threads=1)) == \
        {"threads": (1, 2)}
    # a folder of an older ganaug, whose config.json has no threads, resumes with the default
    del recorded["threads"], recorded["gan_threads"]
    assert setting_differences(recorded, config) == {}
    Study(config, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"threads: 1 in the folder, 2 now"):
        Study(copy_config(config, threads=2), tmp_path, progress=False)


def test_the_local_executor_refuses_loggers_and_bad_cpus(tmp_path, capsys):
    from lightning.pytorch.loggers import CSVLogger

    with pytest.raises(ValueError, match="read each run's curves"):
        run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False,
                  loggers=[CSVLogger(tmp_path)], executor=LocalExecutor())
    with pytest.raises(ValueError, match="cpus must be a whole number >= 1"):
        LocalExecutor(cpus=0)
    assert LocalExecutor().cpus >= 1
    with pytest.raises(SystemExit) as stopped:
        main(["study", "--out", str(tmp_path / "out"), "--executor", "sequential", "--cpus", "2"])
    assert stopped.value.code == 2
    assert "--cpus is an option of the local executor" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


DRIVER = '''
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from ganaug.study.local_executor import _start_worker

if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker,
                               initargs=(os.getpid(), 0.1))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)  # a task that outlives the driver
    time.sleep(120)
'''


def _alive(pid: int) -> bool:
    try:
        status = open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.skipif(not os.path.isdir("/proc") or "forkserver" not in
                    multiprocessing.get_all_start_methods(), reason="needs Linux /proc and forkserver")
def test_workers_end_when_the_driver_is_killed(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        worker = int(driver.stdout.readline())
        assert _alive(worker)
        driver.kill()  # SIGKILL: nothing of the driver's own clean-up runs
        driver.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker trained on after its driver was killed"
    finally:
        driver.kill()
