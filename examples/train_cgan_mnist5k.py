"""Train a conditional GAN on 50 MNIST digits per class from Python, then sample from it.

The same job as `ganaug fit --config configs/cgan_mnist5k.yaml`, written as a script, on the
few-shot setting the study uses (50 real images per class; the other 4,500 digits are held out).

    .venv/bin/python examples/train_cgan_mnist5k.py --epochs 100 --out runs/example
"""

import argparse
from pathlib import Path

import lightning as L
import torch

from ganaug import ConditionalGAN, ImageDataModule
from ganaug.images import save_image_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("runs/example"))
    args = parser.parse_args()

    # data: a seeded class-balanced subset; num_classes and image_shape are known before setup
    data = ImageDataModule("mnist5k", n_per_class=args.n_per_class, batch_size=50, seed=0)
    channels, size, _ = data.image_shape
    model = ConditionalGAN(num_classes=data.num_classes, channels=channels, image_size=size,
                           augment_policy="color,translation,cutout", ema_start=100)
    trainer = L.Trainer(max_epochs=args.epochs, default_root_dir=args.out, log_every_n_steps=10)
    trainer.fit(model, data)

    # sampling needs only the checkpoint: two lines, on any device
    checkpoint = args.out / "final.ckpt"
    trainer.save_checkpoint(checkpoint)
    loaded = ConditionalGAN.load_from_checkpoint(checkpoint, map_location="cpu")
    images = loaded.sample(100, labels=torch.arange(10).repeat_interleave(10))
    print("wrote", save_image_grid(images, args.out / "ten_per_class.png", nrow=10))


if __name__ == "__main__":
    main()
