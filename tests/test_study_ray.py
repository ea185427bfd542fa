"""The study on Ray: the task graph, the resources a task reserves, the command on a local
cluster of 2 CPUs and its errors. Its results against the sequential executor:
test_study_executors.py."""

from __future__ import annotations

import json
import sys

import pytest
import ray  # the ray extra is part of the test extra: these tests run wherever the suite does
import yaml
from test_study import EVERY_DEPENDENCY, TINY

from ganaug.cli import main
from ganaug.study import (
    RayExecutor,
    Run,
    StudyConfig,
    copy_config,
    plan_runs,
    run_study,
)
from ganaug.study.ray_executor import task_config, task_cpus
from ganaug.study.tasks import plan_tasks

VALUES = EVERY_DEPENDENCY


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs, shared by this file's tests (the executor leaves a cluster
    it did not start running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
