"""Time ganaug's FID pipeline next to torch-fidelity's own API, on the same images, in one run.

Two measurements, both sides fed identical data and checked to agree before any time is shown:

1. *Feature extraction + FID*: N real and N generated images in [-1, 1] through Inception-v3
   (torch-fidelity's 2015-12-05 network). ganaug: ``GenerativeEvaluator(InceptionV3(...))``,
   ``update`` per batch, ``compute``. torch-fidelity: ``calculate_metrics(input1, input2,
   fid=True)`` on datasets of the same images as uint8 (ganaug's quantisation, so both see the
   same pixels). Without ``--weights`` the script writes a random-init weights file in
   torch-fidelity's format (no download): the network's cost does not depend on its values.
2. *FID compute step* on random features (N x D, default 10k x 2048 as in the issue):
   ganaug accumulates float64 sums and solves with a Cholesky factor and one symmetric
   eigenvalue problem; torch-fidelity computes ``np.cov`` and the eigenvalues of the
   non-symmetric product ``sigma1 @ sigma2`` (``metric_fid.py``).

Each side runs ``--repeats`` times, alternating with the other, and keeps its best time.

Run ``.venv/bin/python benchmarks/metrics.py`` (defaults run in a few minutes on 2 CPU cores);
``--images 10000 --batch-size 250`` gives the issue's 10k extraction configuration. Record
results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ganaug.images import to_uint8
from ganaug.metrics import FrechetDistance, GenerativeEvaluator, InceptionV3


class UInt8Images(Dataset):
    """What torch-fidelity takes: a dataset of uint8 (3, H, W) tensors."""

    def __init__(self, pixels: torch.Tensor) -> None:
        self.pixels = pixels

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.pixels[index]


def random_weights(path: Path) -> Path:
    """A random-init Inception weights file in torch-fidelity's format (as the tests write)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    torch.manual_seed(0)
    with mock.patch.object(tf_inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(tf_inception.FeatureExtractorInceptionV3, "load_state_dict",
                              lambda self, sd: None):
        network = tf_inception.FeatureExtractorInceptionV3("random", ["2048"])
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
    torch.save(network.state_dict(), path)
    return path


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def best_of(ours, theirs, repeats: int) -> dict:
    """Run the two sides alternately ``repeats`` times (theirs first); keep each side's best.

    Other processes on a shared machine only ever add time; alternating exposes both sides to
    the same disturbances and the best round discards them.
    """
    t_ours, t_theirs = float("inf"), float("inf")
    for _ in range(repeats):
        fid_theirs, t = timed(theirs)
        t_theirs = min(t_theirs, t)
        fid_ours, t = timed(ours)
        t_ours = min(t_ours, t)
    return {"fid_ours": fid_ours, "fid_theirs": fid_theirs, "t_ours": t_ours, "t_theirs": t_theirs}


def extraction(images: int, size: int, batch_size: int, weights: Path, device: str,
               repeats: int) -> dict:
    from torch_fidelity import calculate_metrics

    g = torch.Generator().manual_seed(0)
    real = torch.rand(images, 3, size, size, generator=g) * 2 - 1
    fake = (torch.rand(images, 3, size, size, generator=g) * 1.8 - 0.9).tanh()

    def ours() -> float:
        evaluator = GenerativeEvaluator(InceptionV3(weights_path=str(weights)),
                                        image_shape=(3, size, size), metrics=("fid",)).to(device)
        for side, data in ((True, real), (False, fake)):
            for chunk in data.split(batch_size):
                evaluator.update(chunk.to(device), real=side)
        return evaluator.compute().values["fid"]

    def theirs() -> float:
        result = calculate_metrics(
            input1=UInt8Images(to_uint8(real)), input2=UInt8Images(to_uint8(fake)), fid=True,
            cuda=device.startswith("cuda"), batch_size=batch_size, save_cpu_ram=True,
            feature_extractor_weights_path=str(weights), verbose=False, cache=False)
        return result["frechet_inception_distance"]

    return {**best_of(ours, theirs, repeats), "images": 2 * images}


def compute_step(n: int, dim: int, repeats: int) -> dict:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    g = torch.Generator().manual_seed(1)
    mixing = torch.randn(dim, dim, generator=g) / dim ** 0.5
    real = (torch.randn(n, dim, generator=g) @ mixing).relu()  # non-negative, like pool3 features
    fake = (torch.randn(n, dim, generator=g) @ mixing + 0.05).relu()

    def ours() -> float:
        metric = FrechetDistance(dim)
        for side, data in ((True, real), (False, fake)):
            for chunk in data.split(1000):  # as batches arrive during an evaluation
                metric.update(chunk, real=side)
        return float(metric.compute())

    def theirs() -> float:
        stats = [fid_features_to_statistics(x) for x in (real, fake)]
        return fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]

    return best_of(ours, theirs, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32, help="images per side for extraction")
    parser.add_argument("--size", type=int, default=32, help="image height = width")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--features", type=int, default=10000, help="N of the compute step")
    parser.add_argument("--dim", type=int, default=2048, help="D of the compute step")
    parser.add_argument("--weights", default=None, help="real Inception weights (optional)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; best kept")
    parser.add_argument("--skip-extraction", action="store_true")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
          f"torch {torch.__version__}, {a.threads} threads, device {a.device}")

    if not a.skip_extraction:
        with tempfile.TemporaryDirectory() as folder:
            weights = Path(a.weights) if a.weights else random_weights(Path(folder) / "w.pth")
            r = extraction(a.images, a.size, a.batch_size, weights, a.device, a.repeats)
        agree = abs(r["fid_ours"] - r["fid_theirs"]) / abs(r["fid_theirs"])
        print(f"extraction + FID, {r['images']} images {a.size}x{a.size} -> 299x299, batch "
              f"{a.batch_size}: ganaug {r['t_ours']:.2f} s ({r['images'] / r['t_ours']:.1f} img/s), "
              f"torch-fidelity {r['t_theirs']:.2f} s ({r['images'] / r['t_theirs']:.1f} img/s); "
              f"FID {r['fid_ours']:.6g} vs {r['fid_theirs']:.6g} (rel. diff {agree:.1e})")

    r = compute_step(a.features, a.dim, a.repeats)
    agree = abs(r["fid_ours"] - r["fid_theirs"]) / abs(r["fid_theirs"])
    print(f"FID compute step, {a.features} x {a.dim} features per side: ganaug {r['t_ours']:.2f} s, "
          f"torch-fidelity {r['t_theirs']:.2f} s ({r['t_theirs'] / r['t_ours']:.1f}x); "
          f"FID {r['fid_ours']:.8g} vs {r['fid_theirs']:.8g} (rel. diff {agree:.1e})")
    if not np.isfinite(agree) or agree > 1e-4:
        raise SystemExit("the two implementations disagree; the timings are not comparable")


if __name__ == "__main__":
    main()
