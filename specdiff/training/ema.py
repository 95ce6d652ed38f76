"""Exponential moving average of weights (what `specdiff export` writes)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_copy(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the average (eval mode, no gradients)."""
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def ema_decay_at(step: int, decay: float, warmup: bool = True) -> float:
    """Decay used at optimizer step ``step`` (1-based): min(decay, (1 + step) / (10 + step)) with warmup.

    The warmup lets the average follow the fast early changes instead of staying near the init.
    """
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, for every floating parameter and buffer.

    Frozen parameters (position tables) are copied. Identical inputs give identical results on
    every process, so under DDP the averages stay equal without communication.
    """
    ema_params = dict(ema.named_parameters())
    for name, param in model.named_parameters():
        target = ema_params[name]
        if param.requires_grad:
            target.lerp_(param.detach().to(target.dtype), 1.0 - decay)
        else:
            target.copy_(param.detach())
    ema_buffers = dict(ema.named_buffers())
    for name, buf in model.named_buffers():
        ema_buffers[name].copy_(buf)
