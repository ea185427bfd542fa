"""ClassifierModule: learning, metrics against torchmetrics, real / synthetic accuracy, the
learning-rate schedule, seeding, predictions and option checks."""

import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from ganaug.classify import PAPER_PROTOCOLS, ClassifierModule, ConfusionCounts, GroupAccuracy
from ganaug.data import ImageDataModule


def random_set(n=50, classes=4, channels=1, size=8, seed=0, flag=False):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, channels, size, size, generator=g) * 2 - 1
    labels = torch.randint(0, classes, (n,), generator=g)
    tensors = [images, labels]
    if flag:
        tensors.append(torch.arange(n) % 3 == 0)
    return TensorDataset(*tensors)


def tiny_module(**kwargs):
    options = dict(architecture="small_cnn", num_classes=4, channels=1, image_size=8)
    options.update(kwargs)
    return ClassifierModule(**options)


def test_small_cnn_learns_digits_well_above_chance(trainer_factory):
    data = ImageDataModule("mnist5k", n_per_class=20, test_per_class=30, batch_size=32, seed=0)
    model = ClassifierModule(optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=())
    trainer = trainer_factory(max_steps=40)
    trainer.fit(model, data)
    trainer.test(model, data, verbose=False)
    metrics = model.test_metrics()
    assert metrics["test_samples"] == 300
    assert metrics["test_acc"] > 0.6  # chance is 0.1; about 0.85 after 40 steps
    assert metrics["test_error"] == pytest.approx(100 * (1 - metrics["test_acc"]))


def test_test_metrics_match_torchmetrics(trainer_factory):
    # class 3 is absent from the test set: its accuracy is NaN, not 0
    dataset = random_set(n=60, classes=3, seed=1)
    model = tiny_module(seed=3)
    trainer = trainer_factory()
    trainer.test(model, DataLoader(dataset, batch_size=16), verbose=False)
    metrics = model.test_metrics()
    images, labels = dataset.tensors
    with torch.no_grad():
        predictions = model.eval()(images).argmax(1)
    overall = MulticlassAccuracy(num_classes=4, average="micro")(predictions, labels)
    per_class = MulticlassAccuracy(num_classes=4, average=None)(predictions, labels)
    assert metrics["test_acc"] == pytest.approx(overall.item())
    assert metrics["test_error"] == pytest.approx(100 * (1 - overall.item()))
    for c in range(3):
        assert metrics[f"test_acc_class{c}"] == pytest.approx(per_class[c].item())
        assert metrics[f"test_error_class{c}"] == pytest.approx(100 * (1 - per_class[c].item()))
    assert math.isnan(metrics["test_acc_class3"])
    logged = trainer.callback_metrics
    assert logged["test_acc"].item() == pytest.approx(overall.item())
    assert "test_acc_class3" not in logged


def test_group_accuracy_counts_by_hand():
    metric = GroupAccuracy(3)
    metric.update(torch.tensor([True, False, True, True]), torch.tensor([0, 0, 2, 2]))
    metric.update(torch.tensor([False]), torch.tensor([2]))
    correct, total = metric.compute()
    assert correct.tolist() == [1, 0, 2] and total.tolist() == [2, 0, 3]
    with pytest.raises(ValueError, match="groups must lie"):
        metric.update(torch.tensor([True]), torch.tensor([3]))


def test_confusion_counts_by_hand():
    metric = ConfusionCounts(3)
    metric.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 0, 2, 1]))  # predicted, labels
    metric.update(torch.tensor([0]), torch.tensor([2]))
    assert metric.compute().tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 1]]
    with pytest.raises(ValueError, match="classes must lie"):
        metric.update(torch.tensor([3]), torch.tensor([0]))
    with pytest.raises(ValueError, match="one shape"):
        metric.update(torch.tensor([0, 1]), torch.tensor([0]))


def test_test_confusion_matches_torchmetrics(trainer_factory):
    dataset = random_set(n=60, classes=4, seed=5)
    model = tiny_module(seed=2)
    with pytest.raises(ValueError, match="no test confusion yet"):
        model.test_confusion()
    trainer = trainer_factory()
    trainer.test(model, DataLoader(dataset, batch_size=16), verbose=False)
    images, labels = dataset.tensors
    with torch.no_grad():
        predictions = model.eval()(images).argmax(1)
    expected = MulticlassConfusionMatrix(num_classes=4)(predictions, labels)
    assert model.test_confusion() == expected.tolist()
    metrics = model.test_metrics()
    for c, row in enumerate(model.test_confusion()):  # the diagonal over the row is the recall
        assert row[c] / sum(row) == pytest.approx(metrics[f"test_acc_class{c}"])
    trainer.test(model, DataLoader(dataset, batch_size=16), verbose=False)  # reset between tests
    assert model.test_confusion() == expected.tolist()


def test_training_accuracy_split_by_real_and_synthetic(trainer_factory):
    # a learning rate of 1e-12 keeps the predictions fixed, so the logged training accuracies
    # must equal those of the initial network on the real and the synthetic samples
    dataset = random_set(n=48, classes=4, seed=2, flag=True)
    model = tiny_module(lr=1e-12, momentum=0.0, nesterov=False, weight_decay=0.0, seed=4)
    images, labels, synthetic = dataset.tensors
    with torch.no_grad():
        correct = model.eval()(images).argmax(1) == labels
    trainer = trainer_factory(max_epochs=1)
    trainer.fit(model, DataLoader(dataset, batch_size=16))
    logged = trainer.callback_metrics
    assert logged["train_acc"].item() == pytest.approx(correct.float().mean().item())
    assert logged["train_acc_real"].item() == pytest.approx(correct[~synthetic].float().mean().item())
    assert logged["train_acc_synthetic"].item() == pytest.approx(
        correct[synthetic].float().mean().item())


def test_no_synthetic_split_without_the_flag(trainer_factory):
    trainer = trainer_factory(max_epochs=1)
    trainer.fit(tiny_module(), DataLoader(random_set(n=16), batch_size=8))
    assert "train_acc" in trainer.callback_metrics
    assert "train_acc_real" not in trainer.callback_metrics


class RecordLR(L.Callback):
    def __init__(self):
        self.rates = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lr_divided_at_fractions_of_training(trainer_factory, optimizer):
    record = RecordLR()
    model = tiny_module(optimizer=optimizer, lr=0.1, lr_milestones=(0.5, 0.75), lr_gamma=10.0)
    trainer = trainer_factory(max_steps=20, callbacks=[record])
    trainer.fit(model, DataLoader(random_set(n=64), batch_size=4))
    expected = [0.1] * 10 + [0.01] * 5 + [0.001] * 5
    assert record.rates == pytest.approx(expected)
    opt = trainer.optimizers[0]
    assert type(opt).__name__ == {"sgd": "SGD", "adam": "Adam"}[optimizer]
    if optimizer == "sgd":
        group = opt.param_groups[0]
        assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 1e-4


def test_initialisation_depends_on_seed_only():
    torch.manual_seed(123)
    a = tiny_module(seed=0).state_dict()
    after_a = torch.rand(1)
    torch.manual_seed(999)
    b = tiny_module(seed=0).state_dict()
    c = tiny_module(seed=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after_a)  # building left the global RNG alone


def test_augmentation_is_applied_in_training_only(trainer_factory):
    seen = []

    class Spy(ClassifierModule):
        def forward(self, images):
            seen.append(images.clone())
            return super().forward(images)

    dataset = random_set(n=8, size=8)
    model = Spy(architecture="small_cnn", num_classes=4, image_size=8, classic_augment="flip")
    trainer = trainer_factory(max_steps=1)
    trainer.fit(model, DataLoader(dataset, batch_size=8))
    images = dataset.tensors[0]
    flipped = (seen[0] == images.flip(-1)).flatten(1).all(1)
    same = (seen[0] == images).flatten(1).all(1)
    assert (flipped ^ same).all() and flipped.any()
    seen.clear()
    trainer.test(model, DataLoader(dataset, batch_size=8), verbose=False)
    assert torch.equal(seen[0], images)


def test_predict_step_gives_features_and_logits(trainer_factory):
    dataset = random_set(n=10)
    model = tiny_module()
    out = trainer_factory().predict(model, DataLoader(dataset, batch_size=5))
    features = torch.cat([o["features"] for o in out])
    logits = torch.cat([o["logits"] for o in out])
    with torch.no_grad():
        assert torch.allclose(logits, model(dataset.tensors[0]), atol=1e-6)
        assert torch.allclose(features, model.features(dataset.tensors[0]), atol=1e-6)
    assert features.shape == (10, 128)


def test_paper_protocols():
    dense = ClassifierModule.from_protocol("densenet40", num_classes=10, channels=3, image_size=32)
    hp = dense.hparams
    assert (hp.architecture, hp.optimizer, hp.lr, hp.momentum, hp.nesterov, hp.weight_decay) == \
        ("densenet40", "sgd", 0.1, 0.9, True, 1e-4)
    assert tuple(hp.lr_milestones) == (0.5, 0.75) and hp.lr_gamma == 10.0
    assert (PAPER_PROTOCOLS["densenet40"].batch_size, PAPER_PROTOCOLS["densenet40"].max_epochs) == (64, 300)
    dia = PAPER_PROTOCOLS["dianet56"]
    assert dia.max_epochs == 200 and dia.lr_milestones == (0.4, 0.6, 0.8)
    small = ClassifierModule.from_protocol("dianet56", classic_augment="none", lr=0.05)
    assert small.hparams.classic_augment == "none" and small.hparams.lr == 0.05
    with pytest.raises(ValueError, match="densenet40"):
        ClassifierModule.from_protocol("vgg")


@pytest.mark.parametrize("options,message", [
    (dict(architecture="vgg"), "small_cnn"),
    (dict(optimizer="rmsprop"), "sgd"),
    (dict(classic_augment="cutmix"), "flip_crop"),
    (dict(lr_milestones=(0.75, 0.5)), "increasing"),
    (dict(lr_milestones=(1.5,)), "increasing"),
    (dict(momentum=0.0), "Nesterov"),
    (dict(lr=float("nan")), "lr"),
])
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        ClassifierModule(**options)


def test_bad_batches_and_missing_metrics(trainer_factory):
    model = tiny_module()
    with pytest.raises(ValueError, match="trainer.test"):
        model.test_metrics()
    with pytest.raises(ValueError, match="1 channel"):
        model.training_step((torch.zeros(2, 3, 8, 8), torch.zeros(2, dtype=torch.long)), 0)
    with pytest.raises(ValueError, match="is_synthetic"):
        model.training_step((torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long),
                             torch.zeros(3, dtype=torch.bool)), 0)


def test_checkpoint_round_trip(trainer_factory, tmp_path):
    model = tiny_module(lr_milestones=(0.4, 0.6, 0.8), classic_augment="crop")
    trainer = trainer_factory(max_steps=2)
    trainer.fit(model, DataLoader(random_set(n=8), batch_size=4))
    path = tmp_path / "c.ckpt"
    trainer.save_checkpoint(path)
    loaded = ClassifierModule.load_from_checkpoint(path)
    assert tuple(loaded.hparams.lr_milestones) == (0.4, 0.6, 0.8)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in loaded.state_dict().items())


@pytest.mark.parametrize("architecture", ["resnet20", "densenet40", "dianet56"])
def test_every_architecture_trains_one_step(trainer_factory, architecture):
    dataset = random_set(n=4, channels=3, size=8)
    model = ClassifierModule(architecture=architecture, num_classes=4, channels=3, image_size=8,
                             classic_augment="flip_crop")
    before = [p.detach().clone() for p in model.parameters()]
    trainer = trainer_factory(max_steps=1)
    trainer.fit(model, DataLoader(dataset, batch_size=4))
    assert torch.isfinite(trainer.callback_metrics["train_loss"])
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert all(changed)  # every parameter, the DIA units' included, got a gradient step


def test_subclass_builds_its_own_network(trainer_factory):
    class LinearNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(64, 4)

        def features(self, x):
            return x.flatten(1)

        def forward(self, x):
            return self.head(self.features(x))

    class Linear(ClassifierModule):
        def build_network(self):
            return LinearNet()

    model = Linear(architecture="linear", num_classes=4, image_size=8, lr_milestones=())
    trainer_factory(max_steps=2).fit(model, DataLoader(random_set(n=8), batch_size=4))
    assert model.features(torch.zeros(2, 1, 8, 8)).shape == (2, 64)


def test_recipe_losses_by_hand():
    """Synthetic loss weight and soft labels from a teacher, against a direct computation."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 3))
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    labels = torch.tensor([0, 1, 2, 1])
    synthetic = torch.tensor([False, True, False, True])
    student_logits = torch.randn(4, 3)
    ce = F.cross_entropy(student_logits, labels, reduction="none")

    weighted = ClassifierModule(num_classes=3, synthetic_weight=0.25)
    expected = (ce[0] + 0.25 * ce[1] + ce[2] + 0.25 * ce[3]) / 2.5
    torch.testing.assert_close(weighted.training_loss(images, student_logits, labels, synthetic),
                               expected)

    t, a = 2.0, 0.3
    p_teacher = F.softmax(teacher(images) / t, dim=1)
    log_q = F.log_softmax(student_logits / t, dim=1)
    kl = (p_teacher * (p_teacher.log() - log_q)).sum(1) * t * t
    on_all = ClassifierModule(num_classes=3, distill_weight=a, distill_temperature=t, teacher=teacher)
    torch.testing.assert_close(on_all.training_loss(images, student_logits, labels, synthetic),
                               ((1 - a) * ce + a * kl).mean())
    on_synthetic = ClassifierModule(num_classes=3, distill_weight=a, distill_temperature=t,
                                    distill_on="synthetic", teacher=teacher)
    mixed = torch.where(synthetic, (1 - a) * ce + a * kl, ce)
    torch.testing.assert_close(on_synthetic.training_loss(images, student_logits, labels, synthetic),
                               mixed.mean())
    # the teacher is not part of the module: not trained, not saved
    assert not any(key.startswith("_teacher") for key in on_all.state_dict())
    assert all(p.requires_grad is False for p in teacher.parameters())
    with pytest.raises(ValueError, match="needs a teacher"):
        ClassifierModule(num_classes=3, distill_weight=0.5)
    with pytest.raises(ValueError, match="synthetic_weight"):
        ClassifierModule(num_classes=3, synthetic_weight=-1.0)


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_last_gives_the_same_logits_features_and_gradients(channels):
    plain = tiny_module(channels=channels, seed=2)
    fast = tiny_module(channels=channels, seed=2, channels_last=True)
    convs = [p for p in fast.network.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    images = torch.rand(6, channels, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(fast.features(images), plain.features(images))
    for model in (plain, fast):
        torch.nn.functional.cross_entropy(model(images), labels).backward()
    for a, b in zip(plain.network.parameters(), fast.network.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6)
