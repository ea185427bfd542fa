"""Adding a GAN family is two networks and a subclass: the toy family below trains, samples
classes, serves the blend, the metrics' draw and checkpoints with nothing else written."""

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from conftest import make_trainer
from ganaug.data import ImageDataModule, SyntheticBlendDataModule
from ganaug.metrics.callback import generated_batches
from ganaug.modules import GANModule, load_gan, register_gan


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim, num_classes, shape):
        super().__init__()
        self.shape, self.num_classes = shape, num_classes
        self.net = nn.Linear(latent_dim + num_classes, shape[0] * shape[1] * shape[2])

    def forward(self, z, c=None):  # G(z, c): c is a class label, or nothing
        if c is not None:
            z = torch.cat([z, F.one_hot(c, self.num_classes).float()], 1)
        return torch.tanh(self.net(z)).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, num_classes, shape):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Linear(shape[0] * shape[1] * shape[2] + num_classes, 1)

    def forward(self, images, c=None):
        x = images.flatten(1)
        if c is not None:
            x = torch.cat([x, F.one_hot(c, self.num_classes).float()], 1)
        return self.net(x).squeeze(1)


@register_gan
class MLPGAN(GANModule):
    """The whole family: its networks; loss, augmentation, EMA and sampling are GANModule's."""

    def build_generator(self) -> nn.Module:
        hp = self.hparams
        shape = (hp.channels, hp.image_size, hp.image_size)
        return MLPGenerator(hp.latent_dim, hp.num_classes, shape)

    def build_discriminator(self) -> nn.Module:
        hp = self.hparams
        return MLPDiscriminator(hp.num_classes, (hp.channels, hp.image_size, hp.image_size))


def test_a_new_family_needs_only_its_networks(tmp_path):
    data = ImageDataModule("digits", n_per_class=6, test_per_class=2, batch_size=10)
    data.setup()
    model = MLPGAN(num_classes=10, channels=1, image_size=8, latent_dim=4, grid_size=10,
                   sample_every_n_epochs=1, seed=1)
    trainer = make_trainer(tmp_path, max_epochs=2)
    trainer.fit(model, DataLoader(data.train_dataset, batch_size=10, shuffle=True))
    assert model.iteration == 12 and len(list(tmp_path.rglob("samples/*.png"))) == 2

    assert MLPGAN.conditions_on == "label" and model.bind(data.train_dataset) is model
    images, labels = model.generate(3, torch.Generator().manual_seed(0))
    assert images.shape == (30, 1, 8, 8)
    assert labels.tolist() == [c for c in range(10) for _ in range(3)]
    batches = list(generated_batches(model, 20, seed=0, batch_size=8))
    assert sum(len(b[0]) for b in batches) == 20

    blend = SyntheticBlendDataModule(data, model, ratio=0.5, seed=0)
    blend.setup()
    assert int(blend.train_dataset.synthetic.sum()) == 30

    trainer.save_checkpoint(tmp_path / "mlp.ckpt")
    loaded = load_gan(tmp_path / "mlp.ckpt")
    assert type(loaded) is MLPGAN
    torch.testing.assert_close(loaded.generate(3, torch.Generator().manual_seed(0))[0], images)
