"""report.html: its content from a hand-made study folder, and the page as headless Chromium
renders it from disk (the summary table and every image)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from ganaug.images import write_png
from ganaug.study import StudyConfig, summarize, write_results

CHROMIUM = Path("/usr/bin/chromium")


def record(arm, seed, error, variant="", mode="", ratio=0.0):
    run_id = "-".join(p for p in ("small_cnn", arm.replace("+", "_"), variant, mode,
                                  f"r{ratio:g}" if variant else "", f"seed{seed}") if p)
    synthetic = arm not in ("real", "classic")
    return dict(run_id=run_id, arm=arm, classifier="small_cnn", seed=seed, variant=variant,
                mode=mode, ratio=ratio, recipe="", test_error=error, class_errors=[error - 1, error + 1],
                train_images=10, synthetic_images=5 if synthetic else 0, test_samples=100,
                faithfulness_mean=0.8 if synthetic else None, faithfulness_worst=0.5 if synthetic else None)


@pytest.fixture
def study_folder(tmp_path):
    """A finished study's folder, written by hand: runs of two seeds (the real run of seed 1 from
    an older study, without a curve), a GAN's sample grid and selection, the judge, banks."""
    records = [record("real", 0, 10.0), record("real", 1, 12.0),
               record("classic", 0, 6.0), record("classic", 1, 7.0),
               record("gan", 0, 9.0, "plain", "augment", 1.0), record("gan", 1, 10.0, "plain", "augment", 1.0),
               record("gan+classic", 0, 5.0, "plain", "augment", 1.0),
               record("gan+classic", 1, 6.5, "plain", "augment", 1.0)]
    for r in records[:1] + records[2:]:
        (tmp_path / "curves").mkdir(exist_ok=True)
        (tmp_path / "curves" / f"{r['run_id']}.csv").write_text(
            "step,train_loss,train_error,test_error\n"
            f"5,1.0,40.0,{r['test_error'] + 20}\n10,0.5,20.0,{r['test_error']}\n")
    grid = (torch.arange(2 * 30 * 30) % 251).to(torch.uint8).reshape(1, 60, 30)
    write_png(grid, tmp_path / "samples-gan-base.png")
    (tmp_path / "gan-base").mkdir()
    (tmp_path / "gan-base" / "selection.json").write_text(json.dumps(
        {"best_iteration": 750, "criterion": "worst",
         "history": [{"iteration": 500}, {"iteration": 750}, {"iteration": 1000}]}))
    (tmp_path / "judge.json").write_text(json.dumps(
        {"trained_on": "150 held-out real images per class", "architecture": "small_cnn",
         "seed": 1, "test_accuracy": 0.93, "test_accuracy_per_class": [0.9, 0.96]}))
    (tmp_path / "banks").mkdir()
    for seed, worst in ((0, 0.5), (1, 0.625)):
        (tmp_path / "banks" / f"plain-seed{seed}.faithfulness.json").write_text(json.dumps(
            {"mean": 0.8, "worst": worst, "worst_class": 1, "per_class": [1.0, worst]}))
    config = StudyConfig(dataset="digits", seeds=[0, 1], classic_augment="flip <&>")
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    rows = summarize(records)
    write_results(records, rows, tmp_path)
    return tmp_path, rows


def test_the_page_holds_the_table_plots_samples_faithfulness_and_config(study_folder):
    out, rows = study_folder
    page = (out / "report.html").read_text()
    table = page.split('<table class="summary">')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + len(rows)
    assert "11.00 ± 1.41" in table and "(best real-only)" in table
    # gan vs real: -1, -2 -> mean -1.5, t(0.975, 1) * 0.7071 / sqrt(2) = 12.706 / 2 = 6.35
    assert "-1.50 [-7.85, +4.85]" in table
    # gan+classic vs classic: -1, -0.5 -> half width 12.706 * 0.3536 / sqrt(2) = 3.18; relative -0.75 / 6.5
    assert "-0.75 [-3.93, +2.43] (-12 %)" in re.sub(r"<[^>]+>", "", table)
    assert "80.0 %" in table and "50 %" in table  # faithfulness mean and worst over seeds
    images = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(images) == 4  # error vs ratio, class errors, curves, one sample grid
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(?!data:)', page), "the page must load nothing from outside"
    assert "iteration 750 of 3 checked" in page
    assert "plain-seed1" in page and "62 %" in page  # per-bank faithfulness
    assert "test accuracy 93.0 %" in page
    assert "flip &lt;&amp;&gt;" in page  # the configuration, escaped


def test_the_page_gives_cas_with_classic_augmentation_only_when_the_study_has_it(tmp_path):
    records = [record("real", 0, 10.0), record("classic", 0, 5.0),
               record("synthetic", 0, 28.0, "plain", "replace", 1.0)]
    write_results(records, summarize(records), tmp_path)
    assert "CAS+c" not in (tmp_path / "report.html").read_text()
    records.append(record("synthetic+classic", 0, 14.0, "plain", "replace", 1.0))
    write_results(records, summarize(records), tmp_path)
    page = (tmp_path / "report.html").read_text()
    table = page.split('<table class="summary">')[1].split("</table>")[0]
    assert "<th>CAS+c</th>" in table and "CAS+c: the same, both with classic" in page
    both = next(row for row in table.split("<tr")[1:] if ">synthetic+classic<" in row)
    assert "<td>80 %</td><td>91 %</td></tr>" in both  # 72 / 90, and 86 / 95 = 0.905
    assert table.split("<tr")[1].count("<th>") == both.count("<td")  # one cell per column


def test_an_older_study_folder_without_curves_or_faithfulness_still_gets_a_page(tmp_path):
    records = [record("real", 0, 10.0), record("classic", 0, 6.0)]
    write_results(records, summarize(records), tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "No learning curve recorded" in page and "No GAN sample grid" in page


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs headless Chromium at /usr/bin/chromium "
                    "(Debian package chromium; scripts/test installs it when it can)")
def test_chromium_renders_the_table_and_every_image_from_disk(study_folder, tmp_path_factory):
    out, rows = study_folder
    # a copy with a probe that writes, once the page has loaded, what it shows into the DOM
    probe = out / "probe.html"
    shutil.copy(out / "report.html", probe)
    script = ("<script>window.addEventListener('load', () => { const images = [...document.images];"
              " document.body.dataset.images = images.length; document.body.dataset.loaded ="
              " images.filter(i => i.complete && i.naturalWidth > 0).length;"
              " document.body.dataset.rows ="
              " document.querySelectorAll('table.summary tbody tr').length; });</script>")
    probe.write_text(probe.read_text().replace("</body>", script + "</body>"))
    profile = tmp_path_factory.mktemp("chromium-profile")
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", result.stdout).group(1)
    shown = dict(re.findall(r'data-(\w+)="(\d+)"', body))
    assert shown == {"images": "4", "loaded": "4", "rows": str(len(rows))}, body
    assert "(best real-only)" in result.stdout


def default_study_records(ratios=(1.0,)):
    """Runs shaped like the default study's: real and classic, gan+classic added at each ratio,
    the synthetic-only arm far above the rest (26 % against 4-8 %), and synthetic+classic."""
    records = []
    for seed in range(3):
        records += [record("real", seed, 8.0 + seed / 3), record("classic", seed, 3.8 + seed / 10),
                    record("synthetic", seed, 26.0 + seed, "filtered", "replace", 1.0),
                    record("synthetic+classic", seed, 11.0 + seed / 5, "filtered", "replace", 1.0)]
        records += [record("gan+classic", seed, 3.9 + seed / 10 + r / 10, "filtered", "augment", r)
                    for r in ratios]
    return records


def red_pixels(path):
    """Pixels of the synthetic arm's colour (matplotlib's tab:red, #d62728, opaque as a line's
    marker or at alpha 0.8 on white as a bar) in a PNG."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red = np.array([0xD6, 0x27, 0x28])
    return int(sum((np.abs(pixels - colour).sum(axis=2) < 40).sum()
                   for colour in (red, red * 0.8 + 255 * 0.2)))


@pytest.mark.parametrize("ratios", [(1.0,), (0.25, 0.5, 1.0)])
def test_every_arm_is_drawn_and_named_in_each_chart(tmp_path, ratios):
    """With one ratio (bars) and with several (lines, the 26 % synthetic arm off the scale of
    the rest), the replace chart draws the synthetic arm, and each chart's alt text names every
    arm it draws."""
    records = default_study_records(ratios)
    write_results(records, summarize(records), tmp_path)
    replace = tmp_path / "error_vs_ratio-small_cnn-replace.png"
    augment = tmp_path / "error_vs_ratio-small_cnn-augment.png"
    assert red_pixels(replace) > 50 and red_pixels(augment) == 0
    page = (tmp_path / "report.html").read_text()
    alts = dict(re.findall(r'alt="([^"]*)"><figcaption>([^<]*)</figcaption>', page))
    by_file = {name: alt for alt, name in alts.items()}
    assert set(by_file) == {replace.name, augment.name, "class_errors-small_cnn.png"}
    for name, arms in ((replace.name, ["real", "classic", "synthetic (filtered)",
                                       "synthetic+classic (filtered)"]),
                       (augment.name, ["real", "classic", "gan+classic (filtered)"])):
        for arm in arms:
            assert f"{arm} " in by_file[name] or f"{arm};" in by_file[name], (name, arm)
    assert "synthetic (filtered) r=1 27.00 %" in by_file[replace.name]  # mean of 26, 27, 28
    assert all(alt != name for alt, name in alts.items())  # every image says what it shows


def test_a_single_ratio_is_drawn_as_bars_not_as_one_point(tmp_path):
    """One ratio: the gan+classic arm is a bar from zero, so its colour (tab:green) fills a
    block of the chart rather than a marker's few pixels."""
    import numpy as np
    from PIL import Image

    records = default_study_records((1.0,))
    write_results(records, summarize(records), tmp_path)
    pixels = np.asarray(Image.open(tmp_path / "error_vs_ratio-small_cnn-augment.png")
                        .convert("RGB")).astype(int)
    # tab:green #2ca02c drawn at alpha 0.8 on white
    green = np.array([0x2C, 0xA0, 0x2C]) * 0.8 + 255 * 0.2
    assert (np.abs(pixels - green).sum(axis=2) < 30).sum() > 2000


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs headless Chromium at /usr/bin/chromium "
                    "(Debian package chromium; scripts/test installs it when it can)")
def test_chromium_fits_the_default_study_page_in_1400_pixels(tmp_path, tmp_path_factory):
    """The widest table a default study writes (every arm, CAS and CAS+c, a recipe) fits a
    1,400 px window: nothing wider than the page, the table's last column inside it."""
    records = default_study_records((1.0,))
    records += [dict(r, recipe="weighted-long-recipe-name",
                     run_id=r["run_id"] + "-weighted-long-recipe-name")
                for r in records if r["arm"] == "gan+classic"]
    write_results(records, summarize(records), tmp_path)
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load', () => { const d = document.body.dataset;"
              " const table = document.querySelector('table.summary');"
              " d.viewport = window.innerWidth;"
              " d.page = document.documentElement.scrollWidth;"
              " d.tableright = Math.ceil(table.getBoundingClientRect().right);"
              " d.lastcell = Math.ceil(table.querySelector('tr').lastElementChild"
              ".getBoundingClientRect().right); });</script>")
    probe.write_text((tmp_path / "report.html").read_text().replace("</body>", script + "</body>"))
    profile = tmp_path_factory.mktemp("chromium-profile")
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={profile}", "--window-size=1400,1000", "--virtual-time-budget=10000",
         "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", result.stdout).group(1)
    shown = {k: int(v) for k, v in re.findall(r'data-(\w+)="(\d+)"', body)}
    assert shown["viewport"] == 1400, shown
    assert shown["page"] <= shown["viewport"], shown
    assert shown["lastcell"] <= shown["tableright"] <= shown["viewport"], shown


def test_a_zero_reference_error_gives_no_relative_change(tmp_path):
    """Relative to a reference error of 0 there is no percentage (it was printed as +nan %)."""
    records = [record("real", s, 0.0) for s in range(2)] + \
        [record("classic", s, 0.0) for s in range(2)] + \
        [record("synthetic", s, 70.0 + 5 * s, "plain", "replace", 1.0) for s in range(2)]
    write_results(records, summarize(records), tmp_path)
    table = (tmp_path / "report.html").read_text().split('<table class="summary">')[1]
    text = re.sub(r"<[^>]+>", "", table.split("</table>")[0])
    assert "nan" not in text and "+72.50 [" in text
