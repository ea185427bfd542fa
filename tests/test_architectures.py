"""Width tables given as options: every family builds a resolution its table lacks (16x16) from
an ``architecture`` row, the modules record it so a checkpoint rebuilds it, and the default
networks are exactly the table's (same keys, shapes and initial weights)."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ganaug.modules import GAN, BigGAN, ConditionalGAN
from ganaug.modules.dagan import DAGAN
from ganaug.networks import dagan, dcgan
from ganaug.networks.biggan import (
    BIGGAN_D_ARCHITECTURES,
    BIGGAN_G_ARCHITECTURES,
    BigGANDiscriminator,
    BigGANGenerator,
)


def same_network(build, **options):
    """State dicts of two networks built under the same seed, without and with ``options``."""
    torch.manual_seed(0)
    default = build().state_dict()
    torch.manual_seed(0)
    given = build(**options).state_dict()
    assert list(default) == list(given)
    for key in default:
        assert torch.equal(default[key], given[key]), key


# default networks are the table's rows


@pytest.mark.parametrize("size", sorted(dcgan.ARCHITECTURES))
def test_dcgan_default_is_the_table_row(size):
    row = dcgan.ARCHITECTURES[size]
    same_network(lambda **o: dcgan.DCGANGenerator(num_classes=3, image_size=size, width=8, **o),
                 architecture=row)
    same_network(lambda **o: dcgan.DCGANDiscriminator(num_classes=3, image_size=size, width=8, **o),
                 architecture=row)


@pytest.mark.parametrize("size", sorted(BIGGAN_G_ARCHITECTURES))
def test_biggan_default_is_the_table_row(size):
    same_network(lambda **o: BigGANGenerator(image_size=size, width=4, **o),
                 architecture=BIGGAN_G_ARCHITECTURES[size])
    same_network(lambda **o: BigGANDiscriminator(image_size=size, width=4, **o),
                 architecture=BIGGAN_D_ARCHITECTURES[size])


@pytest.mark.parametrize("size", sorted(dagan.ARCHITECTURES))
def test_dagan_default_is_the_table_row(size):
    row = dagan.ARCHITECTURES[size]
    same_network(lambda **o: dagan.DAGANGenerator(image_size=size, width=4, **o), architecture=row)
    same_network(lambda **o: dagan.DAGANDiscriminator(image_size=size, width=4, **o),
                 architecture=row)


# a new resolution from a row


def test_networks_build_16x16_from_a_row():
    y, z = torch.tensor([0, 1]), torch.randn(2, 16)
    g = dcgan.DCGANGenerator(latent_dim=16, num_classes=2, image_size=16, width=4,
                             architecture=(4, (4, 2, 1)))
    d = dcgan.DCGANDiscriminator(num_classes=2, image_size=16, width=4, architecture=[4, [4, 2, 1]])
    assert d(g(z, y), y).shape == (2,)
    assert g(z, y).shape == (2, 1, 16, 16)

    g = BigGANGenerator(latent_dim=16, num_classes=2, channels=1, image_size=16, width=4,
                        architecture=(4, 4, 4))
    d = BigGANDiscriminator(num_classes=2, channels=1, image_size=16, width=4,
                            architecture=((4, True), (4, True), (4, False)))
    assert g(z, y).shape == (2, 1, 16, 16) and d(g(z, y), y).shape == (2,)

    g = dagan.DAGANGenerator(image_size=16, latent_dim=16, width=4, architecture=(1, 2, 4))
    d = dagan.DAGANDiscriminator(image_size=16, width=4, architecture=(1, 2, 4))
    c = torch.rand(2, 1, 16, 16) * 2 - 1
    assert g(z, c).shape == (2, 1, 16, 16) and d(g(z, c), c).shape == (2,)


@pytest.mark.parametrize("build, architecture, match", [
    (lambda a: dcgan.DCGANGenerator(image_size=16, architecture=a), (4, (4, 2)), "makes 8x8"),
    (lambda a: dcgan.DCGANDiscriminator(image_size=16, architecture=a), (4,), "start size, mult"),
    (lambda a: dcgan.DCGANGenerator(image_size=16, architecture=a), None, "architecture="),
    (lambda a: BigGANGenerator(image_size=16, architecture=a), (4, 4, 4, 4), "makes 32x32"),
    (lambda a: BigGANDiscriminator(image_size=16, architecture=a), (4, 4), "(width, downsample)"),
    (lambda a: BigGANDiscriminator(image_size=16, architecture=a), None, "d_architecture"),
    (lambda a: dagan.DAGANGenerator(image_size=16, architecture=a), (1,), "at least two"),
    (lambda a: dagan.DAGANDiscriminator(image_size=12, architecture=a), (1, 2, 4, 8), "divide"),
])
def test_bad_rows_are_refused_with_what_they_make(build, architecture, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        build(architecture)


# modules record the row; a checkpoint rebuilds it




@pytest.mark.parametrize("module_class, options", [
    (ConditionalGAN, dict(num_classes=2, architecture=[4, [4, 2, 1]])),
    (GAN, dict(architecture=[4, [4, 2, 1]])),
    (BigGAN, dict(num_classes=2, channels=1, g_architecture=[4, 4, 4],
                  d_architecture=[[4, True], [4, True], [4, False]], d_steps=1, ema_start=0)),
    (DAGAN, dict(architecture=[1, 2, 4], d_steps=1, self_pairs=True)),
])
def test_modules_train_16x16_and_reload_from_the_checkpoint(module_class, options, tmp_path,
                                                            trainer_factory):
    model = module_class(image_size=16, latent_dim=8, g_width=4, d_width=4, grid_size=4,
                         sample_every_n_epochs=0, **options)
    images = torch.rand(8, 1, 16, 16) * 2 - 1
    data = DataLoader(TensorDataset(images, torch.arange(8) % 2), batch_size=4)
    trainer = trainer_factory(max_steps=2)
    trainer.fit(model, data)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)

    loaded = module_class.load_from_checkpoint(path, map_location="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    condition = images[:2] if module_class is DAGAN else (torch.tensor([0, 1])
                                                          if model.num_classes else None)
    z = torch.randn(2, 8)
    torch.testing.assert_close(loaded.generator_ema.eval()(z, condition),
                               model.generator_ema.eval()(z, condition))
