"""Optimizers of the recipe: torch's Adafactor at a constant 1e-3 (the paper), or AdamW."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch

from specdiff.training.ema import ema_decay_at, ema_update

OptimizerName = Literal["adafactor", "adamw"]


def build_optimizer(params: Iterable[torch.nn.Parameter], name: OptimizerName = "adafactor",
                    lr: float = 1e-3, weight_decay: float = 0.0,
                    betas: tuple[float, float] = (0.9, 0.99)) -> torch.optim.Optimizer:
    """The optimizer over the trainable ``params``.

    ``adafactor`` is ``torch.optim.Adafactor`` (decay rate -0.8, i.e. beta2_t = 1 - t^-0.8, as T5X's
    ``decay_rate 0.8``) with a constant learning rate; ``adamw`` is ``torch.optim.AdamW``.
    """
    params = [p for p in params if p.requires_grad]
    if name == "adafactor":
        return torch.optim.Adafactor(params, lr=lr, beta2_decay=-0.8, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adafactor' or 'adamw', got {name!r}")


def warmup_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup_steps`` optimizer steps, then constant (0: constant from step 0)."""
    def factor(step: int) -> float:
        return 1.0 if warmup_steps <= 0 else min(1.0, (step + 1) / warmup_steps)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class EmaOptimization:
    """LightningModule mixin: the optimizer and warmup of the hparams, and the EMA update.

    The host defines ``self.model`` and ``self.ema`` and the hyperparameters ``optimizer``, ``lr``,
    ``weight_decay``, ``warmup_steps`` and ``ema_decay``. List it before the LightningModule base.
    """

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        # after the weights change and before any checkpoint of this step is written
        ema_update(self.ema, self.model, ema_decay_at(self.global_step + 1, self.hparams.ema_decay))

    def configure_optimizers(self) -> Any:
        h = self.hparams
        opt = build_optimizer(self.model.parameters(), h.optimizer, h.lr, h.weight_decay)
        sched = warmup_schedule(opt, h.warmup_steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
