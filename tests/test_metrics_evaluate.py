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


def test_evaluate_command_rejects_a_metric_it_does_not_know(checkpoint, tmp_path, monkeypatch):
    path, script, _ = checkpoint
    monkeypatch.setenv("GANAUG_DEBUG", "1")  # the exception itself, not the one-line message
    with pytest.raises(ValueError, match="subset of"):
        main(["evaluate", str(path), "--dataset", "digits", "--n-per-class", "4", "--extractor", str(script),
              "--input", "float", "--native-channels", "--metrics", "fid,fd_dinov2", "--no-cache"])


def test_evaluate_measures_faithfulness_with_a_judge_checkpoint(checkpoint, tmp_path):
    from conftest import make_trainer
    from torch.utils.data import DataLoader

    from ganaug.classify import ClassifierModule
    from ganaug.metrics.evaluate import evaluate_checkpoint
    from ganaug.metrics.faithfulness import generator_faithfulness

    path, _, model = checkpoint
    data = tiny_digits()
    data.setup("fit")
    judge = ClassifierModule(architecture="small_cnn", num_classes=10, image_size=28, seed=0)
    trainer = make_trainer(tmp_path, max_steps=2)
    trainer.fit(judge, DataLoader(data.train_dataset, batch_size=8))
    trainer.save_checkpoint(tmp_path / "judge.ckpt")
    result = evaluate_checkpoint(path, dataset="digits", n_per_class=4, test_per_class=2,
                                 metrics=(), judge=str(tmp_path / "judge.ckpt"),
                                 judge_n_per_class=3, seed=5)
    model.eval()
    expected = generator_faithfulness(model, judge.network.eval(), n_per_class=3, seed=5)
    assert result.values["faithfulness_mean"] == pytest.approx(expected.mean)
    assert result.values["faithfulness_worst"] == pytest.approx(expected.worst)
    assert result.counts["faithfulness"] == {"generated": 30}
    assert "faithfulness_mean" in result.table()


def test_evaluate_serves_a_dagan_checkpoint_through_bind(tmp_path):
    from conftest import make_trainer
    from metrics_data import DigitJudge

    from ganaug.data.pairs import PairedImageDataModule
    from ganaug.metrics.evaluate import evaluate_checkpoint
    from ganaug.metrics.faithfulness import generator_faithfulness
    from ganaug.modules import DAGAN

    model = DAGAN(latent_dim=8, g_width=4, d_width=4, grid_size=4, sample_every_n_epochs=0,
                  d_steps=1, seed=3)
    trainer = make_trainer(tmp_path, max_epochs=1, limit_train_batches=2)
    trainer.fit(model, PairedImageDataModule("digits", image_size=28, n_per_class=4,
                                             test_per_class=2, batch_size=8, seed=0))
    trainer.save_checkpoint(tmp_path / "dagan.ckpt")
    result = evaluate_checkpoint(tmp_path / "dagan.ckpt", dataset="digits", n_per_class=4,
                                 test_per_class=2, metrics=("fid",), per_class=True,
                                 extractor=DigitFeatures(), n_samples=30, judge=DigitJudge(),
                                 judge_n_per_class=3, seed=5, use_cache=False)

    data = tiny_digits()
    data.setup("fit")
    sampler = model.eval().bind(data.train_dataset)  # every class from its training images
    evaluator = GenerativeEvaluator(ModuleExtractor(DigitFeatures()), image_shape=(1, 28, 28),
                                    metrics=("fid", "class_fid"), num_classes=10)
    evaluator.update(data.train_dataset.images.float() / 127.5 - 1, real=True,
                     labels=data.train_dataset.labels)
    for images, labels in generated_batches(sampler, 30, seed=5):
        evaluator.update(images, real=False, labels=labels)
    expected = evaluator.compute()
    for name, value in expected.values.items():
        assert result.values[name] == pytest.approx(value, rel=1e-5, abs=1e-8), name
    faithful = generator_faithfulness(sampler, DigitJudge(), n_per_class=3, seed=5)
    assert result.values["faithfulness_mean"] == pytest.approx(faithful.mean)
