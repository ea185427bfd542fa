"""``ResumableDataLoader``: a training loader whose place in the epoch is in Lightning's checkpoints.

Lightning asks every training loader that has ``state_dict`` / ``load_state_dict`` for its state
when it writes a checkpoint (``FitLoop.on_save_checkpoint``) and gives it back before the first
iteration of a resumed fit. It never asks the sampler, so the loader carries the sampler's epoch
and the number of batches it has yielded in that epoch; a resumed loader sets the epoch and skips
those batches, so the fit goes on with the batch an uninterrupted one would take next.

This is exact because ganaug's training orders are pure functions of ``(seed, epoch)``
(:class:`~ganaug.data.EpochSeededRandomSampler`, ``ClassPairSampler``, the blend's samplers) and
the datasets draw nothing at random when an item is read. The skipped batches are read and thrown
away: cheap for in-memory tensors, one epoch's reading at most. A loader with a length is assumed
(Lightning then fetches no batch ahead, so yielded batches are the trained ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader

__all__ = ["ResumableDataLoader"]


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` with ``state_dict`` / ``load_state_dict``: the sampler's epoch and the
    batches yielded in it. Takes ``DataLoader``'s arguments (Lightning rebuilds it with them to
    put a distributed sampler in)."""

    _yielded = 0  # batches yielded in the current pass
    _skip = 0  # batches to skip at the next pass (from load_state_dict)

    def __iter__(self) -> Iterator[Any]:
        skip, self._skip = self._skip, 0
        batches = super().__iter__()
        for _ in range(skip):
            next(batches)
        self._yielded = skip
        return self._counted(batches)

    def _counted(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": _sampler_epoch(self), "batches": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        epoch, done = state["epoch"], int(state["batches"])
        if done >= len(self):  # the epoch was finished: the next one starts from its beginning
            epoch, done = (None if epoch is None else epoch + 1), 0
        if epoch is not None:  # before Lightning's set_epoch: the first pass starts at once
            for sampler in _samplers(self):
                sampler.set_epoch(epoch)
        self._skip = done


def _samplers(loader: DataLoader) -> list[Any]:
    """The loader's samplers that have an epoch (its sampler, its batch sampler's sampler)."""
    found = {}
    for sampler in (loader.sampler, getattr(loader.batch_sampler, "sampler", None)):
        if callable(getattr(sampler, "set_epoch", None)):
            found[id(sampler)] = sampler
    return list(found.values())


def _sampler_epoch(loader: DataLoader) -> int | None:
    epochs = [getattr(sampler, "epoch", None) for sampler in _samplers(loader)]
    return next((int(e) for e in epochs if e is not None), None)
