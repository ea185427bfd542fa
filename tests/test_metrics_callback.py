"""The GenerativeMetrics callback: logged values equal an independent evaluation of the same
samples, the reference is cached, checkpoints stay free of extractor weights. (Two processes:
tests/test_metrics_ddp.py.)"""

from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from metrics_data import (
    DigitJudge,
    independent_evaluation,
    metrics_callback,
    tiny_cgan,
    tiny_digits,
)


def test_callback_logs_metrics_caches_the_reference_and_keeps_checkpoints_small(trainer_factory, tmp_path):
    model, data = tiny_cgan(), tiny_digits()
    callback = metrics_callback(tmp_path / "cache")
    trainer = trainer_factory(max_epochs=1, callbacks=[callback])
    trainer.fit(model, data)

    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for name in ("fid", "is", "kid", "precision", "recall", "fid/class_0", "fid/class_9"):
        assert name in logged, name
    expected = independent_evaluation([model], data, callback)
    for name, value in expected.values.items():
        assert logged[name] == pytest.approx(value, rel=1e-5, abs=1e-8), name
    assert callback.last_result.counts["fid"] == {"real": 40, "generated": 40}
    assert callback.last_result.settings["reference"]["split"] == "train"

    # the reference was cached: a second callback does not extract real features again
    assert len(list((tmp_path / "cache").glob("reference-*.pt"))) == 1
    again = metrics_callback(tmp_path / "cache")
    with mock.patch("ganaug.metrics.reference.compute_reference",
                    side_effect=AssertionError("recomputed")):
        result = again.evaluate(trainer, model)
    assert result.values["fid"] == pytest.approx(logged["fid"], rel=1e-6)

    # checkpoints hold the GAN only, no extractor weights, and no callback state
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    assert set(checkpoint["state_dict"]) == set(model.state_dict())
    assert not any("body" in key or "extractor" in key for key in checkpoint["state_dict"])
    states = [v for k, v in checkpoint["callbacks"].items() if "GenerativeMetrics" in k]
    assert all(state == {} for state in states)  # Lightning drops empty callback states
    assert sum(p.numel() for p in callback.evaluator.extractor.parameters()) > 0


def test_callback_serves_dagan_through_bind(trainer_factory, tmp_path):
    from ganaug.data.pairs import PairedImageDataModule
    from ganaug.modules import DAGAN

    model = DAGAN(latent_dim=8, g_width=4, d_width=4, grid_size=4, sample_every_n_epochs=0,
                  d_steps=1, seed=3)
    data = PairedImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2,
                                 batch_size=8, seed=0)
    callback = metrics_callback(tmp_path / "cache", judge=DigitJudge())
    trainer_factory(max_epochs=1, callbacks=[callback]).fit(model, data)

    # every class drawn from the training images of that class, as bind() samples them
    expected = independent_evaluation([model.bind(data.train_dataset)], data, callback)
    values = callback.last_result.values
    for name, value in expected.values.items():
        assert values[name] == pytest.approx(value, rel=1e-5, abs=1e-8), name
    assert "fid/class_9" in values and "faithfulness_mean" in values
    assert callback.last_result.counts["faithfulness"] == {"generated": 40}


def test_callback_every_n_epochs_and_bad_options(tmp_path):
    callback = metrics_callback(tmp_path, every_n_epochs=2)
    with mock.patch.object(callback, "evaluate", side_effect=AssertionError("evaluated")):
        callback.on_train_epoch_end(SimpleNamespace(current_epoch=0), None)  # epoch 1 of 2: skipped
    with mock.patch.object(callback, "evaluate", side_effect=RuntimeError("evaluated")), \
            pytest.raises(RuntimeError, match="evaluated"):
        callback.on_train_epoch_end(SimpleNamespace(current_epoch=1), None)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        metrics_callback(tmp_path, n_samples=1)
    with pytest.raises(ValueError, match="subset of"):
        metrics_callback(tmp_path, metrics=("fid", "ppl"))


def test_generated_batches_are_class_balanced_seeded_and_sharded():
    from ganaug.metrics.callback import generated_batches
    from ganaug.modules import GAN

    model = tiny_cgan()
    batches = list(generated_batches(model, 25, seed=4, batch_size=4))
    labels = torch.cat([b[1] for b in batches])
    assert [len(b[0]) for b in batches] == [4] * 6 + [1]
    assert torch.equal(labels, torch.arange(25) % 10)  # every class, in turn
    again = torch.cat([b[0] for b in generated_batches(model, 25, seed=4, batch_size=7)])
    # the same noise in other batch sizes (float32 convolutions may round differently)
    torch.testing.assert_close(again, torch.cat([b[0] for b in batches]), atol=1e-3, rtol=0)
    shards = [torch.cat([b[1] for b in generated_batches(model, 25, rank=r, world_size=2)])
              for r in (0, 1)]
    assert torch.equal(torch.sort(torch.cat(shards)).values, torch.sort(labels).values)
    first = next(generated_batches(model, 25, rank=1, world_size=2))[0]
    assert not torch.allclose(first[:2], batches[0][0][:2])  # other rank, other noise

    unconditional = GAN(latent_dim=8, g_width=4, d_width=4, image_size=28, grid_size=4)
    (images, none), = generated_batches(unconditional, 3)
    assert images.shape == (3, 1, 28, 28) and none is None
