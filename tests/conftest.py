"""Shared fixtures: tiny datasets and quiet, fast Lightning trainers."""

import warnings
from pathlib import Path

import lightning as L
import pytest
import torch

from fake_datasets import md5_of

# One thread: the suite's models are tiny, DDP tests run two processes on two cores, and on a
# shared machine two threads per process can make small convolutions an order of magnitude slower.
torch.set_num_threads(1)
warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def make_trainer(root, **kwargs) -> L.Trainer:
    """A CPU trainer without progress bars, model summaries or loggers unless asked."""
    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
        log_every_n_steps=1,
    )
    defaults.update(kwargs)
    return L.Trainer(**defaults)


@pytest.fixture
def trainer_factory(tmp_path):
    return lambda **kwargs: make_trainer(tmp_path, **kwargs)


@pytest.fixture
def trusted_fake_cifar(monkeypatch):
    """Make torchvision's md5 checks accept the fake CIFAR files written under a root."""

    def trust(dataset_class, root: Path) -> None:
        folder = root / dataset_class.base_folder

        def summed(entries):
            return [[file_name, md5_of(folder / file_name)] for file_name, _ in entries]

        monkeypatch.setattr(dataset_class, "train_list", summed(dataset_class.train_list))
        monkeypatch.setattr(dataset_class, "test_list", summed(dataset_class.test_list))
        meta = dict(dataset_class.meta, md5=md5_of(folder / dataset_class.meta["filename"]))
        monkeypatch.setattr(dataset_class, "meta", meta)

    return trust
