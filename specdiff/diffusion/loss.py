"""Training objective: epsilon prediction with an L1 loss (official ``loss_fn``), and the target
of v-prediction models."""

from __future__ import annotations

import torch
from torch import Tensor

from specdiff.diffusion.schedule import alpha_sigma, logsnr_cosine, q_sample


def l1_eps_loss(eps_pred: Tensor, eps: Tensor, mask: Tensor | None = None,
                reduction: str = "sum") -> Tensor:
    """|eps_pred - eps| under an optional frame mask.

    Args:
        eps_pred, eps: (B, T, C).
        mask: (B, T) 1 = frame counted, or None.
        reduction: ``"sum"`` (official: summed over everything) or ``"mean"`` (per counted element).
    """
    err = (eps_pred - eps).abs()
    if mask is not None:
        err = err * mask[..., None].to(err.dtype)
    if reduction == "sum":
        return err.sum()
    if reduction == "mean":
        count = err.numel() if mask is None else mask.to(err.dtype).sum() * err.shape[-1]
        return err.sum() / torch.clamp(torch.as_tensor(count, dtype=err.dtype), min=1)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def diffusion_inputs(x0: Tensor, generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """Draw t ~ U[0, 1) per example and eps ~ N(0, I); return (x_t, t, eps) for the loss.

    Args:
        x0: (B, T, C) clean scaled spectrograms.

    Returns:
        x_t (B, T, C), t (B,) float32, eps (B, T, C).
    """
    t = torch.rand(x0.shape[0], generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return q_sample(x0, t, eps), t, eps


def v_target(x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """v = alpha_t eps - sigma_t x0 (Salimans & Ho 2022), the target of v-prediction models.

    Args:
        x0, eps: (B, ...) clean data and the noise of ``x_t = alpha_t x0 + sigma_t eps``.
        t: (B,) times in [0, 1] (cosine log-SNR schedule).
    """
    alpha, sigma = alpha_sigma(logsnr_cosine(t))
    shape = (-1,) + (1,) * (x0.ndim - 1)
    return alpha.to(x0.dtype).view(shape) * eps - sigma.to(x0.dtype).view(shape) * x0
