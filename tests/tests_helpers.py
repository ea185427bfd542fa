"""Assertions and the crash callback shared by the resume and DDP tests, and the runner of the
two-process scripts."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import torch

DDP_SCRIPTS = Path(__file__).parent / "ddp"


def run_ddp_script(name: str, out: Path) -> list[dict]:
    """Run ``tests/ddp/<name>`` (it starts two gloo processes and writes ``out/rank{r}.pt``) and
    return what each rank saved; a failure shows the script's stderr."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, str(DDP_SCRIPTS / name), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]


class KillAfterCheckpoint(L.Callback):
    """SIGKILL this process at the first batch after a checkpoint file appeared in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if any(self.folder.glob("*.ckpt")):
            os.kill(os.getpid(), signal.SIGKILL)


def assert_same_training_state(a, b) -> None:
    """G, D, EMA G and both optimizers' states of two GAN modules are identical."""
    for name in ("generator", "discriminator", "generator_ema"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    for opt_a, opt_b in zip(a.trainer.optimizers, b.trainer.optimizers):
        state_a, state_b = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
        assert state_a.keys() == state_b.keys()
        for index in state_a:
            for key, value in state_a[index].items():
                assert torch.equal(value, state_b[index][key]), f"optimizer state {index}.{key}"
