"""Two CPU processes (gloo): parts of the images on each rank give the metrics of one process
with all of them, and the GenerativeMetrics callback logs, on both ranks, the numbers one process
computes from both ranks' generated shards. One two-process run serves both tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from metrics_data import (
    DigitJudge,
    independent_evaluation,
    make_evaluator,
    make_images,
    metrics_callback,
    tiny_cgan,
    tiny_digits,
)

from ganaug.metrics.faithfulness import ClassFaithfulness

SCRIPT = Path(__file__).parent / "ddp" / "fit_with_metrics.py"


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics_ddp")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), str(out)], env=env, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_two_processes_with_parts_give_the_metrics_of_one(ranks):
    _, (rank0, rank1) = ranks
    real, real_labels, fake, fake_labels = make_images()
    single = make_evaluator()
    single.update(real, real=True, labels=real_labels)
    single.update(fake, real=False, labels=fake_labels)
    expected = single.compute()

    assert rank0["parts"]["values"] == rank1["parts"]["values"]  # both ranks computed the same
    assert rank0["parts"]["counts"]["fid"] == {"real": 48, "generated": 48}
    assert set(rank0["parts"]["values"]) == set(expected.values)
    for name, value in expected.values.items():
        assert rank0["parts"]["values"][name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


def test_two_process_fit_logs_the_metrics_of_all_shards(ranks):
    out, (rank0, rank1) = ranks
    assert [rank0["world_size"], rank1["world_size"]] == [2, 2]
    names = [k for k in rank0["logged"]
             if k in ("fid", "is", "kid", "precision", "recall") or k.startswith("fid/")
             or k.startswith("faithfulness")]
    assert len(names) == 15 + 2 + 10  # and faithfulness mean, worst and per class
    for name in names:
        assert rank0["logged"][name] == rank1["logged"][name], name
    assert rank0["counts"]["fid"] == {"real": 40, "generated": 40}

    # each rank sampled with its own EMA generator: DDP keeps BatchNorm running statistics per
    # rank, and the EMA copies them
    models = []
    for rank in (rank0, rank1):
        models.append(tiny_cgan())
        models[-1].generator_ema.load_state_dict(rank["generator_ema"])
    data = tiny_digits()
    data.setup("fit")
    expected = independent_evaluation(models, data, metrics_callback(out / "cache"))
    for name, value in expected.values.items():
        assert rank0["logged"][name] == pytest.approx(value, rel=1e-5, abs=1e-8), name

    # class faithfulness counts the judge's verdicts on both ranks' shards
    judge, faithfulness = DigitJudge(), ClassFaithfulness(10)
    callback = metrics_callback(out / "cache")
    for rank, model in enumerate(models):
        for images, labels in callback.sample_shard(model, rank, 2):
            faithfulness.update(judge(images), labels)
    result = faithfulness.result()
    assert rank0["logged"]["faithfulness_mean"] == pytest.approx(result.mean, abs=1e-6)
    assert rank0["logged"]["faithfulness_worst"] == pytest.approx(result.worst, abs=1e-6)

    # generator selection decides the same on both ranks
    assert rank0["selection"] == rank1["selection"]
    assert rank0["selection"]["best"] in [row[0] for row in rank0["selection"]["history"]]
