"""Training objective: epsilon prediction with an L1 loss (official ``loss_fn``) or L2, the
training times, and the target of v-prediction models."""

from __future__ import annotations

import torch
from torch import Tensor

from specdiff.diffusion.schedule import (
    LOGSNR_MAX,
    LOGSNR_MIN,
    alpha_sigma,
    logsnr_cosine,
    q_sample,
    t_from_logsnr,
)


def prediction_loss(pred: Tensor, target: Tensor, mask: Tensor | None = None,
                    reduction: str = "sum", kind: str = "l1") -> Tensor:
    """|pred - target| (``kind="l1"``, official) or (pred - target)^2 (``"l2"``) under an
    optional frame mask.

    L1's optimum is the median of what the network cannot know: while the conditioning only
    narrows a cell's outcome without making one outcome likely (say, "a note near here"), the
    median, and so the gradient towards using it, does not move. L2's optimum, the mean, moves
    with every bit of information. (`scripts/conditioning_toy.py --note-roll`, 1 500 steps: x0 MSE
    at t = 0.98 with a window's own / another window's tokens 0.092 / 0.118 with L2; no gap with
    L1.)

    Args:
        pred, target: (B, T, C).
        mask: (B, T) 1 = frame counted, or None.
        reduction: ``"sum"`` (official: summed over everything) or ``"mean"`` (per counted element).
        kind: ``"l1"`` or ``"l2"``.
    """
    if kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {kind!r}")
    err = (pred - target).abs() if kind == "l1" else (pred - target).square()
    if mask is not None:
        err = err * mask[..., None].to(err.dtype)
    if reduction == "sum":
        return err.sum()
    if reduction == "mean":
        count = err.numel() if mask is None else mask.to(err.dtype).sum() * err.shape[-1]
        return err.sum() / torch.clamp(torch.as_tensor(count, dtype=err.dtype), min=1)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def l1_eps_loss(eps_pred: Tensor, eps: Tensor, mask: Tensor | None = None,
                reduction: str = "sum") -> Tensor:
    """The official objective: |eps_pred - eps| (`prediction_loss` with ``kind="l1"``)."""
    return prediction_loss(eps_pred, eps, mask, reduction, "l1")


def diffusion_inputs(x0: Tensor, generator: torch.Generator | None = None,
                     logsnr_shift: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """Draw t per example and eps ~ N(0, I); return (x_t, t, eps) for the loss.

    t ~ U[0, 1) (official). With ``logsnr_shift`` s != 0, u ~ U[0, 1) is moved to the time whose
    log-SNR is logsnr_cosine(u) + s (clipped to the schedule's range): s < 0 trains more at high
    noise ("simple diffusion", Hoogeboom et al. 2023, for data whose many redundant values make
    the official schedule's noise levels easy). The schedule itself, and so sampling, is
    unchanged: only how often each t is trained.

    Args:
        x0: (B, T, C) clean scaled spectrograms.
        logsnr_shift: log-SNR offset of the training times (0 = the official uniform t).

    Returns:
        x_t (B, T, C), t (B,) float32, eps (B, T, C).
    """
    t = torch.rand(x0.shape[0], generator=generator, device=x0.device)
    if logsnr_shift:
        logsnr = (logsnr_cosine(t) + logsnr_shift).clamp(LOGSNR_MIN, LOGSNR_MAX)
        t = t_from_logsnr(logsnr).clamp(0.0, 1.0).to(torch.float32)
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
