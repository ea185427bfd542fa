"""Reading tensor files from disk without trusting them.

Checkpoints and banks are pickles, and unpickling a file from elsewhere with ``weights_only=False``
runs whatever code the file names. Every file ganaug reads goes through :func:`load_file`:
``torch.load(weights_only=True)``, which rebuilds only tensors and plain containers, plus the
types in ``SAFE_GLOBALS``. Lightning checkpoints of every ganaug GAN need none (measured with
torch 2.14 and Lightning 2.6), so the list is empty; a type needed later goes there and nowhere
else. A file that cannot be read raises :class:`UnreadableFileError` naming the path.

:func:`load_weights` reads a state dict (a classifier the study saved, or a Lightning
checkpoint's ``state_dict``) into a module and, when it was written for another architecture,
raises :class:`WeightsMismatchError` naming the file, the keys missing and unexpected and the
shapes that differ. Lightning's own reads (``Trainer.fit(ckpt_path=...)``) go through
:class:`ganaug.checkpoint_io.SafeCheckpointIO`, which calls :func:`load_file`.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["SAFE_GLOBALS", "UnreadableFileError", "WeightsMismatchError", "load_file",
           "load_weights", "safe_globals"]

# Types beyond tensors and plain containers that ganaug files need: none today.
SAFE_GLOBALS: tuple[Any, ...] = ()


class UnreadableFileError(ValueError):
    """A file is truncated, corrupt, or holds objects that could run code when unpickled."""


class WeightsMismatchError(ValueError):
    """A file of weights was written for another architecture than the module it is loaded in."""


@contextmanager
def safe_globals() -> Iterator[None]:
    """Allow ``SAFE_GLOBALS`` (and nothing else) in ``torch.load(weights_only=True)``."""
    with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
        yield


def load_file(path: str | Path, *, kind: str = "file", mmap: bool = False) -> Any:
    """The content of the tensor file at ``path``, read with ``weights_only=True`` on the CPU.

    ``kind`` names the file in messages ("checkpoint", "synthetic bank"); ``mmap=True`` maps the
    tensors instead of reading them (cheap when only the metadata is wanted). Raises
    ``FileNotFoundError`` for a missing file and :class:`UnreadableFileError` for one that is
    truncated, corrupt or unsafe.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} at {path}")
    zipped = zipfile.is_zipfile(path)
    if not zipped and not _pickled(path):
        raise UnreadableFileError(
            f"cannot read the {kind} {path}: the file is truncated or corrupt (it is neither "
            "torch's zip format nor its older pickle format); copy it again or use another file")
    # torch's old (pickle) format cannot be memory-mapped: such a file is read whole, so that
    # what it holds, not its format, decides whether it is refused
    mmap = mmap and zipped
    try:
        with safe_globals():
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        raise UnreadableFileError(
            f"refusing to load the {kind} {path}: it holds objects other than tensors and plain "
            f"values, and unpickling them could run code from the file ({_reason(error)}). "
            "ganaug only loads files written by ganaug; save state dicts and plain values instead"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as error:
        raise UnreadableFileError(
            f"cannot read the {kind} {path}: the file is truncated or corrupt "
            f"({_reason(error)}); copy it again or use another file"
        ) from None


def _pickled(path: Path) -> bool:
    """Whether the file starts as a pickle of protocol 2 or later does (torch's old format)."""
    with open(path, "rb") as file:
        return file.read(1) == b"\x80"  # the PROTO opcode


def _reason(error: BaseException) -> str:
    """The informative part of torch's message: the refused global, or its first sentence."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.split("error: ", 1)[-1].split(" was not", 1)[0]
    first = lines[0] if lines else type(error).__name__
    return first.split(". ", 1)[0][:200]


def load_weights(
    path: str | Path,
    module: nn.Module,
    *,
    kind: str = "weights",  # what the file is, in messages ("judge", "teacher classifier")
    remedy: str = "build the model with the settings the file was written with",
) -> nn.Module:
    """Load the state dict in the file at ``path`` into ``module`` (strictly) and return it.

    The file holds a state dict, or a Lightning checkpoint whose ``state_dict`` is used. It is
    read with :func:`load_file` (``FileNotFoundError``, :class:`UnreadableFileError`); weights of
    another architecture raise :class:`WeightsMismatchError` naming the file, the keys missing
    and unexpected, the shapes that differ, and ``remedy`` (what to do).
    """
    state = load_file(path, kind=kind)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a Lightning checkpoint
    if not (isinstance(state, dict) and all(isinstance(key, str) for key in state)):
        raise UnreadableFileError(f"the {kind} {path} holds a {type(state).__name__}, not the "
                                  "weights of a module (a state dict); use another file")
    mine = module.state_dict()
    missing = [key for key in mine if key not in state]
    unexpected = [key for key in state if key not in mine]
    shapes = [f"{key} (file {tuple(value.shape)}, model {tuple(mine[key].shape)})"
              for key, value in state.items()
              if key in mine and isinstance(value, torch.Tensor)
              and isinstance(mine[key], torch.Tensor) and value.shape != mine[key].shape]
    if missing or unexpected or shapes:
        found = [f"{name}: {_some(keys)}" for name, keys in (
            ("missing", missing), ("unexpected", unexpected), ("other shapes", shapes)) if keys]
        raise WeightsMismatchError(
            f"the {kind} {path} was written for another architecture than this "
            f"{type(module).__name__} ({'; '.join(found)}); {remedy}")
    module.load_state_dict(state)
    return module


def _some(keys: list[str], shown: int = 4) -> str:
    """The first ``shown`` of ``keys`` and how many more."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
