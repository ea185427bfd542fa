"""Adaptive augmentation: DiffAugment's per-op probability, ADA's schedule of it (Karras et al.
2020) against trajectories computed by hand, and its wiring into the GAN modules (the logged p,
the checkpoint that resumes it exactly, the validation of the options).

The two-process (DDP) agreement of p is in tests/test_ddp.py's companion script
tests/ddp/ada_ranks.py, run by ``test_two_processes_move_p_alike`` below.
"""

from __future__ import annotations

import json
import math
import pickle

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import make_trainer
from ganaug.augment import POLICY_GROUPS, AugmentParameters, DiffAugment
from ganaug.augment_schedule import AdaptiveAugment, AlwaysAugment
from ganaug.data import ImageDataModule
from ganaug.data.pairs import PairedImageDataModule
from ganaug.modules import DAGAN, BigGAN, ConditionalGAN, load_gan
from ganaug.study import Study, StudyConfig
from ganaug.study.config import Variant
from test_augment import reference
from tests_helpers import run_ddp_script

FIELDS = {"brightness": ("brightness",), "saturation": ("saturation",),
          "contrast": ("contrast",), "translation": ("translation_x", "translation_y"),
          "cutout": ("cutout_x", "cutout_y")}
OPS = POLICY_GROUPS["color"] + ("translation", "cutout")


# DiffAugment's probability


def test_probability_one_draws_nothing_more():
    """p = 1 takes one ``torch.rand`` of the generator, as DiffAugment always did."""
    x = torch.randn(6, 3, 8, 8)
    g_default, g_one, g_check = (torch.Generator().manual_seed(3) for _ in range(3))
    out_default = DiffAugment()(x, g_default)
    out_one = DiffAugment(probability=1.0)(x, g_one)
    assert torch.equal(out_default, out_one)
    torch.rand(6, 7, dtype=torch.float64, generator=g_check)  # 7 drawn fields
    assert torch.equal(g_one.get_state(), g_check.get_state())


@pytest.mark.parametrize("policy", ["color,translation,cutout", "translation", "cutout,color"])
def test_probability_zero_is_identity(policy):
    x = torch.randn(5, 3, 9, 7, dtype=torch.float64, requires_grad=True)
    out = DiffAugment(policy, probability=0.0)(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)
    (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
    assert torch.equal(grad, torch.ones_like(x))


def test_each_op_is_applied_to_a_share_p_of_the_samples():
    """The gate of sample i and op k is the second draw's uniform < p; kept ops keep the values
    drawn at p = 1, left-out ops get neutral values; the shares are binomial."""
    n, p, shape = 4000, 0.3, (4000, 3, 16, 16)
    full = DiffAugment(probability=1.0).sample_parameters(shape, torch.Generator().manual_seed(9))
    gated = DiffAugment(probability=p).sample_parameters(shape, torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(9)
    torch.rand(n, 7, dtype=torch.float64, generator=g)
    expected_on = torch.rand(n, len(OPS), dtype=torch.float64, generator=g) < p
    neutral = {"brightness": 0.0, "saturation": 1.0, "contrast": 1.0, "translation_x": 0,
               "translation_y": 0, "cutout_x": -16, "cutout_y": -16}
    sd = math.sqrt(n * p * (1 - p))
    for k, op in enumerate(OPS):
        on = expected_on[:, k]
        assert abs(int(on.sum()) - n * p) < 4 * sd, op
        for name in FIELDS[op]:
            got, drawn = getattr(gated, name), getattr(full, name)
            assert torch.equal(got[on], drawn[on]), name
            assert (got[~on] == neutral[name]).all(), name
    # the gates of different ops are independent draws
    both = (expected_on[:, 0] & expected_on[:, 4]).float().mean().item()
    assert abs(both - p * p) < 4 * math.sqrt(p * p * (1 - p * p) / n)


def test_gated_augmentation_matches_the_reference_with_the_kept_ops():
    """Each sample equals the pixel-loop reference run with only the ops its gates kept."""
    policy, n = "color,translation,cutout", 24
    x = torch.randn(n, 3, 8, 8, dtype=torch.float64)
    augment = DiffAugment(policy, probability=0.5)
    params = augment.sample_parameters(x, torch.Generator().manual_seed(4))
    out = augment.apply(x, params)
    full = DiffAugment(policy).sample_parameters(x, torch.Generator().manual_seed(4))
    for i in range(n):
        kept = [op for op in OPS if all(torch.equal(getattr(params, f)[i], getattr(full, f)[i])
                                        for f in FIELDS[op])]
        one = AugmentParameters(**{f: getattr(full, f)[i:i + 1]
                                   for fields in FIELDS.values() for f in fields})
        groups = ",".join(op for op in ("brightness", "saturation", "contrast", "translation",
                                        "cutout") if op in kept)
        expected = reference(x[i:i + 1], one, groups) if groups else x[i:i + 1]
        torch.testing.assert_close(out[i:i + 1], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "1"])
def test_bad_probabilities_are_rejected(value):
    with pytest.raises(ValueError, match="probability must be a number in"):
        DiffAugment(probability=value)
    augment = DiffAugment()
    with pytest.raises(ValueError, match="probability must be a number in"):
        augment.probability = value


# the schedule


def signs(value: float) -> torch.Tensor:
    return torch.tensor(value)


def test_adaptive_trajectory_by_hand():
    """target 0.6, interval 2, 10 real images a step, images 100: each adjustment moves p by
    20 / 100 = 0.2 towards more augmentation when r_t > 0.6, less when r_t < 0.6."""
    schedule = AdaptiveAugment(target=0.6, interval=2, images=100)
    steps = [1.0, 1.0,  # r = 1.0 > 0.6: p 0 -> 0.2
             0.8, 0.6,  # r = 0.7: 0.4
             0.2, 0.0,  # r = 0.1: 0.2
             -1.0, 0.0,  # r = -0.5: 0.0
             0.0, 0.0,  # r = 0: stays at 0 (clipped)
             1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # 6 rises: 1.0 clipped
    expected = [0.0, 0.2, 0.2, 0.4, 0.4, 0.2, 0.2, 0.0, 0.0, 0.0,
                0.0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0, 1.0]
    got = []
    for s in steps:
        schedule.observe(signs(s), 10)
        got.append(schedule.probability)
    assert got == pytest.approx(expected, abs=1e-12)
    assert schedule.last_ratio == 1.0
    # the trajectory: D steps observed, r_t and p after each adjustment
    assert [d for d, _, _ in schedule.history] == list(range(2, 23, 2))
    assert [r for _, r, _ in schedule.history][:5] == pytest.approx([1.0, 0.7, 0.1, -0.5, 0.0])
    assert [p for _, _, p in schedule.history] == pytest.approx(expected[1::2])


def test_ratio_at_the_target_leaves_p_alone_and_sign_sums_are_exact():
    schedule = AdaptiveAugment(target=0.6, interval=1, images=50, initial=0.5)
    schedule.observe(signs(0.6), 5)  # 3 of 5 signs: r = 0.6 exactly
    assert schedule.probability == 0.5 and schedule.last_ratio == 0.6
    # 7 positive and 3 negative logits, their float32 mean times 10 rounds back to 4 signs
    logits = torch.tensor([1.0] * 7 + [-1.0] * 3)
    schedule.observe(logits.sign().mean(), 10)
    assert schedule.last_ratio == pytest.approx(0.4, abs=0) and schedule.probability == 0.3


def test_reduce_sums_over_processes():
    """What ``reduce`` returns is what r_t and the step are made of: here a second process
    whose sums are (-10 signs, 10 images) turns r = 1 into 0 and the step into 20 / 100."""
    seen = []

    def reduce(sums):
        seen.append(sums.clone())
        return sums + torch.tensor([-10.0, 10.0], dtype=sums.dtype)

    schedule = AdaptiveAugment(target=0.6, interval=1, images=100, initial=0.5)
    schedule.observe(signs(1.0), 10, reduce)
    assert torch.equal(seen[0], torch.tensor([10.0, 10.0], dtype=torch.float64))
    assert schedule.last_ratio == 0.0 and schedule.probability == pytest.approx(0.3)


def test_state_dict_resumes_in_the_middle_of_an_interval():
    steps = [0.9, 0.2, 0.7, 1.0, 0.4, 0.8, 0.5]
    full = AdaptiveAugment(target=0.5, interval=3, images=40)
    for s in steps:
        full.observe(signs(s), 4)
    first = AdaptiveAugment(target=0.5, interval=3, images=40)
    for s in steps[:4]:
        first.observe(signs(s), 4)
    state = first.state_dict()
    assert state["steps"] == 1 and json.loads(json.dumps(state)) == state  # plain values
    resumed = AdaptiveAugment(target=0.5, interval=3, images=40)
    resumed.load_state_dict(state)
    for s in steps[4:]:
        resumed.observe(signs(s), 4)
    assert resumed.state_dict() == full.state_dict()


def test_always_augment_is_fixed():
    schedule = AlwaysAugment()
    schedule.observe(signs(1.0), 10)
    assert schedule.probability == 1.0 and AlwaysAugment(0.25).probability == 0.25


@pytest.mark.parametrize("kwargs, match", [
    (dict(target=0.0), "target must be"), (dict(target=1.0), "target must be"),
    (dict(interval=0), "interval must be"), (dict(interval=2.5), "interval must be"),
    (dict(images=0), "images must be"), (dict(initial=2.0), "probability must be"),
])
def test_bad_schedule_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptiveAugment(**kwargs)


# in a GAN module


def tiny_gan(**kwargs) -> ConditionalGAN:
    options = dict(num_classes=10, latent_dim=8, g_width=4, d_width=4, image_size=28, d_steps=2,
                   ema_decay=0.9, grid_size=10, sample_every_n_epochs=0, seed=3,
                   ada_target=0.6, ada_interval=2, ada_images=200)
    return ConditionalGAN(**{**options, **kwargs})


def digits() -> ImageDataModule:  # 100 digits in batches of 20: 5 D steps an epoch
    return ImageDataModule("digits", image_size=28, n_per_class=10, test_per_class=5,
                           batch_size=20, seed=1, hflip=True)


class RecordP(L.Callback):
    """After every batch: the mean real sign D saw and the augment probability."""

    def __init__(self) -> None:
        self.signs, self.counts, self.probabilities = [], [], []

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx) -> None:
        self.signs.append(float(trainer.callback_metrics["d/real_sign"]))
        self.counts.append(batch[0].shape[0])
        self.probabilities.append(model.augment_probability)
        assert model.diff_augment.probability == model.augment_probability
        assert float(trainer.callback_metrics["augment/p"]) == pytest.approx(
            model.augment_probability)


def by_hand(record: RecordP, interval: int, images: float, target: float = 0.6) -> list[float]:
    """p after each step from the recorded mean signs and real-image counts."""
    expected, p, total, count = [], 0.0, 0, 0
    for i, (s, n) in enumerate(zip(record.signs, record.counts)):
        total, count = total + round(s * n), count + n
        if i % interval == interval - 1:
            if total != target * count:
                p = min(1.0, max(0.0, p + math.copysign(count / images, total / count - target)))
            total, count = 0, 0
        expected.append(p)
    return expected


def test_a_fit_moves_p_by_the_heuristic(tmp_path):
    """p after each D step, recomputed by hand from the real signs D reported: every 2 steps
    (40 real images), p moves by 40 / 200 = 0.2 towards sign(r_t - 0.6)."""
    model, record = tiny_gan(), RecordP()
    assert model.augment_probability == 0.0
    make_trainer(tmp_path, max_epochs=3, callbacks=[record]).fit(model, digits())
    assert record.counts == [20] * 15
    assert record.probabilities == pytest.approx(by_hand(record, 2, 200), abs=1e-9)
    assert max(record.probabilities) > 0  # D overfits 100 digits at once: p moved


@pytest.mark.parametrize("family", ["biggan", "dagan"])
def test_every_family_adapts_p(family, tmp_path):
    """BigGAN and DAGAN (whose discriminate augments pairs) move p by the same heuristic."""
    ada = dict(ada_target=0.6, ada_interval=1, ada_images=100, seed=3)
    if family == "biggan":
        model = BigGAN(num_classes=10, latent_dim=8, g_width=1, d_width=1, grid_size=10, **ada)
        data = ImageDataModule("digits", image_size=32, channels=3, n_per_class=4,
                               test_per_class=2, batch_size=10, seed=0)
    else:
        model = DAGAN(latent_dim=8, g_width=4, d_width=4, grid_size=4, sample_every_n_epochs=0,
                      **ada)
        data = PairedImageDataModule("digits", image_size=28, n_per_class=4, test_per_class=2,
                                     batch_size=10, seed=0)
    record = RecordP()
    make_trainer(tmp_path, max_epochs=2, callbacks=[record]).fit(model, data)
    assert len(record.probabilities) >= 4
    assert record.probabilities == pytest.approx(by_hand(record, 1, 100), abs=1e-9)
    assert any(p > 0 for p in record.probabilities)


def test_fixed_augmentation_is_unchanged_and_not_logged(tmp_path):
    model = tiny_gan(ada_target=None)
    trainer = make_trainer(tmp_path, max_steps=3)
    trainer.fit(model, digits())
    assert isinstance(model.augment_schedule, AlwaysAugment) and model.augment_probability == 1.0
    assert "augment/p" not in trainer.callback_metrics


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
@pytest.mark.filterwarnings("ignore:Using ModelCheckpoint with manual optimization")
def test_p_resumes_exactly_from_a_mid_epoch_checkpoint(tmp_path):
    """A checkpoint taken in the middle of an epoch and of an ADA interval (interval 3), resumed
    in a fresh process-like setting, ends where the uninterrupted fit ends: p, the schedule's
    sums and every weight."""
    options = dict(ada_interval=3)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1, every_n_train_steps=4)
    full = tiny_gan(**options)
    make_trainer(tmp_path, max_epochs=3, enable_checkpointing=True,
                 callbacks=[checkpoints]).fit(full, digits())
    paths = sorted((tmp_path / "ckpt").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    path = next(p for p in paths
                if torch.load(p, weights_only=True)["ganaug"]["augment_schedule"]["steps"] != 0)
    saved = torch.load(path, weights_only=True)["ganaug"]
    assert 0 < saved["d_steps_done"] < 15

    torch.manual_seed(12345)
    resumed = tiny_gan(**options)
    make_trainer(tmp_path / "resumed", max_epochs=3).fit(resumed, digits(), ckpt_path=path)
    assert resumed.augment_schedule.state_dict() == full.augment_schedule.state_dict()
    assert resumed.augment_probability == full.augment_probability
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key

    loaded = load_gan(path)  # the checkpoint's p comes back with the module
    assert loaded.augment_probability == saved["augment_schedule"]["probability"]
    assert loaded.diff_augment.probability == loaded.augment_probability


def test_pickling_keeps_p():
    model = tiny_gan(ada_interval=1)
    model.augment_schedule.observe(signs(1.0), 100)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.augment_probability == model.augment_probability == 0.5
    assert copy.diff_augment.probability == 0.5


@pytest.mark.parametrize("kwargs, match", [
    (dict(ada_target=1.2), "ada_target must be in"),
    (dict(ada_target=0.6, augment_policy=""), "augment_policy is empty"),
    (dict(ada_interval=0), "ada_interval must be"),
    (dict(ada_images=0), "ada_images must be"),
])
def test_bad_module_options_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_gan(**kwargs)


# under DDP


def test_two_processes_move_p_alike(tmp_path):
    """Two gloo processes: both ranks hold the same p after every step, and it is the
    trajectory of the signs of both ranks' real images together (not of either alone)."""
    ranks = run_ddp_script("ada_ranks.py", tmp_path)
    assert ranks[0]["probabilities"] == ranks[1]["probabilities"]
    interval, images = ranks[0]["interval"], ranks[0]["images"]
    expected, p = [], 0.0
    for i in range(len(ranks[0]["signs"])):  # each rank's (positive - negative, real images)
        if i % interval == interval - 1:
            window = [step for rank in ranks for step in rank["signs"][i - interval + 1:i + 1]]
            total, count = sum(s for s, _ in window), sum(n for _, n in window)
            r = total / count
            p = min(1.0, max(0.0, p + math.copysign(count / images, r - 0.6))) if r != 0.6 else p
        expected.append(p)
    assert ranks[0]["probabilities"] == pytest.approx(expected, abs=1e-9)
    assert ranks[0]["signs"] != ranks[1]["signs"]  # the ranks saw different signals


def test_the_study_writes_p_curve_of_an_adaptive_gan(tmp_path):
    """A study GAN with ``ada_target`` in its options leaves ``gan-<variant>/augment.json``:
    the D step, r_t and p of every adjustment (the schedule's history)."""
    config = StudyConfig.from_dict(dict(
        dataset="digits", image_size=28, n_per_class=4, test_per_class=3, seeds=[0],
        modes=["augment"], ratios=[0.5], max_steps=3, batch_size=8, accelerator="cpu",
        judge_per_class=0, curve_points=0, gan_max_steps=8, gan_batch_size=8,
        gan_options=dict(latent_dim=8, g_width=4, d_width=4, grid_size=10)))
    study = Study(config, tmp_path, progress=False)
    model = study.gan(Variant("ada", gan_options=dict(ada_target=0.6, ada_interval=2,
                                                      ada_images=64)))
    curve = json.loads((tmp_path / "gan-ada" / "augment.json").read_text())["history"]
    assert [row["d_step"] for row in curve] == [2, 4]
    assert [(row["d_step"], row["ratio"], row["probability"]) for row in curve] == [
        tuple(row) for row in model.augment_schedule.history]
    assert not (tmp_path / "gan-base").exists()
