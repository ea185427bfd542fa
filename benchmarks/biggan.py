"""Time one DiffAugment-BigGAN training iteration: the Lightning module against a plain loop.

One iteration is what the published CIFAR setting does between two generator updates: 4
discriminator steps, each on its own real batch of 50 plus 50 fakes of uniformly drawn classes,
then one generator step on 50 fakes and the EMA update; DiffAugment ``translation,cutout`` on
every discriminator input, hinge loss, Adam. Both sides train the same networks
(``ganaug.networks.biggan``) on the same in-memory batches:

- ours: ``ganaug.modules.BigGAN`` under ``lightning.Trainer.fit`` (no logger, progress bar,
  checkpoints or sample grids), timed by a callback at the end of every iteration;
- plain: a PyTorch loop with no Lightning that does the same work in the same order (the same
  per-step seeding, the other network's gradients switched off as Lightning's
  ``toggled_optimizer`` and BigGAN-PyTorch's ``toggle_grads`` do).

The two run in alternating rounds; each round times ``--iterations`` iterations after
``--warmup`` untimed ones, and the table keeps each side's best round median (other processes
on shared machines only ever add time). Images per second count the 200 real images one
iteration consumes.

Options for GPUs: ``--device cuda``, ``--precision bf16`` (Lightning ``bf16-mixed``; autocast in
the plain loop), ``--channels-last``, ``--compile`` (``torch.compile`` of G and D, both sides).

Run with ``.venv/bin/python benchmarks/biggan.py``; on a shared CPU use
``OMP_NUM_THREADS=1 ... --threads 1 --width 8`` (the published width 64 takes about a minute per
iteration on two cores) and compare the process CPU times, which other processes do not inflate.
Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from ganaug.augment import DiffAugment
from ganaug.modules import BigGAN
from ganaug.modules.ema import update_ema
from ganaug.networks import BigGANDiscriminator, BigGANGenerator
from ganaug.seeding import step_seed

BATCH, D_STEPS, CLASSES, LATENT = 50, 4, 10, 128


def stamp() -> tuple[float, float]:
    """(wall time, this process's CPU time over all its threads)."""
    return time.perf_counter(), time.process_time()


def intervals(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[:-1], stamps[1:])]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loader(n_batches: int, seed: int) -> DataLoader:
    """Random images in [-1, 1] and labels, enough for ``n_batches`` batches of 50."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_batches * BATCH, 3, 32, 32, generator=g) * 2 - 1
    labels = torch.randint(0, CLASSES, (n_batches * BATCH,), generator=g)
    return DataLoader(TensorDataset(images, labels), batch_size=BATCH, shuffle=False,
                      drop_last=True, pin_memory=torch.cuda.is_available())


# ours: the Lightning module


class IterationTimer(L.Callback):
    """Records the wall time at the end of every iteration (after each G step)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.stamps = device, []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if (batch_idx + 1) % D_STEPS == 0:
            synchronize(self.device)
            self.stamps.append(stamp())


def run_ours(args: argparse.Namespace, iterations: int) -> tuple[list, dict[str, Tensor]]:
    device = torch.device(args.device)
    model = BigGAN(g_width=args.width, d_width=args.width, channels_last=args.channels_last,
                   compile_networks=args.compile, sample_every_n_epochs=0, seed=0)
    timer = IterationTimer(device)
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
        precision="bf16-mixed" if args.precision == "bf16" else "32-true",
        max_steps=iterations * (D_STEPS + 1), logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
        default_root_dir="/tmp/ganaug-benchmark",
    )
    trainer.fit(model, train_dataloaders=loader(iterations * D_STEPS, seed=1))
    return intervals(timer.stamps), model.generator.state_dict()


# plain: the same work without Lightning


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def run_plain(args: argparse.Namespace, iterations: int) -> tuple[list, dict[str, Tensor]]:
    device = torch.device(args.device)
    g = BigGANGenerator(latent_dim=LATENT, num_classes=CLASSES, width=args.width).to(device)
    d = BigGANDiscriminator(num_classes=CLASSES, width=args.width).to(device)
    g_ema = BigGANGenerator(latent_dim=LATENT, num_classes=CLASSES, width=args.width).to(device)
    g_ema.load_state_dict(g.state_dict())
    g_ema.requires_grad_(False).eval()
    if args.channels_last:
        for net in (g, d, g_ema):
            net.to(memory_format=torch.channels_last)
    if args.compile:
        g.compile()
        d.compile()
    augment = DiffAugment("translation,cutout")
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.0, 0.999))
    rng = torch.Generator(device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    step, stamps = 0, []

    def noise_and_labels(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randint(0, CLASSES, (n,), generator=rng, device=device)
        return torch.randn(n, LATENT, generator=rng, device=device), y

    batches = iter(loader(iterations * D_STEPS, seed=1))
    for _ in range(iterations):
        # D steps, each on its own real batch
        g.requires_grad_(False)
        d.requires_grad_(True)
        for _ in range(D_STEPS):
            real, labels = next(batches)
            real, labels = real.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if args.channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            rng.manual_seed(step_seed(0, 0, step))
            with autocast:
                z, fake_labels = noise_and_labels(BATCH)
                with torch.no_grad():
                    fake = g(z, fake_labels)
                images = augment(torch.cat([real, fake]), generator=rng)
                real_logits, fake_logits = d(images, torch.cat([labels, fake_labels])).split(BATCH)
                loss_d = hinge_d(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            step += 1

        # G step and EMA
        g.requires_grad_(True)
        d.requires_grad_(False)
        with autocast:
            z, fake_labels = noise_and_labels(BATCH)
            loss_g = -d(augment(g(z, fake_labels), generator=rng), fake_labels).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        update_ema(g_ema, g, 0.0)  # the first 1000 iterations copy G
        synchronize(device)
        stamps.append(stamp())
    return intervals(stamps), g.state_dict()


def check_agreement(args: argparse.Namespace) -> float:
    """Two iterations of both loops from the same seed; the generators must end up the same."""
    small = argparse.Namespace(**{**vars(args), "width": 1, "compile": False})
    states = []
    for run in (run_ours, run_plain):
        torch.manual_seed(0)
        states.append(run(small, 2)[1])
    error = max((a.float() - states[1][k].float()).abs().max().item()
                for k, a in states[0].items() if a.is_floating_point())
    if error > (1e-2 if args.precision == "bf16" else 1e-4):
        raise SystemExit(f"the two loops disagree after two iterations (max error {error:.2e})")
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="channel multiplier (64 published)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    error = check_agreement(args)
    print(f"agreement: generator weights after two iterations differ by at most {error:.1e}")

    # a run of warmup + iterations yields warmup + iterations - 1 intervals; drop the warm-up ones
    total = args.warmup + args.iterations + 1
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    for round_index in range(args.rounds):
        for name, run in (("ours (Lightning)", run_ours), ("plain PyTorch", run_plain)):
            torch.manual_seed(round_index)
            times = run(args, total)[0][args.warmup:]
            wall = statistics.median(t for t, _ in times)
            cpu = statistics.median(c for _, c in times)
            best[name] = min(best.get(name, float("inf")), wall)
            best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)
            print(f"round {round_index}: {name}: median {wall * 1e3:.1f} ms/iteration wall, "
                  f"{cpu * 1e3:.1f} ms process CPU, over {len(times)}", flush=True)

    device = (torch.cuda.get_device_name() if args.device == "cuda"
              else f"CPU ({platform.processor() or platform.machine()}), "
                   f"{torch.get_num_threads()} threads")
    options = [args.precision, *["channels_last"] * args.channels_last,
               *["compiled"] * args.compile]
    print(f"\n{device}, torch {torch.__version__}, width {args.width}, {', '.join(options)}")
    print("| loop | ms / iteration | real images / s | CPU ms / iteration |\n|---|---:|---:|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {D_STEPS * BATCH / seconds:.0f} | "
              f"{best_cpu[name] * 1e3:.1f} |")
    for label, table in (("time", best), ("CPU time", best_cpu)):
        ratio = table["ours (Lightning)"] / table["plain PyTorch"]
        print(f"ours / plain {label}: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
