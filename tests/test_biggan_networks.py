"""BigGAN networks and blocks: the published CIFAR-10 parameter counts, counts from a closed form
over BigGAN-PyTorch's architecture lists, shapes at 32 / 64 / 128, conditional batch norm against
its formula, self-attention and the residual blocks against the published way of computing them."""

import pytest
import torch
import torch.nn.functional as F

from ganaug.networks import BigGANDiscriminator, BigGANGenerator
from ganaug.nn import ConditionalBatchNorm2d, ResBlockDown, ResBlockUp, SelfAttention2d


def count(module):
    return sum(p.numel() for p in module.parameters())


# parameter counts


def test_published_cifar10_parameter_counts():
    # DiffAugment-BigGAN CIFAR-10: ch 64, z 128, 10 classes, no shared embedding / hierarchy /
    # attention. Published: G 4,304,387 and D 4,207,361.
    g = BigGANGenerator(latent_dim=128, num_classes=10, image_size=32, width=64)
    d = BigGANDiscriminator(num_classes=10, image_size=32, width=64)
    assert count(g) == 4_304_387
    assert count(d) == 4_207_361
    # spectral norm's power-iteration vectors are buffers, the original weights parameters
    names = [name for name, _ in g.named_parameters()] + [n for n, _ in d.named_parameters()]
    assert not any(name.endswith(("_u", "_v")) for name in names)
    assert any(name.endswith("parametrizations.weight.original") for name in names)
    assert any(name.endswith("_u") for name, _ in d.named_buffers())


# BigGAN-PyTorch's G_arch / D_arch lists at channel multiplier ch (in, out per block)
def published_g_arch(resolution, ch):
    arch = {32: ([4, 4, 4], [4, 4, 4]), 64: ([16, 16, 8, 4], [16, 8, 4, 2]),
            128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1])}[resolution]
    return [ch * m for m in arch[0]], [ch * m for m in arch[1]]


def published_d_arch(resolution, ch):
    arch = {32: ([4, 4, 4], [4, 4, 4, 4], [True, True, False, False]),
            64: ([1, 2, 4, 8], [1, 2, 4, 8, 16], [True] * 4 + [False]),
            128: ([1, 2, 4, 8, 16], [1, 2, 4, 8, 16, 16], [True] * 5 + [False])}[resolution]
    return [3] + [ch * m for m in arch[0]], [ch * m for m in arch[1]], arch[2]


def conv_params(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def g_closed_form(resolution, ch, z, classes):
    ins, outs = published_g_arch(resolution, ch)
    total = z * ins[0] * 16 + ins[0] * 16  # linear to the 4x4 map
    for c_in, c_out in zip(ins, outs):
        total += conv_params(c_in, c_out, 3) + conv_params(c_out, c_out, 3)
        total += conv_params(c_in, c_out, 1)  # every block upsamples: learned shortcut
        total += 2 * classes * (c_in + c_out)  # gain and bias embeddings of both batch norms
    return total + 2 * outs[-1] + conv_params(outs[-1], 3, 3)  # output BN and conv


def d_closed_form(resolution, ch, classes):
    ins, outs, downs = published_d_arch(resolution, ch)
    total = 0
    for c_in, c_out, down in zip(ins, outs, downs):
        total += conv_params(c_in, c_out, 3) + conv_params(c_out, c_out, 3)
        if c_in != c_out or down:
            total += conv_params(c_in, c_out, 1)
    return total + outs[-1] + 1 + classes * outs[-1]  # linear and projection embedding


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_parameter_counts_follow_the_published_tables(resolution):
    g = BigGANGenerator(latent_dim=20, num_classes=3, image_size=resolution, width=4)
    d = BigGANDiscriminator(num_classes=3, image_size=resolution, width=4)
    assert count(g) == g_closed_form(resolution, 4, 20, 3)
    assert count(d) == d_closed_form(resolution, 4, 3)


def test_shared_embedding_and_hierarchical_latents_counts():
    # z = 4 chunks of 5 at 32x32 (stem + 3 blocks); CBNs map [shared (6), chunk (5)] linearly
    g = BigGANGenerator(latent_dim=20, num_classes=3, image_size=32, width=4,
                        shared_embedding=True, shared_dim=6, hierarchical=True)
    plain = g_closed_form(32, 4, 20, 3)
    ins, outs = published_g_arch(32, 4)
    bn_embeddings = sum(2 * 3 * (c_in + c_out) for c_in, c_out in zip(ins, outs))
    bn_linears = sum(2 * 11 * (c_in + c_out) for c_in, c_out in zip(ins, outs))
    stem_shrink = (20 - 5) * ins[0] * 16
    assert count(g) == plain - bn_embeddings + bn_linears - stem_shrink + 3 * 6


# shapes and conditioning


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_forward_shapes(resolution):
    torch.manual_seed(0)
    g = BigGANGenerator(latent_dim=16, num_classes=4, image_size=resolution, width=2)
    d = BigGANDiscriminator(num_classes=4, image_size=resolution, width=2)
    images = g(torch.randn(3, 16), torch.tensor([0, 1, 3]))
    assert images.shape == (3, 3, resolution, resolution)
    assert images.abs().max() <= 1
    assert d(images, torch.tensor([0, 1, 3])).shape == (3,)


def test_unconditional_networks_take_no_labels():
    g = BigGANGenerator(latent_dim=8, num_classes=0, width=2, channels=1)
    d = BigGANDiscriminator(num_classes=0, width=2, channels=1)
    assert d(g(torch.randn(2, 8))).shape == (2,)
    assert d.embed is None


def test_attention_options_place_one_block():
    g = BigGANGenerator(latent_dim=8, num_classes=2, image_size=64, width=2, attention=32)
    d = BigGANDiscriminator(num_classes=2, image_size=64, width=8, attention=32)
    assert g.attention.channels == 4 * 2 and g.attention_after == 2  # 4 -> 8 -> 16 -> 32
    assert d.attention.channels == 1 * 8 and d.attention_after == 0  # after 64 -> 32
    with torch.no_grad():
        g.attention.gamma.fill_(0.5)
        d.attention.gamma.fill_(0.5)
    assert d(g(torch.randn(2, 8), torch.tensor([0, 1])), torch.tensor([0, 1])).shape == (2,)


def test_generator_uses_each_samples_own_class():
    torch.manual_seed(0)
    g = BigGANGenerator(latent_dim=8, num_classes=3, width=2).eval()  # eval: per-sample output
    z = torch.randn(4, 8)
    y = torch.tensor([0, 1, 2, 1])
    together = g(z, y)
    alone = torch.cat([g(z[i:i + 1], y[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    relabelled = g(z, torch.tensor([0, 1, 2, 2]))
    torch.testing.assert_close(relabelled[:3], together[:3], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(relabelled[3], together[3])


def test_projection_term_is_the_class_embedding_dot_the_pooled_features():
    torch.manual_seed(0)
    d = BigGANDiscriminator(num_classes=3, width=2).eval()  # eval: no power-iteration updates
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        h = x
        for block in d.blocks:
            h = block(h)
        features = F.relu(h).sum(dim=(2, 3))
        embed = d.embed.weight  # the spectral-normalised embedding
        difference = d(x, torch.full((5,), 2)) - d(x, torch.zeros(5, dtype=torch.long))
    torch.testing.assert_close(difference, features @ (embed[2] - embed[0]), atol=1e-4, rtol=1e-4)


# conditional batch norm


def reference_batch_norm(x, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def test_conditional_batch_norm_uses_each_samples_class():
    bn = ConditionalBatchNorm2d(2, num_classes=3)
    gains = torch.tensor([[0.5, -0.5], [1.0, 2.0], [-2.0, 0.0]])
    biases = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with torch.no_grad():
        bn.gain.weight.copy_(gains)
        bn.bias.weight.copy_(biases)
    x = torch.randn(4, 2, 3, 3)
    y = torch.tensor([2, 0, 1, 2])
    out = bn(x, y)
    scale, shift = (1 + gains[y]).view(4, 2, 1, 1), biases[y].view(4, 2, 1, 1)
    expected = reference_batch_norm(x) * scale + shift
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # running statistics are tracked as in an ordinary batch norm (momentum 0.1)
    torch.testing.assert_close(bn.norm.running_mean, 0.1 * x.mean(dim=(0, 2, 3)))


def test_conditional_batch_norm_from_vectors_and_unconditional():
    torch.manual_seed(0)
    bn = ConditionalBatchNorm2d(3, condition_dim=4).eval()  # eval: fixed SN weights, stats 0 / 1
    c = torch.randn(2, 4)
    x = torch.randn(2, 3, 2, 2)
    gain, bias = c @ bn.gain.weight.T, c @ bn.bias.weight.T
    expected = x / (1 + 1e-5) ** 0.5 * (1 + gain).view(2, 3, 1, 1) + bias.view(2, 3, 1, 1)
    torch.testing.assert_close(bn(x, c), expected, atol=1e-5, rtol=1e-5)

    plain = ConditionalBatchNorm2d(3)
    torch.testing.assert_close(plain(x), reference_batch_norm(x), atol=1e-5, rtol=1e-5)
    assert count(plain) == 6


def test_conditional_batch_norm_rejects_bad_options():
    with pytest.raises(ValueError, match="not both"):
        ConditionalBatchNorm2d(2, num_classes=3, condition_dim=4)
    with pytest.raises(ValueError, match="conditional"):
        ConditionalBatchNorm2d(2, num_classes=3)(torch.randn(2, 2, 2, 2))


# self-attention and residual blocks against the published formulation


def test_self_attention_matches_the_published_formula():
    torch.manual_seed(0)
    attention = SelfAttention2d(16).eval()
    with torch.no_grad():
        attention.gamma.fill_(0.7)
    x = torch.randn(2, 16, 4, 6)
    with torch.no_grad():
        theta = attention.query(x).view(2, 2, 24)
        phi = F.max_pool2d(attention.key(x), 2).view(2, 2, 6)
        g = F.max_pool2d(attention.value(x), 2).view(2, 8, 6)
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)  # (N, HW, HW/4)
        o = attention.out(torch.bmm(g, beta.transpose(1, 2)).view(2, 8, 4, 6))
        torch.testing.assert_close(attention(x), x + 0.7 * o, atol=1e-5, rtol=1e-5)
        attention.gamma.zero_()
        torch.testing.assert_close(attention(x), x)
    with pytest.raises(ValueError, match="divisible by 8"):
        SelfAttention2d(12)


def test_up_block_matches_upsample_then_convolve_shortcut():
    torch.manual_seed(0)
    block = ResBlockUp(4, 6, num_classes=2).eval()
    x, y = torch.randn(3, 4, 5, 5), torch.tensor([0, 1, 1])
    with torch.no_grad():
        h = F.relu(block.bn1(x, y))
        h = block.conv1(F.interpolate(h, scale_factor=2))
        h = block.conv2(F.relu(block.bn2(h, y)))
        expected = h + block.shortcut(F.interpolate(x, scale_factor=2))
        torch.testing.assert_close(block(x, y), expected, atol=1e-5, rtol=1e-5)


def test_down_blocks_match_the_published_shortcut_order():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 8)
    for preactivation in (True, False):
        block = ResBlockDown(4, 6, preactivation=preactivation).eval()
        with torch.no_grad():
            h = F.relu(x) if preactivation else x
            h = F.avg_pool2d(block.conv2(F.relu(block.conv1(h))), 2)
            shortcut = (F.avg_pool2d(block.shortcut(x), 2) if preactivation
                        else block.shortcut(F.avg_pool2d(x, 2)))
            torch.testing.assert_close(block(x), h + shortcut, atol=1e-5, rtol=1e-5)
    same = ResBlockDown(4, 4, downsample=False)
    assert same.shortcut is None and same(x).shape == x.shape


def test_weights_start_normal_002():
    torch.manual_seed(0)
    g = BigGANGenerator(latent_dim=128, num_classes=10, width=64)
    weight = g.blocks[0].conv1.parametrizations.weight.original
    assert abs(weight.std().item() - 0.02) < 0.001 and abs(weight.mean().item()) < 0.001
    assert abs(g.blocks[0].bn1.gain.weight.std().item() - 0.02) < 0.003


# bad options


@pytest.mark.parametrize("options, match", [
    (dict(image_size=48), "image sizes"),
    (dict(attention=64), "self-attention resolution"),
    (dict(hierarchical=True, latent_dim=126), "use 124"),
    (dict(shared_embedding=True, num_classes=0), "needs num_classes"),
])
def test_generator_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        BigGANGenerator(**{"width": 2, **options})


def test_networks_reject_missing_labels_and_wrong_shapes():
    g = BigGANGenerator(latent_dim=8, num_classes=2, width=2)
    d = BigGANDiscriminator(num_classes=2, width=2)
    with pytest.raises(ValueError, match="pass labels"):
        g(torch.randn(2, 8))
    with pytest.raises(ValueError, match="shape"):
        g(torch.randn(2, 7), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="pass labels"):
        d(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="shape"):
        d(torch.zeros(2, 3, 28, 28), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="self-attention"):
        BigGANDiscriminator(width=2, attention=32)
