"""Which class a GAN checkpoint is loaded as: a registry of GAN modules, and the checks.

A checkpoint names its class (``checkpoint["ganaug"]["class"]``) and the classes it derives from
(``"lineage"``). Those names are strings looked up among the GAN modules ganaug ships and those a
user registered with :func:`register_gan`; no module is ever imported because a file names it.
The class stored and the class asked for must agree (one is the other or a subclass of it), or
loading stops with :class:`CheckpointMismatchError` saying which class to load it with. The file
itself is read with ``weights_only=True`` (:mod:`ganaug.serialization`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from ganaug.serialization import UnreadableFileError, load_file

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "check_checkpoint_class",
    "class_name",
    "read_checkpoint",
    "register_gan",
    "registered_gans",
    "resolve_checkpoint_class",
    "resolve_gan",
]

CHECKPOINT_KEY = "ganaug"  # where GAN modules keep their class, architecture and counters

_REGISTRY: dict[str, type] = {}


class CheckpointError(ValueError):
    """A file is not a GAN checkpoint ganaug can load (foreign, or its class is not registered)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was made for another class or architecture (shape, classes, latent size)."""


_SCRIPT_MODULES = ("__main__", "__mp_main__")  # a script run as such, and as spawned workers see it


def class_name(cls: type) -> str:
    """``module.QualName``: how a checkpoint names its class.

    A class defined in the launching script is ``__main__.Name`` in that process and
    ``__mp_main__.Name`` in the processes ``multiprocessing`` spawns from it (``ddp_spawn``); both
    are named ``__main__.Name`` so that a checkpoint written in a spawned worker is the script's.
    """
    module = "__main__" if cls.__module__ in _SCRIPT_MODULES else cls.__module__
    return f"{module}.{cls.__qualname__}"


def _script_name(name: str) -> str:
    """``name`` with a spawned worker's ``__mp_main__.`` read as ``__main__.`` (files written
    before ganaug named such classes by their script)."""
    return "__main__." + name.removeprefix("__mp_main__.") if name.startswith("__mp_main__.") \
        else name


def register_gan(cls: type) -> type:
    """Allow checkpoints naming ``cls`` to be loaded as ``cls``; returns ``cls`` (a decorator).

    ganaug's own GAN modules are registered. Register a subclass of your own (one that builds
    other networks, say) to load its checkpoints with ``load_gan`` or ``ganaug generate``. A class
    defined in the script that trained it is stored as ``__main__.Name``; registering a class of
    the same name from any module makes those checkpoints loadable too.
    """
    if not (isinstance(cls, type) and issubclass(cls, L.LightningModule)):
        raise TypeError(f"register_gan takes a GAN module class, got {cls!r}")
    _REGISTRY[class_name(cls)] = cls
    return cls


def registered_gans() -> dict[str, type]:
    """The registered GAN module classes by their stored name."""
    return dict(_REGISTRY)


def resolve_gan(name: str) -> type:
    """The registered GAN module class that a config names, never an import of the name.

    ``name`` is a registered name (``ganaug.modules.cgan.ConditionalGAN``) or, as LightningCLI
    configs write it, the top-level package and the class (``ganaug.ConditionalGAN``) when one
    registered class of that package has that name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a GAN class is named by a string, got {name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    package, _, short = name.partition(".")
    same = [cls for stored, cls in _REGISTRY.items()
            if stored.split(".")[0] == package and stored.rpartition(".")[2] == short]
    if len(same) == 1 and "." not in short:
        return same[0]
    public = sorted({f"{n.split('.')[0]}.{n.rpartition('.')[2]}" for n in _REGISTRY})
    raise ValueError(
        f"{name!r} is not a registered GAN module; registered: {', '.join(public)} (or their "
        "full names, ganaug.modules.registered_gans()). Classes are never imported from a "
        "config: register your own with ganaug.register_gan before loading the config"
    )


def read_checkpoint(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """The content of the checkpoint at ``path``, read with ``weights_only=True``.

    Raises ``FileNotFoundError``, or :class:`~ganaug.serialization.UnreadableFileError` naming
    the path for a file that is truncated, corrupt, unsafe or not a dictionary.
    """
    content = load_file(path, kind="checkpoint", mmap=mmap)
    if not isinstance(content, dict):
        raise UnreadableFileError(f"{path} holds a {type(content).__name__}, not a checkpoint")
    return content


def build_class(asked: type, registered: type, stored: str, where: str | Path,
                loader: str) -> type:
    """Of ``asked`` and the file's ``registered`` class (named ``stored``), the one to build: the
    more derived of the two. Raises :class:`CheckpointMismatchError` naming ``where`` and the
    ``loader`` method to use when neither derives from the other."""
    if issubclass(asked, registered):
        return asked
    if issubclass(registered, asked):
        return registered
    raise CheckpointMismatchError(
        f"{where} holds a {stored}, not a {class_name(asked)}: load it with "
        f"{registered.__name__}.{loader}(path) or ganaug.load_gan(path)")


def resolve_checkpoint_class(checkpoint: dict[str, Any], asked: type, path: str | Path) -> type:
    """The class to build ``checkpoint`` as, when ``asked.load_from_checkpoint(path)`` was called.

    That is ``asked`` when the checkpoint's class is ``asked``, one of its bases, or a class of the
    same name defined in a script (``__main__``); the checkpoint's registered class when it is a
    subclass of ``asked`` (``GANModule.load_from_checkpoint`` and ``load_gan`` load any registered
    GAN). Anything else raises :class:`CheckpointMismatchError` or :class:`CheckpointError`.
    """
    meta = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(meta, dict) or not isinstance(meta.get("class"), str):
        raise CheckpointError(
            f"{path} is not a checkpoint written by a ganaug GAN module (it has no "
            f"'{CHECKPOINT_KEY}' record); load it with the class and code that wrote it"
        )
    stored = _script_name(meta["class"])
    lineage = [_script_name(name) for name in meta.get("lineage", [stored]) if isinstance(name, str)]
    asked_name = class_name(asked)
    short = stored.rpartition(".")[2]

    # a registered class: build it, or the subclass of it that was asked for
    registered = _lookup(stored)
    if registered is not None:
        return build_class(asked, registered, stored, path, loader="load_from_checkpoint")

    # an unregistered class: only the class itself, or a registered base of it, when asked for
    if _same_name(stored, asked_name):
        return asked
    if any(_same_name(name, asked_name) for name in lineage):
        if asked_name in _REGISTRY:
            return asked
        where = ("in the script that trained it (__main__)" if stored.startswith("__main__.")
                 else f"in module {stored.rpartition('.')[0]!r}")
        raise CheckpointError(
            f"{path} holds a {stored}, which is not a registered GAN module, and ganaug never "
            f"imports a class because a file names it. {short} was defined {where}: import it "
            f"and load with {short}.load_from_checkpoint(path), or call "
            f"ganaug.register_gan({short}) before load_gan(path); on the command line pass "
            f"--model-class MODULE:{short} (a module you trust that defines it)"
        )
    raise CheckpointMismatchError(
        f"{path} holds a {stored}, not a {asked_name}: load it with the class it was written "
        f"by ({short}.load_from_checkpoint(path))"
    )


def check_checkpoint_class(meta: dict[str, Any], model: Any) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``model`` can take the checkpoint's weights:
    its class is the stored class, a subclass of it, or one of the stored class's bases."""
    stored = meta.get("class")
    if not isinstance(stored, str):
        return
    stored = _script_name(stored)
    lineage = [_script_name(name) for name in meta.get("lineage", [stored]) if isinstance(name, str)]
    mine = [class_name(c) for c in type(model).__mro__]
    if any(_same_name(stored, name) for name in mine):
        return
    if any(_same_name(class_name(type(model)), name) for name in lineage):
        return
    registered = _lookup(stored)
    hint = (f"build a {registered.__name__} with the checkpoint's settings "
            f"({registered.__name__}.load_from_checkpoint(path) gives one) and resume that"
            if registered is not None else f"resume with the class {stored} it was written by")
    raise CheckpointMismatchError(
        f"the checkpoint holds a {stored}, this model is a {class_name(type(model))}: {hint}"
    )


def _lookup(stored: str) -> type | None:
    stored = _script_name(stored)
    if stored in _REGISTRY:
        return _REGISTRY[stored]
    if stored.startswith("__main__."):
        same = [cls for name, cls in _REGISTRY.items() if _same_name(stored, name)]
        if len(same) == 1:
            return same[0]
    return None


def _same_name(a: str, b: str) -> bool:
    """Equal names, or a class saved from a script (``__main__.Name``) and a ``Name`` elsewhere."""
    a, b = _script_name(a), _script_name(b)
    if a == b:
        return True
    for script, other in ((a, b), (b, a)):
        if script.startswith("__main__."):
            return other.endswith("." + script.removeprefix("__main__."))
    return False
