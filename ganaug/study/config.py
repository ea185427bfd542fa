"""What a study varies: :class:`StudyConfig`, the ways of making synthetic data it compares
(:class:`Variant`), the ways synthetic images enter classifier training (:class:`Recipe`), and
:func:`copy_config` for validated changes."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganaug.classify.imbalance import check_imbalance_loss
from ganaug.config_errors import unknown_key_error
from ganaug.data.blend import SAMPLINGS
from ganaug.data.datamodule import TRAINING_SAMPLERS
from ganaug.diversity import DiversityControl
from ganaug.modules import resolve_gan

__all__ = ["RESULT_NEUTRAL_SETTINGS", "Recipe", "StudyConfig", "Variant", "copy_config",
           "setting_differences"]


def _check_keys(values: Any, cls: type, what: str) -> dict[str, Any]:
    """``values`` if it is a mapping of ``cls``'s fields (``gan`` too, for a study config), else
    a one-line error naming the first unknown key and the closest field names."""
    if not isinstance(values, dict):
        raise ValueError(f"{what} must be a mapping of option to value, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)} | ({"gan"} if cls is StudyConfig else set())
    for key in values:
        if key not in known:
            raise unknown_key_error(str(key), what, known)
    return values


SOURCES = ("gan", "interpolation")
"""Where a :class:`Variant`'s images come from: the study's GAN, or
:class:`~ganaug.data.interpolation.InterpolationSource` (same-class interpolation of the real
training images, no GAN trained)."""

_SOURCE_OPTIONS = {"gan": set(), "interpolation": {"neighbours"}}


@dataclass
class Variant:
    """One way of making synthetic data: a source (a GAN configuration, or same-class
    interpolation of the real images) plus a sampling-time control."""

    name: str = "plain"
    gan_options: dict[str, Any] = field(default_factory=dict)  # overrides of the study's GAN options
    control: dict[str, Any] = field(default_factory=dict)  # DiversityControl fields
    gan_sampler: str = "random"  # the order of the GAN's real batches (ImageDataModule(sampler=)):
    # "random", or "class_balanced" (every class equally often in D's batches, for a long tail)
    source: str = "gan"  # "gan" or "interpolation" (SOURCES)
    source_options: dict[str, Any] = field(default_factory=dict)  # interpolation: neighbours

    def diversity(self) -> DiversityControl:
        return DiversityControl(**self.control)

    @property
    def trains_own_gan(self) -> bool:
        """Whether the variant's GAN differs from the study's (its own options or sampler)."""
        return bool(self.gan_options) or self.gan_sampler != "random"

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"variant {self.name!r}: source must be one of {SOURCES}, got "
                             f"{self.source!r}")
        unknown = set(self.source_options) - _SOURCE_OPTIONS[self.source]
        if unknown:
            raise ValueError(f"variant {self.name!r}: source {self.source!r} takes options "
                             f"{sorted(_SOURCE_OPTIONS[self.source])}, got {sorted(unknown)}")
        if self.source != "gan" and self.trains_own_gan:
            raise ValueError(f"variant {self.name!r} makes its images by {self.source}, which trains "
                             f"no GAN: leave gan_options empty and gan_sampler 'random'")
        self.diversity()  # validates the control


BLEND_OPTIONS = ("synthetic_share", "resample_every_epoch", "sampling", "target",
                 "max_synthetic_per_real", "synthetic_until")
"""The :class:`Recipe` options that go to the blend rather than to ``ClassifierModule``."""

REAL_BLEND_OPTIONS = ("sampling",)
"""The blend options that also shape training on real images alone (a recipe's control run)."""

BALANCE_OPTIONS = ("target", "max_synthetic_per_real")
"""The blend options of ``balance`` mode: a recipe that sets one runs only in studies whose modes
are all ``balance``."""

RECIPE_OPTIONS = ("synthetic_weight", "distill_weight", "distill_temperature", "distill_on",
                  "class_weights", "imbalance_loss", "imbalance_options", *BLEND_OPTIONS,
                  "real_only")
"""What a :class:`Recipe` may set: ``ClassifierModule`` options, the blend's options, and
``real_only`` (no synthetic runs: the recipe is a real-only arm)."""

_SYNTHETIC_ONLY = ("synthetic_weight", "synthetic_share", "resample_every_epoch", "synthetic_until",
                   *BALANCE_OPTIONS)


@dataclass
class Recipe:
    """A way synthetic images enter a classifier's training: ``ClassifierModule`` options such as
    ``synthetic_weight`` (loss weight of a synthetic sample) or ``distill_weight`` /
    ``distill_temperature`` / ``distill_on`` (soft labels from the teacher, the same seed's
    classic-arm classifier), or the blend's ``synthetic_share`` (the fraction of every batch that
    is synthetic), ``resample_every_epoch`` (fresh images from the GAN at every epoch, drawn
    under the variant's diversity control, instead of the seed's bank) and ``synthetic_until``
    (synthetic images for that fraction of the steps, then the real images alone).

    Long-tail remedies are recipes too: ``class_weights``, ``imbalance_loss`` /
    ``imbalance_options`` (``ganaug.classify.imbalance``), the blend's ``sampling:
    class_balanced`` (class-balanced re-sampling), and, for ``balance`` mode, the partial top-ups
    ``target`` and ``max_synthetic_per_real``. ``real_only: true`` makes a recipe a real-only arm:
    its control run alone (classic augmentation, real images, the recipe), no synthetic run.

    A recipe that changes the loss of real samples (distillation on all samples, class weights,
    an imbalance loss, class-balanced sampling) gets a control run, the same recipe with classic
    augmentation on real images only, so that the table can tell a gain of the synthetic images
    from a gain of the recipe.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def classifier_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items()
                if k not in BLEND_OPTIONS and k != "real_only"}

    def blend_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k in BLEND_OPTIONS}

    def real_blend_options(self) -> dict[str, Any]:
        """The blend options of the recipe's control run (real images only)."""
        return {k: v for k, v in self.options.items() if k in REAL_BLEND_OPTIONS}

    @property
    def real_only(self) -> bool:
        """Whether the recipe is a real-only arm (its control run alone)."""
        return bool(self.options.get("real_only", False))

    def validate(self, modes: list[str]) -> None:
        """Refuse options a recipe may not set, or may not set together."""
        unknown_options = set(self.options) - set(RECIPE_OPTIONS)
        if unknown_options:
            raise ValueError(f"recipe {self.name!r} sets {sorted(unknown_options)}; a recipe "
                             f"sets options among {list(RECIPE_OPTIONS)}")
        options = self.options
        check_imbalance_loss(options.get("imbalance_loss"), options.get("imbalance_options"))
        if options.get("sampling", "random") not in SAMPLINGS:
            raise ValueError(f"recipe {self.name!r}: sampling must be one of {SAMPLINGS}, got "
                             f"{options['sampling']!r}")
        if options.get("imbalance_loss") is not None and options.get("class_weights") is not None:
            raise ValueError(f"recipe {self.name!r}: class_weights and imbalance_loss both weigh "
                             f"the loss by class: choose one")
        if options.get("sampling", "random") != "random" and \
                options.get("synthetic_share") is not None:
            raise ValueError(f"recipe {self.name!r}: sampling and synthetic_share both decide what "
                             f"a batch holds: choose one")
        until = options.get("synthetic_until")
        if until is not None and not (isinstance(until, (int, float)) and 0 < until < 1):
            raise ValueError(f"recipe {self.name!r}: synthetic_until is the fraction of the steps "
                             f"with synthetic images, in (0, 1), got {until!r}")
        if not isinstance(options.get("real_only", False), bool):
            raise ValueError(f"recipe {self.name!r}: real_only must be true or false")
        balance = [k for k in BALANCE_OPTIONS if k in options]
        if balance and set(modes) != {"balance"}:
            raise ValueError(f"recipe {self.name!r} sets {balance}, options of mode 'balance'; "
                             f"the study's modes are {modes}: set modes: [balance]")
        if self.real_only:
            synthetic = [k for k in _SYNTHETIC_ONLY if k in options]
            if options.get("distill_on") == "synthetic":
                synthetic.append("distill_on")
            if synthetic:
                raise ValueError(f"recipe {self.name!r} is real_only but sets {synthetic}, which "
                                 f"act on synthetic images only")
            if not self.needs_control:
                raise ValueError(f"recipe {self.name!r} is real_only but changes nothing of "
                                 f"training on real images; give it class_weights, an "
                                 f"imbalance_loss, sampling: class_balanced or distillation")

    @property
    def needs_teacher(self) -> bool:
        return self.options.get("distill_weight", 0.0) > 0

    @property
    def needs_control(self) -> bool:
        """Whether the recipe also changes training on real images (then it needs a control)."""
        options = self.options
        return (self.needs_teacher and options.get("distill_on", "all") == "all") \
            or options.get("class_weights") is not None \
            or options.get("imbalance_loss") is not None \
            or options.get("sampling", "random") != "random"


@dataclass
class StudyConfig:
    """Everything a study varies; YAML files under ``configs/study/`` set these fields.

    The defaults are the default study's recipe (what ``ganaug study`` runs with no options,
    :meth:`quick`): a config that names a few fields changes only those, and keeps the tuned
    GAN, filter and referees for the rest. A field it names replaces the default's whole value
    (``gan_options`` and ``classifier_options`` too, as dictionaries are not merged).
    """

    # real data: the subset every arm shares
    dataset: str = "mnist5k"
    root: str = "data"
    n_per_class: int = 50  # real training images per class (of the largest class when imbalanced)
    imbalance_factor: float | None = None  # a long tail from n_per_class (class 0) down to
    # n_per_class / imbalance_factor (last class); None = balanced
    test_per_class: int | None = None  # None = the official test split, or the rest of the pool
    image_size: int | None = None
    channels: int | None = None
    data_seed: int = 0  # seeds the real subset; the same for every run, so runs are paired

    # the grid
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    classifiers: list[str] = field(default_factory=lambda: ["small_cnn"])
    modes: list[str] = field(default_factory=lambda: ["augment"])
    ratios: list[float] = field(default_factory=lambda: [1.0])
    variants: list[Variant] = field(default_factory=lambda: [Variant(
        "filtered", control=dict(filter_misclassified=True, pool_factor=4, min_confidence=0.9))])
    recipes: list[Recipe] = field(default_factory=list)  # each adds gan+classic runs (and a control)
    gan_arms: list[str] = field(default_factory=lambda: ["gan+classic"])  # per variant,
    # mode and ratio; "synthetic" (synthetic images only: the classification accuracy score) is
    # run once per variant at the largest ratio's bank when cas is on
    cas: bool = True  # train on each bank alone and report its accuracy relative to real
    cas_classic: bool = False  # also train on each bank alone with classic augmentation (arm
    # "synthetic+classic") and report its accuracy relative to classic's: CAS under the
    # augmentation a user trains with

    # measuring the synthetic data
    judge_per_class: int = 150  # real images per class held out of training and test to train the
    # judge that measures each bank's class faithfulness; 0 = no judge
    second_judge: bool = False  # also train a second judge (another seed, the same images) and
    # report how often the two agree on each bank's images (judges_agree)
    class_novelty: bool = False  # also measure each bank's spread and novelty per class, in
    # pixels, against as many of the judge's held-out real images (ganaug.metrics.class_novelty)
    bank_referee_seeds: list[int] | None = field(default_factory=lambda: [0, 1, 2])  # the
    # classic-arm classifiers (first classifier)
    # of these seeds filter and pick the banks' images together, by their mean class
    # probabilities (ClassifierEnsemble); None = the referee alone (data_seed). The GAN's snapshot
    # is selected by the referee alone either way, so the GAN does not wait for them
    bank_referee_recipe: str | None = None  # filter the banks with the classifiers of this
    # recipe's control runs (e.g. a logit-adjusted real-only arm, fitter for rare classes than
    # plain classic augmentation) instead of the classic ones; None = the classic ones

    # classifier training
    classic_augment: str = "affine"  # the classic arm's policy (ganaug.classify.CLASSIC_POLICIES)
    classifier_options: dict[str, Any] = field(default_factory=lambda: dict(
        optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[0.7, 0.9], channels_last=True))
    max_steps: int = 1000  # classifier optimizer steps per run
    batch_size: int = 64
    per_classifier: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides of
    # classifier_options and max_steps for that classifier (the paper trains DIANet differently)

    # learning curves (curves/<run_id>.csv and curves-<classifier>.png)
    curve_points: int = 10  # points per run: training loss / error and test error every
    # max_steps // curve_points steps and at the last; 0 = no curves
    curve_test_per_class: int | None = 50  # test images per class a curve's test error is measured
    # on (a fixed subset, the same for every run, keeps curves cheap); None = the whole test set

    # the GAN: a registered GAN module (ganaug.register_gan) and its options. A config may write
    # the two as LightningCLI does, gan: {class_path: ..., init_args: {...}}; from_dict turns that
    # into these fields
    gan_class: str = "ganaug.ConditionalGAN"
    gan_options: dict[str, Any] = field(default_factory=lambda: dict(
        latent_dim=64, g_width=16, d_width=16, ema_decay=0.995, ema_start=200,
        class_loss_weight=1.0, class_loss="adc", mode_seeking_weight=0.25,
        mode_seeking_pairs="split", channels_last=True))
    gan_max_steps: int = 5000  # optimizer steps (D and G alike, as Lightning counts)
    gan_batch_size: int = 64
    gan_checkpoint: str | None = None  # use this trained GAN instead of training one
    gan_selection: dict[str, Any] | None = field(default_factory=lambda: dict(
        every_n_iterations=250, start_iteration=500, n_per_class=50, criterion="mean"))
    # SelectGenerator options (every_n_iterations, n_per_class, criterion, start_iteration): keep
    # the EMA snapshot the referee finds most faithful; None = keep the last

    # running
    threads: int = 1  # torch CPU threads (intra-op) of every task: runs, judge, teachers, banks.
    # A result setting: float sums, so the last bits of every gradient, depend on the thread count,
    # and every executor runs each task with this many, so that they give the same numbers
    gan_threads: int | None = None  # torch CPU threads of a GAN training; None = threads
    accelerator: str = "auto"
    cpus_per_run: float = 1.0  # CPUs a task reserves under the ray executor (at least its threads)
    gpus_per_run: float = 0.0  # GPUs a classifier run reserves under the ray executor; a fraction
    # (0.25) lets several runs share one GPU
    gpus_per_gan: float | None = None  # GPUs a GAN training reserves; None = gpus_per_run

    @classmethod
    def quick(cls) -> StudyConfig:
        """The default study that ``ganaug study`` runs with no options (under 10 minutes on two
        CPU cores): the dataclass defaults, which ``configs/study/mnist5k.yaml`` spells out."""
        return cls()

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudyConfig:
        _check_keys(values, cls, "a study config")
        values = dict(values)
        if "gan" in values:
            values.update(gan_fields(values.pop("gan"), values))
        if "variants" in values:
            values["variants"] = [v if isinstance(v, Variant) else
                                  Variant(**_check_keys(v, Variant, "a variant"))
                                  for v in values["variants"]]
        if "recipes" in values:
            values["recipes"] = [r if isinstance(r, Recipe) else
                                 Recipe(**_check_keys(r, Recipe, "a recipe"))
                                 for r in values["recipes"]]
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> StudyConfig:
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})

    def validate(self) -> None:
        resolve_gan(self.gan_class)  # a registered class, or an error naming them
        if not isinstance(self.gan_options, dict):
            raise ValueError(f"gan_options must be a mapping of option to value, got "
                             f"{self.gan_options!r}")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        if self.n_per_class < 1:
            raise ValueError(f"n_per_class must be >= 1, got {self.n_per_class}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        unknown_arms = set(self.gan_arms) - {"gan", "gan+classic"}
        if unknown_arms:
            raise ValueError(f"gan_arms may hold 'gan' and 'gan+classic', got {sorted(unknown_arms)}")
        if self.curve_points < 0:
            raise ValueError(f"curve_points must be >= 0, got {self.curve_points}")
        if self.curve_test_per_class is not None and self.curve_test_per_class < 1:
            raise ValueError(f"curve_test_per_class must be >= 1 or None, got "
                             f"{self.curve_test_per_class}")
        if self.judge_per_class < 0:
            raise ValueError(f"judge_per_class must be >= 0, got {self.judge_per_class}")
        if (self.second_judge or self.class_novelty) and not self.judge_per_class:
            raise ValueError("second_judge and class_novelty measure banks with the judge's "
                             "held-out real images: set judge_per_class > 0")
        if self.bank_referee_seeds is not None:
            seeds = self.bank_referee_seeds
            if not seeds or len(set(seeds)) != len(seeds) or \
                    not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
                raise ValueError(f"bank_referee_seeds must be distinct whole numbers (the seeds of "
                                 f"the classic-arm classifiers that filter the banks together), or "
                                 f"None for the referee alone; got {seeds!r}")
        recipe_names = [r.name for r in self.recipes]
        if self.bank_referee_recipe is not None:
            named = next((r for r in self.recipes if r.name == self.bank_referee_recipe), None)
            if named is None or not named.needs_control or named.needs_teacher:
                fit = [r.name for r in self.recipes if r.needs_control and not r.needs_teacher]
                raise ValueError(f"bank_referee_recipe must name a recipe that changes training "
                                 f"on real images without a teacher (its control runs are the "
                                 f"referees); got {self.bank_referee_recipe!r}, fit: {fit}")
        if len(set(recipe_names)) != len(recipe_names) or "" in recipe_names:
            raise ValueError(f"recipe names must be unique and not empty, got {recipe_names}")
        for recipe in self.recipes:
            recipe.validate(self.modes)
        for mode in self.modes:
            if mode not in ("replace", "augment", "balance"):
                raise ValueError(f"modes must be 'replace', 'augment' or 'balance' (which ignores "
                                 f"the ratio), got {mode!r}")
        for ratio in self.ratios:
            if not (math.isfinite(ratio) and ratio > 0):
                raise ValueError(f"ratios must be finite and > 0 (ratio 0 is the real arm), got {ratio}")
            if "replace" in self.modes and ratio > 1:
                raise ValueError(f"ratio {ratio} > 1 cannot be used with mode 'replace'")
        unknown = set(self.per_classifier) - set(self.classifiers)
        if unknown:
            raise ValueError(f"per_classifier names {sorted(unknown)} that are not in classifiers")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        for variant in self.variants:
            variant.validate()
            if variant.gan_sampler not in TRAINING_SAMPLERS:
                raise ValueError(f"variant {variant.name!r}: gan_sampler must be one of "
                                 f"{TRAINING_SAMPLERS}, got {variant.gan_sampler!r}")
            if variant.gan_sampler != "random" and \
                    resolve_gan(self.gan_class).conditions_on == "image":
                raise ValueError(f"variant {variant.name!r}: {self.gan_class} trains on batches of "
                                 "same-class pairs, drawn by their own sampler; leave gan_sampler "
                                 "'random'")
        for name in ("threads", "gan_threads"):
            threads = getattr(self, name)
            if threads is None and name == "gan_threads":
                continue
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise ValueError(f"{name} must be a whole number >= 1 (torch CPU threads), got "
                                 f"{threads!r}" + (" (None = threads)" if name == "gan_threads"
                                                   else ""))
        if not (math.isfinite(self.cpus_per_run) and self.cpus_per_run > 0):
            raise ValueError(f"cpus_per_run must be > 0, got {self.cpus_per_run}")
        for name in ("gpus_per_run", "gpus_per_gan"):
            gpus = getattr(self, name)
            if gpus is None and name == "gpus_per_gan":
                continue
            if not (math.isfinite(gpus) and gpus >= 0 and (gpus <= 1 or gpus == int(gpus))):
                raise ValueError(f"{name} must be a fraction of one GPU (0, 0.25, 0.5, 1) or a "
                                 f"whole number of GPUs, got {gpus}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def bank_referee_seed_list(self) -> list[int]:
        """The seeds whose classic-arm classifiers filter the banks: ``bank_referee_seeds``, or
        ``data_seed`` alone (the referee)."""
        return list(self.bank_referee_seeds or [self.data_seed])

    def task_threads(self, kind: str) -> int:
        """The torch CPU threads of a task of ``kind`` (``gan``: ``gan_threads``, else
        ``threads``)."""
        if kind == "gan" and self.gan_threads is not None:
            return self.gan_threads
        return self.threads

    def training(self, classifier: str) -> tuple[dict[str, Any], int]:
        """The ClassifierModule options and step count of ``classifier``."""
        overrides = dict(self.per_classifier.get(classifier, {}))
        max_steps = int(overrides.pop("max_steps", self.max_steps))
        return {**self.classifier_options, **overrides}, max_steps


def gan_fields(gan: Any, values: dict[str, Any]) -> dict[str, Any]:
    """``gan_class`` and ``gan_options`` from a LightningCLI-style ``{class_path, init_args}``."""
    if "gan_class" in values or "gan_options" in values:
        raise ValueError("give the GAN either as gan: {class_path, init_args} or as gan_class and "
                         "gan_options, not both")
    if isinstance(gan, str):
        gan = {"class_path": gan}
    if not isinstance(gan, dict) or "class_path" not in gan or set(gan) - {"class_path", "init_args"}:
        raise ValueError("gan must be {class_path: <registered GAN module>, init_args: {...}} "
                         f"(init_args optional), got {gan!r}")
    options = gan.get("init_args") or {}
    if not isinstance(options, dict):
        raise ValueError(f"gan.init_args must be a mapping of option to value, got {options!r}")
    return {"gan_class": gan["class_path"], "gan_options": dict(options)}


RESULT_NEUTRAL_SETTINGS = ("accelerator", "root", "cpus_per_run", "gpus_per_run", "gpus_per_gan")
"""Settings a study folder may be resumed with changed: where the dataset lies, which device runs
and what each task reserves on a Ray cluster. Every other setting shapes some run's result (a
classifier step count, the GAN, the grid, even the learning curves' test subset, and the torch
threads ``threads`` and ``gan_threads``), so a folder holds runs of one value of each."""


def setting_differences(recorded: dict[str, Any], config: StudyConfig) -> dict[str, tuple[Any, Any]]:
    """The settings in which ``config`` differs from ``recorded`` (a study folder's
    ``config.json``), as ``{"name": (recorded, now)}``; nested options by dotted name
    (``gan_options.latent_dim``). :data:`RESULT_NEUTRAL_SETTINGS` are left out, and a setting
    the record lacks (a folder of an older ganaug) counts as its default. ``gan_threads`` is
    compared as the threads a GAN trains with (None = ``threads``)."""
    # a record lacks a setting when the ganaug that wrote it did not have it yet: it ran with
    # that ganaug's default, which for the settings the default study's recipe changed in 0.2.0
    # is the one before it
    defaults = json.loads(json.dumps({**StudyConfig().to_dict(), **DEFAULTS_BEFORE_0_2}))
    now = json.loads(json.dumps(config.to_dict()))  # as the record holds it: lists, not tuples
    recorded, now = _gan_threads_given(recorded, defaults), _gan_threads_given(now, defaults)
    if isinstance(recorded.get("variants"), list):  # an older record lacks newer Variant fields
        variant_defaults = json.loads(json.dumps(dataclasses.asdict(Variant())))
        recorded = {**recorded, "variants": [{**variant_defaults, **v} if isinstance(v, dict)
                                             else v for v in recorded["variants"]]}
    differences: dict[str, tuple[Any, Any]] = {}

    def compare(name: str, old: Any, new: Any) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new), key=str):
                compare(f"{name}.{key}", old.get(key, _MISSING), new.get(key, _MISSING))
        elif old != new:
            differences[name] = (old, new)

    for name in sorted(set(now) | set(recorded)):
        if name not in RESULT_NEUTRAL_SETTINGS:
            compare(name, recorded.get(name, defaults.get(name, _MISSING)), now.get(name, _MISSING))
    return differences


DEFAULTS_BEFORE_0_2: dict[str, Any] = dict(
    ratios=[0.2, 0.4, 0.6, 0.8, 1.0], variants=[dataclasses.asdict(Variant())],
    gan_arms=["gan", "gan+classic"], bank_referee_seeds=None,
    classifier_options=dict(optimizer="adam", lr=1e-3, weight_decay=0.0, lr_milestones=[]),
    max_steps=1500, gan_options=dict(latent_dim=64, g_width=32, d_width=32, ema_decay=0.995,
                                     ema_start=200),
    gan_max_steps=2000, gan_selection=None)
"""``StudyConfig``'s defaults before 0.2.0 made them the default study's recipe, for the
settings that changed: what a study folder written then ran with where its record lacks one."""


def _gan_threads_given(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``gan_threads`` the threads a GAN trains with, ``threads`` where None."""
    if values.get("gan_threads", defaults["gan_threads"]) is not None:
        return values
    return {**values, "gan_threads": values.get("threads", defaults["threads"])}


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


_MISSING = _Missing()


def copy_config(config: StudyConfig, **changes: Any) -> StudyConfig:
    """A validated copy of ``config`` with ``changes``."""
    changed = copy.deepcopy(config)
    for name, value in changes.items():
        setattr(changed, name, value)
    changed.validate()
    return changed
