#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md in one command, a few minutes on one GPU: BigGAN CIFAR
# iteration time in fp32, bf16 and bf16 + torch.compile; DiffAugment against the published way;
# FID feature-extraction throughput; DenseNet-40 / DIANet-56 step times; the default study on
# --accelerator gpu. Prints one table and appends it to docs/benchmarks.md with the device name.
#
#   benchmarks/gpu.sh                  # on a machine with a CUDA GPU (cuda:0; CUDA_VISIBLE_DEVICES picks another)
#   benchmarks/gpu.sh --append FILE    # append the table elsewhere
#
# Uses .venv (created when missing, as scripts/test does), or the interpreter GANAUG_PYTHON
# names. Without a GPU it stops at once and says so; `python benchmarks/gpu.py --device cpu
# --quick --append FILE` is a dry run of every part on the CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${GANAUG_PYTHON:-}" ]; then
  python=$GANAUG_PYTHON
else
  "$root/scripts/ensure-venv"
  python="${GANAUG_VENV:-$root/.venv}/bin/python"
fi
if ! "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  torch_version=$("$python" -c "import torch; print(torch.__version__)")
  echo "benchmarks/gpu.sh: torch $torch_version sees no CUDA GPU on this machine" \
       "(CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}); run it where nvidia-smi lists one." \
       "For a dry run on the CPU: $python benchmarks/gpu.py --device cpu --quick --append /tmp/gpu.md" >&2
  exit 1
fi
cd "$root"
exec "$python" benchmarks/gpu.py --device cuda "$@"
