"""A study's summaries: mean ± std per setting with paired differences to the real and classic
arms (:func:`summarize`), the text table (:func:`format_table`) and the output files
(:func:`write_results`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.study.plan import ARMS

__all__ = ["format_table", "summarize", "write_results"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std of test error per setting, with the paired differences to ``real`` and
    ``classic`` (the same classifier and seed), and the relative change of the mean error."""
    baseline = {(r["classifier"], r["seed"], r["arm"]): r["test_error"] for r in records
                if r["arm"] in ("real", "classic")}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        key = (r["classifier"], r["arm"], r["variant"], r["mode"], r["ratio"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (classifier, arm, variant, mode, ratio), members in groups.items():
        errors = [m["test_error"] for m in members]
        mean, std = _mean_std(errors)
        row = {"classifier": classifier, "arm": arm, "variant": variant, "mode": mode,
               "ratio": ratio, "seeds": len(members), "error_mean": mean, "error_std": std,
               "class_error_mean": np.nanmean([m["class_errors"] for m in members], 0).tolist()}
        for reference in ("real", "classic"):
            pairs = [(m["test_error"], baseline.get((classifier, m["seed"], reference)))
                     for m in members]
            pairs = [(a, b) for a, b in pairs if b is not None]
            if pairs and arm != reference:
                diff_mean, diff_std = _mean_std([a - b for a, b in pairs])
                base_mean = float(np.mean([b for _, b in pairs]))
                row[f"vs_{reference}_mean"] = diff_mean
                row[f"vs_{reference}_std"] = diff_std
                row[f"vs_{reference}_relative"] = diff_mean / base_mean if base_mean else float("nan")
        rows.append(row)
    order = {arm: i for i, arm in enumerate(ARMS)}
    rows.sort(key=lambda r: (r["classifier"], order[r["arm"]], r["variant"], r["mode"], r["ratio"]))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table (errors in %)."""
    header = f"{'classifier':<11} {'arm':<12} {'variant':<10} {'mode':<8} {'r':>5} {'n':>2} " \
             f"{'test error %':>14} {'vs real':>16} {'vs classic':>16}"
    lines = [header, "-" * len(header)]

    def paired(row: dict[str, Any], reference: str) -> str:
        if f"vs_{reference}_mean" not in row:
            return ""
        return f"{row[f'vs_{reference}_mean']:+.2f} ({100 * row[f'vs_{reference}_relative']:+.0f}%)"

    for row in rows:
        ratio = f"{row['ratio']:g}" if row["variant"] else ""
        lines.append(
            f"{row['classifier']:<11} {row['arm']:<12} {row['variant']:<10} {row['mode']:<8} "
            f"{ratio:>5} {row['seeds']:>2} {row['error_mean']:>7.2f} ± {row['error_std']:<4.2f} "
            f"{paired(row, 'real'):>16} {paired(row, 'classic'):>16}")
    lines.append("paired differences: mean over seeds of (error - reference error of the same "
                 "seed), in points, and relative to the reference's mean error")
    return "\n".join(lines)


def write_results(records: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path) -> None:
    """``results.csv``, ``summary.json``, ``table.txt`` and the PNG plots."""
    fields = ["run_id", "classifier", "arm", "variant", "mode", "ratio", "seed", "train_images",
              "synthetic_images", "test_error", "test_samples", "seconds"]
    with open(out / "results.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields + ["class_errors"])
        writer.writeheader()
        for record in records:
            writer.writerow({**{k: record[k] for k in fields},
                             "class_errors": " ".join(f"{e:.2f}" for e in record["class_errors"])})
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    (out / "table.txt").write_text(format_table(rows) + "\n")
    from ganaug.study.plots import plot_class_errors, plot_error_vs_ratio

    plot_error_vs_ratio(rows, out)
    plot_class_errors(rows, out)
