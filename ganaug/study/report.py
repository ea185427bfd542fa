"""A study's summaries: mean ± std per setting with paired differences and their confidence
intervals (:func:`summarize`, :func:`paired_interval`), the text table (:func:`format_table`) and
the output files (:func:`write_results`, with the plots of ``plots`` and the page of ``html``).

On an imbalanced training set the rows also carry the error of the minority classes
(:func:`minority_classes`: the rarest half), with its own paired intervals, and the balanced
error (the mean of the per-class errors), which the overall error equals on a balanced test set.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.atomic import atomic_path, atomic_write_json, atomic_write_text
from ganaug.study.plan import ARMS, REAL_ARMS

__all__ = ["BANK_PER_CLASS", "format_confusions", "format_table", "minority_classes",
           "paired_interval", "rarest_classes", "summarize", "write_results"]


def minority_classes(class_counts: list[int]) -> list[int]:
    """The rarest half of the classes: the ``K // 2`` with the fewest real training images (the
    higher label first among equal counts, as a long tail puts its rarest classes last); empty
    when every class has as many images as every other."""
    if len(set(class_counts)) <= 1:
        return []
    order = sorted(range(len(class_counts)), key=lambda c: (class_counts[c], -c))
    return sorted(order[: len(class_counts) // 2])


def rarest_classes(class_counts: list[int], n: int = 2) -> list[int]:
    """The ``n`` classes with the fewest real training images, rarest first (the higher label
    first among equal counts); empty when every class has as many images as every other."""
    if len(set(class_counts)) <= 1:
        return []
    return sorted(range(len(class_counts)), key=lambda c: (class_counts[c], -c))[:n]


BANK_PER_CLASS = ("faithfulness_per_class", "second_judge_per_class", "spread_per_class",
                  "novelty_per_class")
"""A synthetic run's per-class measures of its bank, averaged over seeds in the summary."""


def _per_class_means(members: list[dict[str, Any]], field: str) -> list[float | None] | None:
    """The mean over seeds of each class's value of ``field`` (None where no seed has one)."""
    lists = [m[field] for m in members if m.get(field) is not None]
    if not lists:
        return None
    array = np.array([[math.nan if v is None else v for v in values] for values in lists],
                     dtype=float)
    means = []
    for column in array.T:
        finite = column[~np.isnan(column)]
        means.append(float(finite.mean()) if len(finite) else None)
    return means


def _minority_error(record: dict[str, Any]) -> float | None:
    """Mean test error (%) over the record's minority classes; None on a balanced training set."""
    minority = minority_classes(record.get("class_train_counts") or [])
    if not minority:
        return None
    return float(np.mean([record["class_errors"][c] for c in minority]))


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def paired_interval(differences: list[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean of paired differences with its two-sided Student-t confidence interval.

    ``mean ± t(1 - (1 - confidence) / 2, n - 1) · s / sqrt(n)``, with ``s`` the sample standard
    deviation of the differences; the interval is NaN with a single pair. ``significant`` is 1.0
    when the interval excludes zero.
    """
    from scipy.stats import t as student_t

    array = np.asarray(differences, dtype=float)
    n = len(array)
    mean = float(array.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": n, "significant": 0.0}
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1) * array.std(ddof=1) / math.sqrt(n))
    low, high = mean - half, mean + half
    return {"mean": mean, "low": low, "high": high, "n": n,
            "significant": float(low > 0 or high < 0)}


def _key(record: dict[str, Any]) -> tuple:
    return (record["classifier"], record["arm"], record["variant"], record["mode"],
            record["ratio"], record.get("recipe", ""))


def _control(key: tuple, available: set[tuple]) -> tuple | None:
    """The same training without synthetic images: real for ``gan`` and ``synthetic``, classic
    (with the recipe's control when it has one) for ``gan+classic``, classic for
    ``synthetic+classic`` and for a control."""
    classifier, arm, _, _, _, recipe = key
    if arm in ("gan", "synthetic"):
        return (classifier, "real", "", "", 0.0, "")
    if arm == "synthetic+classic":
        return (classifier, "classic", "", "", 0.0, "")
    if arm == "gan+classic":
        own = (classifier, "classic", "", "", 0.0, recipe)
        return own if recipe and own in available else (classifier, "classic", "", "", 0.0, "")
    if arm == "classic" and recipe:
        return (classifier, "classic", "", "", 0.0, "")
    return None


def summarize(records: list[dict[str, Any]], confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per setting: mean ± std of test error over seeds, and paired differences.

    Every row but the reference gets ``vs_best_real``: the paired difference (same classifier,
    same seed) to the best arm without synthetic images (the real-only arm, classic or a recipe's
    control with the lowest mean error) with its ``confidence`` interval. Rows that have one get
    ``vs_control``: the difference to the same training without synthetic images (``gan`` vs
    ``real``, ``gan+classic`` vs ``classic`` or the recipe's control), which is what the images
    themselves earned. Rows of synthetic data carry the judge's faithfulness of their banks and
    the classification accuracy score of their variant (``cas``: accuracy of the classifier
    trained on the bank alone over the real-only one's, paired by seed; ``cas_classic``: the same
    with classic augmentation on both, over ``classic``'s, when the study runs that arm).
    """
    records = [{**r, "minority_error": _minority_error(r)} for r in records]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(_key(r), []).append(r)
    by_seed = {(_key(r), r["seed"], metric): r[metric] for r in records
               for metric in ("test_error", "minority_error") if r[metric] is not None}

    def paired(members: list[dict[str, Any]], reference: tuple,
               metric: str = "test_error") -> dict[str, float] | None:
        pairs = [(m[metric], by_seed.get((reference, m["seed"], metric))) for m in members
                 if m[metric] is not None]
        differences = [a - b for a, b in pairs if b is not None]
        if not differences:
            return None
        result = paired_interval(differences, confidence)
        base = float(np.mean([b for _, b in pairs if b is not None]))
        result["relative"] = result["mean"] / base if base else math.nan
        return result

    # CAS: a bank's accuracy alone over the real images' (without and with classic augmentation)
    cas: dict[tuple, float] = {}
    for key, members in groups.items():
        classifier, arm, variant = key[:3]
        if arm in ("synthetic", "synthetic+classic"):
            reference = (classifier, "real" if arm == "synthetic" else "classic", "", "", 0.0, "")
            ratios = [(100 - m["test_error"]) / (100 - base) for m in members
                      if (base := by_seed.get((reference, m["seed"], "test_error"))) is not None]
            if ratios:
                cas[(classifier, variant, arm)] = float(np.mean(ratios))

    rows = []
    for key, members in groups.items():
        classifier, arm, variant, mode, ratio, recipe = key
        mean, std = _mean_std([m["test_error"] for m in members])
        row: dict[str, Any] = {
            "classifier": classifier, "arm": arm, "variant": variant, "mode": mode,
            "ratio": ratio, "recipe": recipe, "seeds": len(members), "error_mean": mean,
            "error_std": std,
            "class_error_mean": np.nanmean([m["class_errors"] for m in members], 0).tolist()}
        faithful = [m for m in members if m.get("faithfulness_mean") is not None]
        if faithful:
            row["faithfulness_mean"] = float(np.mean([m["faithfulness_mean"] for m in faithful]))
            row["faithfulness_worst"] = float(min(m["faithfulness_worst"] for m in faithful))
        for field in BANK_PER_CLASS:
            if (means := _per_class_means(members, field)) is not None:
                row[field] = means
        agree = [m["judges_agree"] for m in members if m.get("judges_agree") is not None]
        if agree:
            row["judges_agree"] = float(np.mean(agree))
        for name, arm_alone in (("cas", "synthetic"), ("cas_classic", "synthetic+classic")):
            if (classifier, variant, arm_alone) in cas:
                row[name] = cas[(classifier, variant, arm_alone)]
        _add_imbalance(row, members)
        confusions = [m.get("confusion") for m in members]
        if all(c is not None for c in confusions):  # older records have none
            row["confusion"] = np.sum(confusions, axis=0, dtype=np.int64).tolist()
        control = _control(key, set(groups))
        if control is not None and (result := paired(members, control)) is not None:
            row["vs_control"] = result
        if control is not None and "minority_error_mean" in row and \
                (result := paired(members, control, "minority_error")) is not None:
            row["minority_vs_control"] = result
        rows.append(row)

    # the best arm without synthetic images, per classifier, and every row against it
    for classifier in {row["classifier"] for row in rows}:
        real_rows = [r for r in rows if r["classifier"] == classifier and r["arm"] in REAL_ARMS]
        if not real_rows:
            continue
        best = min(real_rows, key=lambda r: r["error_mean"])
        best_key = (classifier, best["arm"], "", "", 0.0, best["recipe"])
        best["best_real"] = True
        for row in rows:
            if row["classifier"] == classifier and row is not best:
                members = groups[(classifier, row["arm"], row["variant"], row["mode"],
                                  row["ratio"], row["recipe"])]
                if (result := paired(members, best_key)) is not None:
                    row["vs_best_real"] = result
                if "minority_error_mean" in row and \
                        (result := paired(members, best_key, "minority_error")) is not None:
                    row["minority_vs_best_real"] = result
    order = {arm: i for i, arm in enumerate(ARMS)}
    rows.sort(key=lambda r: (r["classifier"], order.get(r["arm"], len(order)), r["variant"],
                             r["recipe"], r["mode"], r["ratio"]))
    return rows


def _add_imbalance(row: dict[str, Any], members: list[dict[str, Any]]) -> None:
    """The balanced error and, on an imbalanced training set, the minority classes' error."""
    balanced = [m["balanced_error"] for m in members if m.get("balanced_error") is not None]
    if balanced:
        row["balanced_error_mean"] = float(np.mean(balanced))
    minority = [m["minority_error"] for m in members if m["minority_error"] is not None]
    if minority:
        row["minority_classes"] = minority_classes(members[0]["class_train_counts"])
        row["class_train_counts"] = list(members[0]["class_train_counts"])
        row["minority_error_mean"], row["minority_error_std"] = _mean_std(minority)


def _interval(result: dict[str, float] | None) -> str:
    if result is None:
        return ""
    mark = "*" if result["significant"] else " "
    if math.isnan(result["low"]):
        return f"{result['mean']:+.2f} (n=1)  "
    return f"{result['mean']:+.2f} [{result['low']:+.2f}, {result['high']:+.2f}]{mark}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table (errors in %, differences in points)."""
    arm = max([11, *(len(row["arm"]) for row in rows)])  # "synthetic+classic" is 17 wide
    header = (f"{'classifier':<10} {'arm':<{arm}} {'variant':<10} {'recipe':<8} {'mode':<7} {'r':>4} "
              f"{'n':>2} {'test error %':>13} {'vs control [95% CI]':>24} "
              f"{'vs best real-only [95% CI]':>27} {'faithful':>8} {'worst':>5} {'CAS':>5}")
    with_classic = any("cas_classic" in row for row in rows)
    if with_classic:
        header += f" {'CAS+c':>5}"
    imbalanced = any("minority_error_mean" in row for row in rows)
    if imbalanced:
        header += (f" {'minority err %':>14} {'minority vs control':>24} "
                   f"{'minority vs best real-only':>27}")
    counts = next((r["class_train_counts"] for r in rows if r.get("class_train_counts")), [])
    rare = rarest_classes(counts) if any("faithfulness_per_class" in r for r in rows) else []
    spread = any("spread_per_class" in r for r in rows)
    agree = any("judges_agree" in r for r in rows)
    if rare:
        names = "/".join(map(str, rare))
        header += f" {'faithful ' + names:>14}" + (f" {'spread ' + names:>11}" if spread else "")
    if agree:
        header += f" {'judges agree':>12}"
    lines = [header, "-" * len(header)]
    for row in rows:
        ratio = f"{row['ratio']:g}" if row["variant"] else ""
        faithful = f"{100 * row['faithfulness_mean']:>7.1f}%" if "faithfulness_mean" in row else ""
        worst = f"{100 * row['faithfulness_worst']:>4.0f}%" if "faithfulness_worst" in row else ""
        cas = _percent(row.get("cas"))
        best = _interval(row.get("vs_best_real")) if not row.get("best_real") else "(best real-only)"
        lines.append(
            f"{row['classifier']:<10} {row['arm']:<{arm}} {row['variant']:<10} {row['recipe']:<8} "
            f"{row['mode']:<7} {ratio:>4} {row['seeds']:>2} "
            f"{row['error_mean']:>6.2f} ± {row['error_std']:<4.2f} "
            f"{_interval(row.get('vs_control')):>24} {best:>27} {faithful:>8} {worst:>5} {cas:>5}"
            + (f" {_percent(row.get('cas_classic')):>5}" if with_classic else "")
            + (_minority_columns(row) if imbalanced else "")
            + (_rare_columns(row, rare, spread) if rare else "")
            + (f" {_percent(row.get('judges_agree')):>12}" if agree else ""))
    if rare:
        lines.append(f"faithful / spread {'/'.join(map(str, rare))}: the rarest two classes' "
                     "judge faithfulness and bank spread (1 = as varied as held-out real images "
                     "of the class), mean over seeds")
    if agree:
        lines.append("judges agree: share of the banks' images to which two independently "
                     "trained judges give the same class")
    if imbalanced:
        classes = next(row["minority_classes"] for row in rows if "minority_classes" in row)
        lines.append(f"minority: the rarest half of the classes by real training images "
                     f"(classes {', '.join(map(str, classes))}), their mean test error and its "
                     "paired differences in points")
    lines += [
        "paired differences in points: mean over seeds of (error - reference error of the same "
        "seed) with a Student-t 95 % interval; * = the interval excludes zero",
        "control: the same training without synthetic images (gan, synthetic: real; gan+classic: "
        "classic or the recipe's control; synthetic+classic: classic); faithful / worst: the independent judge's mean and worst-class "
        "agreement with the banks' labels (worst over seeds); CAS: accuracy trained on the bank "
        "alone / accuracy trained on the real images alone"
        + ("; CAS+c: the same, both with classic augmentation" if with_classic else "")]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return f"{100 * value:>4.0f}%" if value is not None else ""


def _rare_columns(row: dict[str, Any], rare: list[int], spread: bool) -> str:
    """The rarest classes' faithfulness (%) and spread, "a/b", blank for a row without them."""
    def joined(field: str, form: str) -> str:
        values = row.get(field)
        if values is None:
            return ""
        return "/".join("-" if values[c] is None else format(values[c] * (100 if form == "%" else 1),
                                                            ".0f" if form == "%" else ".2f")
                        for c in rare) + ("%" if form == "%" else "")

    text = f" {joined('faithfulness_per_class', '%'):>14}"
    return text + (f" {joined('spread_per_class', ''):>11}" if spread else "")


def _minority_columns(row: dict[str, Any]) -> str:
    if "minority_error_mean" not in row:
        return ""
    best = (_interval(row.get("minority_vs_best_real")) if not row.get("best_real")
            else "(best real-only)")
    error = f"{row['minority_error_mean']:.2f} ± {row['minority_error_std']:<4.2f}"
    return f" {error:>14} {_interval(row.get('minority_vs_control')):>24} {best:>27}"


def format_confusions(rows: list[dict[str, Any]], top: int = 3) -> str:
    """Where the minority classes' test images go: per setting and minority class, the test
    images summed over seeds, how many were right, and the ``top`` classes most often predicted
    instead (``"-> 3: 12"``: twelve were called 3). Empty when no row has both confusion counts
    and minority classes."""
    lines = []
    for row in rows:
        if "confusion" not in row or not row.get("minority_classes"):
            continue
        name = " ".join(part for part in (row["classifier"], row["arm"], row["variant"],
                                          row["recipe"]) if part)
        lines.append(f"{name} ({row['seeds']} seeds)")
        for c in row["minority_classes"]:
            counts = row["confusion"][c]
            wrong = sorted(((n, k) for k, n in enumerate(counts) if k != c and n),
                           key=lambda item: (-item[0], item[1]))[:top]
            where = ", ".join(f"-> {k}: {n}" for n, k in wrong)
            lines.append(f"  class {c}: {counts[c]}/{sum(counts)} right  {where}".rstrip())
    return "\n".join(lines)


def write_results(records: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path) -> None:
    """``results.csv``, ``summary.json``, ``table.txt``, ``confusions.txt`` (on a long tail:
    where the minority classes' test images go), the PNG plots (the learning curves
    from the runs' ``curves/<run_id>.csv`` where recorded) and ``report.html``."""
    # no wall times: the same command on the same machine writes the same results.csv
    fields = ["run_id", "classifier", "arm", "variant", "recipe", "mode", "ratio", "seed",
              "train_images", "synthetic_images", "test_error", "balanced_error", "test_samples",
              "faithfulness_mean", "faithfulness_worst"]
    with atomic_path(out / "results.csv") as temporary, open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields + ["class_errors", "class_train_counts"])
        writer.writeheader()
        for record in records:
            writer.writerow({**{k: record.get(k, "") for k in fields},
                             "class_errors": " ".join(f"{e:.2f}" for e in record["class_errors"]),
                             "class_train_counts": " ".join(
                                 map(str, record.get("class_train_counts") or []))})
    atomic_write_json(out / "summary.json", rows)
    atomic_write_text(out / "table.txt", format_table(rows) + "\n")
    if confusions := format_confusions(rows):
        atomic_write_text(out / "confusions.txt", confusions + "\n")
    from ganaug.study.html import write_report
    from ganaug.study.plots import plot_class_errors, plot_curves, plot_error_vs_ratio

    plot_error_vs_ratio(rows, out)
    plot_class_errors(rows, out)
    plot_curves(records, out)
    write_report(records, rows, out)  # last: the page embeds the plots
