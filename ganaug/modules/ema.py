"""The exponential moving average of a generator's weights, and its buffers under DDP.

``GANModule`` keeps ``generator_ema``: after every G step its parameters move towards the live
generator's (:func:`update_ema`) and its buffers (batch-norm running statistics) are copied, then
averaged over processes (:func:`average_buffers`), so every rank samples alike and a checkpoint
holds the statistics of all ranks, not rank 0's.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["average_buffers", "update_ema"]


@torch.no_grad()
def update_ema(ema: nn.Module, live: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * live`` for parameters; buffers are copied."""
    ema_params = [p for p in ema.parameters()]
    live_params = [p.detach() for p in live.parameters()]
    if decay == 0.0:
        torch._foreach_copy_(ema_params, live_params)
    else:
        torch._foreach_lerp_(ema_params, live_params, 1.0 - decay)
    for ema_buffer, live_buffer in zip(ema.buffers(), live.buffers()):
        ema_buffer.copy_(live_buffer)


def average_buffers(module: nn.Module, world_size: int) -> None:
    """Average ``module``'s floating-point buffers over the ``world_size`` processes (in place,
    one all-reduce); nothing to do in one process or outside ``torch.distributed``."""
    if world_size < 2 or not torch.distributed.is_initialized():
        return
    buffers = [b for b in module.buffers() if b.is_floating_point()]
    if buffers:
        flat = torch.cat([b.flatten() for b in buffers])
        torch.distributed.all_reduce(flat)
        flat /= world_size
        parts = flat.split([b.numel() for b in buffers])
        torch._foreach_copy_(buffers, [part.view_as(b) for part, b in zip(parts, buffers)])
