"""Writing files so that a reader never sees half of one.

Every artifact a study or a trainer of ganaug writes (checkpoints, synthetic banks, classifiers,
records, reports) is first written under a temporary name in the same folder and then renamed
onto its name with ``os.replace``, which POSIX and Windows make atomic within a file system.
A writer killed mid-write leaves the previous file (or none) and at most a ``.partial`` file
beside it, never a truncated file under the real name; :func:`remove_partials` clears those
(a study does when it starts).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = ["PARTIAL_SUFFIX", "atomic_path", "atomic_save", "atomic_write_json",
           "atomic_write_text", "remove_partials"]

PARTIAL_SUFFIX = ".partial"  # how a file being written is named until it is complete


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without an error, removed when it raises.

    The folder is created if needed. The temporary name is unique to this process and call, so
    two writers of one file never write into each other's temporary file; the last rename wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    try:
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)``, atomically; returns ``path``."""
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """``Path(path).write_text(text)``, atomically; returns ``path``."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """``value`` as JSON at ``path``, atomically; returns ``path``."""
    return atomic_write_text(path, json.dumps(value, indent=indent))


def remove_partials(folder: str | Path, *, keep_prefix: str | None = None) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left anywhere under ``folder``
    (hidden files ending in ``.partial``, as :func:`atomic_path` names them), except those whose
    name starts with ``keep_prefix``; returns the removed paths.

    Call it only while nothing writes into ``folder``: a study does at its start, under its lock.
    """
    removed = []
    for path in sorted(Path(folder).rglob(f".*{PARTIAL_SUFFIX}")):
        if path.is_file() and not (keep_prefix and path.name.startswith(keep_prefix)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _flush_to_disk(path: Path) -> None:
    """Ask the OS to put the file's bytes on disk before it takes its name (a rename that
    reaches the disk before the data would leave an empty file after a power cut)."""
    if path.is_file():
        with open(path, "rb+") as file:
            os.fsync(file.fileno())
