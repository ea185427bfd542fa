"""Every parallel executor against the sequential one, on the tiny study with every kind of
dependency: the same files byte for byte, a sequential study resumed, a failing task named while
the others finish (and the sequential executor finishing the study), and the tasks that need a
failed task not started. The local executor runs 2 worker processes, Ray a local cluster of
2 CPUs."""

from __future__ import annotations

import json
import shutil

import lightning as L
import pytest
from test_study import EVERY_DEPENDENCY

from ganaug.study import LocalExecutor, Run, StudyConfig, StudyFailed, plan_runs, run_study
from ganaug.study.tasks import plan_tasks


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The tiny study done by the sequential executor."""
    out = tmp_path_factory.mktemp("sequential")
    run_study(StudyConfig.from_dict(EVERY_DEPENDENCY), out, progress=False)
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for the rest of the module (the executor leaves a cluster it
    did not start running)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(params=["local", "ray"])
def executor(request):
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        from ganaug.study import RayExecutor

        return RayExecutor()
    return LocalExecutor(cpus=2)


def test_gives_the_results_of_the_sequential_executor(executor, sequential, tmp_path):
    run_study(StudyConfig.from_dict(EVERY_DEPENDENCY), tmp_path, progress=False,
              executor=executor)
    for name in ("results.csv", "judge.json", "gan-base/selection.json",
                 "banks/spread-seed1.faithfulness.json",
                 "curves/small_cnn-gan_classic-spread-augment-r0.5-kd-seed1.csv"):
        assert (tmp_path / name).read_bytes() == (sequential / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == \
        sorted(p.name for p in (sequential / "runs").iterdir())
    # every task timed in its worker, under its phase, as the sequential executor lists them
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert (timings["executor"], timings["cpus"], timings["threads"], timings["gan_threads"]) == \
        (type(executor).__name__, getattr(executor, "cpus", None), 1, 1)
    phases = {task["name"]: task["phase"] for task in timings["tasks"]}
    assert phases == {task.name: task.kind
                      for task in plan_tasks(StudyConfig.from_dict(EVERY_DEPENDENCY))} \
        | {"outputs": "outputs"}
    assert all(not task["reused"] and task["seconds"] is not None for task in timings["tasks"])


def test_resumes_a_sequential_study(executor, sequential, tmp_path):
    shutil.copytree(sequential, tmp_path, dirs_exist_ok=True)
    config = StudyConfig.from_dict(EVERY_DEPENDENCY)
    runs = plan_runs(config)
    missing = [tmp_path / "runs" / f"{run.run_id}.json" for run in (runs[1], runs[-1])]
    for path in missing:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    run_study(config, tmp_path, progress=False, executor=executor)
    assert all(path.is_file() for path in missing)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert (tmp_path / "results.csv").read_bytes() == (sequential / "results.csv").read_bytes()
    # only the two missing runs were done; every other task is listed as reused
    tasks = json.loads((tmp_path / "timings.json").read_text())["tasks"]
    assert {task["name"] for task in tasks if not task["reused"]} == \
        {runs[1].run_id, runs[-1].run_id, "outputs"}
    assert len(tasks) == len(plan_tasks(config)) + 1


def test_a_failing_task_is_named_the_others_finish_and_the_sequential_executor_resumes(
        executor, sequential, tmp_path, monkeypatch):
    config = StudyConfig.from_dict(EVERY_DEPENDENCY)
    runs = plan_runs(config)
    blocked = next(run for run in runs if run.arm == "synthetic" and run.seed == 1)
    record = tmp_path / "runs" / f"{blocked.run_id}.json"
    record.mkdir(parents=True)  # its record cannot be written: the run fails after training
    with pytest.raises(StudyFailed, match=f"{blocked.run_id}: IsADirectoryError") as failed:
        run_study(config, tmp_path, progress=False, executor=executor)
    assert list(failed.value.failures) == [blocked.run_id]
    assert 'File "' in failed.value.failures[blocked.run_id]  # the worker's traceback
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


def test_tasks_that_need_a_failed_task_are_not_started(executor, tmp_path):
    config = StudyConfig.from_dict({**EVERY_DEPENDENCY, "seeds": [0], "recipes": [],
                                    "judge_per_class": 0, "gan_selection": None,
                                    "curve_points": 0})
    (tmp_path / "gan-base").write_text("")  # a file where the GAN's folder goes: it cannot be saved
    with pytest.raises(StudyFailed) as failed:
        run_study(config, tmp_path, progress=False, executor=executor)
    reasons = failed.value.failures
    synthetic = [run.run_id for run in plan_runs(config) if run.synthetic]
    assert set(reasons) == {"gan-base", "bank-spread-seed0", *synthetic}
    assert reasons["bank-spread-seed0"] == "not started: it needs gan-base, which failed"
    assert all(reasons[run] == "not started: it needs bank-spread-seed0, which failed"
               for run in synthetic)
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == \
        ["small_cnn-classic-seed0", "small_cnn-real-seed0"]


def test_a_study_the_folder_already_holds_starts_no_local_worker(sequential, tmp_path,
                                                                monkeypatch):
    shutil.copytree(sequential, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr("ganaug.study.local_executor.ProcessPoolExecutor", None)  # not called
    run_study(StudyConfig.from_dict(EVERY_DEPENDENCY), tmp_path, progress=False,
              executor=LocalExecutor(cpus=2))
    assert (tmp_path / "results.csv").read_bytes() == (sequential / "results.csv").read_bytes()
    assert Run("real", "small_cnn", 0).run_id in (tmp_path / "results.csv").read_text()
