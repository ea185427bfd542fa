"""The scripts that diagnose a finished study's banks: benchmarks/cas_limits.py (synthetic-only
classifiers on banks of several sizes) and benchmarks/bank_novelty.py (copies or clusters)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from test_study import TINY

from ganaug.study import StudyConfig, run_study
from ganaug.study.runner import Study

ROOT = Path(__file__).resolve().parents[1]
# the tiny study's GAN trains for 4 steps: its images may well all be >= 0, which is warned about
pytestmark = pytest.mark.filterwarnings("ignore:classifier images are all >= 0")


def load_script(name: str = "cas_limits"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    config = StudyConfig.from_dict({**TINY, "modes": ["augment"], "variants": [{"name": "plain"}],
                                    "cas": True})
    run_study(config, out, progress=False)
    return out


def test_banks_are_the_factor_times_the_real_set_and_the_same_draw_gives_the_same_error(finished):
    script = load_script()
    study = Study.from_folder(finished)
    variant = study.config.variants[0]
    real = 10 * TINY["n_per_class"]  # ten digit classes
    once = script.synthetic_only(study, variant, 0, 1)
    twice = script.synthetic_only(study, variant, 0, 3)
    assert (once["images"], twice["images"]) == (real, 3 * real)
    assert script.synthetic_only(study, variant, 0, 1) == once  # seeded: a result, not a draw
    assert 0 <= once["test_error"] <= 100


def test_the_table_pairs_cas_by_seed_with_the_study_own_runs(finished, capsys):
    script = load_script()
    script.main([str(finished), "--factors", "1", "2", "--classic", "--seeds", "0", "1"])
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line}
    study = Study.from_folder(finished)
    real = script.study_errors(study, "real")
    synthetic = script.study_errors(study, "synthetic", "plain")
    assert rows["real images (the study's `real` runs)"][-1] == "1.00"
    assert rows["real images + classic augmentation (`classic`)"][-1] == "1.00"  # its own reference
    mine = rows["the study's bank (`synthetic`, plain)"]
    assert mine[:2] == [f"{synthetic[0]:.2f}", f"{synthetic[1]:.2f}"]
    expected = ((100 - synthetic[0]) / (100 - real[0]) + (100 - synthetic[1]) / (100 - real[1])) / 2
    assert mine[-1] == f"{expected:.2f}"
    assert {"a bank of 1x (40 images)", "a bank of 2x (80 images)"} <= set(rows)
    # with classic augmentation, CAS is against the classic runs (CAS+c)
    augmented = rows["a bank of 1x + classic augmentation (flip) (40 images)"]
    classic = script.study_errors(study, "classic")
    errors = [float(cell) for cell in augmented[:2]]
    expected = sum((100 - e) / (100 - classic[s]) for s, e in enumerate(errors)) / 2
    assert float(augmented[-1]) == pytest.approx(expected, abs=0.006)


def test_an_unknown_variant_is_named_with_the_ones_there_are(finished, capsys):
    with pytest.raises(SystemExit):
        load_script().main([str(finished), "--variant", "nope"])
    err = capsys.readouterr().err
    assert "no variant 'nope'" in err and "['plain']" in err


def test_the_novelty_table_sets_each_bank_against_real_images(finished, capsys):
    script = load_script("bank_novelty")
    script.main([str(finished)])
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("| seed")]
    assert [line.split("|")[1:3] for line in lines] == [
        [" seed 0 ", " pixels "], [" seed 0 ", " referee features "],
        [" seed 1 ", " pixels "], [" seed 1 ", " referee features "]]
    def ratio_of(printed: float, numerator: float, denominator: float) -> bool:
        # every number is printed to 2 decimals: the ratio of the unrounded ones, rounded
        low = (numerator - 0.005) / (denominator + 0.005) - 0.005
        high = (numerator + 0.005) / (denominator - 0.005) + 0.005
        return low <= printed <= high

    for line in lines:
        to_train, held, novelty, within, train, spread = map(float, line.split("|")[3:9])
        assert ratio_of(novelty, to_train, held) and ratio_of(spread, within, train)
    # the training images against themselves are measured the same way for every bank
    assert lines[0].split("|")[7] == lines[2].split("|")[7]


def test_the_real_images_are_taken_per_class_in_order():
    script = load_script("bank_novelty")
    labels = torch.tensor([1, 0, 1, 1, 0])
    images = torch.arange(5.0).reshape(5, 1, 1, 1)
    kept, kept_labels = script.first_per_class(images, labels, torch.tensor([1, 2]))
    assert kept.flatten().tolist() == [1.0, 0.0, 2.0] and kept_labels.tolist() == [0, 1, 1]


def test_a_study_opens_from_its_folder_with_the_settings_it_ran_with(finished, tmp_path):
    study = Study.from_folder(finished)
    assert study.config == StudyConfig.from_dict({**TINY, "modes": ["augment"],
                                                  "variants": [{"name": "plain"}], "cas": True})
    with pytest.raises(FileNotFoundError, match="is not a study folder"):
        Study.from_folder(tmp_path)


def test_the_long_tail_bank_table_prints_every_class_of_every_bank(finished, capsys):
    script = load_script("long_tail_banks")
    script.main([str(finished), "--discriminator"])
    out = capsys.readouterr().out
    assert "discriminator of gan-base" in out
    banks = [line for line in out.splitlines() if line.startswith("bank plain")]
    assert banks == ["bank plain, seed 0: 40 images", "bank plain, seed 1: 40 images"]
    rows = [line.split("|")[1:-1] for line in out.splitlines()
            if line.startswith("| ") and not line.startswith(("| class", "| ---"))]
    # 10 discriminator rows, then 10 rows per bank; the balanced tiny study has 4 real per class
    assert len(rows) == 30 and all(row[1].strip() == "4" for row in rows)
    for row in rows[:10]:  # the gap is the difference of the printed logits, to rounding
        seen, unseen, gap = map(float, row[2:5])
        assert abs(seen - unseen - gap) <= 0.011
