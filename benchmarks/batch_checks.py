"""Cost of checking every training batch (``ganaug.images.check_batch``): images' dtype, shape and
range and labels' dtype and range, with one device-to-host sync.

Prints the time of one check next to the time of one training step of a ConditionalGAN (DCGAN
networks, widths 32) and of a ClassifierModule (small CNN) on the same batch, so the share of a
step the checks take can be read off. Usage: ``python benchmarks/batch_checks.py [--device cuda]``.
"""

import argparse
import time

import torch
from torch.utils.benchmark import Timer
from torch.utils.data import DataLoader, TensorDataset

from ganaug.classify import ClassifierModule
from ganaug.images import check_batch
from ganaug.modules import ConditionalGAN


def batch_time(model, data, device, steps, steps_per_batch):
    """Seconds per training batch: the difference of a fit of 3 * steps optimizer steps and one of
    steps, divided by the batches in between, so that the Trainer's start-up cancels out."""
    import lightning as L

    def fit(n):
        trainer = L.Trainer(accelerator=device, devices=1, max_steps=n, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0)
        start = time.perf_counter()
        trainer.fit(model, DataLoader(data, batch_size=64, drop_last=True))
        return time.perf_counter() - start

    fit(2)  # warm-up
    return (fit(3 * steps) - fit(steps)) / (2 * steps / steps_per_batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    a = parser.parse_args()
    device = torch.device(a.device)
    for shape in ((64, 1, 28, 28), (256, 3, 32, 32)):
        images = (torch.rand(*shape, device=device) * 2 - 1)
        labels = torch.randint(0, 10, shape[:1], device=device)
        timer = Timer("check_batch(x, y, num_classes=10, channels=c, size=s)",
                      globals=dict(check_batch=check_batch, x=images, y=labels, c=shape[1],
                                   s=shape[2:]))
        print(f"check_batch {shape}: {timer.blocked_autorange(min_run_time=1).median * 1e6:.0f} us")

    check = Timer("check_batch(x, y, num_classes=10, channels=1, size=(28, 28))",
                  globals=dict(check_batch=check_batch, x=torch.rand(64, 1, 28, 28, device=device),
                               y=torch.arange(64, device=device) % 10)
                  ).blocked_autorange(min_run_time=1).median
    n = 64 * (3 * a.steps + 1)
    data = TensorDataset(torch.rand(n, 1, 28, 28) * 2 - 1, torch.arange(n) % 10)
    # a GAN batch is a D and a G step (d_steps=1): two optimizer steps of Lightning's count
    models = {"ConditionalGAN (DCGAN, widths 32)": (ConditionalGAN(num_classes=10,
                                                                    sample_every_n_epochs=0), 2),
              "ClassifierModule (small CNN)": (ClassifierModule(
                  architecture="small_cnn", num_classes=10, channels=1, image_size=28), 1)}
    for name, (model, steps_per_batch) in models.items():
        step = batch_time(model, data, a.device, a.steps, steps_per_batch)
        print(f"{name}, batch 64x1x28x28: {step * 1e3:.1f} ms per training batch; the check "
              f"is {check / step:.2%} of it")


if __name__ == "__main__":
    main()
