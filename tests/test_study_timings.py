"""timings.json: each task's own wall seconds under its phase, nested tasks taken off their
parents, reused tasks listed untimed; and benchmarks/study_phases.py's table from it."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from test_study import TINY

from ganaug.study import StudyConfig, run_study
from ganaug.study.plan import plan_runs
from ganaug.study.tasks import plan_tasks
from ganaug.study.timings import TaskTimings

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock that reads the times it is given, one per call."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0)


def test_nested_tasks_are_taken_off_the_task_around_them():
    # created at 0; run from 1 to 20, inside it a bank from 2 to 12, inside that a GAN from 3
    # to 9; the bank's verdict later from 13 to 14; a failed judge from 15 to 16 records nothing
    timings = TaskTimings(clock=Clock(0, 1, 2, 3, 9, 12, 13, 14, 15, 16, 20, 25))
    with timings.timing("run-a", "run", arm="gan"):
        with timings.timing("bank-x", "bank"), timings.timing("gan-base", "gan"):
            pass
        with timings.timing("bank-x", "bank"):
            pass
        with pytest.raises(RuntimeError), timings.timing("judge", "judge"):
            raise RuntimeError("cut short")
    timings.reused("small_cnn-real-seed0", "run", arm="real")
    summary = timings.summary(executor="test")
    tasks = {task["name"]: task for task in summary["tasks"]}
    assert tasks["gan-base"]["seconds"] == 6  # 3 -> 9
    assert tasks["bank-x"]["seconds"] == 4 + 1  # 2 -> 12 less the GAN's 6, then 13 -> 14
    assert tasks["run-a"]["seconds"] == 19 - 10 - 1 - 1  # less the bank (10 + 1) and the judge
    assert "judge" not in tasks
    assert tasks["small_cnn-real-seed0"] == {"name": "small_cnn-real-seed0", "phase": "run",
                                             "seconds": None, "reused": True, "arm": "real"}
    assert summary["wall_seconds"] == 25 and summary["executor"] == "test"
    assert summary["phase_seconds"] == {"judge": 0, "teacher": 0, "gan": 6, "bank": 5, "run": 7,
                                        "outputs": 0}
    assert summary["run_seconds_by_arm"] == {"gan": 7}
    with pytest.raises(ValueError, match="phase must be one of"):
        timings.reused("x", "training")


def test_a_study_times_every_task_once_and_a_resumed_one_marks_them_reused(tmp_path):
    # data_seed 5 is no seed of the plan: the referee is a teacher task of its own
    values = {**TINY, "seeds": [0], "modes": ["augment"], "variants": [{"name": "plain"}],
              "gan_selection": dict(every_n_iterations=1, n_per_class=2), "data_seed": 5,
              "curve_points": 0}
    config = StudyConfig.from_dict(values)
    run_study(config, tmp_path, progress=False)
    timings = json.loads((tmp_path / "timings.json").read_text())
    tasks = {task["name"]: task for task in timings["tasks"]}
    expected = {task.name: task.kind for task in plan_tasks(config)}
    assert "teacher-small_cnn-seed5" in expected and "gan-base" in expected
    assert {name: task["phase"] for name, task in tasks.items()} == {**expected, "outputs": "outputs"}
    assert all(task["seconds"] is not None and not task["reused"] for task in tasks.values())
    assert {tasks[run.run_id]["arm"] for run in plan_runs(config)} == \
        {"real", "classic", "gan", "gan+classic", "synthetic"}
    assert timings["executor"] == "SequentialExecutor"
    assert (timings["threads"], timings["gan_threads"], timings["cpus"]) == (1, 1, None)
    # each task counted once: the phases add up to no more than the wall time (each figure is
    # rounded to the millisecond, so the sum may exceed it by half a millisecond per phase)
    phases = timings["phase_seconds"]
    assert sum(phases.values()) <= timings["wall_seconds"] + 0.0005 * (len(phases) + 1)
    assert "seconds" not in (tmp_path / "results.csv").read_text().splitlines()[0]

    # resumed with one run missing: only that run (and the outputs) are timed
    missing = plan_runs(config)[-1].run_id
    (tmp_path / "runs" / f"{missing}.json").unlink()
    run_study(config, tmp_path, progress=False)
    tasks = {task["name"]: task for task in json.loads((tmp_path / "timings.json").read_text())["tasks"]}
    timed = {name for name, task in tasks.items() if not task["reused"]}
    assert timed == {missing, "outputs"}
    # every other run, and the bank and judge that run read, are listed as reused
    assert set(tasks) <= {*expected, "outputs"}
    assert {run.run_id for run in plan_runs(config)} | {"bank-plain-seed0", "judge"} <= set(tasks)
    assert all(task["seconds"] is None for name, task in tasks.items() if name not in timed)


def load_benchmark():
    spec = importlib.util.spec_from_file_location("study_phases", ROOT / "benchmarks" / "study_phases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_study_phases_benchmark_prints_every_phase_and_a_total(tmp_path, capsys):
    base = {**TINY, "seeds": [0], "modes": ["augment"], "variants": [{"name": "plain"}],
            "max_steps": 50, "gan_max_steps": 40, "curve_points": 2,
            "gan_selection": dict(every_n_iterations=10, n_per_class=5)}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(base))
    # b: another augmentation, and a referee of its own (data_seed is none of its seeds)
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**base, "classic_augment": "affine",
                                                     "data_seed": 5}))
    benchmark = load_benchmark()
    # --quick shrinks the steps (so this takes seconds) and keeps the grid
    shrunk = benchmark.quick(StudyConfig.from_dict(base))
    assert (shrunk.max_steps, shrunk.gan_max_steps) == (4, 4)
    assert shrunk.gan_selection["every_n_iterations"] == 1 and shrunk.seeds == [0]

    benchmark.main([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--quick",
                    "--threads", str(torch.get_num_threads()), "--keep", str(tmp_path / "kept")])
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and f"torch {torch.__version__}" in out
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["phase"] == [f"`{tmp_path / 'a.yaml'}`", f"`{tmp_path / 'b.yaml'}`",
                             "speed-up (1st / last)"]
    for phase in ("judge", "referee / teachers", "GAN (with selection)", "banks (with verdict)",
                  "runs: real", "runs: classic", "runs: gan", "runs: gan+classic",
                  "runs: synthetic", "runs (all)", "outputs (tables, plots, page)", "**total**"):
        assert re.fullmatch(r"\d+\.\d s", rows[phase][1]), phase
        assert re.fullmatch(r"\d+\.\d s", rows[phase][0]) or phase == "referee / teachers", phase
    assert rows["referee / teachers"][0] == "—"  # a's referee is its classic run of seed 0
    assert re.fullmatch(r"\d+\.\d\dx", rows["**total**"][2])
    assert "small_cnn gan+classic plain augment r=0.5" in rows
    # each config ran in its own folder, with what the quick option made of it
    kept = sorted((tmp_path / "kept").iterdir())
    assert [p.name for p in kept] == ["0-a", "1-b"]
    assert json.loads((kept[1] / "config.json").read_text())["classic_augment"] == "affine"
    assert json.loads((kept[0] / "config.json").read_text())["max_steps"] == 4


def test_a_config_at_a_git_revision_is_read_with_git_show(tmp_path):
    # a repository whose config was changed after its first commit, read from a subfolder
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "study.yaml"
    config.write_text(yaml.safe_dump({**TINY, "variants": [{"name": "plain"}], "max_steps": 7}))
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    config.write_text(yaml.safe_dump({**TINY, "variants": [{"name": "plain"}], "max_steps": 9}))
    benchmark = load_benchmark()
    assert benchmark.read_config(f"{config}@HEAD").max_steps == 7
    assert benchmark.read_config(str(config)).max_steps == 9
    with pytest.raises(SystemExit, match="cannot read"):
        benchmark.read_config(f"{config}@no-such-rev")
