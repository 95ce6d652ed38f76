"""Classifier-free guidance as a wrapper from a conditional model function to a plain one."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

#: ``fn(x_t (B, ...), t (B,), conditional (B,) bool | None) -> eps``; False marks an
#: unconditional row (official: encodings and masks zeroed, so cross-attention contributes nothing).
ConditionalModelFn = Callable[..., Tensor]


def cfg(model_fn: ConditionalModelFn, scale: float, batched: bool = True,
        interval: tuple[float, float] | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """Guided model function: eps = w eps(x, t, c) + (1 - w) eps(x, t, none), w = ``scale``.

    Args:
        model_fn: conditional model function, e.g.
            ``SpectrogramDiffusion.eps_fn(model.encode(tokens, context))``.
        scale: guidance weight w (official default 5.0, the Colab 2.0); w = 1 skips the
            unconditional pass.
        batched: run the conditional and unconditional rows as one doubled batch (faster);
            False runs two passes (same result).
        interval: (t_lo, t_hi): guide only at noise times t_lo <= t <= t_hi and take the
            conditional prediction alone elsewhere, one pass instead of two (guidance in a limited
            interval, Kynkaanniemi et al. 2024). None guides at every step.

    Returns:
        ``fn(x_t, t) -> eps`` for the samplers.
    """
    if scale == 1.0:
        return lambda x, t: model_fn(x, t, None)

    def guided(x: Tensor, t: Tensor) -> Tensor:
        if interval is not None and not interval[0] <= float(t[0]) <= interval[1]:
            return model_fn(x, t, None)
        b = x.shape[0]
        if batched:
            conditional = torch.arange(2 * b, device=x.device) < b  # [cond rows; uncond rows]
            eps = model_fn(torch.cat([x, x]), torch.cat([t, t]), conditional)
            eps_c, eps_u = eps[:b], eps[b:]
        else:
            eps_c = model_fn(x, t, None)
            eps_u = model_fn(x, t, torch.zeros(b, dtype=torch.bool, device=x.device))
        return scale * eps_c + (1 - scale) * eps_u

    return guided
