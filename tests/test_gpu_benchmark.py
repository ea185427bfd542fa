"""benchmarks/gpu.sh: without a GPU it stops with a message that says so, and its Python part's
CPU dry run measures every part and appends one table to the file it is given."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
no_gpu = pytest.mark.skipif(torch.cuda.is_available(),
                            reason="checks the refusal on a machine without a GPU")


@no_gpu
def test_without_a_gpu_the_script_and_its_python_part_stop_and_say_why(tmp_path):
    shell = subprocess.run([str(ROOT / "benchmarks" / "gpu.sh"), "--append",
                            str(tmp_path / "b.md")], env={**ENV, "GANAUG_PYTHON": sys.executable},
                           capture_output=True, text=True, timeout=120, check=False)
    assert shell.returncode == 1
    assert "sees no CUDA GPU on this machine" in shell.stderr
    assert "--device cpu --quick" in shell.stderr  # what to do instead
    python = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--append",
                             str(tmp_path / "b.md")], env=ENV, capture_output=True, text=True,
                            timeout=120)
    assert python.returncode == 1
    assert "--device cuda asks for a CUDA GPU" in python.stderr
    assert not (tmp_path / "b.md").exists()


def test_the_cpu_dry_run_measures_every_part_and_appends_one_table(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--device",
                             "cpu", "--quick", "--append", str(doc)], env=ENV,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n### CPU (")
    assert "--quick dry run" in text and f"torch {torch.__version__}" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 9
    assert [row.split("|")[2].strip() for row in rows] == [
        "fp32", "bf16-mixed", "bf16-mixed + torch.compile", "published way", "ganaug", "batch 2",
        "fp32", "fp32", "wall time"]
    number = r"\d+(\.\d+)?"
    assert re.search(rf"BigGAN CIFAR iteration .* \| fp32 \| {number} ms \({number} real", text)
    assert "bf16-mixed + torch.compile | skipped in the --quick dry run" in text
    assert re.search(rf"\| ganaug \| {number} µs \({number}x; outputs agree", text)
    assert re.search(rf"FID feature extraction .* \| {number} images / s \|", text)
    assert re.search(rf"densenet40 training step .* \| fp32 \| {number} ms \|", text)
    assert re.search(rf"dianet56 training step .* \| fp32 \| {number} ms \|", text)
    assert re.search(rf"tiny study .* \| wall time \| {number} s \(test error: classic {number} ± "
                     rf"{number} %, gan\+classic {number} ± {number} %\)", text)
    assert text.count("###") == 1 and all(row in result.stdout for row in rows)  # printed too
