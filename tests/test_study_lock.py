"""One driver per study folder: a second driver (in this process or another) stops at once with
a message naming the folder and the running driver; a lock whose process is gone is taken over
with a warning; a lock of another host or an unreadable one is refused with how to remove it."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ganaug.cli import main
from ganaug.study import LocalExecutor, StudyConfig, StudyLock, StudyLocked, run_study
from ganaug.study.lock import LOCK_NAME
from ganaug.study.config import DEFAULTS_BEFORE_0_2

TINY = {**DEFAULTS_BEFORE_0_2, **dict(dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
            modes=["augment"], ratios=[0.5], classic_augment="flip", max_steps=3, batch_size=8,
            gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10), gan_max_steps=4,
            gan_batch_size=8, accelerator="cpu", judge_per_class=0, curve_points=0)}


class MustNotRun:
    """An executor that fails the test if a locked study reaches it."""

    def execute(self, study):
        raise AssertionError("a second driver ran tasks")


def test_a_second_lock_on_a_folder_is_refused_until_the_first_is_released(tmp_path):
    with StudyLock(tmp_path / "study") as first:
        record = json.loads(first.path.read_text())
        assert (record["pid"], record["host"]) == (os.getpid(), socket.gethostname())
        with pytest.raises(StudyLocked) as refused:
            StudyLock(tmp_path / "study").acquire()
        message = str(refused.value)
        assert f"study folder {tmp_path / 'study'} is in use" in message
        assert f"pid {os.getpid()} on host {socket.gethostname()}, started " in message
        assert "Wait for it to finish or stop it, or use another --out" in message
        assert isinstance(refused.value, ValueError)
    assert not (tmp_path / "study" / LOCK_NAME).exists()
    with StudyLock(tmp_path / "study"):  # free again
        pass
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == []


def test_every_executor_of_a_second_driver_stops_before_any_work(tmp_path, capsys):
    config = StudyConfig.from_dict(TINY)
    with StudyLock(tmp_path):
        for executor in (None, LocalExecutor(cpus=1), MustNotRun()):
            with pytest.raises(StudyLocked, match=f"pid {os.getpid()}"):
                run_study(config, tmp_path, progress=False, executor=executor)
        with pytest.raises(SystemExit) as stopped:
            main(["study", "--out", str(tmp_path), "--n-per-class", "4"])
        assert stopped.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"ganaug: error: the study folder {tmp_path} is in use")
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]  # nothing written


def test_a_driver_in_another_process_holds_the_folder_and_a_killed_ones_lock_is_taken_over(
        tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom ganaug.study import StudyLock\n"
         f"with StudyLock({str(tmp_path)!r}):\n    print('held', flush=True)\n    time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StudyLocked, match=f"pid {holder.pid} on host"):
            StudyLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)  # the driver dies without releasing its lock
        holder.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid
    with pytest.warns(UserWarning, match=f"took over the lock .*pid {holder.pid} .*is gone"):
        lock = StudyLock(tmp_path)
        lock.acquire()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


@pytest.mark.parametrize("content, expected", [
    ({"pid": 1, "host": "another-machine", "started": "then"},
     "pid 1 on host another-machine, started then"),
    ("not json", "a driver whose lock .* cannot be read"),
])
def test_a_lock_that_cannot_be_checked_is_refused_with_how_to_remove_it(tmp_path, content,
                                                                       expected):
    lock = tmp_path / LOCK_NAME
    lock.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(StudyLocked, match=expected + f".*if that driver is gone .*delete {lock}"):
        StudyLock(tmp_path).acquire()
    assert lock.read_text() == (content if isinstance(content, str) else json.dumps(content))
