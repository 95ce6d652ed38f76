"""specdiff.diffusion: noise schedules, samplers and guidance as pure functions."""

from specdiff.diffusion.config import SamplerConfig, sample_guided
from specdiff.diffusion.guidance import cfg
from specdiff.diffusion.inpaint import inpaint
from specdiff.diffusion.loss import diffusion_inputs, l1_eps_loss, prediction_loss, v_target
from specdiff.diffusion.samplers import (DEFAULT_STEPS, SAMPLERS, get_sampler, sample,
                                         sample_ddim, sample_ddpm, sample_ddpm_discrete,
                                         sample_dpmpp_2m, sampler_grid)
from specdiff.diffusion.schedule import (alpha_sigma, alphas_cumprod_squaredcos,
                                         leading_timesteps, logsnr_cosine, q_sample,
                                         t_from_logsnr, time_grid)

__all__ = [
    "SamplerConfig", "sample_guided", "cfg", "inpaint", "diffusion_inputs", "l1_eps_loss", "prediction_loss",
    "v_target", "DEFAULT_STEPS",
    "SAMPLERS", "get_sampler", "sample",
    "sample_ddim", "sample_ddpm", "sample_ddpm_discrete", "sample_dpmpp_2m", "sampler_grid",
    "alpha_sigma", "alphas_cumprod_squaredcos", "leading_timesteps", "logsnr_cosine", "q_sample",
    "t_from_logsnr", "time_grid",
]
