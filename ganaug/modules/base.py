"""``GANModule``: the training method shared by every GAN in ganaug.

The module is the *method* (losses, step schedule, augmentation, EMA, sampling, checkpoint state);
the generator and discriminator are plain ``nn.Module``s that subclasses build in
``build_generator()`` / ``build_discriminator()``. It uses Lightning 2.x manual optimisation.

Counting, which matters for ``max_steps`` and for resuming:

- one *D step* per training batch; every ``d_steps``-th batch is also followed by one *G step*;
- an *iteration* is ``d_steps`` D steps plus one G step (``GANModule.iteration``): EMA start and
  any schedule count iterations;
- Lightning's ``global_step`` counts optimizer steps, D and G alike, so ``max_steps=S`` ends after
  ``S * d_steps / (d_steps + 1)`` batches. ``max_epochs`` counts passes over the training set.

Randomness: the noise and the augmentation parameters of D step ``k`` on rank ``r`` are drawn
from a generator seeded by ``(seed, r, k)``. Every rank draws different noise, and a resumed fit
draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from ganaug.augment import DiffAugment
from ganaug.augment_schedule import AdaptiveAugment, AlwaysAugment, AugmentSchedule
from ganaug.checkpoint_io import use_safe_checkpoint_io
from ganaug.images import check_batch, image_grid
from ganaug.losses import (
    CLASS_LOSSES,
    MODE_SEEKING_PAIRS,
    class_loss_discriminator,
    class_loss_generator,
    get_loss,
    gradient_penalty,
    mode_seeking_penalty,
    r1_penalty,
)
from ganaug.modules.checkpoint import (
    CheckpointMismatchError,
    check_checkpoint_class,
    class_name,
    read_checkpoint,
    resolve_checkpoint_class,
)
from ganaug.modules.ema import average_buffers, update_ema
from ganaug.modules.fake_labels import fake_label_policy
from ganaug.modules.grids import SampleGrids
from ganaug.modules.noise import latent_noise
from ganaug.modules.penalties import GeneratorPenalty
from ganaug.modules.pretrained import PretrainedMixin
from ganaug.sampling import ClassConditionalSampler, class_balanced_labels, draw_class_balanced
from ganaug.seeding import step_seed
from ganaug.serialization import safe_globals

__all__ = ["CheckpointMismatchError", "GANModule"]

_CHECKPOINT_KEY = "ganaug"
_INIT_STREAM = 0x1417  # keeps the initialisation's draws apart from the step noise of one seed


class GANModule(PretrainedMixin, L.LightningModule):
    """Base LightningModule for adversarial training; subclass and build the networks.

    Subclasses implement ``build_generator()`` (a module mapping ``(z, y=None)`` to images in
    [-1, 1]) and ``build_discriminator()`` (mapping ``(images, y=None)`` to logits (N,)); they read
    their own options from ``self.hparams``. Everything else (loss, augmentation of every
    discriminator input, EMA generator, sampling, sample grids, checkpoint state, and
    ``save_pretrained`` / ``from_pretrained`` folders) is shared.

    The condition ``c`` a family's networks take is a class label (``conditions_on = "label"``;
    none when ``num_classes`` is 0) or, for DAGAN, a real image (``"image"``). A family changes
    what a step sees through the public hooks ``unpack_batch``, ``discriminate``,
    ``discriminator_losses`` and ``generator_losses``, drawing its randomness from
    ``step_rng``, and says with ``bind`` how it samples classes from real data.
    """

    conditions_on: ClassVar[str] = "label"  # what c is: "label" (or nothing), or "image"

    def __init__(
        self,
        *,
        latent_dim: int = 64,  # size of the noise vector z
        num_classes: int = 0,  # number of classes; 0 = unconditional
        channels: int = 1,  # image channels
        image_size: int = 28,  # image height = width in pixels
        loss: str = "hinge",  # adversarial loss: "hinge", "nonsaturating" or "wasserstein"
        d_steps: int = 1,  # discriminator steps (batches) per generator step
        lr_g: float = 2e-4,  # Adam learning rate of the generator
        lr_d: float = 2e-4,  # Adam learning rate of the discriminator
        betas: tuple[float, float] = (0.5, 0.999),  # Adam betas of both optimizers
        augment_policy: str = "color,translation,cutout",  # DiffAugment policy; "" = none
        ada_target: float | None = None,  # adaptive augmentation (ADA, Karras et al. 2020): the
        # E[sign(D(real))] that p steers towards, in (0, 1) (ADA: 0.6); None = p fixed at 1
        ada_interval: int = 4,  # D steps between adjustments of p
        ada_images: int = 100_000,  # real images over which p can rise from 0 to 1 (ADA: 500k
        # on its runs of tens of millions of images; a ganaug fit sees about 10^5)
        gp_weight: float = 0.0,  # WGAN-GP weight (10 is usual with "wasserstein"); 0 = off
        r1_gamma: float = 0.0,  # R1 penalty weight gamma (penalty * gamma / 2); 0 = off
        mode_seeking_weight: float = 0.0,  # MSGAN diversity term weight (Mao et al. 2019); 0 = off
        mode_seeking_pairs: str = "extra",  # its noise pairs: "extra" (a second z per image,
        # twice the fakes per G step) or "split" (the batch split in two halves, as MSGAN does)
        class_loss_weight: float = 0.0,  # auxiliary classification term weight (see below); 0 = off
        class_loss: str = "ac",  # that term: "ac" (AC-GAN) or "adc" (ADC-GAN), see ganaug.losses
        fake_labels: str | list[float] = "real",  # classes of the fakes of a step: "real" (the
        # real batch's), "uniform" (every class as many G steps) or K class weights; see
        # ganaug.modules.fake_labels. Unconditional models have no classes and ignore it
        ema_decay: float = 0.999,  # decay of the generator's EMA copy; 0 = EMA equals G
        ema_start: int = 0,  # iteration from which the EMA averages (before: copies G)
        condition_fade: tuple[int, int] | None = None,  # iterations (start, end) over which the
        # label fades in (transitional conditioning, see condition_strength); None = from the start
        seed: int = 0,  # seeds the networks' initialisation, noise, augmentation and grid noise
        grid_size: int = 64,  # images in the fixed-noise grid; conditional: grid_size // num_classes per class
        sample_every_n_epochs: int = 1,  # write a sample grid every n epochs; 0 = never
        check_finite_every_n_steps: int = 1,  # stop on a non-finite loss, checked every n D steps; 0 = never
        channels_last: bool = False,  # NHWC memory format for the networks and real batches:
        # faster convolutions (oneDNN on CPUs, tensor cores on GPUs); not the same last bits
    ) -> None:
        super().__init__()
        self._validate_options(locals())
        self.save_hyperparameters()
        # The values the networks are built with. Under LightningCLI the hparams record the
        # configuration as given, which may differ (GAN ignores a linked num_classes).
        self.num_classes = num_classes
        self.architecture = dict(latent_dim=latent_dim, num_classes=num_classes,
                                 channels=channels, image_size=image_size)
        self.adversarial_loss = get_loss(loss)
        self.fake_label_policy = fake_label_policy(fake_labels, num_classes)
        self.diff_augment = DiffAugment(augment_policy)
        self.augment_schedule: AugmentSchedule = (
            AlwaysAugment() if ada_target is None
            else AdaptiveAugment(target=ada_target, interval=ada_interval, images=ada_images))
        self._sync_augment_probability()

        # networks, initialised from ``seed`` alone, and the EMA copy of the generator
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(step_seed(seed, 0, 0, _INIT_STREAM))
            self.generator = self.build_generator()
            self.discriminator = self.build_discriminator()
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False).eval()
        if channels_last:
            for network in (self.generator, self.discriminator, self.generator_ema):
                network.to(memory_format=torch.channels_last)

        # fixed noise for sample grids: a buffer, so it is in every checkpoint
        fixed = torch.Generator().manual_seed(seed)
        per_class = max(1, grid_size // num_classes) if num_classes else grid_size
        n_grid = per_class * num_classes if num_classes else grid_size
        self.register_buffer("fixed_z", torch.randn(n_grid, latent_dim, generator=fixed))
        labels = class_balanced_labels(num_classes, per_class, interleaved=True)
        self.register_buffer("fixed_labels", labels)

        self.automatic_optimization = False
        self.d_steps_done = 0  # D steps taken, over the whole fit (restored on resume)
        self.iteration = 0  # G steps taken = completed iterations (restored on resume)
        self._rng: torch.Generator | None = None
        if condition_fade is not None:
            faded = [name for name in ("generator", "discriminator")
                     if not hasattr(getattr(self, name), "condition_scale")]
            if faded:
                raise ValueError(f"condition_fade needs networks whose label contribution can be "
                                 f"scaled (a condition_scale attribute); this {type(self).__name__}'s "
                                 f"{' and '.join(faded)} has none. Use ConditionalGAN, or "
                                 "condition_fade=None")
        self._apply_condition_strength()

    @staticmethod
    def _validate_options(options: dict[str, Any]) -> None:
        def positive(name: str) -> None:
            if options[name] < 1:
                raise ValueError(f"{name} must be >= 1, got {options[name]}")

        for name in ("latent_dim", "channels", "image_size", "d_steps"):
            positive(name)
        if options["num_classes"] < 0:
            raise ValueError(f"num_classes must be >= 0 (0 = unconditional), got {options['num_classes']}")
        if not 0.0 <= options["ema_decay"] < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {options['ema_decay']}")
        for name in ("lr_g", "lr_d"):
            if not (options[name] > 0 and math.isfinite(options[name])):
                raise ValueError(f"{name} must be a positive number, got {options[name]}")
        for name in ("gp_weight", "r1_gamma", "mode_seeking_weight", "class_loss_weight", "ema_start",
                     "sample_every_n_epochs", "check_finite_every_n_steps"):
            if options[name] < 0:
                raise ValueError(f"{name} must be >= 0, got {options[name]}")
        fade = options["condition_fade"]
        if fade is not None:
            if options["num_classes"] < 1:
                raise ValueError("condition_fade fades a class condition in: it needs num_classes "
                                 f">= 1, got {options['num_classes']}")
            if len(fade) != 2 or not 0 <= fade[0] < fade[1]:
                raise ValueError("condition_fade must be two iterations (start, end) with "
                                 f"0 <= start < end, got {fade}")
        if options["mode_seeking_pairs"] not in MODE_SEEKING_PAIRS:
            raise ValueError(f"mode_seeking_pairs must be one of {MODE_SEEKING_PAIRS}, "
                             f"got {options['mode_seeking_pairs']!r}")
        if options["class_loss"] not in CLASS_LOSSES:
            raise ValueError(f"class_loss must be one of {CLASS_LOSSES}, got {options['class_loss']!r}")
        if options["class_loss_weight"] > 0 and options["num_classes"] < 2:
            raise ValueError("class_loss_weight > 0 trains an auxiliary classifier of the classes: "
                             f"it needs num_classes >= 2, got {options['num_classes']}")
        fake_label_policy(options["fake_labels"], options["num_classes"])  # raises if wrong
        if len(options["betas"]) != 2:
            raise ValueError(f"betas must be two numbers, got {options['betas']}")
        if options["ada_interval"] < 1:
            raise ValueError(f"ada_interval must be >= 1 (D steps), got {options['ada_interval']}")
        if not options["ada_images"] > 0:
            raise ValueError(f"ada_images must be > 0 (real images), got {options['ada_images']}")
        target = options["ada_target"]
        if target is not None:
            if not 0.0 < target < 1.0:
                raise ValueError(f"ada_target must be in (0, 1) (ADA uses 0.6), or None to keep "
                                 f"the augment probability at 1; got {target}")
            if not options["augment_policy"].strip(" ,"):
                raise ValueError("ada_target adapts the probability of the augment policy's ops, "
                                 "but augment_policy is empty: give a policy "
                                 "(e.g. 'color,translation,cutout') or ada_target=None")

    # networks: the extension point

    def build_generator(self) -> nn.Module:
        """Return the generator: ``forward(z, y=None)`` -> images (N, C, H, W) in [-1, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_generator()")

    def build_discriminator(self) -> nn.Module:
        """Return the discriminator: ``forward(images, y=None)`` -> logits (N,)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_discriminator()")

    @property
    def augment_probability(self) -> float:
        """The probability with which each augment op is applied to each D input now: 1 unless
        ``ada_target`` is set, then adapted during training (``augment_schedule``)."""
        return self.augment_schedule.probability

    def _sync_augment_probability(self) -> None:
        self.diff_augment.probability = self.augment_schedule.probability

    @property
    def conditional(self) -> bool:
        """Whether the model takes class labels."""
        return self.num_classes > 0

    def condition_strength(self, iteration: int | None = None) -> float:
        """How much of the class condition the networks use at ``iteration`` (default: now).

        With ``condition_fade=(start, end)`` (transitional conditioning, Shahbazi et al. 2022,
        "Collapse by Conditioning: Training Class-conditional GANs with Limited Data",
        https://arxiv.org/abs/2201.06578): 0 until ``start``, so that the networks first learn
        the images of all classes together, rising linearly to 1 at ``end``. It multiplies the
        generator's label embedding, the discriminator's class term and the generator's
        auxiliary classification term; the auxiliary classifier itself learns the real classes
        throughout. Without ``condition_fade``: 1.
        """
        fade = self.hparams.condition_fade
        if fade is None:
            return 1.0
        iteration = self.iteration if iteration is None else iteration
        start, end = fade
        return min(1.0, max(0.0, (iteration - start) / (end - start)))

    def _apply_condition_strength(self) -> None:
        if self.hparams.condition_fade is None:
            return
        strength = self.condition_strength()
        for network in (self.generator, self.discriminator, self.generator_ema):
            network.condition_scale = strength

    def train(self, mode: bool = True) -> GANModule:
        """Set train/eval mode; the EMA generator always stays in eval mode (running BN stats)."""
        super().train(mode)
        self.generator_ema.eval()
        return self

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images from the EMA generator for noise ``z`` (and labels ``y`` when conditional)."""
        return self.generator_ema(z, y if self.conditional else None)

    # Lightning wiring

    def setup(self, stage: str) -> None:
        # checkpoints (ckpt_path, ddp_spawn's weights) read safely and written atomically
        use_safe_checkpoint_io(self._trainer)
        strategy = getattr(self._trainer, "strategy", None) if self._trainer else None
        kwargs = getattr(strategy, "_ddp_kwargs", None)
        if isinstance(strategy, DDPStrategy) and kwargs is not None:
            if not kwargs.get("find_unused_parameters", False):
                # A D step leaves G without gradients and vice versa; DDP must not wait for them.
                kwargs["find_unused_parameters"] = True
                rank_zero_info("ganaug: GAN training under DDP sets find_unused_parameters=True")

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        betas = tuple(hp.betas)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=hp.lr_g, betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr_d, betas=betas)
        return [opt_g, opt_d]

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        if self.hparams.channels_last:
            batch = [batch[0].contiguous(memory_format=torch.channels_last), *batch[1:]]
        real, labels = self.unpack_batch(batch)
        opt_g, opt_d = self.optimizers()
        self._seed_step_rng()

        # discriminator step on this batch
        d_losses = self.discriminator_losses(real, labels)
        self._optimize(opt_d, d_losses, "discriminator")
        self.d_steps_done += 1
        self.log_dict({f"d/{k}": v.detach() for k, v in d_losses.items()}, prog_bar=False)
        self._observe_augment(d_losses, real.shape[0])

        # generator step after every d_steps-th discriminator step, then the EMA
        if self.d_steps_done % self.hparams.d_steps == 0:
            g_losses = self.generator_losses(real, labels)
            self._optimize(opt_g, g_losses, "generator")
            self.iteration += 1
            self._apply_condition_strength()
            decay = self.hparams.ema_decay if self.iteration > self.hparams.ema_start else 0.0
            update_ema(self.generator_ema, self.generator, decay)
            self._average_ema_buffers()
            self.log_dict({f"g/{k}": v.detach() for k, v in g_losses.items()}, prog_bar=False)
        self.log("loss_d", d_losses["loss"].detach(), prog_bar=True)

    # what a step sees: subclasses may override these

    @property
    def step_rng(self) -> torch.Generator | None:
        """The generator of this step's randomness (noise, augmentation, penalties), seeded
        from ``(seed, rank, D steps done)`` at every D step; None before the first step."""
        return self._rng

    def unpack_batch(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor | None]:
        """The batch's images and the labels the step sees (None for an unconditional model),
        checked on every batch: shapes and dtypes, and the ranges of both in one device sync
        (see docs/benchmarks.md for its cost)."""
        real, labels = batch[0], batch[1] if len(batch) > 1 else None
        hp = self.hparams
        check_batch(real, labels, num_classes=self.num_classes if self.conditional else None,
                    channels=hp.channels, size=(hp.image_size, hp.image_size),
                    name="training images")
        return real, labels if self.conditional else None

    def generator_inputs(self, n: int,
                         condition: Tensor | None) -> tuple[Tensor, Tensor | None, int]:
        """Noise and conditions of a G step's fakes, and how many mode-seeking pairs they hold.

        Without mode seeking: ``n`` noise vectors for the ``n`` conditions, and 0 pairs. With it,
        two noise vectors per condition, ``[z1; z2]`` for ``[c; c]``: for all ``n`` conditions
        (``mode_seeking_pairs="extra"``, twice the fakes of a step without it) or for the first
        ``n // 2`` (``"split"``: MSGAN's own way, a G step of ``n`` fakes as without it).
        """
        if self.hparams.mode_seeking_weight == 0:
            return self.draw_noise(n), condition, 0
        pairs = n if self.hparams.mode_seeking_pairs == "extra" else n // 2
        if pairs < 1:
            raise ValueError("mode_seeking_pairs='split' pairs the images of a batch: it needs "
                             f"batches of at least 2 images, got {n}")
        z = torch.cat([self.draw_noise(pairs), self.draw_noise(pairs)])
        if condition is not None:
            condition = torch.cat([condition[:pairs], condition[:pairs]])
        return z, condition, pairs

    def add_mode_seeking_term(self, losses: dict[str, Tensor], fake: Tensor, z: Tensor,
                              pairs: int) -> None:
        """Add MSGAN's term over the ``pairs`` noise pairs of :meth:`generator_inputs` (``z``
        and the ``fake`` images made from it) to ``losses`` and to its ``"loss"``, weighted by
        ``mode_seeking_weight``; nothing when there are no pairs."""
        if pairs:
            losses["mode_seeking"] = mode_seeking_penalty(*fake.split(pairs), *z.split(pairs))
            weight = self.hparams.mode_seeking_weight
            losses["loss"] = losses["loss"] + weight * losses["mode_seeking"]

    def generator_penalties(self) -> list[GeneratorPenalty]:
        """The terms of G's loss computed from G's parameters (:mod:`ganaug.modules.penalties`),
        which a family builds from its options; none here."""
        return []

    def add_generator_penalties(self, losses: dict[str, Tensor]) -> None:
        """Add every :meth:`generator_penalties` term to ``losses`` (under its name) and, times
        its weight, to ``losses["loss"]``."""
        for penalty in self.generator_penalties():
            losses[penalty.name] = penalty(self.generator)
            losses["loss"] = losses["loss"] + penalty.weight * losses[penalty.name]

    def draw_noise(self, n: int) -> Tensor:
        """Standard normal noise (n, latent_dim) from this step's generator."""
        rng = self._rng
        device = rng.device if rng is not None else self.device
        z = torch.randn(n, self.hparams.latent_dim, generator=rng, device=device)
        return z.to(self.device, non_blocking=True)

    def discriminate(self, images: Tensor, labels: Tensor | None, **kwargs: Any) -> Any:
        """The one place D sees images: augmented, real and fake alike, in D and G steps.

        ``kwargs`` go to the discriminator (``with_class_logits=True`` when the auxiliary
        classification term is on).
        """
        return self.discriminator(self.diff_augment(images, generator=self._rng), labels, **kwargs)

    def _discriminate_with_classes(self, images: Tensor,
                                   labels: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Logits, and class logits when ``class_loss_weight > 0`` (else None)."""
        if self.hparams.class_loss_weight > 0:
            return self.discriminate(images, labels, with_class_logits=True)
        return self.discriminate(images, labels), None

    def draw_fake_labels(self, labels: Tensor | None) -> Tensor | None:
        """Classes of the fake images of a step, drawn by the ``fake_labels`` policy from this
        step's RNG (:mod:`ganaug.modules.fake_labels`); None for an unconditional model."""
        if labels is None:
            return None
        return self.fake_label_policy(labels, self.step_rng)

    def discriminator_losses(self, real: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """The discriminator's losses for one batch; ``"loss"`` is what it minimises."""
        hp = self.hparams
        n = real.shape[0]
        fake_labels = self.draw_fake_labels(labels)
        with torch.no_grad():
            fake = self.generator(self.draw_noise(n), fake_labels)
        if hp.r1_gamma > 0:
            real = real.detach().requires_grad_(True)
        both_labels = torch.cat([labels, fake_labels]) if labels is not None else None
        logits, class_logits = self._discriminate_with_classes(torch.cat([real, fake]), both_labels)
        real_logits, fake_logits = logits.split(n)

        losses = {"adversarial": self.adversarial_loss.discriminator(real_logits, fake_logits)}
        if class_logits is not None:
            losses["class"] = class_loss_discriminator(hp.class_loss, class_logits[:n], labels,
                                                       class_logits[n:], fake_labels)
        if hp.gp_weight > 0:
            critic = lambda x: self.discriminate(x, labels)  # noqa: E731
            losses["gradient_penalty"] = gradient_penalty(critic, real, fake, generator=self._rng)
        if hp.r1_gamma > 0:
            losses["r1"] = r1_penalty(real_logits, real)
        return self.total_discriminator_loss(losses, real_logits, fake_logits)

    def total_discriminator_loss(self, losses: dict[str, Tensor], real_logits: Tensor,
                                 fake_logits: Tensor) -> dict[str, Tensor]:
        """Add ``"loss"``, the adversarial term plus the weighted penalties present in
        ``losses``, and the mean logits (for the logs)."""
        hp = self.hparams
        losses["loss"] = (
            losses["adversarial"]
            + hp.gp_weight * losses.get("gradient_penalty", 0.0)
            + 0.5 * hp.r1_gamma * losses.get("r1", 0.0)
            + hp.class_loss_weight * losses.get("class", 0.0)
        )
        losses["real_logits"] = real_logits.detach().mean()
        losses["fake_logits"] = fake_logits.detach().mean()
        losses["real_sign"] = real_logits.detach().float().sign().mean()  # ADA's signal
        return losses

    def generator_losses(self, real: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """The generator's losses, for fakes of the classes ``draw_fake_labels`` gives.

        With ``mode_seeking_weight > 0`` labels get two noise vectors (``generator_inputs``),
        and G also minimises ``1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps)``: the
        mode-seeking term of MSGAN (Mao et al. 2019, https://arxiv.org/abs/1903.05628), which
        penalises a generator that maps different noise to the same image.

        With ``class_loss_weight > 0`` the discriminator carries an auxiliary classifier, and G
        also minimises its verdict on the fakes' classes: with ``class_loss="ac"`` (AC-GAN,
        Odena et al. 2017, https://arxiv.org/abs/1610.09585, the classifier fitted to real images
        only) the cross-entropy of the classes asked for, a direct push towards images of that
        class; with ``"adc"`` (ADC-GAN, Hou et al. 2022, https://arxiv.org/abs/2107.10060) the
        classifier also learns each class's fakes, and G makes images it cannot tell from real
        images of their class (:func:`ganaug.losses.class_loss_generator`).
        """
        z, labels, pairs = self.generator_inputs(real.shape[0], self.draw_fake_labels(labels))
        fake = self.generator(z, labels)
        logits, class_logits = self._discriminate_with_classes(fake, labels)
        losses = {"adversarial": self.adversarial_loss.generator(logits)}
        losses["loss"] = losses["adversarial"]
        self.add_mode_seeking_term(losses, fake, z, pairs)
        self.add_generator_penalties(losses)
        if class_logits is not None:
            losses["class"] = class_loss_generator(self.hparams.class_loss, class_logits, labels)
            class_weight = self.hparams.class_loss_weight * self.condition_strength()
            losses["loss"] = losses["loss"] + class_weight * losses["class"]
        return losses

    # sampling

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: Tensor | Sequence[int] | None = None,
        generator: torch.Generator | None = None,
        *,
        batch_size: int = 256,
        truncation: float | None = None,
        temperature: float = 1.0,
    ) -> Tensor:
        """``n`` images in [-1, 1] from the EMA generator, on this module's device.

        Args:
            n: number of images.
            labels: class of each image (n,) for conditional models; None draws classes
                uniformly at random. Must be None for unconditional models.
            generator: RNG for the noise (and random labels); None uses the global RNG.
            batch_size: images generated per forward pass.
            truncation: redraw noise entries with ``|z| > truncation`` (the truncation trick of
                Brock et al. 2019: more typical, less diverse images); None = no truncation.
            temperature: scale of the noise (< 1 more typical, > 1 more diverse images).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        labels = self._sample_labels(n, labels, generator)
        noise_device = generator.device if generator is not None else self.device
        images = []
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            z = latent_noise(stop - start, self.hparams.latent_dim, generator=generator,
                             device=noise_device, truncation=truncation,
                             temperature=temperature).to(self.device)
            y = labels[start:stop] if labels is not None else None
            images.append(self.generator_ema(z, y))
        if not images:
            c, s = self.hparams.channels, self.hparams.image_size
            return torch.empty(0, c, s, s, device=self.device)
        return torch.cat(images)

    @torch.no_grad()
    def generate(
        self,
        n_per_class: int,
        generator: torch.Generator | None = None,
        *,
        classes: Sequence[int] | Tensor | None = None,
        batch_size: int = 256,
        truncation: float | None = None,
        temperature: float = 1.0,
        **sample_options: Any,
    ) -> tuple[Tensor, Tensor | None]:
        """A class-balanced bank: ``n_per_class`` images of every class, on the CPU.

        Returns ``(images, labels)`` sorted by class (in the order of ``classes``; None = every
        class); unconditional models return ``n_per_class`` images and ``None`` labels.
        ``truncation``, ``temperature`` and ``sample_options`` (a family's condition, e.g.
        DAGAN's ``source=``) go to :meth:`sample`.
        """
        if n_per_class < 0:
            raise ValueError(f"n_per_class must be >= 0, got {n_per_class}")
        options = dict(batch_size=batch_size, truncation=truncation, temperature=temperature,
                       **sample_options)
        if classes is None and not self.conditional:
            return self.sample(n_per_class, None, generator, **options).cpu(), None
        images, labels = draw_class_balanced(self, n_per_class, generator, classes=classes,
                                             **options)
        return images.cpu(), labels

    def bind(self, data: object) -> ClassConditionalSampler:
        """A sampler of this model's images for the classes of the real, labelled ``data`` (a
        dataset of ``(image, label)``): a label-conditioned GAN samples classes by itself and
        returns itself; a family that makes images from real ones (DAGAN) binds ``data``."""
        return self

    def _sample_labels(self, n: int, labels: Tensor | Sequence[int] | None,
                       generator: torch.Generator | None) -> Tensor | None:
        k = self.num_classes
        if not self.conditional:
            if labels is not None:
                raise ValueError("this model is unconditional: call sample() without labels")
            return None
        if labels is None:
            device = generator.device if generator is not None else self.device
            return torch.randint(0, k, (n,), generator=generator, device=device).to(self.device)
        labels = torch.as_tensor(labels, device=self.device)
        if labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"labels must be {n} integer class indices, got {tuple(labels.shape)} "
                             f"of {labels.dtype}")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= k):
            raise ValueError(f"labels must lie in [0, {k - 1}], got [{int(labels.min())}, "
                             f"{int(labels.max())}]")
        return labels.long()

    # sample grids

    def sample_grid(self) -> Tensor:
        """The fixed-noise grid of the EMA generator as uint8 (C, H, W); one row per class."""
        labels = self.fixed_labels if self.conditional else None
        with torch.no_grad():
            images = self.generator_ema(self.fixed_z, labels)
        if self.conditional:  # class-major order so that each row shows one class
            order = torch.argsort(self.fixed_labels, stable=True)
            images = images[order]
            nrow = len(order) // self.num_classes
        else:
            nrow = None
        return image_grid(images, nrow)

    def configure_callbacks(self) -> list[L.Callback]:
        """The sample-grid callback when ``sample_every_n_epochs`` asks for grids."""
        every = self.hparams.sample_every_n_epochs
        return [SampleGrids(every_n_epochs=every)] if every else []

    # checkpoint state beyond the state dict

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | Path,
        map_location: Any = None,
        hparams_file: str | Path | None = None,
        strict: bool | None = None,
        weights_only: bool = True,
        **kwargs: Any,
    ) -> GANModule:
        """Lightning's ``load_from_checkpoint``, without running code from the file.

        The file is read with ``weights_only=True``; the class it names must be this class, a
        subclass of it that ganaug ships or a user registered (``ganaug.register_gan``), or one
        of its bases (see :mod:`ganaug.modules.checkpoint`). ``GANModule.load_from_checkpoint``
        loads any registered GAN.
        """
        if weights_only is not True:
            raise ValueError("ganaug GAN checkpoints load with weights_only=True only: a "
                             "checkpoint never needs to run code to be read")
        if not isinstance(checkpoint_path, (str, Path)):
            raise TypeError("checkpoint_path must be a file path, got "
                            f"{type(checkpoint_path).__name__}")
        target = resolve_checkpoint_class(read_checkpoint(checkpoint_path, mmap=True), cls,
                                          checkpoint_path)
        with safe_globals():
            return super(GANModule, target).load_from_checkpoint(
                checkpoint_path, map_location=map_location, hparams_file=hparams_file,
                strict=strict, weights_only=True, **kwargs)

    def get_extra_state(self) -> Tensor:
        """The counters ``(d_steps_done, iteration)`` as a tensor in the state dict
        (``_extra_state``): they travel with the weights wherever the state dict goes, such as
        back from the workers of a ``ddp_spawn`` fit into the launching process."""
        return torch.tensor([self.d_steps_done, self.iteration], dtype=torch.int64)

    def set_extra_state(self, state: Any) -> None:
        """Restore the counters from :meth:`get_extra_state`'s tensor."""
        counters = torch.as_tensor(state)
        if counters.shape != (2,) or counters.is_floating_point():
            raise CheckpointMismatchError(
                f"the state dict's _extra_state must hold 2 integer counters (d_steps_done, "
                f"iteration), got {tuple(counters.shape)} of {counters.dtype}")
        self.d_steps_done, self.iteration = (int(v) for v in counters.tolist())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("global_step", 0) == 0 and self.d_steps_done > 0:
            warnings.warn(
                f"saving a checkpoint of a {type(self).__name__} that took {self.d_steps_done} D "
                f"steps with a trainer that counts none (global_step 0): the trainer did not run "
                "this fit, as the launching process of a ddp_spawn fit does not. The weights and "
                "the module's counters (d_steps_done, iteration) are right, but resuming from this "
                "file restarts the trainer's epochs and max_steps from 0; resume from a checkpoint "
                "written during the fit (ModelCheckpoint), or fit with strategy='ddp'",
                stacklevel=2)
        checkpoint[_CHECKPOINT_KEY] = {
            "class": class_name(type(self)),
            "lineage": [class_name(c) for c in type(self).__mro__ if issubclass(c, GANModule)],
            "architecture": self.architecture,
            "d_steps_done": self.d_steps_done,
            "iteration": self.iteration,
        }
        if isinstance(self.augment_schedule, AdaptiveAugment):
            checkpoint[_CHECKPOINT_KEY]["augment_schedule"] = self.augment_schedule.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(_CHECKPOINT_KEY)
        if state is None:
            raise CheckpointMismatchError(
                f"this checkpoint was not written by a ganaug GAN module; {type(self).__name__} "
                "can only load checkpoints saved by ganaug"
            )
        check_checkpoint_class(state, self)
        mine = self.architecture
        differences = [f"{k}: checkpoint {v!r}, model {mine[k]!r}"
                       for k, v in state["architecture"].items() if mine.get(k) != v]
        if differences:
            raise CheckpointMismatchError(
                f"the checkpoint ({state['class']}) does not fit this {type(self).__name__}: "
                + "; ".join(differences)
                + ". Build the model with the checkpoint's settings, or load it with "
                "<ModelClass>.load_from_checkpoint(path), which reads them from the checkpoint."
            )
        self.d_steps_done = int(state["d_steps_done"])
        self.iteration = int(state["iteration"])
        weights = checkpoint.get("state_dict")
        if isinstance(weights, dict):  # files written before the counters joined the state dict
            weights.setdefault("_extra_state", self.get_extra_state())
        self._apply_condition_strength()
        # an adaptive p continues where it was (a checkpoint without one: it starts afresh)
        if isinstance(self.augment_schedule, AdaptiveAugment) and "augment_schedule" in state:
            self.augment_schedule.load_state_dict(state["augment_schedule"])
        self._sync_augment_probability()

    # pickling: through the networks' state dicts

    def __getstate__(self) -> dict[str, Any]:
        """What ``pickle`` and ``copy.deepcopy`` keep: everything but the networks, which travel
        as state dicts (spectral-norm parametrisations refuse to be pickled) and are rebuilt from
        the hyperparameters on unpickling, as ``load_from_checkpoint`` rebuilds them."""
        state = dict(super().__getstate__())  # Lightning's drops the trainer
        modules = state.pop("_modules")
        state["_rng"] = None  # reseeded at every step
        state["_pickled_networks"] = {
            "state": {name: module.state_dict() for name, module in modules.items()},
            "training": {name: module.training for name, module in self.named_modules()},
        }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        networks = state.pop("_pickled_networks")
        kwargs = {k: v for k, v in state["_hparams"].items() if not k.startswith("_")}
        with torch.random.fork_rng(devices=[]):  # rebuilding must not move the global RNG
            fresh = type(self)(**kwargs)
        for name, module in fresh._modules.items():
            module_state = networks["state"][name]
            module.load_state_dict(module_state)
            floating = [t for t in module_state.values() if t.is_floating_point()]
            if floating:
                module.to(device=floating[0].device, dtype=floating[0].dtype)
        state["_modules"] = fresh._modules
        super().__setstate__(state)
        for name, module in self.named_modules():
            module.training = networks["training"].get(name, module.training)
        self._apply_condition_strength()
        self._sync_augment_probability()

    # internals

    def _observe_augment(self, d_losses: dict[str, Tensor], n_real: int) -> None:
        """Report a D step's overfitting signal to the augment schedule (summed over processes
        under DDP) and apply the probability it gives to the next augmentations."""
        if not isinstance(self.augment_schedule, AdaptiveAugment):
            return
        if "real_sign" not in d_losses:
            raise ValueError(
                f"ada_target needs the mean sign of D's real logits, d_losses['real_sign'], but "
                f"{type(self).__name__}.discriminator_losses returned {sorted(d_losses)}: end it "
                "with total_discriminator_loss(losses, real_logits, fake_logits)")
        world = self.trainer.world_size if self._trainer is not None else 1
        reduce = (lambda t: self.trainer.strategy.reduce(t, reduce_op="sum")) if world > 1 else None
        self.augment_schedule.observe(d_losses["real_sign"], n_real, reduce)
        self._sync_augment_probability()
        self.log("augment/p", self.augment_probability, prog_bar=False)

    def _average_ema_buffers(self) -> None:
        """Average the EMA generator's buffers (BatchNorm running statistics) over processes.

        Each process updates the live generator's statistics on its own batches, so without this
        every rank would sample with different statistics and a checkpoint would hold rank 0's.
        """
        average_buffers(self.generator_ema, self.trainer.world_size)

    def _seed_step_rng(self) -> None:
        if self._rng is None or self._rng.device != self.device:
            self._rng = torch.Generator(device=self.device)
        self._rng.manual_seed(step_seed(self.hparams.seed, self.global_rank, self.d_steps_done))

    def _optimize(self, optimizer: Any, losses: dict[str, Tensor], network: str) -> None:
        loss = losses["loss"]
        every = self.hparams.check_finite_every_n_steps
        if every and self.d_steps_done % every == 0:
            for name, value in losses.items():
                if not torch.isfinite(value):
                    raise FloatingPointError(
                        f"non-finite {network} loss {name!r} = {value.item()} at D step "
                        f"{self.d_steps_done} (iteration {self.iteration}, global_step "
                        f"{self.global_step}); lower the learning rates, add a gradient penalty "
                        "or use bf16 instead of fp16"
                    )
        with self.toggled_optimizer(optimizer):
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
