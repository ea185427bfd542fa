"""One driver per study folder: ``StudyLock`` holds ``<out>/.study.lock`` while a study runs.

Two ``ganaug study`` drivers on one ``--out`` would both run every task and write the same files.
The lock is a small JSON file naming the driver (pid, host, start time), created atomically (written
under a temporary name, then hard-linked to the lock's name, which fails if the name exists). A
second driver refuses at once with :class:`StudyLocked`, naming the running one and what to do. A
lock left by a driver that died (its pid is gone on this host) is taken over with a warning. A lock
held on another host cannot be checked from here: the message says how to remove it by hand.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LOCK_NAME", "StudyLock", "StudyLocked"]

LOCK_NAME = ".study.lock"


class StudyLocked(ValueError):
    """Another driver is running a study in the same folder."""


class StudyLock:
    """``with StudyLock(out): ...`` runs the block as the only driver of the study folder ``out``.

    Entering creates the folder if needed and the lock, or raises :class:`StudyLocked`; leaving
    removes the lock (if it is still this driver's). Not re-entrant.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.holder: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "token": uuid.uuid4().hex,  # tells this driver's lock from a later one of same pid
        }

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; raise :class:`StudyLocked` if it is held."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a stale lock taken over by another driver in between: look again
            if self._create():
                return
            holder = self._read()
            if holder == {}:  # released meanwhile
                continue
            if holder is None or not _is_gone(holder):
                raise StudyLocked(self._message(holder))
            if self._remove_stale(holder):
                warnings.warn(
                    f"took over the lock of the study folder {self.folder}: the driver that held "
                    f"it (pid {holder.get('pid')} on {holder.get('host')}, started "
                    f"{holder.get('started')}) is gone; its finished tasks are kept",
                    stacklevel=3)
        raise StudyLocked(self._message(self._read()))

    def release(self) -> None:
        """Remove the lock if this driver holds it."""
        if self._read() == self.holder:
            self.path.unlink(missing_ok=True)

    # internals

    def _create(self) -> bool:
        """Create the lock with this driver's record, atomically; False if it exists."""
        temporary = self.path.with_name(f"{LOCK_NAME}.{self.holder['token']}.partial")
        temporary.write_text(json.dumps(self.holder))
        try:
            os.link(temporary, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)

    def _read(self) -> dict[str, Any] | None:
        """The lock's record; None if it is unreadable, {} if it is gone."""
        try:
            record = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _remove_stale(self, holder: dict[str, Any]) -> bool:
        """Move the stale lock aside and remove it; False if it changed hands meanwhile."""
        if not holder:  # gone already
            return True
        aside = self.path.with_name(f"{LOCK_NAME}.{self.holder['token']}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            moved = None
        if moved != holder:  # another driver's fresh lock: put it back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            return False
        aside.unlink(missing_ok=True)
        return True

    def _message(self, holder: dict[str, Any] | None) -> str:
        if not holder:
            who = f"a driver whose lock {self.path} cannot be read"
        else:
            who = (f"another driver (pid {holder.get('pid')} on host {holder.get('host')}, "
                   f"started {holder.get('started')})")
        return (f"the study folder {self.folder} is in use by {who}: two drivers on one folder "
                f"would both run every task. Wait for it to finish or stop it, or use another "
                f"--out; if that driver is gone (its machine stopped), delete {self.path}")


def _is_gone(holder: dict[str, Any]) -> bool:
    """Whether the lock's driver is known to have ended: its pid is not running on this host."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        return False
    return False
