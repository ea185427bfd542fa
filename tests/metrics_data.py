"""Images and the evaluator shared by the metric DDP test and its one-process reference."""

import torch
from torch import nn

from ganaug.metrics import GenerativeEvaluator, ModuleExtractor

N = 48  # images per side
SPLIT = 29  # rank 0 takes images [0, SPLIT), rank 1 the rest: unequal on purpose


class ToyClassifier(nn.Module):
    """Fixed random features (N, 6) and logits (N, 4) of 1 x 8 x 8 images."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.features = nn.Parameter(torch.randn(64, 6, generator=generator), requires_grad=False)
        self.head = nn.Parameter(torch.randn(6, 4, generator=generator), requires_grad=False)

    def forward(self, x):
        features = torch.tanh(x.flatten(1) @ self.features)
        return features, features @ self.head


def make_images():
    g = torch.Generator().manual_seed(1)
    real = torch.rand(N, 1, 8, 8, generator=g) * 2 - 1
    fake = (torch.rand(N, 1, 8, 8, generator=g) * 1.6 - 0.9).clamp(-1, 1)
    labels = torch.arange(N) % 3
    return real, labels, fake, labels.roll(1)


def make_evaluator():
    return GenerativeEvaluator(ModuleExtractor(ToyClassifier()), image_shape=(1, 8, 8),
                               metrics=("fid", "is", "kid", "pr", "class_fid"), num_classes=3,
                               kid_subsets=5, kid_subset_size=20, is_splits=4)


class DigitFeatures(nn.Module):
    """Fixed random features (N, 8) and logits (N, 5) of 1 x 28 x 28 images: a stand-in classifier."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(2)
        self.body = nn.Linear(28 * 28, 8)
        self.head = nn.Linear(8, 5)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.2)

    def forward(self, x):
        features = torch.tanh(self.body(x.flatten(1)))
        return features, self.head(features)


def tiny_cgan():
    from ganaug.modules import ConditionalGAN

    return ConditionalGAN(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28,
                          grid_size=10, seed=3, sample_every_n_epochs=0)


def tiny_digits():
    from ganaug.data import ImageDataModule

    return ImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2, batch_size=8, seed=0)


class DigitJudge(nn.Module):
    """Fixed random logits (N, 10) of 1 x 28 x 28 images: a stand-in judge of ten classes."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(4)
        self.linear = nn.Linear(28 * 28, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)

    def forward(self, x):
        return self.linear(x.flatten(1))


def metrics_callback(cache_dir, **kwargs):
    from ganaug.metrics import GenerativeMetrics

    options = dict(extractor=DigitFeatures(), n_samples=40, kid_subset_size=20, kid_subsets=3,
                   is_splits=2, per_class=True, cache_dir=str(cache_dir), batch_size=16)
    options.update(kwargs)
    return GenerativeMetrics(**options)


def independent_evaluation(models, data, callback):
    """The real training images and the generated shard of every rank (rank r sampled with
    ``models[r]``), evaluated in one process."""
    evaluator = GenerativeEvaluator(ModuleExtractor(DigitFeatures()), image_shape=(1, 28, 28),
                                    metrics=("fid", "is", "kid", "pr", "class_fid"),
                                    num_classes=10, kid_subset_size=20, kid_subsets=3, is_splits=2)
    real = data.train_dataset
    evaluator.update(real.images.float() / 127.5 - 1, real=True, labels=real.labels)
    for rank, model in enumerate(models):
        for images, labels in callback.sample_shard(model, rank, len(models)):
            evaluator.update(images, real=False, labels=labels)
    return evaluator.compute()
