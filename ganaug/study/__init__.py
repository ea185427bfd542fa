"""``ganaug study``: does synthetic data make a classifier better, at which ratio, with which control?

The experiment follows the published CIFAR-10 replacement / augmentation study in form and adds
what an honest comparison needs: every run is *paired* (the same real subset and the same seed
across arms) and the arms are

- ``real``: the real subset only;
- ``classic``: the real subset with classic augmentation (flips, crops, rotations, affine maps);
- ``gan``: the real subset blended with synthetic images (``replace`` or ``augment``, ratio r);
- ``gan+classic``: the blend with classic augmentation on every sample, real or synthetic;
- ``synthetic``: a bank alone, for its classification accuracy score;
- for every *recipe* (soft labels from a teacher, a loss weight of synthetic samples), a
  ``gan+classic`` run with it, and a control run of the same recipe on real images only when the
  recipe changes how real images are learnt too.

The GAN is trained once per distinct GAN configuration on the same real subset the classifiers
see (never on the test set). Synthetic banks are drawn per diversity variant and seed, and an
independent judge (trained on held-out real images) measures their class faithfulness. Finished
runs are recorded one JSON file each, so an interrupted study resumes where it stopped.
Outputs in the study folder: ``results.csv`` (one row per run), ``summary.json``, ``table.txt``
(paired differences with 95 % confidence intervals), each run's learning curve
(``curves/<run_id>.csv``), PNG plots (error vs ratio, per-class error, learning curves, sample
grids) and ``report.html``, all of it on one page.

The work runs in this process one run after the other (:class:`SequentialExecutor`, the
default of :func:`run_study`), as tasks side by side in worker processes on this machine
(:class:`LocalExecutor`, the default of ``ganaug study``), or as tasks on a Ray cluster
(:class:`RayExecutor`, ``pip install 'ganaug[ray]'``); all write the same files, with the same
torch threads per task (``threads``, ``gan_threads``), so each resumes a study another started.
"""

from __future__ import annotations

from ganaug.study.config import Recipe, StudyConfig, Variant, copy_config
from ganaug.study.curves import LearningCurve
from ganaug.study.executors import Executor, SequentialExecutor, StudyFailed
from ganaug.study.local_executor import LocalExecutor
from ganaug.study.lock import StudyLock, StudyLocked
from ganaug.study.plan import ARMS, CLASSIC_ARMS, REAL_ARMS, Run, plan_runs
from ganaug.study.ray_executor import RayExecutor
from ganaug.study.report import format_table, paired_interval, summarize, write_results
from ganaug.study.runner import Study, run_study

__all__ = ["ARMS", "CLASSIC_ARMS", "REAL_ARMS", "Executor", "LearningCurve", "LocalExecutor", "RayExecutor",
           "Recipe", "Run", "SequentialExecutor", "Study", "StudyConfig", "StudyFailed", "StudyLock",
           "StudyLocked", "Variant", "copy_config", "format_table", "paired_interval", "plan_runs", "run_study", "summarize",
           "write_results"]
