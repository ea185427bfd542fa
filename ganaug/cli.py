"""The ``ganaug`` command.

- ``ganaug fit``: LightningCLI over any GAN module and datamodule, configured by YAML files
  (``--config configs/cgan_mnist5k.yaml``) and typed flags; the datamodule's class count and
  image shape are linked into the model's constructor.
- ``ganaug generate``: checkpoint -> n images per class, as a tensor file or an image folder
  with one sub-folder per class, plus an optional sample grid PNG.
- ``ganaug evaluate``: checkpoint + dataset -> FID, IS, KID, precision / recall as a table with
  the protocol, and as JSON (:mod:`ganaug.metrics.evaluate`).
- ``ganaug study``: the paired real / classic / GAN / GAN + classic study of :mod:`ganaug.study`,
  from a YAML file (``configs/study/``) or the small default, with flags that override it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ganaug.atomic import atomic_save
from ganaug.config_errors import ConfigError, did_you_mean, explain_parser_error
from ganaug.data import ImageDataModule
from ganaug.data.registry import dataset_info
from ganaug.modules import GANModule
from ganaug.modules.loading import load_gan
from ganaug.study import (
    LocalExecutor,
    RayExecutor,
    SequentialExecutor,
    StudyConfig,
    StudyFailed,
    copy_config,
    format_table,
    run_study,
)
from ganaug.study.executors import Executor, quiet_lightning
from ganaug.study.ray_executor import RayConnectionError

__all__ = ["GANCLI", "main", "generate", "load_gan"]


class GANCLI(LightningCLI):
    """LightningCLI for GAN modules: links the data's classes and image shape into the model."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("data.num_classes", "model.init_args.num_classes",
                              apply_on="instantiate")
        parser.link_arguments("data.image_shape", "model.init_args.channels",
                              compute_fn=lambda shape: shape[0], apply_on="instantiate")
        parser.link_arguments("data.image_shape", "model.init_args.image_size",
                              compute_fn=_square_size, apply_on="instantiate")


class ShortErrorParser(LightningArgumentParser):
    """The ``ganaug fit`` parser: a configuration mistake raises a one-line :class:`ConfigError`
    with a did-you-mean, instead of printing the whole usage text and exiting. A flag must be
    spelt out: ``--trainer.max_step`` is an error, not ``--trainer.max_steps``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> None:  # type: ignore[override]
        if not self.exit_on_error:  # a nested parser: jsonargparse catches and rewords it
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        keys = [a.dest for a in parser._actions if a.dest and a.dest != "help"]
        classes = re.findall(r"class_path '([^']+)'", message)
        raise explain_parser_error(
            message, keys, {path: _class_options(path) for path in classes},
            hint="`ganaug fit --help` lists them",
        ) from ex


def _class_options(class_path: str) -> list[str]:
    """The constructor options of the class ``class_path`` names, as LightningCLI reads them."""
    from jsonargparse import ArgumentParser

    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(cls, fail_untyped=False)
    except Exception:  # an unimportable class: its own error says so; no suggestions here
        return []
    return [a.dest for a in parser._actions if a.dest and a.dest not in ("help", "config")]


def _square_size(shape: tuple[int, int, int]) -> int:
    if shape[1] != shape[2]:
        raise ValueError(f"GAN modules train on square images, the data is {shape[1]}x{shape[2]}; "
                         "set data.image_size")
    return shape[1]


def fit(args: list[str]) -> None:
    """Run ``ganaug fit`` with command-line ``args`` (after the word ``fit``)."""
    # The EMA generator is in eval mode on purpose (it samples with running BN statistics).
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
    # LightningCLI warns when it gets ``args`` while sys.argv holds arguments too (both are the
    # same words here): it parses only ``args``, so it sees the program name alone
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        GANCLI(
            GANModule,
            ImageDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=["fit", *args],
            save_config_kwargs={"overwrite": True},
            parser_class=ShortErrorParser,
        )
    finally:
        sys.argv = argv


def generate(
    checkpoint: str | Path,
    output: str | Path,
    *,
    n_per_class: int = 100,
    seed: int = 0,
    batch_size: int = 256,
    grid: str | Path | None = None,
    device: str = "cpu",
    model_class: type[GANModule] | None = None,
    source: object | None = None,  # labelled real images, for a family made from them (DAGAN)
) -> Path:
    """Write ``n_per_class`` images of every class from ``checkpoint`` to ``output``.

    ``output`` ending in ``.pt`` gets ``{"images": float (N, C, H, W) in [-1, 1], "labels":
    int64 (N,) or None}``; any other path becomes an image folder with one sub-folder per class
    (``unlabelled/`` for unconditional models). ``grid`` also writes the fixed-noise sample grid.
    ``model_class`` loads a checkpoint of a class of your own (see :func:`ganaug.load_gan`).
    The images come from ``model.bind(source)``: a label-conditioned GAN ignores ``source``; a
    DAGAN makes every class from ``source``'s real images of it.
    """
    from PIL import Image

    from ganaug.images import to_uint8, write_png

    model = load_gan(checkpoint, map_location=device, model_class=model_class)
    rng = torch.Generator(device=device).manual_seed(seed)
    sampler = model.bind(source)
    images, labels = sampler.generate(n_per_class, rng, batch_size=batch_size)
    output = Path(output)

    if output.suffix == ".pt":
        atomic_save({"images": images, "labels": labels}, output)
    else:
        classes = range(sampler.num_classes) if labels is not None else [None]
        for c in classes:
            batch = images if c is None else images[labels == c]
            folder = output / ("unlabelled" if c is None else f"{c}")
            folder.mkdir(parents=True, exist_ok=True)
            for i, pixels in enumerate(to_uint8(batch).permute(0, 2, 3, 1).numpy()):
                Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(
                    folder / f"{i:06d}.png")
    if grid is not None:
        write_png(model.sample_grid(), grid)
    return output


def _generate_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ganaug generate", description=generate.__doc__,
                                     allow_abbrev=False)
    parser.add_argument("checkpoint", help="a checkpoint written by `ganaug fit`, or a folder "
                        "written by save_pretrained")
    parser.add_argument("output", help="a .pt file, or a folder for one sub-folder per class")
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--grid", default=None, help="also write the fixed-noise grid PNG here")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--source-dataset", default=None,
                        help="real images a DAGAN makes its images from: a registered dataset")
    parser.add_argument("--root", default="data", help="the source dataset's folder")
    parser.add_argument("--source-n-per-class", type=int, default=None,
                        help="the few-shot training subset of the source (None = all images)")
    parser.add_argument("--data-seed", type=int, default=0, help="the datamodule seed of training")
    _add_model_class_argument(parser)
    a = parser.parse_args(argv)
    model_class = _import_model_class(a.model_class)
    source = None
    if a.source_dataset is not None:
        hp = load_gan(a.checkpoint, model_class=model_class).hparams
        data = ImageDataModule(a.source_dataset, a.root, image_size=hp.image_size,
                               channels=hp.channels, n_per_class=a.source_n_per_class,
                               seed=a.data_seed, drop_last=False)
        data.setup("generate")
        source = data.train_dataset
    out = generate(a.checkpoint, a.output, n_per_class=a.n_per_class, seed=a.seed,
                   batch_size=a.batch_size, grid=a.grid, device=a.device,
                   model_class=model_class, source=source)
    print(f"wrote {out}" + (f" and {a.grid}" if a.grid else ""))


def _add_model_class_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-class", default=None, metavar="MODULE:CLASS",
        help="load the checkpoint as this GAN class of your own (e.g. my_gans:MyGAN); the module "
             "is imported, so name only code you trust. Default: the checkpoint's class, which "
             "must be one ganaug ships or registered")


def _import_model_class(spec: str | None) -> type[GANModule] | None:
    """The class named ``module:Class`` on the command line (the user's code, not the file's)."""
    if spec is None:
        return None
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"--model-class must be MODULE:CLASS, got {spec!r}")
    sys.path.insert(0, os.getcwd())  # a module next to the user's training script
    try:
        cls = getattr(importlib.import_module(module_name), class_name, None)
    finally:
        sys.path.remove(os.getcwd())
    if not (isinstance(cls, type) and issubclass(cls, GANModule)):
        raise ValueError(f"--model-class {spec}: {module_name} has no GAN module class {class_name}")
    return cls


def _evaluate_main(argv: list[str]) -> None:
    from ganaug.metrics.evaluate import evaluate_checkpoint, write_json

    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="ganaug evaluate",
        description="FID, IS, KID and precision / recall of a checkpoint's EMA generator against "
                    "a split of a dataset, printed as a table with the protocol (and as JSON).")
    parser.add_argument("checkpoint", help="a checkpoint written by `ganaug fit`, or a folder "
                        "written by save_pretrained")
    parser.add_argument("--dataset", required=True, help="a registered dataset name")
    parser.add_argument("--root", default="data", help="the dataset's folder")
    parser.add_argument("--split", default="train", choices=("train", "val", "test"))
    parser.add_argument("--n-per-class", type=int, default=None, help="as used for training")
    parser.add_argument("--val-per-class", type=int, default=0, help="as used for training")
    parser.add_argument("--test-per-class", type=int, default=None, help="as used for training")
    parser.add_argument("--data-seed", type=int, default=0, help="the datamodule seed of training")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="generated images (default: as many as reference images)")
    parser.add_argument("--extractor", default="inception",
                        help="'inception' or a TorchScript file (torchscript:PATH)")
    parser.add_argument("--weights", default=None, help="local Inception weights file (offline)")
    parser.add_argument("--input", default=None, choices=("uint8", "float255", "float"),
                        help="TorchScript input format (default uint8)")
    parser.add_argument("--resize", type=int, default=None, help="TorchScript: resize first")
    parser.add_argument("--return-features", action="store_true",
                        help="TorchScript: call with return_features=True (stylegan2-ada file)")
    parser.add_argument("--native-channels", action="store_true",
                        help="TorchScript: pass 1-channel images as they are, not as RGB")
    parser.add_argument("--metrics", default="fid,is,kid,pr", help="comma-separated: fid,is,kid,pr")
    parser.add_argument("--per-class", action="store_true", help="add per-class FID")
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--is-splits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="noise seed of the generated images")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--cache-dir", default=None, help="reference cache (~/.cache/ganaug/metrics)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--json", default=None, help="also write the result as JSON here")
    parser.add_argument("--judge", default=None,
                        help="a ClassifierModule checkpoint: also report class faithfulness (the "
                             "share of each class's samples it assigns to that class)")
    parser.add_argument("--judge-n-per-class", type=int, default=200,
                        help="generated images per class for the faithfulness")
    _add_model_class_argument(parser)
    a = parser.parse_args(argv)
    options = {}
    if a.extractor != "inception":
        options = {"call_kwargs": {"return_features": True} if a.return_features else None,
                   "resize": a.resize, "rgb": not a.native_channels}
        if a.input:
            options["input"] = a.input
    result = evaluate_checkpoint(
        a.checkpoint, dataset=a.dataset, root=a.root, split=a.split, n_per_class=a.n_per_class,
        val_per_class=a.val_per_class, test_per_class=a.test_per_class, data_seed=a.data_seed,
        n_samples=a.n_samples, extractor=a.extractor, weights_path=a.weights,
        extractor_options=options, metrics=tuple(m for m in a.metrics.split(",") if m),
        per_class=a.per_class, kid_subset_size=a.kid_subset_size, kid_subsets=a.kid_subsets,
        is_splits=a.is_splits, seed=a.seed, batch_size=a.batch_size, device=a.device,
        cache_dir=a.cache_dir, use_cache=not a.no_cache, judge=a.judge,
        judge_n_per_class=a.judge_n_per_class, model_class=_import_model_class(a.model_class))
    print(result.table())
    if a.json:
        print(f"wrote {write_json(result, a.json)}")


def study_main(argv: list[str]) -> None:
    """``ganaug study [--config FILE] [--out DIR] [overrides]``."""
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="ganaug study",
        description="Train a GAN on a few real images per class, then classifiers on real, "
                    "classically augmented, synthetic-blended and both, paired by seed; write "
                    "results.csv, summary.json, table.txt and PNG plots. With no options: the "
                    "small MNIST-5k default (50 real images per class, the rest as test set). "
                    "On your own images (one sub-folder per class): --dataset image_folder "
                    "--root DIR; the rest of the default study's recipe stays.")
    parser.add_argument("--config", help="a study YAML file (see configs/study/); the fields it "
                                          "leaves out keep the default study's values")
    parser.add_argument("--dataset", help="a registered dataset name (image_folder: a folder "
                                          "with one sub-folder per class, given by --root)")
    parser.add_argument("--image-size", type=int, help="resize the images to this square size")
    parser.add_argument("--channels", type=int, choices=(1, 3), help="1 = grey, 3 = RGB")
    parser.add_argument("--test-per-class", type=int, help="test images per class (default: "
                                                            "the official test split, or the rest)")
    parser.add_argument("--judge-per-class", type=int, help="real images per class held out for "
                                                             "the faithfulness judge (0 = none)")
    parser.add_argument("--out", default="runs/study", help="study folder; rerun to resume")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--ratios", type=float, nargs="+")
    parser.add_argument("--modes", nargs="+", choices=("replace", "augment", "balance"))
    parser.add_argument("--classifiers", nargs="+")
    parser.add_argument("--n-per-class", type=int)
    parser.add_argument("--max-steps", type=int, help="classifier steps per run")
    parser.add_argument("--gan-max-steps", type=int, help="GAN optimizer steps")
    parser.add_argument("--gan-checkpoint", help="use this trained GAN instead of training one")
    parser.add_argument("--variants", nargs="+", metavar="NAME",
                        help="run only these variants of the config")
    parser.add_argument("--recipes", nargs="*", metavar="NAME",
                        help="run only these recipes of the config (none: no recipe)")
    parser.add_argument("--root", help="the dataset's folder (image_folder: the folder of class "
                                       "folders)")
    parser.add_argument("--accelerator", help="auto, cpu, gpu, ...")
    parser.add_argument("--executor", choices=("local", "sequential", "ray"), default="local",
                        help="local: tasks side by side in worker processes on this machine "
                             "(default); sequential: one run after the other in this process; "
                             "ray: every task on a Ray cluster (pip install 'ganaug[ray]')")
    parser.add_argument("--cpus", type=int, help="CPUs the local executor keeps busy at most "
                                                 "(default: all this process may use)")
    parser.add_argument("--threads", type=int, help="torch CPU threads of every task (a result "
                                                    "setting)")
    parser.add_argument("--gan-threads", type=int, help="torch CPU threads of a GAN training "
                                                        "(default: --threads)")
    parser.add_argument("--ray-address", help="the Ray cluster to use (default: RAY_ADDRESS, or a "
                                              "local cluster on this machine)")
    parser.add_argument("--cpus-per-run", type=float, help="CPUs a Ray task reserves (at least "
                                                           "its threads)")
    parser.add_argument("--gpus-per-run", type=float, help="GPUs a Ray run reserves; 0.25 = four "
                                                           "runs per GPU")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse says only "unrecognized arguments": name the closest option too
        flag = next((a for a in unknown if a.startswith("-")), unknown[0]).split("=")[0]
        options = [o for action in parser._actions for o in action.option_strings]
        raise ConfigError(f"ganaug study has no option {flag!r}{did_you_mean(flag, options)} "
                          "(`ganaug study --help` lists them)")
    quiet_lightning()

    config = StudyConfig.from_yaml(args.config) if args.config else StudyConfig.quick()
    overrides = {name: getattr(args, name) for name in (
        "dataset", "image_size", "channels", "test_per_class", "judge_per_class", "seeds", "ratios", "modes", "classifiers", "n_per_class", "max_steps", "gan_max_steps",
        "gan_checkpoint", "root", "accelerator", "threads", "gan_threads", "cpus_per_run",
        "gpus_per_run")
        if getattr(args, name) is not None}
    for field in ("variants", "recipes"):
        if (names := getattr(args, field)) is not None:
            overrides[field] = _chosen(getattr(config, field), names, field[:-1], args.config)
    config = copy_config(config, **overrides)
    dataset_info(config.dataset, config.root)  # an unknown name or a missing folder: fail now
    executor = _executor(args.executor, args.ray_address, args.cpus)
    started = time.perf_counter()
    try:
        rows = run_study(config, args.out, executor=executor)
    except StudyFailed as failed:
        print(f"ganaug: error: {failed}", file=sys.stderr)
        raise SystemExit(1) from None
    print(format_table(rows))
    print(f"\nstudy folder: {args.out} (results.csv, summary.json, table.txt, *.png); "
          f"{time.perf_counter() - started:.0f} s")


def _chosen(items: list[Any], names: list[str], what: str, config: str | None) -> list[Any]:
    """The ``items`` (variants or recipes, in the config's order) whose names are ``names``; an
    unknown name is a one-line error naming the config's own."""
    have = [item.name for item in items]
    for name in names:
        if name not in have:
            source = config or "the default study"
            raise ConfigError(f"{source} has no {what} {name!r}{did_you_mean(name, have)}; its "
                              f"{what}s: {', '.join(have) or 'none'}")
    return [item for item in items if item.name in names]


def _executor(name: str, address: str | None, cpus: int | None = None) -> Executor:
    """The executor the command line names (``--executor``, ``--ray-address``, ``--cpus``)."""
    if address is not None and name != "ray":
        raise ValueError("--ray-address needs --executor ray")
    if cpus is not None and name != "local":
        raise ValueError(f"--cpus is an option of the local executor, not of --executor {name} "
                         f"(the Ray executor: --cpus-per-run)")
    if name == "local":
        return LocalExecutor(cpus)
    if name == "sequential":
        return SequentialExecutor()
    try:
        return RayExecutor(address)
    except ImportError as error:
        raise ValueError(str(error)) from error


COMMANDS = {"fit": fit, "generate": _generate_main, "evaluate": _evaluate_main, "study": study_main}


# Errors a user can fix (a wrong path, option, file or checkpoint): one line, no traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, RayConnectionError)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ganaug`` console script.

    A user error (:data:`USER_ERRORS`: a bad option value, a missing file, an unreadable or
    mismatched checkpoint, ...) prints ``ganaug: error: <message>`` on stderr and exits with
    status 2; ``--debug`` anywhere on the command line, or ``GANAUG_DEBUG=1``, shows the full
    traceback instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANAUG_DEBUG", "0") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]
    if not argv or argv[0] not in COMMANDS:
        print("usage: ganaug {study,fit,generate,evaluate} [-h] [--debug] ...\n\n"
              "  study     does GAN data help a classifier? paired real / classic / GAN / GAN + classic runs\n"
              "  fit       train a GAN (LightningCLI; try `ganaug fit --config configs/cgan_mnist5k.yaml`)\n"
              "  generate  write n images per class from a checkpoint\n"
              "  evaluate  FID / IS / KID / precision / recall of a checkpoint, with the protocol\n\n"
              "  --debug   show the full traceback of an error (or set GANAUG_DEBUG=1)",
              file=sys.stderr)
        raise SystemExit(0 if argv and argv[0] in ("-h", "--help") else 2)
    try:
        COMMANDS[argv[0]](argv[1:])
    except USER_ERRORS as error:
        if debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"ganaug: error: {message} (--debug shows the traceback)", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
