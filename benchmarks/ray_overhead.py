"""Wall time per run of a small study under the sequential and the Ray executor.

The study is the test suite's tiny one made a little longer (``--max-steps`` classifier steps per
run on 4 scikit-learn digits per class): the real, classic, gan, gan+classic and synthetic runs
of one variant for each seed, plus the GAN, the judge and one bank per seed. It is run three
times, each in a fresh folder, so every run trains:

1. sequential, in this process;
2. Ray on a fresh local cluster of ``--ray-cpus`` CPUs, started and stopped by the executor (the
   whole cost a user pays for ``--executor ray`` on one machine: cluster start, worker start-up,
   one process per task);
3. Ray again on a cluster that is already running, with warm workers (the cost per task once a
   cluster is up).

The Ray overhead per run is (Ray wall time - sequential wall time) / runs with ``--ray-cpus 1``
(one task at a time, so no run overlaps another); with more CPUs runs overlap and the difference
mixes overhead with parallel gain. Prints one table; record it in docs/benchmarks.md with the
machine.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ray_overhead.py --ray-cpus 1
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from ganaug.study import RayExecutor, StudyConfig, Variant, plan_runs, run_study
from ganaug.study.executors import quiet_lightning


def config(seeds: int, max_steps: int) -> StudyConfig:
    """The tiny study of tests/test_study.py with one variant and ``max_steps`` per run."""
    return StudyConfig(
        dataset="digits", image_size=28, n_per_class=4, test_per_class=3,
        seeds=list(range(seeds)), modes=["augment"], ratios=[0.5], classic_augment="flip",
        variants=[Variant("plain")], max_steps=max_steps, batch_size=8,
        gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10), gan_max_steps=4,
        gan_batch_size=8, accelerator="cpu", judge_per_class=5, curve_points=0,
        # the defaults before 0.2.0 (now the default study's recipe), as its numbers were measured
        gan_arms=["gan", "gan+classic"], bank_referee_seeds=None, gan_selection=None,
        classifier_options=dict(optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[]))


def timed(study: StudyConfig, out: Path, executor: RayExecutor | None) -> float:
    started = time.perf_counter()
    run_study(study, out, progress=False, executor=executor)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=30, help="classifier steps per run")
    parser.add_argument("--ray-cpus", type=int, default=1, help="CPUs of the local Ray cluster")
    args = parser.parse_args()
    quiet_lightning()
    torch.set_num_threads(1)  # as every task of the study runs (threads 1)
    import ray

    study = config(args.seeds, args.max_steps)
    runs = len(plan_runs(study))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        sequential = timed(study, root / "sequential", None)
        fresh = timed(study, root / "ray-fresh", RayExecutor(num_cpus=args.ray_cpus))
        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
        timed(study, root / "ray-warm-up", RayExecutor())  # starts the workers
        warm = timed(study, root / "ray-warm", RayExecutor())
        ray.shutdown()
        same = all((root / name / "results.csv").read_text()
                   == (root / "sequential" / "results.csv").read_text()
                   for name in ("ray-fresh", "ray-warm"))

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, ray {ray.__version__}; {runs} runs of {args.max_steps} steps "
          f"(+ GAN, judge, {args.seeds} banks); local Ray cluster of {args.ray_cpus} CPUs; "
          f"results.csv identical: {same}")
    print(f"{'executor':<34} {'wall s':>8} {'s / run':>8} {'overhead s / run':>17}")
    for name, wall in (("sequential", sequential), ("ray, cluster started by the study", fresh),
                       ("ray, cluster already running", warm)):
        extra = "" if name == "sequential" else f"{(wall - sequential) / runs:+17.2f}"
        print(f"{name:<34} {wall:8.1f} {wall / runs:8.2f} {extra}")


if __name__ == "__main__":
    main()
