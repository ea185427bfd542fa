"""The local executor and the study's torch threads: the same results as the sequential executor,
a study started under either resumes under the other, a failing task is named while the others
finish, the shared schedule keeps to its CPUs, and every task runs with the config's threads."""

from __future__ import annotations

import heapq
import json
import shutil

import lightning as L
import pytest
import torch
from test_study import TINY

from ganaug.cli import main
from ganaug.modules import GANModule
from ganaug.study import (
    LocalExecutor,
    Run,
    Study,
    StudyConfig,
    StudyFailed,
    copy_config,
    plan_runs,
    run_study,
)
from ganaug.study.config import setting_differences
from ganaug.study.schedule import Schedule
from ganaug.study.tasks import Task, plan_tasks

# a k-centre variant that needs the referee, a GAN selected under referee and judge, and a
# soft-label recipe that needs each seed's teacher: every kind of dependency
VALUES = {**TINY, "modes": ["augment"],
          "variants": [dict(name="spread", control=dict(pool_factor=2, selection="kcenter"))],
          "recipes": [dict(name="kd", options=dict(distill_weight=0.5, distill_on="synthetic"))],
          "gan_selection": dict(every_n_iterations=1, n_per_class=2), "curve_points": 2}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The tiny study done by the sequential executor."""
    out = tmp_path_factory.mktemp("sequential")
    run_study(StudyConfig.from_dict(VALUES), out, progress=False)
    return out


def test_local_gives_the_results_of_the_sequential_executor(sequential, tmp_path):
    run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False,
              executor=LocalExecutor(cpus=2))
    for name in ("results.csv", "judge.json", "gan-base/selection.json",
                 "banks/spread-seed1.faithfulness.json",
                 "curves/small_cnn-gan_classic-spread-augment-r0.5-kd-seed1.csv"):
        assert (tmp_path / name).read_bytes() == (sequential / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == \
        sorted(p.name for p in (sequential / "runs").iterdir())
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert (timings["executor"], timings["cpus"], timings["threads"], timings["gan_threads"]) == \
        ("LocalExecutor", 2, 1, 1)
    phases = {task["name"]: task["phase"] for task in timings["tasks"]}
    assert phases == {task.name: task.kind for task in plan_tasks(StudyConfig.from_dict(VALUES))} \
        | {"outputs": "outputs"}
    assert all(not task["reused"] and task["seconds"] is not None for task in timings["tasks"])


def test_local_resumes_a_sequential_study(sequential, tmp_path):
    shutil.copytree(sequential, tmp_path, dirs_exist_ok=True)
    runs = plan_runs(StudyConfig.from_dict(VALUES))
    missing = [tmp_path / "runs" / f"{run.run_id}.json" for run in (runs[1], runs[-1])]
    for path in missing:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False,
              executor=LocalExecutor(cpus=2))
    assert all(path.is_file() for path in missing)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert (tmp_path / "results.csv").read_bytes() == (sequential / "results.csv").read_bytes()
    tasks = json.loads((tmp_path / "timings.json").read_text())["tasks"]
    assert {task["name"] for task in tasks if not task["reused"]} == \
        {runs[1].run_id, runs[-1].run_id, "outputs"}


def test_a_failing_task_is_named_the_others_finish_and_the_sequential_executor_resumes(
        sequential, tmp_path, monkeypatch):
    config = StudyConfig.from_dict(VALUES)
    runs = plan_runs(config)
    blocked = next(run for run in runs if run.arm == "synthetic" and run.seed == 1)
    record = tmp_path / "runs" / f"{blocked.run_id}.json"
    record.mkdir(parents=True)  # its record cannot be written: the run fails after training
    with pytest.raises(StudyFailed, match=f"{blocked.run_id}: IsADirectoryError") as failed:
        run_study(config, tmp_path, progress=False, executor=LocalExecutor(cpus=2))
    assert list(failed.value.failures) == [blocked.run_id]
    assert "Traceback" in failed.value.failures[blocked.run_id]  # the worker's, for the user
    finished = sorted(p.stem for p in (tmp_path / "runs").glob("*.json") if p.is_file())
    assert finished == sorted(run.run_id for run in runs if run != blocked)
    assert not (tmp_path / "results.csv").exists()

    # the sequential executor trains only that run, and the table is the uninterrupted one's
    record.rmdir()
    fits = []
    original_fit = L.Trainer.fit
    monkeypatch.setattr(L.Trainer, "fit", lambda *a, **k: fits.append(1) or original_fit(*a, **k))
    run_study(config, tmp_path, progress=False)
    assert len(fits) == 1
    assert (tmp_path / "results.csv").read_bytes() == (sequential / "results.csv").read_bytes()


def test_tasks_that_need_a_failed_task_are_not_started(tmp_path):
    config = StudyConfig.from_dict({**VALUES, "seeds": [0], "recipes": [], "judge_per_class": 0,
                                    "gan_selection": None, "curve_points": 0})
    (tmp_path / "gan-base").write_text("")  # a file where the GAN's folder goes: it cannot be saved
    with pytest.raises(StudyFailed) as failed:
        run_study(config, tmp_path, progress=False, executor=LocalExecutor(cpus=2))
    reasons = failed.value.failures
    synthetic = [run.run_id for run in plan_runs(config) if run.synthetic]
    assert set(reasons) == {"gan-base", "bank-spread-seed0", *synthetic}
    assert reasons["bank-spread-seed0"] == "not started: it needs gan-base, which failed"
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == \
        ["small_cnn-classic-seed0", "small_cnn-real-seed0"]


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
    assert setting_differences(recorded, copy_config(config, threads=2)) == {"threads": (1, 2)}
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


def test_a_study_the_folder_already_holds_starts_no_worker(sequential, tmp_path, monkeypatch):
    shutil.copytree(sequential, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr("ganaug.study.local_executor.ProcessPoolExecutor", None)  # not called
    run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False,
              executor=LocalExecutor(cpus=2))
    assert (tmp_path / "results.csv").read_bytes() == (sequential / "results.csv").read_bytes()
    assert Run("real", "small_cnn", 0).run_id in (tmp_path / "results.csv").read_text()
