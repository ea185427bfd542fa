"""The crash callback shared by the resume tests and the DDP resume script, and the runner of the
two-process scripts."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import torch

DDP_SCRIPTS = Path(__file__).parent / "ddp"


def run_ddp_script(name: str, out: Path, *args: str) -> list[dict]:
    """Run ``tests/ddp/<name> out *args`` (it starts two gloo processes and writes
    ``out/rank{r}.pt``) and return what each rank saved; a failure shows the script's stderr."""
    run_script(name, out, *args)
    return saved_ranks(out)


def run_script(name: str, out: Path, *args: str) -> None:
    """Run ``tests/ddp/<name> out *args``; a failure shows the script's stderr."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, str(DDP_SCRIPTS / name), str(out), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]


def saved_ranks(folder: Path) -> list[dict]:
    """What ranks 0 and 1 saved to ``folder/rank{r}.pt``."""
    return [torch.load(folder / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]


class KillAfterCheckpoint(L.Callback):
    """SIGKILL this process at the first batch after a checkpoint file appeared in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if any(self.folder.glob("*.ckpt")):
            os.kill(os.getpid(), signal.SIGKILL)

