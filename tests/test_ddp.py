"""Two CPU processes (gloo): a ConditionalGAN fit finishes, parameters agree across ranks after it,
and the ranks drew different noise."""

import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).parent / "ddp" / "fit_cgan.py"


def test_two_process_ddp_fit(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    # 160 training digits, 80 per rank, batches of 8: 10 D steps per epoch, 2 epochs
    assert [r["d_steps_done"] for r in ranks] == [20, 20]
    assert [r["iteration"] for r in ranks] == [10, 10]
    for name in ("generator", "discriminator", "generator_ema"):
        for key, value in ranks[0]["state"][name].items():
            if value.is_floating_point() and "running" not in key:  # BN stats are per rank
                assert torch.equal(value, ranks[1]["state"][name][key]), f"{name}.{key}"
    assert not torch.allclose(ranks[0]["first_noise"], ranks[1]["first_noise"])
