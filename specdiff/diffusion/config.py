"""Sampler settings as one frozen dataclass, and the guided sampling call that uses them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from specdiff.diffusion.guidance import cfg
from specdiff.diffusion.inpaint import inpaint
from specdiff.diffusion.samplers import DEFAULT_STEPS, SAMPLERS, Generator, sample
from specdiff.errors import SpecdiffError


@dataclass(frozen=True)
class SamplerConfig:
    """How to draw one segment.

    Attributes:
        name: ``dpmpp_2m`` (fast default), ``dpmpp_3m``, ``ddim``, ``ddpm`` (official ancestral
            sampler) or ``ddpm_discrete`` (diffusers' pipeline).
        steps: network evaluations; None = the sampler's default (20, 50, 1000, 100).
        guidance: classifier-free guidance weight w (1 = off). The official Colab and the
            diffusers conversion use 2.0; the official code default is 5.0.
        spacing: time grid (``uniform``, ``logsnr``, ``window``); None = the sampler's default.
        clip_x0: clip the x0 prediction to [-1, 1] at every step (official).
        batched_guidance: run conditional and unconditional rows as one batch.
        guidance_interval: (t_lo, t_hi) noise times where guidance applies (None: everywhere),
            see `specdiff.diffusion.cfg`.
    """

    name: str = "dpmpp_2m"
    steps: int | None = None
    guidance: float = 2.0
    spacing: str | None = None
    clip_x0: bool = True
    batched_guidance: bool = True
    guidance_interval: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.name not in SAMPLERS:
            raise SpecdiffError(f"sampler {self.name!r}: expected one of {list(SAMPLERS)}")
        if self.steps is not None and self.steps < 1:
            raise SpecdiffError(f"sampler steps {self.steps}: expected >= 1")
        if self.guidance_interval is not None:
            lo, hi = map(float, self.guidance_interval)
            if not 0.0 <= lo <= hi <= 1.0:
                raise SpecdiffError(f"guidance interval {self.guidance_interval}: expected "
                                    "0 <= t_lo <= t_hi <= 1")
            object.__setattr__(self, "guidance_interval", (lo, hi))

    @property
    def num_steps(self) -> int:
        return DEFAULT_STEPS[self.name] if self.steps is None else self.steps

    @property
    def network_passes(self) -> int:
        """Network evaluations per segment, counting both guidance passes."""
        return self.num_steps * (1 if self.guidance == 1.0 else 2)

    @classmethod
    def official(cls, guidance: float = 2.0) -> SamplerConfig:
        """The paper's recipe: 1000 ancestral DDPM steps, x0 clipping, guidance."""
        return cls(name="ddpm", steps=1000, guidance=guidance)

    @classmethod
    def diffusers(cls) -> SamplerConfig:
        """diffusers' pipeline: 100 discrete squaredcos_cap_v2 DDPM steps, no guidance."""
        return cls(name="ddpm_discrete", steps=100, guidance=1.0)


def sample_guided(model_fn: Callable[..., Tensor], shape: tuple[int, ...], config: SamplerConfig,
                  generator: Generator = None,
                  device: str | torch.device | None = None,
                  callback: Callable[[int], None] | None = None,
                  known: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Draw noise of ``shape`` from ``generator`` and sample with guidance per ``config``.

    Args:
        model_fn: conditional model function ``fn(x_t, t, conditional=None) -> eps``, e.g.
            ``SpectrogramDiffusion.eps_fn(model.encode(tokens, context))``.
        shape: (B, T, n_mels) of the sample.
        callback: called with the step's index after each step (progress).
        known: (x0 (B, T, n_mels), weight (B, T, 1)): frames to keep, see `inpaint` (not with
            ``ddpm_discrete``, whose schedule is not the continuous one).

    Returns:
        (B, T, n_mels) float32 sample in the scaled [-1, 1] space.
    """
    guided = cfg(model_fn, config.guidance, batched=config.batched_guidance,
                 interval=config.guidance_interval)
    if known is not None:
        if config.name == "ddpm_discrete":
            raise SpecdiffError("inpainting needs a sampler on the continuous schedule; "
                                "ddpm_discrete is diffusers' discrete one")
        guided = inpaint(guided, *known)
    return sample(guided, shape, config.name, config.steps, generator, device, config.clip_x0,
                  config.spacing, callback=callback)
