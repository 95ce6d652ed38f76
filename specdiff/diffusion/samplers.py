"""Samplers as pure functions ``sample_x(model_fn, x, ts, generator=None, ...) -> x``.

``model_fn(x_t, t) -> eps``: x_t (B, ...) and t (B,) float32 continuous time in [0, 1]; it returns
the predicted noise. ``callback(i)``, if given, is called after step i (progress). ``ts`` is a
decreasing time grid (see `time_grid`) from which every step goes from ts[i] to ts[i+1]. All
randomness comes from ``generator`` (torch.randn on x's device), so a sampler is deterministic given
the generator's seed; a sequence of generators, one per row of x, makes each row's noise
independent of the batch it is drawn in. Coefficients are computed in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from specdiff.diffusion.schedule import (
    alpha_sigma,
    alphas_cumprod_squaredcos,
    leading_timesteps,
    logsnr_cosine,
    time_grid,
)

ModelFn = Callable[[Tensor, Tensor], Tensor]
Generator = torch.Generator | Sequence[torch.Generator] | None
"""One generator for the whole batch, or one per row."""
Callback = Callable[[int], None] | None
"""Called with the step's index after every step (a progress bar's ``update``)."""


def _report(callback: Callback, step: int) -> None:
    if callback is not None:
        callback(step)


def randn(shape: tuple[int, ...], generator: Generator, device: str | torch.device | None = None,
          dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard normal noise of ``shape`` (B, ...) from ``generator``, or row b from
    ``generator[b]`` when it is a sequence of B generators."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for {shape[0]} rows")
    return torch.stack([torch.randn(shape[1:], generator=g, device=device, dtype=dtype)
                        for g in generator])


def _randn(x: Tensor, generator: Generator) -> Tensor:
    return randn(x.shape, generator, x.device, x.dtype)


def _times(t: float, x: Tensor) -> Tensor:
    return torch.full((x.shape[0],), t, dtype=torch.float32, device=x.device)


def _x0_eps(model_fn: ModelFn, x: Tensor, t: float, alpha: float, sigma: float,
            clip_x0: bool) -> tuple[Tensor, Tensor]:
    """Predicted (x0, eps) at time t; with clipping, x0 is clipped to [-1, 1] and eps recomputed."""
    eps = model_fn(x, _times(t, x)).to(x.dtype)
    x0 = (x - sigma * eps) / alpha
    if clip_x0:
        x0 = x0.clamp(-1.0, 1.0)
        eps = (x - alpha * x0) / sigma
    return x0, eps


def sample_ddpm(model_fn: ModelFn, x: Tensor, ts: Tensor, generator: Generator = None,
                clip_x0: bool = True, variance: str = "large", callback: Callback = None
                ) -> Tensor:
    """Official ancestral DDPM sampler (Ho et al. 2020, log-SNR form; 1000 steps: time_grid(1000)).

    Step t -> s: r = exp(logsnr_t - logsnr_s), mean = r (alpha_s/alpha_t) z + (1 - r) alpha_s x0,
    variance (1 - r) sigma_t^2 ("large") or (1 - r) sigma_s^2 ("small"). When s = ts[-1] = 0 the
    (clipped) x0 prediction is returned, as the official sampler does.
    """
    if variance not in ("large", "small"):
        raise ValueError(f"variance must be 'large' or 'small', got {variance!r}")
    ts = torch.as_tensor(ts, dtype=torch.float64)
    lam = logsnr_cosine(ts)
    alpha, sigma = alpha_sigma(lam)
    for i in range(len(ts) - 1):
        x0, _ = _x0_eps(model_fn, x, float(ts[i]), float(alpha[i]), float(sigma[i]), clip_x0)
        if i == len(ts) - 2 and float(ts[i + 1]) == 0.0:
            _report(callback, i)
            return x0
        r = torch.exp(lam[i] - lam[i + 1])
        mean = float(r * alpha[i + 1] / alpha[i]) * x + float((1 - r) * alpha[i + 1]) * x0
        var = (1 - r) * (sigma[i] ** 2 if variance == "large" else sigma[i + 1] ** 2)
        x = mean + float(var.sqrt()) * _randn(x, generator)
        _report(callback, i)
    return x


def sample_ddim(model_fn: ModelFn, x: Tensor, ts: Tensor, generator: Generator = None,
                clip_x0: bool = True, eta: float = 0.0, callback: Callback = None) -> Tensor:
    """DDIM (Song et al. 2021, eq. 12) on the continuous schedule; eta = 0 is deterministic."""
    ts = torch.as_tensor(ts, dtype=torch.float64)
    alpha, sigma = alpha_sigma(logsnr_cosine(ts))
    for i in range(len(ts) - 1):
        x0, eps = _x0_eps(model_fn, x, float(ts[i]), float(alpha[i]), float(sigma[i]), clip_x0)
        a_t, a_s = alpha[i] ** 2, alpha[i + 1] ** 2  # alpha-bar
        noise_std = eta * ((1 - a_s) / (1 - a_t) * (1 - a_t / a_s)).clamp(min=0).sqrt()
        direction = (1 - a_s - noise_std**2).clamp(min=0).sqrt()
        x = float(alpha[i + 1]) * x0 + float(direction) * eps
        if eta > 0 and float(noise_std) > 0:
            x = x + float(noise_std) * _randn(x, generator)
        _report(callback, i)
    return x


def sample_dpmpp_2m(model_fn: ModelFn, x: Tensor, ts: Tensor,
                    generator: Generator = None, clip_x0: bool = True,
                    callback: Callback = None) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2): multistep second order in the data prediction.

    With lambda = logsnr / 2 and h = lambda_s - lambda_t:
    x_s = (sigma_s/sigma_t) x_t - alpha_s (e^-h - 1) D, D = x0_t for the first step and
    (1 + 1/(2r)) x0_t - 1/(2r) x0_prev after it (r = h_prev / h). The last step, which jumps to
    t = 0 (log-SNR 20) with a large h, is first order: a second-order extrapolation there amplifies
    errors (diffusers' ``lower_order_final``). Deterministic; ``generator`` is accepted for a
    uniform signature.
    """
    ts = torch.as_tensor(ts, dtype=torch.float64)
    lam = logsnr_cosine(ts) / 2
    alpha, sigma = alpha_sigma(2 * lam)
    x0_prev, h_prev = None, None
    for i in range(len(ts) - 1):
        x0, _ = _x0_eps(model_fn, x, float(ts[i]), float(alpha[i]), float(sigma[i]), clip_x0)
        h = lam[i + 1] - lam[i]
        if x0_prev is None or i == len(ts) - 2:
            d = x0  # first order on the first and the last step (lower_order_final)
        else:
            r = h_prev / h
            d = float(1 + 1 / (2 * r)) * x0 - float(1 / (2 * r)) * x0_prev
        x = float(sigma[i + 1] / sigma[i]) * x - float(alpha[i + 1] * torch.expm1(-h)) * d
        x0_prev, h_prev = x0, h
        _report(callback, i)
    return x


def sample_dpmpp_3m(model_fn: ModelFn, x: Tensor, ts: Tensor,
                    generator: Generator = None, clip_x0: bool = True,
                    callback: Callback = None) -> Tensor:
    """DPM-Solver++(3M) (Lu et al. 2022, the third-order multistep form of k-diffusion's
    ``sample_dpmpp_3m_sde`` with no noise), in the data prediction on the log-SNR scale.

    With lambda = logsnr / 2, h = lambda_s - lambda_t and the last two steps' h_1, h_2:
    x_s = (sigma_s/sigma_t) x_t + alpha_s [(1 - e^-h) x0_t + phi_2 d1 - phi_3 d2], where d1 and
    d2 are the first and second divided differences of the x0 history (r0 = h_1/h, r1 = h_2/h),
    phi_2 = (e^-h - 1)/h + 1 and phi_3 = phi_2/h - 1/2. The first step is first order, the
    second second order; the last step, to t = 0, is first order (as in `sample_dpmpp_2m`).
    """
    ts = torch.as_tensor(ts, dtype=torch.float64)
    lam = logsnr_cosine(ts) / 2
    alpha, sigma = alpha_sigma(2 * lam)
    history: list[tuple[Tensor, float]] = []  # (x0, h) of the previous steps, newest first
    for i in range(len(ts) - 1):
        x0, _ = _x0_eps(model_fn, x, float(ts[i]), float(alpha[i]), float(sigma[i]), clip_x0)
        h = float(lam[i + 1] - lam[i])
        x = float(sigma[i + 1] / sigma[i]) * x - float(alpha[i + 1] * math.expm1(-h)) * x0
        phi_2 = math.expm1(-h) / h + 1
        last = i == len(ts) - 2
        if history and not last:
            x0_1, h_1 = history[0]
            d1_0 = (x0 - x0_1) * (h / h_1)  # (x0 - x0_1) / r0
            if len(history) > 1:
                x0_2, h_2 = history[1]
                r0, r1 = h_1 / h, h_2 / h
                d1_1 = (x0_1 - x0_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_3 = phi_2 / h - 0.5
                x = x + float(alpha[i + 1]) * (phi_2 * d1 - phi_3 * d2)
            else:
                x = x + float(alpha[i + 1]) * phi_2 * d1_0
        history = [(x0, h), *history[:1]]
        _report(callback, i)
    return x


def sample_ddpm_discrete(model_fn: ModelFn, x: Tensor, timesteps: Tensor,
                         generator: Generator = None, clip_x0: bool = True,
                         alphas_cumprod: Tensor | None = None,
                         num_train_timesteps: int = 1000, callback: Callback = None) -> Tensor:
    """diffusers' ``DDPMScheduler`` (squaredcos_cap_v2, fixed_large, epsilon, x0 clip).

    Reproduces ``SpectrogramDiffusionPipeline``: the network sees t = timestep / N, the posterior
    mean uses the effective beta across skipped timesteps, the "large" variance is that beta, and
    no noise is added at timestep 0. Coefficients are float32 as in diffusers.

    Args:
        timesteps: decreasing int timesteps, e.g. ``leading_timesteps(100)`` = [990, 980, ..., 0].
        alphas_cumprod: (N,) alpha-bar (default `alphas_cumprod_squaredcos`).
    """
    abar = alphas_cumprod
    if abar is None:
        abar = alphas_cumprod_squaredcos(num_train_timesteps)
    timesteps = torch.as_tensor(timesteps, dtype=torch.int64)
    one = torch.tensor(1.0)
    for i, t in enumerate(timesteps.tolist()):
        t_int = torch.full((x.shape[0],), t, dtype=torch.int64, device=x.device)
        t_model = t_int / num_train_timesteps
        eps = model_fn(x, t_model).to(x.dtype)
        a_t = abar[t]
        a_prev = abar[int(timesteps[i + 1])] if i + 1 < len(timesteps) else one
        alpha_step = a_t / a_prev
        beta_t = 1 - alpha_step
        x0 = (x - (1 - a_t) ** 0.5 * eps) / a_t**0.5
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
        x0_coef = a_prev**0.5 * beta_t / (1 - a_t)
        x_coef = alpha_step**0.5 * (1 - a_prev) / (1 - a_t)
        x = x0_coef * x0 + x_coef * x
        if t > 0:
            x = x + beta_t**0.5 * _randn(x, generator)
        _report(callback, i)
    return x


SAMPLERS: dict[str, Callable[..., Tensor]] = {
    "ddpm": sample_ddpm,
    "ddim": sample_ddim,
    "dpmpp_2m": sample_dpmpp_2m,
    "dpmpp_3m": sample_dpmpp_3m,
    "ddpm_discrete": sample_ddpm_discrete,
}
DEFAULT_STEPS = {"ddpm": 1000, "ddim": 50, "dpmpp_2m": 20, "dpmpp_3m": 20, "ddpm_discrete": 100}


def get_sampler(name: str) -> Callable[..., Tensor]:
    """The sampler function registered as ``name`` (ddpm, ddim, dpmpp_2m, dpmpp_3m,
    ddpm_discrete)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}: expected one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


DEFAULT_SPACING = {"ddpm": "uniform", "ddim": "window", "dpmpp_2m": "window",
                   "dpmpp_3m": "window"}


def sampler_grid(name: str, steps: int | None = None, spacing: str | None = None) -> Tensor:
    """A sampler's time grid: continuous `time_grid` (default spacing: uniform for ddpm, the
    log-SNR window for ddim and dpmpp_2m) or diffusers' leading timesteps for ddpm_discrete."""
    get_sampler(name)
    steps = DEFAULT_STEPS[name] if steps is None else steps
    if name == "ddpm_discrete":
        return leading_timesteps(steps)
    return time_grid(steps, spacing or DEFAULT_SPACING[name])


def sample(model_fn: ModelFn, shape: tuple[int, ...], sampler: str = "dpmpp_2m",
           steps: int | None = None, generator: Generator = None,
           device: str | torch.device | None = None, clip_x0: bool = True,
           spacing: str | None = None, x: Tensor | None = None, callback: Callback = None
           ) -> Tensor:
    """Draw x_1 ~ N(0, I) of ``shape`` (float32) from ``generator`` and run ``sampler`` to t = 0.

    Args:
        steps: network evaluations (defaults: ddpm 1000, ddim 50, dpmpp_2m 20, ddpm_discrete 100).
        spacing: time grid, see `sampler_grid`.
        x: start from this noise instead of drawing it.
        callback: called with the step's index after each step.

    Returns:
        The sample, same shape, in the model's data space ([-1, 1] for spectrograms).
    """
    fn = get_sampler(sampler)
    if x is None:
        x = randn(shape, generator, device)
    return fn(model_fn, x, sampler_grid(sampler, steps, spacing), generator=generator,
              clip_x0=clip_x0, callback=callback)
