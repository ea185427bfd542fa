"""Wall time of whole studies per phase, side by side: where a study's time goes, and how much a
change saved.

Runs each study config given (a YAML path, or ``path@gitrev`` for the file as it was at a git
revision, read with ``git show``, run with the current code) in a fresh folder with the
sequential executor, reads the ``timings.json`` the study writes, and prints one Markdown table:
seconds per phase (judge, referee / teachers, GAN training with snapshot selection, banks with
the judge's verdict, classifier runs by arm, writing the outputs) and the total per config, with
the speed-up of the last config against the first; then the mean test error of every setting, to
show that the results are unchanged. The machine (CPU model, cores, load, torch, threads) is
printed first: wall times only compare on the same machine under the same load.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_phases.py \\
        configs/study/mnist5k.yaml@914106f configs/study/mnist5k.yaml

``--quick`` shrinks every config to a few steps (a test runs it in seconds); ``--threads`` sets
the studies' ``threads`` (each task's ``torch.set_num_threads``; set ``OMP_NUM_THREADS`` to the
same number, as the command above does, so that OpenMP starts no more threads than that);
``--keep DIR`` keeps the study folders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from ganaug.study import StudyConfig, copy_config, run_study
from ganaug.study.config import DEFAULTS_BEFORE_0_2
from ganaug.study.executors import quiet_lightning
from ganaug.study.plan import ARMS
from ganaug.study.timings import PHASES

ROW_NAMES = {"judge": "judge", "teacher": "referee / teachers", "gan": "GAN (with selection)",
             "bank": "banks (with verdict)", "outputs": "outputs (tables, plots, page)"}


def read_config(spec: str) -> StudyConfig:
    """The study config ``spec`` names: a YAML file, or ``path@rev`` for that file at git
    revision ``rev`` (a path relative to the current folder, as ``git show rev:./path`` reads)."""
    path, at, rev = spec.rpartition("@")
    if not at or Path(spec).is_file():
        return StudyConfig.from_yaml(spec)
    file = Path(path).resolve()
    shown = subprocess.run(["git", "show", f"{rev}:./{file.name}"], cwd=file.parent,
                           capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        raise SystemExit(f"study_phases: cannot read {path} at {rev}: {shown.stderr.strip()}")
    values = yaml.safe_load(shown.stdout) or {}
    # a revision before 0.2.0 left settings to the defaults of its day, not to the default
    # study's recipe that the defaults are since
    code = subprocess.run(["git", "grep", "-q", "DEFAULTS_BEFORE_0_2", rev, "--",
                           ":/ganaug/study/config.py"], cwd=file.parent, check=False)
    if code.returncode != 0:
        values = {**DEFAULTS_BEFORE_0_2, **values}
    return StudyConfig.from_dict(values)


def quick(config: StudyConfig) -> StudyConfig:
    """``config`` shrunk to a few steps everywhere (classifiers, GAN, snapshot selection), for a
    dry run of the benchmark; the grid, data and phases stay."""
    per_classifier = {name: {**options, "max_steps": min(int(options["max_steps"]), 4)}
                      if "max_steps" in options else options
                      for name, options in config.per_classifier.items()}
    selection = None if config.gan_selection is None else {
        **config.gan_selection, "every_n_iterations": 1, "start_iteration": 0,
        "n_per_class": min(int(config.gan_selection.get("n_per_class", 2)), 2)}
    return copy_config(config, max_steps=min(config.max_steps, 4), per_classifier=per_classifier,
                       gan_max_steps=min(config.gan_max_steps, 4), gan_selection=selection)


def machine(threads: int) -> str:
    """The machine in one line: CPU model, cores, load, torch version and threads."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{model}, {os.cpu_count()} cores ({usable} usable), load average {load}; "
            f"torch {torch.__version__}, {threads} thread(s) (OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}); Python {platform.python_version()}; "
            f"code at {code_revision()}")


def code_revision() -> str:
    """The git revision of the code that runs the studies (``+`` when the tree has changes)."""
    root = Path(__file__).resolve().parents[1]
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                         text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, check=False).stdout.strip()
    return (rev or "unknown") + ("+" if dirty else "")


def run_one(config: StudyConfig, out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``config`` in the fresh folder ``out``; its ``timings.json`` and summary rows."""
    rows = run_study(config, out, progress=False)  # the sequential executor
    return json.loads((out / "timings.json").read_text()), rows


def phase_rows(timings: list[dict[str, Any]]) -> list[tuple[str, list[float | None]]]:
    """The table's rows: (label, seconds per config; None where a config has no such task)."""
    def seconds(t: dict[str, Any], phase: str) -> float | None:
        timed = [task for task in t["tasks"] if task["phase"] == phase]
        return t["phase_seconds"][phase] if timed else None

    arms = [arm for arm in ARMS if any(arm in t["run_seconds_by_arm"] for t in timings)]
    rows = [(ROW_NAMES[phase], [seconds(t, phase) for t in timings])
            for phase in PHASES if phase not in ("run", "outputs")]
    rows += [(f"runs: {arm}", [t["run_seconds_by_arm"].get(arm) for t in timings]) for arm in arms]
    rows.append(("runs (all)", [seconds(t, "run") for t in timings]))
    rows.append((ROW_NAMES["outputs"], [t["phase_seconds"]["outputs"] for t in timings]))
    rows.append(("other (data loading, sample grids)",
                 [t["wall_seconds"] - sum(t["phase_seconds"].values()) for t in timings]))
    rows.append(("**total**", [t["wall_seconds"] for t in timings]))
    return rows


def table(labels: list[str], rows: list[tuple[str, list[float | None]]]) -> str:
    """A Markdown table of seconds per config, and the first config's over the last's."""
    head = ["phase", *labels] + (["speed-up (1st / last)"] if len(labels) > 1 else [])
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for name, values in rows:
        cells = ["—" if v is None else f"{v:.1f} s" for v in values]
        if len(labels) > 1:
            first, last = values[0], values[-1]
            shown = first is not None and last is not None and min(first, last) >= 0.05
            cells.append(f"{first / last:.2f}x" if shown else "")  # not of nothing
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def error_table(labels: list[str], summaries: list[list[dict[str, Any]]]) -> str:
    """Mean ± std test error (%) over seeds of every setting, one column per config."""
    def setting(row: dict[str, Any]) -> str:
        parts = [row["classifier"], row["arm"]]
        if row["variant"]:
            parts += [row["variant"], row["mode"], f"r={row['ratio']:g}"]
        return " ".join(parts + ([row["recipe"]] if row["recipe"] else []))

    errors = [{setting(r): f"{r['error_mean']:.2f} ± {r['error_std']:.2f}" for r in rows}
              for rows in summaries]
    names = list(dict.fromkeys(name for column in errors for name in column))
    lines = ["| setting (test error %) | " + " | ".join(labels) + " |",
             "|---" + "|---:" * len(labels) + "|"]
    lines += ["| " + " | ".join([name, *(column.get(name, "") for column in errors)]) + " |"
              for name in names]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="study YAML files, or path@gitrev")
    parser.add_argument("--threads", type=int, default=1,
                        help="the studies' threads setting and torch.set_num_threads (set "
                             "OMP_NUM_THREADS to the same)")
    parser.add_argument("--quick", action="store_true",
                        help="shrink every config to a few steps (a dry run)")
    parser.add_argument("--root", help="dataset folder (the configs' root otherwise)")
    parser.add_argument("--keep", help="keep the study folders under this folder")
    args = parser.parse_args(argv)
    quiet_lightning()
    torch.set_num_threads(args.threads)

    configs = [read_config(spec) for spec in args.configs]  # every file read before any run
    if args.quick:
        configs = [quick(config) for config in configs]
    if args.root:
        configs = [copy_config(config, root=args.root) for config in configs]
    configs = [copy_config(config, threads=args.threads) for config in configs]  # every task's
    print(f"machine: {machine(args.threads)}")
    timings, summaries = [], []
    with tempfile.TemporaryDirectory(prefix="study_phases-") as scratch:
        parent = Path(args.keep) if args.keep else Path(scratch)
        for index, (spec, config) in enumerate(zip(args.configs, configs)):
            out = parent / f"{index}-{Path(spec.split('@')[0]).stem}"
            if out.exists():
                raise SystemExit(f"study_phases: {out} exists; each study needs a fresh folder")
            print(f"running {spec} in {out} ...", file=sys.stderr, flush=True)
            result, rows = run_one(config, out)
            timings.append(result)
            summaries.append(rows)
    labels = [f"`{spec}`" for spec in args.configs]
    quick_note = " (--quick: a few steps per phase, not a measurement)" if args.quick else ""
    print(f"\nwall seconds per phase, sequential executor{quick_note}:\n")
    print(table(labels, phase_rows(timings)))
    print("\n—: no such task in that study (when data_seed is one of the seeds, the referee is "
          "that seed's classic run, timed under runs: classic). Nested tasks are taken off the "
          "task that started them, so the phases add up to the total.")
    print("\n" + error_table(labels, summaries))


if __name__ == "__main__":
    main()
