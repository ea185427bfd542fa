"""``report.html``: a study's outputs on one page that opens from disk, with no server and no
network (the images are embedded as base64 data URIs, the style is inline, there is no script).

It shows the summary table (the text table's content with the paired 95 % intervals and their
marks), the plots (error against ratio, per-class error, learning curves), each GAN's sample grid
with the snapshot its selection kept, the judge's class faithfulness of every bank, a per-class
table (real images, the judges' accuracy, error and the banks' faithfulness, spread and novelty),
and the exact configuration. It reads what the study folder holds, so a folder of an older study, without
curves or faithfulness, gives a page without them.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from ganaug.atomic import atomic_write_text
from ganaug.study.plots import chart_label, ratio_charts

__all__ = ["write_report"]

# The summary table must fit the page (1,200 px of text at most): headers and the interval cells
# wrap (an interval and its relative change on two lines), numbers never break inside, and a
# table wider still scrolls inside its own box rather than being cut at the page's edge.
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1200px;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
div.wide { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; white-space: normal; vertical-align: bottom; } td.text { text-align: left; }
td.interval { white-space: normal; min-width: 9em; } span.num { white-space: nowrap; }
tr.best td { background: #eef6ff; } td.significant { font-weight: bold; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.8em; color: #555; } img { max-width: 100%; }
img.samples { image-rendering: pixelated; min-width: 320px; }
pre { background: #f6f6f6; padding: 1em; font-size: 0.8em; overflow-x: auto; }
p.note { font-size: 0.85em; color: #555; }
"""


def _text(value: Any) -> str:
    return html.escape(str(value))


def _figure(path: Path, css: str = "", alt: str | None = None) -> str:
    """The PNG at ``path`` embedded, with ``alt`` (what it shows, for a reader who cannot see
    it; default: its file name) and its file name as caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    css = f' class="{css}"' if css else ""
    return (f'<figure><img{css} src="data:image/png;base64,{data}" '
            f'alt="{_text(alt or path.name)}"><figcaption>{_text(path.name)}</figcaption></figure>')


def _figures(out: Path, pattern: str, missing: str, alts: dict[str, str] | None = None) -> str:
    paths = sorted(out.glob(pattern))
    if not paths:
        return f'<p class="note">{_text(missing)}</p>'
    return "\n".join(_figure(path, alt=(alts or {}).get(path.name)) for path in paths)


def _alt_texts(rows: list[dict[str, Any]]) -> dict[str, str]:
    """What each plot of :mod:`ganaug.study.plots` shows, by file name, from the summary rows:
    every arm it draws, with its mean test error."""
    def arms(shown: list[dict[str, Any]]) -> str:
        return "; ".join(f"{chart_label(r)}" + (f" r={r['ratio']:g}" if r["variant"] else "")
                         + f" {r['error_mean']:.2f} %" for r in shown)

    alts = {}
    for (classifier, mode), shown in ratio_charts(rows).items():
        alts[f"error_vs_ratio-{classifier}-{mode}.png"] = (
            f"Test error (%, mean ± std over seeds) of {classifier}, {mode} mode, against the "
            f"ratio of synthetic images: {arms(shown)}")
    for classifier in sorted({r["classifier"] for r in rows}):
        mine = [r for r in rows if r["classifier"] == classifier]
        alts[f"class_errors-{classifier}.png"] = (
            f"Test error per class of {classifier}, one line per setting: {arms(mine)}")
        alts[f"curves-{classifier}.png"] = (
            f"Learning curves of {classifier}: training error (dashed) and test error (solid) "
            "against optimizer steps, mean over seeds, for each arm")
    return alts


def _percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None or value != value else f"{100 * value:.{digits}f} %"


def _interval_cell(result: dict[str, float] | None) -> str:
    if result is None:
        return "<td></td>"
    if math.isnan(result["low"]):
        return f"<td>{result['mean']:+.2f} (n=1)</td>"
    mark = "*" if result["significant"] else ""
    css = ' class="interval significant"' if result["significant"] else ' class="interval"'
    relative = result.get("relative", math.nan)  # NaN when the reference error is 0
    relative = (f' <span class="num">({100 * relative:+.0f} %)</span>'
                if math.isfinite(relative) else "")
    return (f'<td{css}><span class="num">{result["mean"]:+.2f} [{result["low"]:+.2f}, '
            f'{result["high"]:+.2f}]{mark}</span>{relative}</td>')


def _summary_table(rows: list[dict[str, Any]]) -> str:
    header = ["classifier", "arm", "variant", "recipe", "mode", "r", "n", "test error %",
              "vs control [95 % CI]", "vs best real-only [95 % CI]", "faithful", "worst", "CAS"]
    with_classic = any("cas_classic" in row for row in rows)
    if with_classic:
        header.append("CAS+c")
    lines = ['<div class="wide"><table class="summary"><thead><tr>'
             + "".join(f"<th>{_text(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        text = "".join(f'<td class="text">{_text(row[k])}</td>'
                       for k in ("classifier", "arm", "variant", "recipe", "mode"))
        ratio = f"{row['ratio']:g}" if row["variant"] else ""
        best = ('<td class="text">(best real-only)</td>' if row.get("best_real")
                else _interval_cell(row.get("vs_best_real")))
        lines.append(
            f'<tr{" class=best" if row.get("best_real") else ""}>{text}<td>{ratio}</td>'
            f"<td>{row['seeds']}</td><td>{row['error_mean']:.2f} ± {row['error_std']:.2f}</td>"
            f"{_interval_cell(row.get('vs_control'))}{best}"
            f"<td>{_percent(row.get('faithfulness_mean'))}</td>"
            f"<td>{_percent(row.get('faithfulness_worst'), 0)}</td>"
            f"<td>{_percent(row.get('cas'), 0)}</td>"
            + (f"<td>{_percent(row.get('cas_classic'), 0)}</td>" if with_classic else "")
            + "</tr>")
    lines.append("</tbody></table></div>")
    lines.append(
        '<p class="note">Paired differences in points: mean over seeds of (error − reference '
        "error of the same seed) with a Student-t 95 % interval and, in brackets after it, "
        "relative to the reference; * and bold = the interval excludes zero. Control: the same "
        "training without synthetic images (gan, synthetic: real; gan+classic: classic or the "
        "recipe's control; synthetic+classic: classic). Faithful / worst: the independent "
        "judge's mean and worst-class agreement with the banks' labels (worst over seeds). "
        "CAS: accuracy trained on the bank alone / accuracy "
        "trained on the real images alone"
        + ("; CAS+c: the same, both with classic augmentation" if with_classic else "")
        + ".</p>")
    return "\n".join(lines)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _synthetic_data(out: Path) -> str:
    """Each GAN's sample grid with its selection, the judge, and every bank's faithfulness."""
    parts = []
    for grid in sorted(out.glob("samples-*.png")):
        name = grid.stem.removeprefix("samples-")
        parts.append(f"<h3>{_text(name)}</h3>"
                     + _figure(grid, "samples", alt=f"Sample grid of the GAN {name}: generated "
                                                    "images, one row per class"))
        selection = _read_json(out / name / "selection.json")
        if selection:
            parts.append(f'<p class="note">Generator selection ({_text(selection["criterion"])} '
                         f"class faithfulness by the referee): kept the EMA snapshot of iteration "
                         f"{_text(selection['best_iteration'])} of "
                         f"{len(selection['history'])} checked.</p>")
    if not parts:
        parts.append('<p class="note">No GAN sample grid in this study folder.</p>')
    for name in ("judge", "judge2"):
        judge = _read_json(out / f"{name}.json")
        if judge:
            title = "Judge" if name == "judge" else "Second judge"
            parts.append(f'<p class="note">{title}: {_text(judge["architecture"])} trained on '
                         f"{_text(judge['trained_on'])}, test accuracy "
                         f"{_percent(judge['test_accuracy'])}.</p>")
    banks = sorted(out.glob("banks/*.faithfulness.json"))
    verdicts = [(path.name.removesuffix(".faithfulness.json"), _read_json(path)) for path in banks]
    verdicts = [(name, v) for name, v in verdicts if v and "per_class" in v]
    if verdicts:
        classes = max(len(v["per_class"]) for _, v in verdicts)
        parts.append("<h3>Class faithfulness of the banks</h3><table class=\"faithfulness\">"
                     "<thead><tr><th>bank</th><th>mean</th><th>worst (class)</th>"
                     + "".join(f"<th>{k}</th>" for k in range(classes)) + "</tr></thead><tbody>")
        for name, v in verdicts:
            parts.append(f'<tr><td class="text">{_text(name)}</td><td>{_percent(v["mean"])}</td>'
                         f"<td>{_percent(v['worst'], 0)} ({_text(v['worst_class'])})</td>"
                         + "".join(f"<td>{_percent(p, 0)}</td>" for p in v["per_class"])
                         + "</tr>")
        parts.append("</tbody></table><p class=\"note\">Share of each bank's images of a class "
                     "that the judge assigns to that class.</p>")
    return "\n".join(parts)


def _per_class_table(rows: list[dict[str, Any]], out: Path) -> str:
    """Per class: real training images, each judge's test accuracy, and for the best real-only
    row and every row of synthetic data with per-class bank measures, the test error and the
    banks' faithfulness, spread and novelty (means over seeds)."""
    if not rows:
        return '<p class="note">No runs.</p>'
    classes = len(rows[0]["class_error_mean"])
    counts = next((r["class_train_counts"] for r in rows if r.get("class_train_counts")), None)
    judges = [(name, j) for name in ("judge", "judge2")
              if (j := _read_json(out / f"{name}.json")) and "test_accuracy_per_class" in j]
    shown = [r for r in rows if r.get("best_real") or "faithfulness_per_class" in r]
    header = ["class"] + (["real images"] if counts else [])
    header += [f"{name} accuracy" for name, _ in judges]
    columns: list[tuple[dict[str, Any], str]] = []
    for row in shown:
        label = " ".join(str(row[k]) for k in ("arm", "variant", "recipe") if row[k])
        label += f" ({row['classifier']})" if len({r["classifier"] for r in rows}) > 1 else ""
        fields = ["class_error_mean"] + [f for f in ("faithfulness_per_class",
                                                     "second_judge_per_class",
                                                     "spread_per_class", "novelty_per_class")
                                         if f in row]
        for field in fields:
            columns.append((row, field))
            header.append(f"{label}: {_PER_CLASS_NAMES[field]}")
    lines = ['<div class="wide"><table class="per-class"><thead><tr>'
             + "".join(f"<th>{_text(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for k in range(classes):
        cells = [f"<td>{k}</td>"] + ([f"<td>{counts[k]}</td>"] if counts else [])
        cells += [f"<td>{_percent(j['test_accuracy_per_class'][k])}</td>" for _, j in judges]
        for row, field in columns:
            value = row[field][k]
            if value is None or value != value:
                cells.append("<td></td>")
            elif field == "class_error_mean":
                cells.append(f"<td>{value:.1f}</td>")
            elif field.endswith("judge_per_class") or field == "faithfulness_per_class":
                cells.append(f"<td>{_percent(value, 0)}</td>")
            else:
                cells.append(f"<td>{value:.2f}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div><p class=\"note\">Test error % per class, mean over seeds; "
                 "faithful: the judge's share of a bank's images of the class that it assigns "
                 "to the class (judge 2: the second judge's); spread and novelty: the banks' "
                 "median nearest-neighbour distances within the class and to its training "
                 "images, over those of as many held-out real images (1 = as varied, as new as "
                 "unseen real images).</p>")
    return "\n".join(lines)


_PER_CLASS_NAMES = {"class_error_mean": "error %", "faithfulness_per_class": "faithful",
                    "second_judge_per_class": "faithful (judge 2)",
                    "spread_per_class": "spread", "novelty_per_class": "novelty"}


def write_report(records: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path) -> Path:
    """Write ``out / "report.html"`` from the summary rows and the files in ``out`` (call it
    after the plots are written); returns its path."""
    out = Path(out)
    config = out / "config.json"
    config_text = config.read_text() if config.is_file() else "(no config.json in this folder)"
    classifiers = sorted({r["classifier"] for r in rows})
    alts = _alt_texts(rows)
    body = [
        f"<h1>ganaug study: {_text(out.resolve().name)}</h1>",
        f"<p>{len(records)} runs, {len(rows)} settings, classifiers: "
        f"{_text(', '.join(classifiers))}. Test error in %, mean ± std over seeds.</p>",
        "<h2>Summary</h2>", _summary_table(rows),
        "<h2>Test error against the ratio of synthetic images</h2>",
        _figures(out, "error_vs_ratio-*.png", "No ratio plot (no GAN arm in this study).", alts),
        "<h2>Test error per class</h2>",
        _figures(out, "class_errors-*.png", "No per-class plot.", alts),
        _per_class_table(rows, out),
        "<h2>Learning curves</h2>",
        _figures(out, "curves-*.png", "No learning curve recorded (runs of an older study, or "
                                      "curve_points: 0).", alts),
        "<h2>Synthetic data</h2>", _synthetic_data(out),
        "<h2>Configuration</h2>", f"<pre>{_text(config_text)}</pre>",
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ganaug study: {_text(out.resolve().name)}</title><style>{_STYLE}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = out / "report.html"
    atomic_write_text(path, page)
    return path
