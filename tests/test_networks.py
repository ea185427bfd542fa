"""DCGAN-style networks: shapes, conditioning paths and bad input."""

import pytest
import torch

from ganaug.networks.dcgan import ARCHITECTURES, DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size", sorted(ARCHITECTURES))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_shapes(size, channels, num_classes):
    g = DCGANGenerator(latent_dim=16, num_classes=num_classes, channels=channels,
                       image_size=size, width=8)
    y = torch.arange(5) % 10 if num_classes else None
    x = g(torch.randn(5, 16), y)
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    for conditioning in ("projection", "onehot"):
        d = DCGANDiscriminator(num_classes=num_classes, channels=channels, image_size=size,
                               width=8, conditioning=conditioning)
        assert d(x, y).shape == (5,)


def test_generator_uses_the_label():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=8, num_classes=3, image_size=28, width=8).eval()
    z = torch.randn(1, 8).repeat(3, 1)
    x = g(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])


@pytest.mark.parametrize("conditioning", ["projection", "onehot"])
def test_discriminator_uses_the_label(conditioning):
    torch.manual_seed(0)
    d = DCGANDiscriminator(num_classes=3, image_size=28, width=8, conditioning=conditioning)
    x = torch.randn(1, 1, 28, 28).repeat(3, 1, 1, 1)
    logits = d(x, torch.tensor([0, 1, 2]))
    assert len(set(logits.tolist())) == 3


def test_projection_head_is_linear_plus_inner_product():
    d = DCGANDiscriminator(num_classes=4, image_size=28, width=8).eval()  # fixed SN estimate
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 3, 1])
    features = d.blocks(d.stem(x)).sum(dim=(2, 3))
    head = d.head
    expected = head.linear(features).squeeze(1) + (head.embed(y) * features).sum(1)
    torch.testing.assert_close(d(x, y), expected)


def test_onehot_adds_class_planes():
    d = DCGANDiscriminator(num_classes=5, channels=3, image_size=32, width=8, conditioning="onehot")
    first_conv = d.stem[0]
    assert first_conv.in_channels == 3 + 5


def test_bad_inputs():
    with pytest.raises(ValueError, match="image sizes"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match="conditioning"):
        DCGANDiscriminator(conditioning="concat")
    g = DCGANGenerator(latent_dim=8, num_classes=2, width=8)
    with pytest.raises(ValueError, match="pass labels"):
        g(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r"shape \(N, 8\)"):
        g(torch.randn(2, 9), torch.zeros(2, dtype=torch.long))
    d = DCGANDiscriminator(channels=1, image_size=28, width=8)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        d(torch.randn(2, 3, 28, 28))


def test_cbn_generator_conditions_every_layer_through_batch_norm():
    from ganaug.nn import ConditionalBatchNorm2d

    g = DCGANGenerator(latent_dim=8, num_classes=3, image_size=28, width=8, conditioning="cbn")
    assert g.embed is None and g.stem[0].in_features == 8  # the label is not concatenated to z
    norms = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == len(ARCHITECTURES[28][1]) and all(n.num_classes == 3 for n in norms)
    g.eval()
    z = torch.randn(1, 8).repeat(3, 1)
    x = g(z, torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, 28, 28)
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])
    # a class's output depends only on that class's gains: changing class 2's leaves 0 and 1 alone
    with torch.no_grad():
        norms[0].gain.weight[2] += 1.0
    y = g(z, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(y[:2], x[:2])
    assert not torch.allclose(y[2], x[2])
    with pytest.raises(ValueError, match="'concat' or 'cbn'"):
        DCGANGenerator(conditioning="projection")


def test_auxiliary_classifier_is_a_linear_map_of_the_pooled_features():
    d = DCGANDiscriminator(num_classes=4, image_size=28, width=8, auxiliary_classifier=True).eval()
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 3, 1])
    logits, class_logits = d(x, y, with_class_logits=True)
    features = d.blocks(d.stem(x)).sum(dim=(2, 3))
    torch.testing.assert_close(logits, d(x, y))
    torch.testing.assert_close(class_logits, d.classifier(features))
    assert class_logits.shape == (3, 4)
    with pytest.raises(ValueError, match="no auxiliary classifier"):
        DCGANDiscriminator(num_classes=4, image_size=28, width=8)(x, y, with_class_logits=True)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        DCGANDiscriminator(num_classes=0, image_size=28, width=8, auxiliary_classifier=True)


def test_generator_label_embedding_starts_as_loud_as_the_noise():
    """The concatenated label embedding is initialised N(0, 1), like z; the other weights keep
    DCGAN's N(0, 0.02)."""
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=64, num_classes=10, image_size=28, width=16)
    assert abs(g.embed.weight.std().item() - 1.0) < 0.05
    assert abs(g.stem[0].weight.std().item() - 0.02) < 0.002
