"""The study on a local Ray cluster of 2 CPUs: the same results as the sequential executor, a
study started on either resumes on the other, and a failing task is named while the others
finish. Also the task graph and the executor's checks, which need no cluster."""

from __future__ import annotations

import json
import shutil
import sys

import lightning as L
import pytest
import ray  # the ray extra is part of the test extra: these tests run wherever the suite does
import yaml
from test_study import TINY

from ganaug.cli import main
from ganaug.study import (
    RayExecutor,
    Run,
    StudyConfig,
    StudyFailed,
    copy_config,
    plan_runs,
    run_study,
)
from ganaug.study.ray_executor import task_config, task_cpus
from ganaug.study.tasks import plan_tasks

# one variant whose k-centre selection needs the referee, a GAN selected under referee and
# judge, and a soft-label recipe that needs each seed's teacher: every kind of dependency
VALUES = {**TINY, "modes": ["augment"],
          "variants": [dict(name="spread", control=dict(pool_factor=2, selection="kcenter"))],
          "recipes": [dict(name="kd", options=dict(distill_weight=0.5, distill_on="synthetic"))],
          "gan_selection": dict(every_n_iterations=1, n_per_class=2), "curve_points": 2}


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs, shared by this file's tests (the executor leaves a cluster
    it did not start running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The tiny study done by the sequential executor."""
    out = tmp_path_factory.mktemp("sequential")
    run_study(StudyConfig.from_dict(VALUES), out, progress=False)
    return out


def test_the_task_graph_orders_every_dependency():
    config = StudyConfig.from_dict({**VALUES, "data_seed": 5})
    tasks = plan_tasks(config)
    names = [task.name for task in tasks]
    needs = {task.name: task.needs for task in tasks}
    # every task comes after what it needs; the runs keep the plan's order
    assert all(names.index(need) < names.index(name) for name in names for need in needs[name])
    assert [n for n in names if n.startswith("small_cnn")] == [r.run_id for r in plan_runs(config)]
    # data_seed 5 is not a seed of the plan: its referee is a task of its own
    assert needs["gan-base"] == ("teacher-small_cnn-seed5", "judge")
    assert needs["bank-spread-seed1"] == ("gan-base", "teacher-small_cnn-seed5", "judge")
    kd = Run("gan+classic", "small_cnn", 1, "spread", "augment", 0.5, "kd").run_id
    assert needs[kd] == ("bank-spread-seed1", "small_cnn-classic-seed1")  # its seed's teacher
    assert needs["small_cnn-classic-seed1"] == ()
    # with data_seed among the seeds, the referee is that seed's classic run; a given GAN
    # checkpoint trains nothing
    config = copy_config(config, data_seed=0, gan_checkpoint="elsewhere.ckpt")
    needs = {task.name: task.needs for task in plan_tasks(config)}
    assert "gan-base" not in needs and not any(n.startswith("teacher") for n in needs)
    assert needs["bank-spread-seed0"] == ("small_cnn-classic-seed0", "judge")


def test_ray_gives_the_results_of_the_sequential_executor(cluster, sequential, tmp_path):
    run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False, executor=RayExecutor())
    for name in ("results.csv", "judge.json", "gan-base/selection.json",
                 "banks/spread-seed1.faithfulness.json",
                 "curves/small_cnn-gan_classic-spread-augment-r0.5-kd-seed1.csv"):
        assert (tmp_path / name).read_text() == (sequential / name).read_text(), name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == \
        sorted(p.name for p in (sequential / "runs").iterdir())
    # every task timed in its worker, under its phase, as the sequential executor lists them
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert timings["executor"] == "RayExecutor"
    phases = {task["name"]: task["phase"] for task in timings["tasks"]}
    assert phases == {task.name: task.kind for task in plan_tasks(StudyConfig.from_dict(VALUES))} \
        | {"outputs": "outputs"}
    assert all(not task["reused"] and task["seconds"] is not None for task in timings["tasks"])


def test_ray_resumes_a_sequential_study(cluster, sequential, tmp_path):
    shutil.copytree(sequential, tmp_path, dirs_exist_ok=True)
    runs = plan_runs(StudyConfig.from_dict(VALUES))
    missing = [tmp_path / "runs" / f"{run.run_id}.json" for run in (runs[1], runs[-1])]
    for path in missing:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False, executor=RayExecutor())
    assert all(path.is_file() for path in missing)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert (tmp_path / "results.csv").read_text() == (sequential / "results.csv").read_text()
    # only the two missing runs were done; every other task is listed as reused
    tasks = json.loads((tmp_path / "timings.json").read_text())["tasks"]
    assert {task["name"] for task in tasks if not task["reused"]} == \
        {runs[1].run_id, runs[-1].run_id, "outputs"}
    assert len(tasks) == len(plan_tasks(StudyConfig.from_dict(VALUES))) + 1


def test_a_failing_task_is_named_the_others_finish_and_the_sequential_executor_resumes(
        cluster, sequential, tmp_path, monkeypatch):
    config = StudyConfig.from_dict(VALUES)
    runs = plan_runs(config)
    blocked = next(run for run in runs if run.arm == "synthetic" and run.seed == 1)
    record = tmp_path / "runs" / f"{blocked.run_id}.json"
    record.mkdir(parents=True)  # its record cannot be written: the run fails after training
    with pytest.raises(StudyFailed, match=f"{blocked.run_id}: IsADirectoryError") as failed:
        run_study(config, tmp_path, progress=False, executor=RayExecutor())
    assert list(failed.value.failures) == [blocked.run_id]
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
    assert (tmp_path / "results.csv").read_text() == (sequential / "results.csv").read_text()


def test_tasks_that_need_a_failed_task_are_not_started(cluster, tmp_path):
    config = StudyConfig.from_dict({**VALUES, "seeds": [0], "recipes": [], "judge_per_class": 0,
                                    "gan_selection": None, "curve_points": 0})
    (tmp_path / "gan-base").write_text("")  # a file where the GAN's folder goes: it cannot be saved
    with pytest.raises(StudyFailed) as failed:
        run_study(config, tmp_path, progress=False, executor=RayExecutor())
    reasons = failed.value.failures
    synthetic = [run.run_id for run in plan_runs(config) if run.synthetic]
    assert set(reasons) == {"gan-base", "bank-spread-seed0", *synthetic}
    assert reasons["bank-spread-seed0"] == "not started: it needs gan-base, which failed"
    assert all(reasons[run] == "not started: it needs bank-spread-seed0, which failed"
               for run in synthetic)
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == \
        ["small_cnn-classic-seed0", "small_cnn-real-seed0"]


def test_the_command_runs_on_ray_and_names_failures(cluster, tmp_path, capsys):
    values = {**TINY, "seeds": [0], "modes": ["augment"], "variants": [{"name": "plain"}],
              "judge_per_class": 0, "curve_points": 0}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(values))
    main(["study", "--config", str(path), "--out", str(tmp_path / "out"), "--executor", "ray"])
    assert "gan+classic" in capsys.readouterr().out
    # what a task reserves changes no result: the folder resumes with other reservations
    main(["study", "--config", str(path), "--out", str(tmp_path / "out"), "--executor", "ray",
          "--cpus-per-run", "2"])
    assert "gan+classic" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "config.json").read_text())["cpus_per_run"] == 1.0
    blocked = tmp_path / "again" / "runs" / "small_cnn-real-seed0.json"
    blocked.mkdir(parents=True)
    with pytest.raises(SystemExit) as stopped:
        main(["study", "--config", str(path), "--out", str(tmp_path / "again"),
              "--executor", "ray"])
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert "ganaug: error: 1 of 7 tasks failed" in error
    assert "small_cnn-real-seed0: IsADirectoryError" in error


@pytest.mark.parametrize(("changes", "message"), [
    (dict(cpus_per_run=3), "reserves 3 CPU, and the largest node of the Ray cluster has 2"),
    (dict(gan_threads=3), "reserves 3 CPU, .* lower cpus_per_run / threads / gan_threads"),
    (dict(gpus_per_run=0.5), "reserves 0.5 GPU, and the largest node of the Ray cluster has 0"),
    (dict(gpus_per_gan=1), "reserves 1 GPU"),
    (dict(accelerator="gpu"), "needs gpus_per_run > 0"),
])
def test_tasks_no_node_could_start_are_refused(cluster, tmp_path, changes, message):
    config = StudyConfig.from_dict({**VALUES, **changes})
    with pytest.raises(ValueError, match=message):
        run_study(config, tmp_path, progress=False, executor=RayExecutor())
    assert not (tmp_path / "runs").exists()


def test_errors_of_the_command_and_of_a_missing_ray(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stopped:
        main(["study", "--out", str(tmp_path), "--ray-address", "localhost:6379"])
    assert stopped.value.code == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"pip install 'ganaug\[ray\]'"):
        RayExecutor()
    with pytest.raises(SystemExit) as stopped:
        main(["study", "--out", str(tmp_path), "--executor", "ray"])
    assert stopped.value.code == 2 and "ganaug[ray]" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_loggers_are_refused_under_ray(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    with pytest.raises(ValueError, match="read each run's curves"):
        run_study(StudyConfig.from_dict(VALUES), tmp_path, progress=False,
                  loggers=[CSVLogger(tmp_path)], executor=RayExecutor())


def test_a_task_without_a_gpu_runs_on_the_cpu():
    config = StudyConfig.from_dict({**VALUES, "accelerator": "auto"}).to_dict()
    assert task_config(config, 0)["accelerator"] == "cpu"
    assert task_config(config, 0.25)["accelerator"] == "auto"  # Ray shows it its share
    assert task_config({**config, "accelerator": "cpu"}, 0)["accelerator"] == "cpu"
    assert config["accelerator"] == "auto"  # the study's own settings are left as they are


def test_a_task_reserves_at_least_its_threads_in_cpus():
    config = StudyConfig.from_dict({**VALUES, "threads": 2, "gan_threads": 4, "cpus_per_run": 3})
    cpus = {task.kind: task_cpus(config, task) for task in plan_tasks(config)}
    assert cpus == {"judge": 3, "gan": 4, "bank": 3, "run": 3}
    assert task_cpus(copy_config(config, cpus_per_run=0.5), plan_tasks(config)[0]) == 2
