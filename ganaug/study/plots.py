"""PNG plots of a study: test error against ratio, test error per class, learning curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganaug.atomic import atomic_path
from ganaug.study.curves import mean_curve, read_curve

__all__ = ["chart_label", "plot_class_errors", "plot_curves", "plot_error_vs_ratio", "ratio_charts"]

_COLOURS = {"real": "tab:gray", "classic": "tab:blue", "gan": "tab:orange",
            "gan+classic": "tab:green", "synthetic": "tab:red", "synthetic+classic": "tab:purple"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


SYNTHETIC_ARMS = ("gan", "gan+classic", "synthetic", "synthetic+classic")
"""The arms with synthetic images, drawn against the ratio in the chart of their mode."""


def ratio_charts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rows each error-against-ratio chart shows, by (classifier, mode): the real and
    classic arms, and every arm with synthetic images of that mode (recipes aside), in the order
    they are drawn. One chart per mode with a ratio (``balance`` has none)."""
    charts = {}
    for classifier in sorted({r["classifier"] for r in rows}):
        mine = [r for r in rows if r["classifier"] == classifier and not r.get("recipe")]
        for mode in sorted({r["mode"] for r in mine if r["mode"] and r["mode"] != "balance"}):
            shown = [r for arm in ("real", "classic") for r in mine if r["arm"] == arm]
            shown += sorted((r for r in mine if r["arm"] in SYNTHETIC_ARMS and r["mode"] == mode),
                            key=lambda r: (SYNTHETIC_ARMS.index(r["arm"]), r["variant"], r["ratio"]))
            charts[(classifier, mode)] = shown
    return charts


def chart_label(row: dict[str, Any]) -> str:
    """An arm as the charts and their alt text name it: ``gan+classic (filtered)``."""
    return row["arm"] + (f" ({row['variant']})" if row["variant"] else "")


def _save(figure: Any, path: Path) -> None:
    """Write ``figure`` as a PNG at ``path`` atomically (a reader never sees half a picture)."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")


def plot_error_vs_ratio(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per (classifier, mode) of :func:`ratio_charts`: mean test error ± std over seeds
    of every arm. With several ratios, the arms with synthetic images are lines against the
    ratio and the real and classic arms horizontal bands; a point far above the others (the
    synthetic-only arm, often) is drawn at the top edge with its value written beside it, so
    that it neither flattens the rest nor leaves the chart. With a single ratio, a line would be
    one point on near-empty axes: every arm is a bar with its value."""
    plt = _pyplot()
    written = []
    for (classifier, mode), shown in ratio_charts(rows).items():
        synthetic = [r for r in shown if r["arm"] in SYNTHETIC_ARMS]
        figure, axes = plt.subplots(figsize=(6.4, 4.2))
        if len({r["ratio"] for r in synthetic}) <= 1:
            _error_bars(axes, shown)
            ratio = f", r = {synthetic[0]['ratio']:g}" if synthetic else ""
            axes.set_title(f"{classifier}, {mode}{ratio}: mean ± std over seeds")
        else:
            _error_lines(axes, shown, mode)
            axes.set_title(f"{classifier}, {mode}: mean ± std over seeds")
        axes.set_ylabel("test error (%)")
        axes.grid(alpha=0.3, axis="y")
        figure.tight_layout()
        path = out / f"error_vs_ratio-{classifier}-{mode}.png"
        _save(figure, path)
        plt.close(figure)
        written.append(path)
    return written


def _error_bars(axes: Any, shown: list[dict[str, Any]]) -> None:
    """Every row a bar (mean, std as its error bar) labelled with its value."""
    names = [chart_label(r) for r in shown]
    means = [r["error_mean"] for r in shown]
    bars = axes.bar(range(len(shown)), means, yerr=[r["error_std"] for r in shown], capsize=4,
                    color=[_COLOURS.get(r["arm"], "black") for r in shown], alpha=0.8)
    axes.bar_label(bars, labels=[f"{m:.2f}" for m in means], padding=3, fontsize=8)
    axes.set_xticks(range(len(shown)), names, rotation=20, ha="right", fontsize=8)
    axes.set_ylim(0, max(m + r["error_std"] for m, r in zip(means, shown)) * 1.18 or 1)


def _error_lines(axes: Any, shown: list[dict[str, Any]], mode: str) -> None:
    """Synthetic arms as lines against the ratio, real and classic as bands; off-scale points
    (above twice the real and classic arms' largest error) clipped to the top edge and
    annotated."""
    baseline = [r for r in shown if r["arm"] in ("real", "classic")]
    synthetic = [r for r in shown if r["arm"] in SYNTHETIC_ARMS]
    reach = [r["error_mean"] + r["error_std"] for r in baseline]
    limit = 2 * max(reach) if reach else math.inf
    scale = reach + [r["error_mean"] + r["error_std"] for r in synthetic
                     if r["error_mean"] <= limit]
    top = (max(scale) if scale else limit) * 1.15
    for row in baseline:
        mean, std = row["error_mean"], row["error_std"]
        axes.axhline(mean, color=_COLOURS[row["arm"]], linestyle="--", label=f"{row['arm']} only")
        axes.axhspan(mean - std, mean + std, color=_COLOURS[row["arm"]], alpha=0.12)
    styles = ["-o", "-s", "-^", "-v", "-D", "-x"]
    variants = sorted({r["variant"] for r in synthetic})
    for arm in SYNTHETIC_ARMS:
        for style, variant in zip(styles * 4, variants):
            series = [r for r in synthetic if r["arm"] == arm and r["variant"] == variant]
            if not series:
                continue
            ratios = [r["ratio"] for r in series]
            means = [min(r["error_mean"], top * 0.97) for r in series]
            axes.errorbar(ratios, means, yerr=[0 if r["error_mean"] > top else r["error_std"]
                                               for r in series],
                          fmt=style, capsize=3, color=_COLOURS[arm], label=chart_label(series[0]))
            for r, y in zip(series, means):
                if r["error_mean"] > top:  # off the scale: at the edge, with its value
                    axes.annotate(f"{chart_label(r)}: {r['error_mean']:.1f} % (off scale)",
                                  (r["ratio"], y), textcoords="offset points", xytext=(-8, -3),
                                  ha="right", va="top", fontsize=7, color=_COLOURS[arm])
    axes.set_ylim(0, top)
    axes.set_xlabel("ratio r of synthetic images" + (" replaced" if mode == "replace" else " added"))
    axes.legend(fontsize=7)


def plot_class_errors(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per classifier: mean test error per class for every arm and setting."""
    plt = _pyplot()
    written = []
    for classifier in sorted({r["classifier"] for r in rows}):
        mine = [r for r in rows if r["classifier"] == classifier]
        figure, axes = plt.subplots(figsize=(7.2, 4.2))
        for row in mine:
            label = row["arm"] + (f" {row['variant']} {row['mode']} r={row['ratio']:g}" if row["variant"] else "")
            label += f" {row['recipe']}" if row.get("recipe") else ""
            errors = row["class_error_mean"]
            style = "--" if row["arm"] in ("real", "classic") else "-"
            axes.plot(range(len(errors)), errors, style, marker=".", label=label,
                      color=_COLOURS[row["arm"]], alpha=0.9 if row["arm"] in ("real", "classic") else 0.5)
        axes.set_xlabel("class")
        axes.set_ylabel("test error (%)")
        axes.set_title(f"{classifier}: per-class test error, mean over seeds")
        axes.set_xticks(range(len(mine[0]["class_error_mean"])))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6, ncol=2)
        figure.tight_layout()
        path = out / f"class_errors-{classifier}.png"
        _save(figure, path)
        plt.close(figure)
        written.append(path)
    return written


def _setting(record: dict[str, Any]) -> tuple:
    return (record["arm"], record["variant"], record["mode"], record["ratio"],
            record.get("recipe", ""))


def plot_curves(records: list[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per classifier with recorded curves (``curves/<run_id>.csv``): training error
    (dashed) and test error (solid) against steps, mean over seeds, one panel per mode and
    ratio of synthetic data with the real-only arms in every panel. Runs without a curve (from
    a study of an older version) are left out."""
    plt = _pyplot()
    written = []
    for classifier in sorted({r["classifier"] for r in records}):
        seeds: dict[tuple, list] = {}
        for record in records:
            if record["classifier"] == classifier and "run_id" in record:
                curve = read_curve(out / "curves" / f"{record['run_id']}.csv")
                if curve is not None:
                    seeds.setdefault(_setting(record), []).append(curve)
        curves = {key: mean for key, runs in seeds.items() if (mean := mean_curve(runs)) is not None}
        if not curves:
            continue
        panels = sorted({(mode, ratio) for _, variant, mode, ratio, _ in curves if variant}) or [None]
        figure, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.2),
                                    sharey=True, squeeze=False)
        markers = dict(zip(sorted({key[1] for key in curves}), "os^vDxP*"))
        for panel, ax in zip(panels, axes[0]):
            for key, curve in sorted(curves.items()):
                arm, variant, mode, ratio, recipe = key
                if variant and (mode, ratio) != panel:
                    continue
                label = arm + (f" ({variant})" if variant else "") + (f" {recipe}" if recipe else "")
                style = dict(color=_COLOURS.get(arm, "black"), marker=markers[variant],
                             markersize=3)
                ax.plot(curve["step"], curve["test_error"], "-", label=f"{label} test", **style)
                ax.plot(curve["step"], curve["train_error"], "--", alpha=0.6,
                        label=f"{label} train", **style)
            ax.set_title(f"{classifier}, {panel[0]} r={panel[1]:g}" if panel else classifier)
            ax.set_xlabel("optimizer step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, ncol=2)
        axes[0][0].set_ylabel("error (%): test solid, training dashed")
        figure.tight_layout()
        path = out / f"curves-{classifier}.png"
        _save(figure, path)
        plt.close(figure)
        written.append(path)
    return written
