"""Classifier networks: parameter counts against published sizes and closed forms written
independently of the modules, forward and feature shapes, the DIA unit's structure."""

import pytest
import torch

from ganaug.classify import CLASSIFIERS, DIANet, DIAUnit, build_classifier
from ganaug.classify.densenet import DenseNet


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv3(c_in, c_out):  # bias-free 3x3
    return 9 * c_in * c_out


def resnet_count(n: int, c_in: int, k: int) -> int:
    """CIFAR ResNet of depth 6n + 2 with option-B projections, from the architecture table."""
    stem = conv3(c_in, 16) + 2 * 16
    stages = 0
    previous = 16
    for width in (16, 32, 64):
        # first block: conv previous->width, conv width->width; then n-1 blocks of two width->width
        stages += conv3(previous, width) + conv3(width, width) * (2 * n - 1)
        stages += 2 * width * 2 * n  # two BNs per block
        if previous != width:
            stages += previous * width + 2 * width  # 1x1 projection + BN
        previous = width
    return stem + stages + 64 * k + k


def dia_unit_count(width: int, r: int) -> int:
    """Two MLPs C -> C/r -> 4C (with biases), one for the input and one for the hidden state."""
    mid = width // r
    return 2 * ((width + 1) * mid + (mid + 1) * 4 * width)


def densenet_count(layers: int, growth: int, c_in: int, k: int) -> int:
    """Basic DenseNet: 3 blocks of `layers` BN-ReLU-conv3x3 layers, 1x1 transitions, final BN."""
    total = conv3(c_in, 16)
    channels = 16
    for block in range(3):
        for i in range(layers):
            width = channels + i * growth
            total += 2 * width + conv3(width, growth)
        channels += layers * growth
        if block < 2:
            total += 2 * channels + channels * channels
    return total + 2 * channels + channels * k + k


def test_published_sizes():
    # He et al. 2016 "0.27M" / "0.85M" with option A; option B (the osmr/imgclsmob model zoo's
    # resnet20_cifar10 / resnet56_cifar10 and diaresnet56_cifar10 sizes) is exact here.
    assert count(build_classifier("resnet20", num_classes=10, channels=3, image_size=32)) == 272_474
    assert count(build_classifier("resnet56", num_classes=10, channels=3, image_size=32)) == 855_770
    assert count(build_classifier("dianet56", num_classes=10, channels=3, image_size=32)) == 870_162
    dense = count(build_classifier("densenet40", num_classes=10, channels=3, image_size=32))
    assert abs(dense - 1.0e6) < 0.03e6  # Huang et al. 2017, Table 2: 1.0M


@pytest.mark.parametrize("channels,k", [(1, 10), (3, 100), (3, 7)])
def test_closed_form_counts(channels, k):
    opts = dict(num_classes=k, channels=channels, image_size=32)
    assert count(build_classifier("resnet20", **opts)) == resnet_count(3, channels, k)
    assert count(build_classifier("resnet56", **opts)) == resnet_count(9, channels, k)
    dia = resnet_count(9, channels, k) + sum(dia_unit_count(w, 4) for w in (16, 32, 64))
    assert count(build_classifier("dianet56", **opts)) == dia
    assert count(build_classifier("densenet40", **opts)) == densenet_count(12, 12, channels, k)
    assert count(DenseNet(depth=22, growth=6, num_classes=k, channels=channels)) == \
        densenet_count(6, 6, channels, k)
    assert count(DIANet(depth=20, reduction=2, num_classes=k, channels=channels)) == \
        resnet_count(3, channels, k) + sum(dia_unit_count(w, 2) for w in (16, 32, 64))


@pytest.mark.parametrize("size", [28, 32])
def test_small_cnn_count(size):
    side = size // 4
    for channels, k in ((1, 10), (3, 4)):
        expected = (9 * channels * 32 + 32) + (9 * 32 * 64 + 64) + (64 * side * side * 128 + 128) \
            + (128 * k + k)
        model = build_classifier("small_cnn", num_classes=k, channels=channels, image_size=size)
        assert count(model) == expected


FEATURES = {"small_cnn": 128, "resnet20": 64, "resnet56": 64, "densenet40": 448, "dianet56": 64}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (3, 28), (1, 32)])
def test_forward_shapes(name, channels, size):
    torch.manual_seed(0)
    model = build_classifier(name, num_classes=5, channels=channels, image_size=size).eval()
    x = torch.rand(2, channels, size, size) * 2 - 1
    with torch.no_grad():
        logits, features = model(x), model.features(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    assert features.shape == (2, FEATURES[name]) == (2, model.feature_dim)
    assert torch.allclose(model.head(features), logits, atol=1e-6)


def test_unknown_or_bad_classifier():
    with pytest.raises(ValueError, match="small_cnn"):
        build_classifier("vgg16", num_classes=10, channels=3, image_size=32)
    with pytest.raises(ValueError, match="num_classes"):
        build_classifier("resnet20", num_classes=1, channels=3, image_size=32)
    with pytest.raises(ValueError, match="6n"):
        DIANet(depth=21)
    with pytest.raises(ValueError, match="3n"):
        DenseNet(depth=41)
    with pytest.raises(ValueError, match="divisible by 4"):
        build_classifier("small_cnn", num_classes=10, channels=1, image_size=30)


def test_dianet_shares_one_unit_per_stage():
    model = DIANet(depth=56)
    units = [m for m in model.modules() if isinstance(m, DIAUnit)]
    assert len(units) == 3  # one per stage, not one per block (27 blocks)
    assert [len(stage.blocks) for stage in model.stages] == [9, 9, 9]


def test_dia_unit_is_an_lstm_step_with_sigmoid_output():
    torch.manual_seed(0)
    unit = DIAUnit(8, reduction=4)
    x, h, c = torch.randn(3, 8), torch.rand(3, 8), torch.randn(3, 8)
    # reference: the LSTM equations written out with the unit's two MLPs
    gates = unit.input_gates(x) + unit.hidden_gates(h)
    i, f, g, o = gates[:, :8], gates[:, 8:16], gates[:, 16:24], gates[:, 24:]
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.sigmoid(c_ref)
    h_new, c_new = unit(x, (h, c))
    assert torch.allclose(c_new, c_ref, atol=1e-6) and torch.allclose(h_new, h_ref, atol=1e-6)
    assert (h_new > 0).all() and (h_new < 1).all()


def test_dianet_attention_changes_the_output():
    # with the units' last layers zeroed every gate is 0: h = sigmoid(0) * sigmoid(c) where
    # c = 0.5 * c_prev + 0.5 * tanh(0) = 0 at the first block -> h = 0.25 exactly
    torch.manual_seed(0)
    model = DIANet(depth=20).eval()
    for stage in model.stages:
        for mlp in (stage.attention.input_gates, stage.attention.hidden_gates):
            torch.nn.init.zeros_(mlp[2].weight)
            torch.nn.init.zeros_(mlp[2].bias)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    stage, block = model.stages[0], model.stages[0].blocks[0]
    stem = model.stem(x)
    expected = (block.branch(stem) * 0.25 + block.shortcut(stem)).relu()
    # run only the first block through the stage's loop
    stage.blocks, rest = stage.blocks[:1], stage.blocks
    try:
        assert torch.allclose(stage(stem), expected, atol=1e-6)
    finally:
        stage.blocks = rest


def test_small_cnn_pools_before_relu_with_the_values_and_gradients_of_relu_then_pool():
    torch.manual_seed(0)
    net = build_classifier("small_cnn", num_classes=10, channels=1, image_size=28)
    images = torch.randn(8, 1, 28, 28, requires_grad=True)
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    fcs = [m for m in net.body if isinstance(m, torch.nn.Linear)] + [net.head]

    def textbook(x: torch.Tensor) -> torch.Tensor:  # conv -> ReLU -> pool, as the paper draws it
        for conv in convs:
            x = torch.nn.functional.max_pool2d(torch.relu(conv(x)), 2)
        return fcs[1](torch.relu(fcs[0](x.flatten(1))))

    labels = torch.arange(8) % 10
    ours, theirs = net(images), textbook(images)
    assert torch.equal(ours, theirs)
    grads_ours = torch.autograd.grad(torch.nn.functional.cross_entropy(ours, labels),
                                     [images, *net.parameters()])
    grads_theirs = torch.autograd.grad(torch.nn.functional.cross_entropy(theirs, labels),
                                       [images, *net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(grads_ours, grads_theirs))
