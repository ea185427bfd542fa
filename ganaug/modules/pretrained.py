"""Generators as shareable folders: ``save_pretrained(dir)`` and ``from_pretrained(dir)``.

A Lightning checkpoint carries a whole fit (optimisers, loops, counters) as a pickle. A pretrained
folder carries what someone else needs to sample from a trained GAN, in formats that cannot run
code when read, laid out as huggingface_hub's ``ModelHubMixin`` lays out its folders (so that
``huggingface_hub.upload_folder`` can publish one as it is; nothing here needs the network or
huggingface_hub):

- ``model.safetensors``: the EMA generator's weights and the module's own buffers (the fixed
  noise of the sample grid); with ``training_networks=True`` also the live generator and the
  discriminator;
- ``config.json``: the module's class (a registered name, :func:`ganaug.register_gan`), its
  constructor options, its architecture and how far it trained;
- ``README.md``: a model card saying what the model is, what it was trained on and reached, and
  how to load it.

Loading reads the JSON and the safetensors file only, builds the class the folder names from the
registry (never importing a module because a file names it) and refuses a folder of another class
or whose weights do not fit the configuration, naming what differs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganaug.atomic import atomic_path, atomic_write_text
from ganaug.modules.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    build_class,
    class_name,
    registered_gans,
)

__all__ = ["CONFIG_FILE", "CARD_FILE", "FORMAT", "WEIGHTS_FILE", "PretrainedMixin",
           "is_pretrained_folder", "load_pretrained"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
FORMAT = "ganaug-pretrained"  # config.json's "format": what wrote the folder
FORMAT_VERSION = 1
_TRAINING_NETWORKS = ("generator.", "discriminator.")  # left out unless training_networks=True


def is_pretrained_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a ``config.json`` (a pretrained folder, or an attempt)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG_FILE).is_file()


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for GAN modules (``GANModule`` inherits them)."""

    def save_pretrained(
        self,
        directory: str | Path,
        *,
        training_data: str | None = None,  # what it was trained on; None = the datamodule's name
        metrics: dict[str, float] | None = None,  # numbers it reached, e.g. {"FID": 12.3}
        training_networks: bool = False,  # also save the live G and D (to train on); else EMA G
    ) -> Path:
        """Write the model to ``directory`` (created; files of the same names are replaced) as
        ``model.safetensors``, ``config.json`` and a ``README.md`` model card; returns it."""
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"{directory} is a file: save_pretrained writes a folder")
        directory.mkdir(parents=True, exist_ok=True)

        # weights: contiguous CPU copies (safetensors refuses shared or strided storage)
        state = {key: value.detach().to("cpu", copy=True).contiguous()
                 for key, value in self.state_dict().items()
                 if training_networks or not key.startswith(_TRAINING_NETWORKS)}
        with atomic_path(directory / WEIGHTS_FILE) as temporary:
            save_file(state, str(temporary), metadata={"format": "pt"})

        # configuration: the class, its options, and what the model is
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "class": class_name(type(self)),
            "conditions_on": getattr(type(self), "conditions_on", "label"),
            "hparams": _plain({k: v for k, v in self.hparams.items() if not k.startswith("_")}),
            "architecture": _plain(dict(self.architecture)),
            "training_networks": training_networks,
            "iteration": int(self.iteration),
            "d_steps_done": int(self.d_steps_done),
            "training_data": training_data or self._training_data_name(),
            "metrics": _plain(dict(metrics or {})),
        }
        atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
        atomic_write_text(directory / CARD_FILE, _model_card(config, directory.name))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu"):
        """The model saved in ``directory`` by ``save_pretrained``, built as this class.

        ``GANModule.from_pretrained`` (and :func:`ganaug.load_gan`) build whichever registered
        GAN the folder names; a subclass builds only folders of itself, of a subclass of it that
        is registered, or of one of its bases. Raises ``FileNotFoundError`` for a missing file,
        ``CheckpointError`` for a folder ganaug did not write or a class that is not registered,
        ``CheckpointMismatchError`` for a folder of another class or weights that do not fit.
        """
        return load_pretrained(directory, model_class=cls, map_location=map_location)

    def _training_data_name(self) -> str | None:
        trainer = getattr(self, "_trainer", None)
        data = getattr(trainer, "datamodule", None) if trainer is not None else None
        name = getattr(data, "dataset", None)
        if not isinstance(name, str):
            return None
        parts = [f"dataset {name!r}"]
        for option in ("n_per_class", "class_counts", "imbalance_factor", "image_size", "seed"):
            value = getattr(data, option, None)
            if value is not None:
                parts.append(f"{option}={value}")
        return f"{type(data).__name__}: " + ", ".join(parts)


def load_pretrained(directory: str | Path, *, model_class: type | None = None,
                    map_location: str | torch.device = "cpu"):
    """Build the GAN saved in ``directory`` (see :meth:`PretrainedMixin.from_pretrained`);
    ``model_class`` is the class asked for (None: any registered GAN)."""
    directory = Path(directory)
    config = _read_config(directory)
    target = _resolve_class(config["class"], model_class, directory)

    # build from the options alone, then take the saved weights
    hparams = config["hparams"]
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{directory / CONFIG_FILE}: 'hparams' must be an object")
    try:
        with torch.random.fork_rng(devices=[]):  # building must not move the global RNG
            model = target(**hparams)
    except (TypeError, ValueError) as error:
        raise CheckpointMismatchError(
            f"{directory / CONFIG_FILE} holds options {target.__name__} does not take: {error}"
        ) from None
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"no {WEIGHTS_FILE} in {directory}: a pretrained folder holds "
                                f"{WEIGHTS_FILE}, {CONFIG_FILE} and {CARD_FILE}")
    try:
        weights = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights_path} is not a readable safetensors file: {error}") from None
    _load_weights(model, weights, directory)
    model.iteration = int(config.get("iteration", 0))
    model.d_steps_done = int(config.get("d_steps_done", 0))
    model._apply_condition_strength()
    return model.to(map_location).eval()


# internals


def _read_config(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise FileNotFoundError(f"no pretrained folder at {directory}")
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_FILE} in {directory}: not a folder written by "
                                "save_pretrained")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} was not written by ganaug's save_pretrained (its 'format' is not "
            f"{FORMAT!r}); load the folder with the library that wrote it")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {config['format_version']}; this "
                              f"ganaug reads up to {FORMAT_VERSION}: upgrade ganaug")
    if not isinstance(config.get("class"), str):
        raise CheckpointError(f"{path} names no class ('class')")
    return config


def _resolve_class(stored: str, asked: type | None, directory: Path) -> type:
    """The class to build: the folder's registered class, or the subclass of it asked for."""
    registered = registered_gans().get(stored)
    short = stored.rpartition(".")[2]
    if registered is None:
        if asked is not None and class_name(asked) == stored:  # unregistered, asked by itself
            return asked
        raise CheckpointError(
            f"{directory} holds a {stored}, which is not a registered GAN module, and ganaug "
            f"never imports a class because a file names it: import {short} and call "
            f"{short}.from_pretrained(path), or ganaug.register_gan({short}) before "
            "load_gan(path)")
    if asked is None:
        return registered
    return build_class(asked, registered, stored, directory, loader="from_pretrained")


def _load_weights(model: Any, weights: dict[str, torch.Tensor], directory: Path) -> None:
    """Copy ``weights`` into ``model``; without the live generator's, it takes the EMA's."""
    own = model.state_dict()
    unexpected = sorted(set(weights) - set(own))
    missing = sorted(k for k in own if k not in weights and not k.startswith(_TRAINING_NETWORKS))
    shapes = [f"{k}: saved {tuple(v.shape)}, model {tuple(own[k].shape)}"
              for k, v in weights.items() if k in own and v.shape != own[k].shape]
    if unexpected or missing or shapes:
        details = [f"{len(missing)} missing ({', '.join(missing[:3])})" if missing else "",
                   f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])})" if unexpected
                   else "", "shapes differ: " + "; ".join(shapes[:3]) if shapes else ""]
        raise CheckpointMismatchError(
            f"the weights in {directory / WEIGHTS_FILE} do not fit the {type(model).__name__} "
            f"that {CONFIG_FILE} describes: " + "; ".join(d for d in details if d)
            + ". The folder's files come from different models; save it again with "
            "save_pretrained")
    model.load_state_dict(weights, strict=False)
    if not any(k.startswith("generator.") for k in weights):
        model.generator.load_state_dict(model.generator_ema.state_dict())


def _plain(value: Any) -> Any:
    """``value`` as JSON: tuples become lists; anything not a number, string, bool or None
    raises, since config.json must rebuild the model alone."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"save_pretrained cannot write the non-finite option value {value}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"save_pretrained writes options as JSON; {value!r} "
                     f"({type(value).__name__}) is not a number, string or list of them")


def _model_card(config: dict[str, Any], name: str) -> str:
    """The README.md of a pretrained folder."""
    cls = config["class"]
    short = cls.rpartition(".")[2]
    arch = config["architecture"]
    classes = arch.get("num_classes", 0)
    condition = (f"conditional on {classes} classes" if classes else "unconditional")
    image_conditioned = config.get("conditions_on") == "image"
    if image_conditioned:
        condition = "conditioned on a real image: it makes variations of the images it is given"
    metrics = config.get("metrics") or {}
    metric_lines = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    reached = ("| metric | value |\n| --- | --- |\n" + metric_lines if metrics
               else "No metrics were recorded when it was saved.")
    options = "\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in config["hparams"].items())
    sample = ("model.generate(10, torch.Generator().manual_seed(0))  # 10 images per class"
              if not image_conditioned else  # a dataset of (image, label): the images it varies
              "model.bind(real_dataset).generate(10, torch.Generator().manual_seed(0))")
    networks = ("the EMA generator, the generator and the discriminator (it can train on)"
                if config["training_networks"] else "the EMA generator (for sampling)")
    return f"""---
library_name: ganaug
tags:
- gan
- data-augmentation
- pytorch-lightning
---

# {name}

A `{short}` generative adversarial network made with ganaug
(`{cls}`): {arch.get('channels')}-channel
{arch.get('image_size')}x{arch.get('image_size')} images in [-1, 1] from
{arch.get('latent_dim')}-dimensional noise, {condition}.

## Training

- Data: {config.get('training_data') or 'not recorded'}
- Trained for {config['iteration']} iterations ({config['d_steps_done']} discriminator steps).
- Weights in `{WEIGHTS_FILE}`: {networks}.

## What it reached

{reached}

## How to load it

The folder loads without running code from it (safetensors weights, JSON options):

```python
import torch
from ganaug import load_gan

model = load_gan("{name}")  # or {short}.from_pretrained("{name}")
images, labels = {sample}
```

On the command line: `ganaug generate {name} out/ --n-per-class 10`.

## Options

| option | value |
| --- | --- |
{options}
"""
