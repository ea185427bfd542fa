"""``DAGAN``: image-conditioned augmentation that works for classes never seen in training.

Antoniou, Storkey & Edwards 2017, "Data Augmentation Generative Adversarial Networks",
https://arxiv.org/abs/1711.04340. The generator turns a real image ``x`` and noise ``z`` into a
new image of ``x``'s class; the discriminator sees pairs, ``(x, x')`` with ``x'`` another real
image of the same class against ``(x, G(x, z))``. No class label enters either network, so a
trained DAGAN augments any class from its images alone, including classes it never saw.

What a step sees:

- pairs are drawn inside each batch (:func:`ganaug.modules.pairing.pair_within_batch`): every image
  gets a partner of its class, never itself unless ``self_pairs=True``. Batches need two images
  of every class they hold: train with :class:`ganaug.data.pairs.PairedImageDataModule`;
- the published objective is the default: Wasserstein loss with a gradient penalty of weight 10
  (Gulrajani et al. 2017) on interpolates between the real partner ``x'`` and the fake
  ``G(x, z)``, with ``x`` held fixed; 5 D steps per G step; Adam(1e-4, betas (0, 0.9)).
  ``loss="hinge", gp_weight=0`` (with ``d_spectral_norm=True``) is the alternative;
- DiffAugment (:mod:`ganaug.augment`) transforms every pair D sees, real and fake, in D and G
  steps. By default both images of a pair get the *same* random parameters
  (``pair_augment="shared"``): the pair moves as one scene, so D still sees how ``x'`` differs
  from ``x`` (a copy of ``x`` stays an exact copy, which D learns to reject), and the colour ops
  never mix the two images (each image is transformed on its own channels, with the pair's draw).
  ``"independent"`` draws separately for each image, which hides copies behind unrelated shifts.
  See ``docs/dagan.md``.

Sampling needs real images: :meth:`DAGAN.augment` makes ``n`` new images per input image, and
:meth:`DAGAN.with_source` binds a labelled set of real images so that ``sample(n, labels)`` and
``generate(n_per_class)`` work exactly like a conditional GAN's (the synthetic source of
``SyntheticBlendDataModule``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ganaug.augment import AugmentParameters
from ganaug.data.labelled import LabelledImages
from ganaug.images import check_images, from_uint8, image_grid
from ganaug.losses import gradient_penalty, r1_penalty
from ganaug.modules.base import GANModule
from ganaug.modules.noise import latent_noise
from ganaug.modules.checkpoint import register_gan
from ganaug.modules.pairing import pair_within_batch
from ganaug.networks.dagan import DAGANDiscriminator, DAGANGenerator

__all__ = ["DAGAN", "DAGANSource"]

PairAugment = Literal["shared", "independent"]
Source = Dataset | LabelledImages | tuple[Tensor, Sequence[int] | Tensor]


@register_gan
class DAGAN(GANModule):
    """DAGAN (Antoniou et al. 2017): ``G(x, z)`` is a new image of ``x``'s class.

    Options not listed here are those of ``ganaug.modules.base.GANModule``; the defaults of the
    loss, gradient penalty, D steps and Adam settings are the published WGAN-GP ones.
    ``num_classes`` is accepted and ignored: labels only pair images, they never enter a network.
    The condition of both networks is a real image (``conditions_on = "image"``): D judges pairs
    ``discriminate(images, condition=x)``, and ``bind(data)`` samples classes from ``data``.
    """

    conditions_on: ClassVar[str] = "image"

    def __init__(
        self,
        *,
        num_classes: int = 0,  # ignored: accepted so that one config can link any module to data
        g_width: int = 32,  # generator channels at full resolution
        d_width: int = 32,  # discriminator channels at full resolution
        architecture: tuple[int, ...] | None = None,  # both networks' width multipliers per
        # level, e.g. [1, 2, 4] for 16x16; None = the ARCHITECTURES row of image_size
        noise_planes: int = 4,  # noise feature planes concatenated at each coarse G level
        d_spectral_norm: bool = False,  # spectral norm in D (for the hinge loss; WGAN-GP: off)
        pair_augment: PairAugment = "shared",  # DiffAugment draw per pair, or per image
        self_pairs: bool = False,  # pair an image alone in its class with itself; False = error
        loss: str = "wasserstein",  # adversarial loss: "wasserstein" (published) or "hinge"
        gp_weight: float = 10.0,  # WGAN-GP weight on the pair's second image; 0 = off
        d_steps: int = 5,  # discriminator steps (batches) per generator step
        lr_g: float = 1e-4,  # Adam learning rate of the generator
        lr_d: float = 1e-4,  # Adam learning rate of the discriminator
        betas: tuple[float, float] = (0.0, 0.9),  # Adam betas of both optimizers
        **kwargs: Any,  # GANModule options (latent_dim, channels, image_size, augment_policy, ...)
    ) -> None:
        if pair_augment not in ("shared", "independent"):
            raise ValueError(
                f"pair_augment must be 'shared' or 'independent', got {pair_augment!r}")
        for name, value in (("g_width", g_width), ("d_width", d_width),
                            ("noise_planes", noise_planes)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        super().__init__(num_classes=0, loss=loss, gp_weight=gp_weight, d_steps=d_steps,
                         lr_g=lr_g, lr_d=lr_d, betas=betas, **kwargs)
        hp = self.hparams
        # Fixed real images for the sample grid, taken from the first training batch: one row
        # per source image, the source then images from fixed noise.
        self.grid_sources = max(1, math.isqrt(hp.grid_size))
        shape = (self.grid_sources, hp.channels, hp.image_size, hp.image_size)
        self.register_buffer("fixed_sources", torch.zeros(shape))
        self.register_buffer("fixed_sources_ready", torch.zeros((), dtype=torch.bool))
        self._grid_sources_checked = False

    def build_generator(self) -> nn.Module:
        hp = self.hparams
        return DAGANGenerator(channels=hp.channels, image_size=hp.image_size,
                              latent_dim=hp.latent_dim, width=hp.g_width,
                              architecture=hp.architecture,
                              noise_planes=hp.noise_planes)

    def build_discriminator(self) -> nn.Module:
        hp = self.hparams
        return DAGANDiscriminator(channels=hp.channels, image_size=hp.image_size,
                                  width=hp.d_width, architecture=hp.architecture,
                                  spectral_norm=hp.d_spectral_norm)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        """Images from the EMA generator for noise ``z`` and real images ``c`` (``G(z, c)``, as
        every GAN module)."""
        return self.generator_ema(z, c)

    # what a step sees

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        if not self._grid_sources_checked:  # one device sync per process, not one per step
            if not bool(self.fixed_sources_ready):
                self._keep_grid_sources(batch[0])
            self._grid_sources_checked = True
        super().training_step(batch, batch_idx)

    def discriminate(self, images: Tensor, condition: Tensor) -> Tensor:
        """The one place D sees images: pairs ``(condition, images)`` (the real image ``x`` and
        its real partner or ``G(z, x)``), augmented, real and fake alike, in D and G steps.

        ``pair_augment="shared"`` draws one set of DiffAugment parameters per pair and applies it
        to each image separately (never to the channel-concatenated pair, where the colour ops
        would mix the two images); ``"independent"`` draws one set per image.
        """
        augment, rng, x = self.diff_augment, self.step_rng, condition
        if self.hparams.pair_augment == "shared":
            params = augment.sample_parameters(x, rng)
            x, other = augment.apply(torch.cat([x, images]), _twice(params)).chunk(2)
        else:
            x, other = augment(x, generator=rng), augment(images, generator=rng)
        return self.discriminator(other, x)

    def discriminator_losses(self, real: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """D's losses: real pairs ``(x, x')`` of one class against ``(x, G(x, z))``."""
        hp = self.hparams
        n = real.shape[0]
        partner = pair_within_batch(labels, self.step_rng, allow_self=hp.self_pairs)
        other = real[partner]
        with torch.no_grad():
            fake = self.generator(self.draw_noise(n), real)
        if hp.r1_gamma > 0:
            other = other.detach().requires_grad_(True)
        logits = self.discriminate(torch.cat([other, fake]), torch.cat([real, real]))
        real_logits, fake_logits = logits.split(n)

        losses = {"adversarial": self.adversarial_loss.discriminator(real_logits, fake_logits)}
        if hp.gp_weight > 0:
            losses["gradient_penalty"] = self.pair_gradient_penalty(real, other, fake)
        if hp.r1_gamma > 0:
            losses["r1"] = r1_penalty(real_logits, other)
        return self.total_discriminator_loss(losses, real_logits, fake_logits)

    def pair_gradient_penalty(self, x: Tensor, other: Tensor, fake: Tensor) -> Tensor:
        """WGAN-GP on the pair's second image: ``E[(||d D(x, m) / d m|| - 1)^2]`` at random
        interpolates ``m`` of the real partner ``other`` and ``fake``; ``x`` is held fixed.
        """
        return gradient_penalty(lambda mixed: self.discriminate(mixed, x), other, fake,
                                generator=self.step_rng)

    def generator_losses(self, real: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """G's loss: D's verdict on ``(x, G(x, z))``.

        With ``mode_seeking_weight > 0`` source images get two noise vectors
        (``generator_inputs``) and G also minimises the MSGAN term of ``GANModule`` (Mao et al.
        2019) between ``G(x, z1)`` and ``G(x, z2)``: a DAGAN that maps all noise to one variant
        of ``x`` is penalised.
        """
        z, sources, pairs = self.generator_inputs(real.shape[0], real)
        fake = self.generator(z, sources)
        adversarial = self.adversarial_loss.generator(self.discriminate(fake, sources))
        losses = {"adversarial": adversarial, "loss": adversarial}
        self.add_mode_seeking_term(losses, fake, z, pairs)
        self.add_generator_penalties(losses)
        return losses

    # sampling

    @torch.no_grad()
    def augment(
        self,
        x: Tensor,  # real images (N, C, H, W) in [-1, 1], any classes (seen in training or not)
        n: int,  # new images per input image
        generator: torch.Generator | None = None,  # RNG of the noise; None = global
        *,
        batch_size: int = 256,  # images generated per forward pass
        truncation: float | None = None,  # redraw noise entries with |z| > truncation
        temperature: float = 1.0,  # scale of the noise
    ) -> Tensor:
        """``n`` new images of every input image from the EMA generator, (N * n, C, H, W) on
        this module's device, input-major: rows ``i * n`` to ``i * n + n - 1`` come from ``x[i]``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        hp = self.hparams
        check_images(x, channels=hp.channels, size=(hp.image_size, hp.image_size),
                     name="images to augment")
        sources = x.repeat_interleave(n, dim=0)
        return self._from_sources(sources, generator, batch_size=batch_size,
                                  truncation=truncation, temperature=temperature)

    def with_source(self, source: Source, *, num_classes: int | None = None) -> DAGANSource:
        """This DAGAN bound to labelled real images: a drop-in conditional sampler.

        ``source`` is a dataset of ``(image, label)`` (images float in [-1, 1]), a
        ``LabelledImages`` or an ``(images, labels)`` pair; ``num_classes`` defaults to the
        dataset's, else the largest label + 1.
        """
        return DAGANSource(self, source, num_classes=num_classes)

    def bind(self, data: Source) -> DAGANSource:
        """Samples of the classes of ``data`` made from its real images: ``with_source(data)``;
        a ``DAGANSource`` of this DAGAN is returned as it is."""
        if isinstance(data, DAGANSource):
            if data.model is self:
                return data
            return self.with_source((data.images, data.labels), num_classes=data.num_classes)
        return self.with_source(_required(data))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: Tensor | Sequence[int] | None = None,  # (n,) classes; None = any class with images
        generator: torch.Generator | None = None,  # RNG of the source order and the noise
        *,
        source: Source | None = None,  # the real images, required (see bind)
        batch_size: int = 256,  # images generated per forward pass
        truncation: float | None = None,  # redraw noise entries with |z| > truncation
        temperature: float = 1.0,  # scale of the noise
    ) -> Tensor:
        """``n`` images in [-1, 1] on this module's device, image ``i`` of class ``labels[i]``
        made from a real image of that class in ``source``.

        Each class's requests cycle through its source images in a random order, so they are
        used equally often; a class needs at least one source image to be sampled.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        bound = self.bind(source)
        present = bound.classes()
        gen_device = generator.device if generator is not None else torch.device("cpu")
        if labels is None:
            pick = torch.randint(0, len(present), (n,), generator=generator, device=gen_device)
            labels = present[pick.cpu()]
        labels = torch.as_tensor(labels).cpu()
        if labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"labels must be {n} integer class indices, got "
                             f"{labels.dtype} {tuple(labels.shape)}")
        labels = labels.long()
        if n and (int(labels.min()) < 0 or int(labels.max()) >= bound.num_classes):
            raise ValueError(f"labels must lie in [0, {bound.num_classes - 1}]")
        missing = sorted(set(labels.tolist()) - set(present.tolist()))
        if missing:
            raise ValueError(f"class(es) {missing[:10]} have no source image to augment; pass "
                             "a source holding at least one real image of every class asked for")

        index = torch.empty(n, dtype=torch.long)
        for label in labels.unique().tolist():
            wanted = torch.nonzero(labels == label).flatten()
            members = torch.nonzero(bound.labels == label).flatten()
            order = torch.randperm(len(members), generator=generator, device=gen_device).cpu()
            index[wanted] = members[order][torch.arange(len(wanted)) % len(members)]
        return self._from_sources(bound.images[index], generator, batch_size=batch_size,
                                  truncation=truncation, temperature=temperature)

    @torch.no_grad()
    def generate(
        self,
        n_per_class: int,
        generator: torch.Generator | None = None,
        *,
        source: Source | None = None,
        classes: Sequence[int] | Tensor | None = None,  # None = every class source has images of
        **kwargs: Any,
    ) -> tuple[Tensor, Tensor]:
        """``n_per_class`` images of every class of ``source`` (required), on the CPU, sorted by
        class: ``GANModule.generate`` with the classes that have source images."""
        bound = self.bind(source)
        return super().generate(n_per_class, generator, source=bound,
                                classes=bound.classes() if classes is None else classes, **kwargs)

    def _from_sources(self, sources: Tensor, generator: torch.Generator | None, *,
                      batch_size: int, truncation: float | None, temperature: float) -> Tensor:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # all noise in one draw, so that the images do not depend on batch_size
        noise_device = generator.device if generator is not None else self.device
        noise = latent_noise(len(sources), self.hparams.latent_dim, generator=generator,
                             device=noise_device, truncation=truncation, temperature=temperature)
        images = [self.generator_ema(z.to(self.device), chunk.to(self.device))
                  for chunk, z in zip(sources.split(batch_size), noise.split(batch_size))]
        if not images:
            return torch.empty(0, *sources.shape[1:], device=self.device)
        return torch.cat(images)

    # sample grids

    def sample_grid(self) -> Tensor:
        """One row per fixed real image: the image, then EMA generator outputs for fixed noise."""
        k = self.grid_sources
        per_source = max(1, self.fixed_z.shape[0] // k)
        z = self.fixed_z[: k * per_source]
        sources = self.fixed_sources.repeat_interleave(per_source, dim=0)
        with torch.no_grad():
            made = self.generator_ema(z, sources).view(k, per_source, *sources.shape[1:])
        rows = torch.cat([self.fixed_sources.unsqueeze(1), made], 1)  # (k, 1 + per_source, ...)
        return image_grid(rows.flatten(0, 1), nrow=1 + per_source)

    def _keep_grid_sources(self, images: Tensor) -> None:
        with torch.no_grad():
            index = torch.arange(self.grid_sources, device=images.device) % images.shape[0]
            self.fixed_sources.copy_(images[index])
            self.fixed_sources_ready.fill_(True)

    # internals

    def unpack_batch(self, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor | None]:
        """The batch's images and their labels, which pair the images by class."""
        real, _ = super().unpack_batch(batch)
        labels = batch[1] if len(batch) > 1 else None
        if labels is None or labels.dtype != torch.long or labels.shape != real.shape[:1]:
            got = "none" if labels is None else f"{labels.dtype} {tuple(labels.shape)}"
            raise ValueError(f"DAGAN pairs images by class: every batch needs int64 labels, one "
                             f"per image ({real.shape[0]}), got {got}")
        return real, labels


class DAGANSource(nn.Module):
    """A DAGAN bound to labelled real images (what ``DAGAN.bind`` and ``with_source`` return):
    it samples classes like a conditional GAN (``ClassConditionalSampler``).

    ``sample`` and ``generate`` are the DAGAN's with ``source=`` these images: each image is
    made from a real image of its class, each class's images used in turn; ``generate`` returns
    a class-balanced bank. Classes need at least one real image to be sampled.
    ``SyntheticBlendDataModule(real, synthetic=dagan.with_source(real_train_set))`` blends its
    images like those of a conditional GAN.
    """

    def __init__(self, model: DAGAN, source: Source, *, num_classes: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.images, self.labels = _labelled_images(source)
        if num_classes is None:
            num_classes = getattr(source, "num_classes", None)
            if num_classes is None:
                num_classes = int(self.labels.max()) + 1 if len(self.labels) else 0
        if len(self.labels) and int(self.labels.max()) >= num_classes:
            raise ValueError(f"source labels reach {int(self.labels.max())} but num_classes is "
                             f"{num_classes}")
        self.num_classes = num_classes
        hp = model.hparams
        check_images(self.images, channels=hp.channels, size=(hp.image_size, hp.image_size),
                     name="source images")

    @property
    def device(self) -> torch.device:
        return self.model.device

    def class_counts(self) -> Tensor:
        """Real source images per class, int64 (num_classes,)."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    def classes(self) -> Tensor:
        """The classes with at least one source image, int64, ascending."""
        return torch.nonzero(self.class_counts()).flatten()

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | Sequence[int] | None = None,
               generator: torch.Generator | None = None, **kwargs: Any) -> Tensor:
        """``DAGAN.sample(n, labels, generator, source=self, ...)``."""
        return self.model.sample(n, labels, generator, source=self, **kwargs)

    @torch.no_grad()
    def generate(self, n_per_class: int, generator: torch.Generator | None = None,
                 **kwargs: Any) -> tuple[Tensor, Tensor]:
        """``DAGAN.generate(n_per_class, generator, source=self, ...)``: a class-sorted bank on
        the CPU, as ``ConditionalGAN.generate``."""
        return self.model.generate(n_per_class, generator, source=self, **kwargs)


def _twice(params: AugmentParameters) -> AugmentParameters:
    """The same parameters for a batch of pairs stacked as ``cat([x, other])``."""
    return AugmentParameters(**{
        f.name: None if getattr(params, f.name) is None else getattr(params, f.name).repeat(2)
        for f in dataclasses.fields(params)
    })


def _required(source: Source | None) -> Source:
    if source is None:
        raise ValueError(
            "a DAGAN makes images from real ones: pass source= (a labelled dataset or "
            "(images, labels)), bind one with with_source(dataset), or call augment(x, n)"
        )
    return source


def _labelled_images(source: Source) -> tuple[Tensor, Tensor]:
    """Float images in [-1, 1] (N, C, H, W) and int64 labels (N,), on the CPU."""
    if isinstance(source, LabelledImages):
        return from_uint8(source.images), source.labels.clone()
    if isinstance(source, tuple) and len(source) == 2:
        images, labels = source
        labels = torch.as_tensor(labels).long().reshape(-1)
    elif isinstance(source, Dataset):
        items = [source[i] for i in range(len(source))]  # type: ignore[arg-type]
        if not items:
            raise ValueError("the source dataset is empty")
        images = torch.stack([item[0] for item in items])
        labels = torch.as_tensor([int(item[1]) for item in items], dtype=torch.long)
    else:
        raise ValueError(f"source must be a dataset of (image, label), LabelledImages or "
                         f"(images, labels), got {type(source).__name__}")
    if not isinstance(images, Tensor) or len(images) != len(labels):
        raise ValueError("source images must be a tensor with one label per image")
    if images.dtype == torch.uint8:
        images = from_uint8(images)
    return images.detach().cpu(), labels.cpu()
