"""Two CPU processes (gloo): ClassifierModule's test metrics, summed across ranks by
torchmetrics, equal a single-process evaluation of the same weights on the whole test set."""

import math

import torch
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule
from tests_helpers import run_ddp_script


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-9


def test_two_process_metrics_equal_single_process(tmp_path, trainer_factory):
    ranks = run_ddp_script("classify_metrics.py", tmp_path)
    assert all(r["world_size"] == 2 for r in ranks)
    # 42 test images, 21 per rank: every image counted once (no DistributedSampler padding)
    assert ranks[0]["metrics"]["test_samples"] == ranks[1]["metrics"]["test_samples"] == 42
    assert ranks[0]["metrics"].keys() == ranks[1]["metrics"].keys()
    assert all(same(ranks[0]["metrics"][k], ranks[1]["metrics"][k]) for k in ranks[0]["metrics"])
    for key, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][key]), key

    model = ClassifierModule(architecture="small_cnn", num_classes=4, channels=1, image_size=8)
    model.load_state_dict(ranks[0]["state"])
    trainer_factory().test(model, DataLoader(TensorDataset(*ranks[0]["test_set"]), batch_size=8),
                           verbose=False)
    single = model.test_metrics()
    assert single.keys() == ranks[0]["metrics"].keys()
    for key, value in single.items():
        assert same(value, ranks[0]["metrics"][key]), key
    assert 0 < single["test_acc"] < 1  # not a degenerate all-or-nothing evaluation
    # the confusion counts are summed over the ranks too: both hold the whole test set's
    assert ranks[0]["confusion"] == ranks[1]["confusion"] == model.test_confusion()
    assert sum(map(sum, model.test_confusion())) == 42
    assert {"train_acc_real", "train_acc_synthetic"} <= ranks[0]["logged"].keys()
