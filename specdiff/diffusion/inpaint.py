"""Inpainting as a wrapper from a model function to a model function: known frames held fixed."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from specdiff.diffusion.schedule import alpha_sigma, logsnr_cosine

ModelFn = Callable[[Tensor, Tensor], Tensor]


def inpaint(model_fn: ModelFn, x0: Tensor, weight: Tensor) -> ModelFn:
    """A model function whose clean-data prediction equals ``x0`` where ``weight`` is 1.

    The network's prediction x0_hat = (x_t - sigma eps) / alpha is replaced by
    ``weight * x0 + (1 - weight) * x0_hat`` and returned as the eps consistent with x_t, so every
    sampler on the continuous cosine schedule moves the known frames along the path that ends
    exactly at ``x0``, while the network, which sees the whole of x_t, generates the rest to fit
    them (the replacement method of RePaint, Lugmayr et al. 2022, applied to the x0 prediction
    instead of to x_t, which keeps deterministic solvers deterministic).

    Args:
        model_fn: ``fn(x_t (B, T, C), t (B,)) -> eps``, e.g. a guided `cfg` function.
        x0: (B, T, C) the known data, in the sample's scaled space.
        weight: (B, T, 1) or broadcastable: 1 where ``x0`` is known, 0 where it is generated;
            values between blend the two.
    """

    def inpainted(x: Tensor, t: Tensor) -> Tensor:
        alpha, sigma = alpha_sigma(logsnr_cosine(t.double()))
        alpha = alpha.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        sigma = sigma.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        eps = model_fn(x, t).to(x.dtype)
        x0_hat = (x - sigma * eps) / alpha
        blended = weight * x0 + (1 - weight) * x0_hat
        return (x - alpha * blended) / sigma

    return inpainted
