"""``ganaug evaluate``: checkpoint + dataset -> table and JSON equal to an independent evaluation."""

import json

import pytest
import torch
from metrics_data import DigitFeatures, tiny_cgan, tiny_digits

from ganaug.cli import main
from ganaug.metrics import GenerativeEvaluator, ModuleExtractor
from ganaug.metrics.callback import generated_batches


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from conftest import make_trainer

    root = tmp_path_factory.mktemp("evaluate")
    model = tiny_cgan()
    trainer = make_trainer(root, max_epochs=1, limit_train_batches=2)
    trainer.fit(model, tiny_digits())
    trainer.save_checkpoint(root / "cgan.ckpt")
    script = root / "features.pt"
    torch.jit.save(torch.jit.trace(DigitFeatures(), torch.zeros(2, 1, 28, 28)), str(script))
    return root / "cgan.ckpt", script, model


def test_evaluate_command_prints_the_table_and_writes_json(checkpoint, tmp_path, capsys):
    path, script, model = checkpoint
    out = tmp_path / "metrics.json"
    main(["evaluate", str(path), "--dataset", "digits", "--n-per-class", "4", "--test-per-class", "2",
          "--extractor", str(script), "--input", "float", "--native-channels", "--n-samples", "30",
          "--kid-subset-size", "20", "--kid-subsets", "3", "--is-splits", "3", "--per-class",
          "--cache-dir", str(tmp_path / "cache"), "--json", str(out)])
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())

    # the same numbers from the pieces, assembled independently
    evaluator = GenerativeEvaluator(ModuleExtractor(DigitFeatures()), image_shape=(1, 28, 28),
                                    metrics=("fid", "is", "kid", "pr", "class_fid"), num_classes=10,
                                    kid_subset_size=20, kid_subsets=3, is_splits=3)
    data = tiny_digits()
    data.setup("fit")
    real = data.train_dataset
    evaluator.update(real.images.float() / 127.5 - 1, real=True, labels=real.labels)
    model.eval()
    for images, labels in generated_batches(model, 30, seed=0):
        evaluator.update(images, real=False, labels=labels)
    expected = evaluator.compute()
    assert set(result["values"]) == set(expected.values)
    for name, value in expected.values.items():
        assert result["values"][name] == pytest.approx(value, rel=1e-5, abs=1e-8), name
    assert result["counts"]["fid"] == {"real": 40, "generated": 30}
    assert result["counts"]["class_fid"]["generated"] == [3] * 10
    assert result["extractor"]["name"] == "features.pt"
    assert result["settings"]["reference"]["dataset"] == "digits"
    assert f"{result['values']['fid']:.6g}" in printed and "40 / 30" in printed
    assert result["extractor"]["weights_sha256"] in printed


def test_evaluate_command_rejects_a_metric_it_does_not_know(checkpoint, tmp_path):
    path, script, _ = checkpoint
    with pytest.raises(ValueError, match="subset of"):
        main(["evaluate", str(path), "--dataset", "digits", "--n-per-class", "4", "--extractor", str(script),
              "--input", "float", "--native-channels", "--metrics", "fid,fd_dinov2", "--no-cache"])
