"""Noise schedules: the official continuous cosine log-SNR, diffusers' discrete squaredcos_cap_v2.

Variance preserving: z_t = alpha_t x_0 + sigma_t eps with alpha^2 = sigmoid(logsnr) and
sigma^2 = sigmoid(-logsnr). Time t in [0, 1], t = 0 clean, t = 1 noise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOGSNR_MIN = -20.0
LOGSNR_MAX = 20.0


def _cosine_ab(logsnr_min: float, logsnr_max: float) -> tuple[float, float]:
    b = math.atan(math.exp(-0.5 * logsnr_max))
    a = math.atan(math.exp(-0.5 * logsnr_min)) - b
    return a, b


def logsnr_cosine(t: Tensor | float, logsnr_min: float = LOGSNR_MIN,
                  logsnr_max: float = LOGSNR_MAX) -> Tensor:
    """Official schedule: logsnr(t) = -2 ln tan(a t + b), so logsnr(0) = max and logsnr(1) = min.

    Equivalent to alpha^2 = cos^2(a t + b), the cos^2(pi t / 2) schedule squeezed into
    [logsnr_min, logsnr_max] (no 0.008 offset). Computed in float64.

    Args:
        t: time(s) in [0, 1], any shape.

    Returns:
        float64 tensor of t's shape.
    """
    a, b = _cosine_ab(logsnr_min, logsnr_max)
    t = torch.as_tensor(t, dtype=torch.float64)
    return -2.0 * torch.log(torch.tan(a * t + b))


def t_from_logsnr(logsnr: Tensor | float, logsnr_min: float = LOGSNR_MIN,
                  logsnr_max: float = LOGSNR_MAX) -> Tensor:
    """Inverse of `logsnr_cosine` (float64)."""
    a, b = _cosine_ab(logsnr_min, logsnr_max)
    logsnr = torch.as_tensor(logsnr, dtype=torch.float64)
    return (torch.atan(torch.exp(-0.5 * logsnr)) - b) / a


def alpha_sigma(logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """(alpha, sigma) = (sqrt(sigmoid(logsnr)), sqrt(sigmoid(-logsnr)))."""
    return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()


#: log-SNR range that the "window" grid spans between its first and last step. Outside it the
#: x0 prediction hardly changes (pure noise below, clean data above), so a few-step solver
#: spends its steps where the data prediction moves (tuned on the Gaussian toy problem).
WINDOW = (-6.0, 10.0)


def time_grid(steps: int, spacing: str = "uniform", t_max: float = 1.0, t_min: float = 0.0,
              window: tuple[float, float] = WINDOW) -> Tensor:
    """Decreasing sampling grid of ``steps + 1`` times from t_max to t_min (float64).

    Args:
        spacing: ``"uniform"`` in t (the official 1000-step grid is ``time_grid(1000)``: the network
            sees t = 1.0, 0.999, ..., 0.001); ``"logsnr"``: uniform in log-SNR from t_max to t_min;
            ``"window"``: t_max, then ``steps - 1`` points uniform in log-SNR over ``window``, then
            t_min (the few-step default).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if spacing == "uniform":
        return torch.linspace(t_max, t_min, steps + 1, dtype=torch.float64)
    if spacing == "logsnr":
        lo, hi = logsnr_cosine(t_max), logsnr_cosine(t_min)
        return t_from_logsnr(torch.linspace(float(lo), float(hi), steps + 1, dtype=torch.float64))
    if spacing == "window":
        inner = t_from_logsnr(torch.linspace(window[0], window[1], steps - 1, dtype=torch.float64))
        inner = inner[(inner < t_max) & (inner > t_min)]
        ends = torch.tensor([t_max, t_min], dtype=torch.float64)
        return torch.cat([ends[:1], inner, ends[1:]])
    raise ValueError(f"unknown spacing {spacing!r}: expected 'uniform', 'logsnr' or 'window'")


def q_sample(x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """Forward process z_t = alpha_t x0 + sigma_t noise.

    Args:
        x0, noise: (B, ...) clean data and N(0, I) noise.
        t: (B,) times in [0, 1].
    """
    alpha, sigma = alpha_sigma(logsnr_cosine(t))
    shape = (-1,) + (1,) * (x0.ndim - 1)
    return alpha.to(x0.dtype).view(shape) * x0 + sigma.to(x0.dtype).view(shape) * noise


# ---------------------------------------------------------------- diffusers' discrete schedule
def alphas_cumprod_squaredcos(num_train_timesteps: int = 1000, max_beta: float = 0.999) -> Tensor:
    """diffusers ``squaredcos_cap_v2``: beta_i = min(1 - f(i+1)/f(i), 0.999),
    f(u) = cos^2((u/N + 0.008)/1.008 pi/2).

    The betas are computed in double, stored in float32 and cumulated in float32, as diffusers does.

    Returns:
        (N,) float32 alpha-bar.
    """
    def f(u: float) -> float:
        return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    n = num_train_timesteps
    betas = torch.tensor([min(1 - f((i + 1) / n) / f(i / n), max_beta) for i in range(n)],
                         dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0)


def leading_timesteps(steps: int, num_train_timesteps: int = 1000) -> Tensor:
    """diffusers "leading" spacing: N // steps times [steps-1, ..., 0] (int64)."""
    ratio = num_train_timesteps // steps
    return torch.arange(steps - 1, -1, -1, dtype=torch.int64) * ratio
