"""specdiff's discrete DDPM sampler reproduces diffusers' DDPMScheduler and its 100-step pipeline."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from specdiff.diffusion import (alphas_cumprod_squaredcos, leading_timesteps, sample,
                                sample_ddpm_discrete)
from specdiff.models import SpectrogramDiffusion

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
MIN, MAX = math.log(1e-5), 4.0  # the pipeline's feature range (audio.md §1)


def test_schedule_and_timesteps_match():
    data = np.load(FIXTURES / "diffusers_tiny_cases.npz")
    assert np.array_equal(leading_timesteps(100).numpy(), data["sched_timesteps"])
    assert np.array_equal(alphas_cumprod_squaredcos(1000).numpy(), data["sched_alphas_cumprod"])


def test_scheduler_steps_match_with_same_noise():
    data = np.load(FIXTURES / "diffusers_tiny_cases.npz")
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 4, 8, generator=gen)
    assert np.array_equal(x.numpy(), data["sched_x_init"])
    out = sample_ddpm_discrete(lambda x, t: 0.5 * x, x, leading_timesteps(100), generator=gen)
    np.testing.assert_allclose(out.numpy(), data["sched_x_final"], rtol=0, atol=1e-5)


@torch.no_grad()
def test_reproduces_the_diffusers_pipeline():
    """Two segments, context chained from the previous output, 100 steps, one generator."""
    data = np.load(FIXTURES / "diffusers_tiny_pipeline.npz")
    model = SpectrogramDiffusion.from_pretrained(FIXTURES / "diffusers_tiny")
    gen = torch.Generator().manual_seed(int(data["seed"]))
    context, mels = None, []
    for tokens in torch.from_numpy(data["tokens"]).split(1):
        x = sample(model.eps_fn(model.encode(tokens, context=context)), (1, 256, 128), sampler="ddpm_discrete",
                   steps=int(data["steps"]), generator=gen)
        mel = (x + 1) / 2 * (MAX - MIN) + MIN
        mels.append(mel)
        context = ((mel.clamp(MIN, MAX) - MIN) / (MAX - MIN)) * 2 - 1
    out = torch.cat(mels, dim=1).numpy()
    ref = data["mel"]
    assert out.shape == ref.shape == (1, 512, 128)
    # measured: max 2.4e-5, mean 8e-7 (log-mel units, |ref| <= 11.5)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    assert np.abs(out - ref).mean() < 1e-6 * np.abs(ref).max()
