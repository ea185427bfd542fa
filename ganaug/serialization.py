"""Reading tensor files from disk without trusting them.

Checkpoints and banks are pickles, and unpickling a file from elsewhere with ``weights_only=False``
runs whatever code the file names. Every file ganaug reads goes through :func:`load_file`:
``torch.load(weights_only=True)``, which rebuilds only tensors and plain containers, plus the
types in ``SAFE_GLOBALS``. Lightning checkpoints of every ganaug GAN need none (measured with
torch 2.14 and Lightning 2.6), so the list is empty; a type needed later goes there and nowhere
else. A file that cannot be read raises :class:`UnreadableFileError` naming the path.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = ["SAFE_GLOBALS", "UnreadableFileError", "load_file", "safe_globals"]

# Types beyond tensors and plain containers that ganaug files need: none today.
SAFE_GLOBALS: tuple[Any, ...] = ()


class UnreadableFileError(ValueError):
    """A file is truncated, corrupt, or holds objects that could run code when unpickled."""


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


def _reason(error: BaseException) -> str:
    """The informative part of torch's message: the refused global, or its first sentence."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.split("error: ", 1)[-1].split(" was not", 1)[0]
    first = lines[0] if lines else type(error).__name__
    return first.split(". ", 1)[0][:200]
