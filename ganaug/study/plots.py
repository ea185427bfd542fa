"""PNG plots of a study: test error against ratio, test error per class, learning curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganaug.atomic import atomic_path
from ganaug.study.curves import mean_curve, read_curve

__all__ = ["plot_class_errors", "plot_curves", "plot_error_vs_ratio"]

_COLOURS = {"real": "tab:gray", "classic": "tab:blue", "gan": "tab:orange",
            "gan+classic": "tab:green", "synthetic": "tab:red", "synthetic+classic": "tab:purple"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    """Write ``figure`` as a PNG at ``path`` atomically (a reader never sees half a picture)."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")


def plot_error_vs_ratio(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per (classifier, mode): mean test error ± std over seeds against the ratio, for
    each GAN arm and variant, with the real and classic arms as horizontal bands (none for the
    ``balance`` mode, which has no ratio)."""
    plt = _pyplot()
    written = []
    for classifier in sorted({r["classifier"] for r in rows}):
        mine = [r for r in rows if r["classifier"] == classifier]
        for mode in sorted({r["mode"] for r in mine if r["mode"] and r["mode"] != "balance"}):
            figure, axes = plt.subplots(figsize=(6.4, 4.2))
            for arm in ("real", "classic"):
                for row in (r for r in mine if r["arm"] == arm and not r.get("recipe")):
                    mean, std = row["error_mean"], row["error_std"]
                    axes.axhline(mean, color=_COLOURS[arm], linestyle="--", label=f"{arm} only")
                    axes.axhspan(mean - std, mean + std, color=_COLOURS[arm], alpha=0.12)
            styles = ["-o", "-s", "-^", "-v", "-D", "-x"]
            variants = sorted({r["variant"] for r in mine if r["variant"]})
            for arm in ("gan", "gan+classic"):
                for style, variant in zip(styles * 4, variants):
                    series = sorted((r for r in mine if r["arm"] == arm and r["mode"] == mode
                                     and r["variant"] == variant and not r.get("recipe")),
                                    key=lambda r: r["ratio"])
                    if series:
                        axes.errorbar([r["ratio"] for r in series], [r["error_mean"] for r in series],
                                      yerr=[r["error_std"] for r in series], fmt=style, capsize=3,
                                      color=_COLOURS[arm], label=f"{arm} ({variant})")
            axes.set_xlabel("ratio r of synthetic images" + (" replaced" if mode == "replace" else " added"))
            axes.set_ylabel("test error (%)")
            axes.set_title(f"{classifier}, {mode}: mean ± std over seeds")
            axes.grid(alpha=0.3)
            axes.legend(fontsize=7)
            figure.tight_layout()
            path = out / f"error_vs_ratio-{classifier}-{mode}.png"
            _save(figure, path)
            plt.close(figure)
            written.append(path)
    return written


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
