"""Schedules and samplers on a Gaussian toy problem whose optimal denoiser is analytic."""

from __future__ import annotations

import math

import pytest
import torch

from specdiff.diffusion import (alpha_sigma, alphas_cumprod_squaredcos, cfg, diffusion_inputs,
                                get_sampler, l1_eps_loss, leading_timesteps, logsnr_cosine,
                                prediction_loss, q_sample, sample, t_from_logsnr, time_grid)

MU, STD = 0.3, 0.2  # data: x0 ~ N(MU, STD^2) per element
SHAPE = (2000, 8)


def gaussian_eps(alpha: torch.Tensor, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Optimal eps for Gaussian data: E[x0 | x_t] = MU + a s^2 / (a^2 s^2 + sigma^2) (x_t - a MU)."""
    alpha, sigma = alpha.to(x.dtype)[:, None], sigma.to(x.dtype)[:, None]
    x0 = MU + alpha * STD**2 / (alpha**2 * STD**2 + sigma**2) * (x - alpha * MU)
    return (x - alpha * x0) / sigma


def continuous_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    alpha, sigma = alpha_sigma(logsnr_cosine(t.double()))
    return gaussian_eps(alpha, sigma, x)


ABAR = alphas_cumprod_squaredcos(1000).double()


def discrete_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    abar = ABAR[torch.round(t.double() * 1000).long()]
    return gaussian_eps(abar.sqrt(), (1 - abar).sqrt(), x)


def test_cosine_logsnr_schedule():
    assert float(logsnr_cosine(0.0)) == pytest.approx(20.0, abs=1e-9)
    assert float(logsnr_cosine(1.0)) == pytest.approx(-20.0, abs=1e-9)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    lam = logsnr_cosine(t)
    assert (lam[1:] < lam[:-1]).all()
    torch.testing.assert_close(t_from_logsnr(lam), t)
    b = math.atan(math.exp(-10))
    a = math.atan(math.exp(10)) - b
    alpha, sigma = alpha_sigma(lam)
    torch.testing.assert_close(alpha**2, torch.cos(a * t + b) ** 2)
    torch.testing.assert_close(alpha**2 + sigma**2, torch.ones_like(t))


def test_official_grid_and_leading_timesteps():
    ts = time_grid(1000)
    assert len(ts) == 1001 and float(ts[0]) == 1.0 and float(ts[-1]) == 0.0
    assert float(ts[999]) == pytest.approx(0.001)  # the last time the network sees
    assert leading_timesteps(100)[:3].tolist() == [990, 980, 970]
    assert leading_timesteps(100)[-1] == 0
    lam = logsnr_cosine(time_grid(10, "logsnr"))
    torch.testing.assert_close(lam.diff(), torch.full((10,), 4.0, dtype=torch.float64))


def test_q_sample_and_training_inputs():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((3, 5, 2), 0.5)
    x_t, t, eps = diffusion_inputs(x0, gen)
    assert x_t.shape == x0.shape and t.shape == (3,) and ((t >= 0) & (t < 1)).all()
    torch.testing.assert_close(q_sample(x0, t, eps), x_t)
    # sigma(0) = exp(-10): t = 0 is clean up to 4.5e-5 * eps
    torch.testing.assert_close(q_sample(x0, torch.zeros(3), eps), x0, atol=5e-5 * 5, rtol=0)


def test_l1_loss():
    pred, eps = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    assert float(l1_eps_loss(pred, eps)) == 24.0
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert float(l1_eps_loss(pred, eps, mask)) == 12.0
    assert float(l1_eps_loss(pred, 3 * eps, mask, reduction="mean")) == 3.0


def test_l2_loss_and_its_optimum_is_the_mean_not_the_median():
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    pred, target = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    assert float(prediction_loss(pred, 3 * target, mask, reduction="mean", kind="l2")) == 9.0
    # one cell that is +1 a quarter of the time, -1 otherwise: L1 prefers -1, L2 -0.5
    outcomes = torch.tensor([1.0, -1.0, -1.0, -1.0])
    grid = torch.linspace(-1, 1, 201)
    for kind, best in (("l1", -1.0), ("l2", -0.5)):
        losses = [float(prediction_loss(g.expand(4), outcomes, reduction="mean", kind=kind))
                  for g in grid]
        assert float(grid[int(torch.tensor(losses).argmin())]) == pytest.approx(best, abs=0.01)
    with pytest.raises(ValueError, match="kind"):
        prediction_loss(pred, target, kind="huber")


def test_shifted_training_times_keep_the_schedule_and_move_towards_noise():
    x0 = torch.zeros(20000, 1, 1)
    _, t_official, _ = diffusion_inputs(x0, torch.Generator().manual_seed(0))
    x_t, t, eps = diffusion_inputs(x0, torch.Generator().manual_seed(0), logsnr_shift=-3.0)
    torch.testing.assert_close(q_sample(x0, t, eps), x_t)  # same forward process, other times
    # each draw is the same u moved to the time whose log-SNR is 3 lower
    expected = logsnr_cosine(t_official) - 3.0
    torch.testing.assert_close(logsnr_cosine(t), expected.clamp(-20, 20), atol=1e-3, rtol=1e-3)
    assert float(t.median()) > float(t_official.median()) + 0.05


@pytest.mark.parametrize("name,steps,fn", [
    ("ddpm", 1000, continuous_fn), ("ddim", 200, continuous_fn), ("dpmpp_2m", 20, continuous_fn),
    ("ddpm_discrete", 100, discrete_fn)])
def test_sampler_moments(name, steps, fn):
    gen = torch.Generator().manual_seed(1)
    x = sample(fn, SHAPE, sampler=name, steps=steps, generator=gen, clip_x0=False)
    assert abs(float(x.mean()) - MU) < 0.01, name
    assert abs(float(x.std()) - STD) < 0.01, name


def test_ddpm_small_variance_and_clipping():
    gen = torch.Generator().manual_seed(2)
    x = sample(lambda x, t: continuous_fn(x, t), SHAPE, "ddpm", 200, gen)
    assert x.abs().max() <= 1.0  # the official sampler returns the clipped x0
    x = get_sampler("ddpm")(continuous_fn, torch.randn(SHAPE, generator=gen), time_grid(200),
                            generator=gen, variance="small", clip_x0=False)
    assert abs(float(x.mean()) - MU) < 0.01 and abs(float(x.std()) - STD) < 0.01


def test_dpmpp_20_steps_matches_the_exact_flow_and_1000_step_ddpm():
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(SHAPE, generator=gen)
    # the probability-flow ODE maps x_1 = z to MU + STD z (alpha(1) = 4.5e-5 is negligible)
    exact = MU + STD * noise
    fast = sample(continuous_fn, SHAPE, "dpmpp_2m", 20, x=noise.clone(), clip_x0=False)
    assert float((fast - exact).abs().mean()) < 3e-3
    assert float((fast - exact).abs().max()) < 2e-2
    ode = sample(continuous_fn, SHAPE, "ddim", 1000, x=noise.clone(), clip_x0=False)
    assert float((ode - exact).abs().max()) < 5e-3
    ddpm = sample(continuous_fn, SHAPE, "ddpm", 1000, torch.Generator().manual_seed(4))
    assert abs(float(fast.mean() - ddpm.mean())) < 0.01
    assert abs(float(fast.std() - ddpm.std())) < 0.01


def test_dpmpp_3m_converges_faster_on_the_exact_flow():
    """On the Gaussian toy the probability-flow ODE is known exactly. With 15 or more steps of
    the default grid the third-order solver lands closer than the second-order one, and its
    error falls faster with the steps (at 8-10 steps, after the grid's first large step, its
    extrapolation overshoots: the real model's figures decide the defaults)."""
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    exact = MU + STD * noise

    def error(name: str, steps: int) -> float:
        x = sample(continuous_fn, SHAPE, name, steps, x=noise.clone(), clip_x0=False)
        return float((x - exact).abs().mean())

    e2 = {n: error("dpmpp_2m", n) for n in (15, 20, 40)}
    e3 = {n: error("dpmpp_3m", n) for n in (15, 20, 40)}
    assert all(e3[n] < e2[n] for n in e2), (e2, e3)
    assert e3[40] < 1e-4 and e3[20] / e3[40] > 2 * e2[20] / e2[40], (e2, e3)


def test_time_grids():
    for spacing in ("uniform", "logsnr", "window"):
        ts = time_grid(20, spacing)
        assert len(ts) == 21 and float(ts[0]) == 1.0 and float(ts[-1]) == 0.0
        assert (ts.diff() < 0).all()
    inner = logsnr_cosine(time_grid(20, "window")[1:-1])
    torch.testing.assert_close(inner, torch.linspace(-6, 10, 19, dtype=torch.float64))


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp_2m", "dpmpp_3m", "ddpm_discrete"])
def test_samplers_are_deterministic_given_the_generator(name):
    def run(seed):
        fn = discrete_fn if name == "ddpm_discrete" else continuous_fn
        return sample(fn, (16, 4), name, 10, torch.Generator().manual_seed(seed))

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))
    # the progress callback sees every step once, in order, and changes nothing
    seen = []
    fn = discrete_fn if name == "ddpm_discrete" else continuous_fn
    out = sample(fn, (16, 4), name, 10, torch.Generator().manual_seed(5), callback=seen.append)
    assert seen == list(range(10)) and torch.equal(out, run(5))


def test_unknown_sampler():
    with pytest.raises(ValueError, match="dpmpp_2m"):
        get_sampler("euler")


def test_cfg_combines_and_batches():
    calls = []

    def model_fn(x, t, cond=None):
        calls.append(x.shape[0])
        c = torch.ones(x.shape[0], dtype=torch.bool) if cond is None else cond
        return x * 0 + torch.where(c, 3.0, 1.0)[:, None]

    x, t = torch.zeros(2, 4), torch.full((2,), 0.5)
    assert torch.equal(cfg(model_fn, 2.0)(x, t), torch.full((2, 4), 5.0))  # 2*3 - 1*1
    assert calls == [4]
    assert torch.equal(cfg(model_fn, 2.0, batched=False)(x, t), torch.full((2, 4), 5.0))
    assert calls == [4, 2, 2]
    assert torch.equal(cfg(model_fn, 1.0)(x, t), torch.full((2, 4), 3.0))
    assert calls == [4, 2, 2, 2]
    # a guidance interval: guided inside it, one conditional pass outside
    limited = cfg(model_fn, 2.0, interval=(0.2, 0.6))
    assert torch.equal(limited(x, t), torch.full((2, 4), 5.0)) and calls[-1] == 4
    assert torch.equal(limited(x, torch.full((2,), 0.9)), torch.full((2, 4), 3.0))
    assert torch.equal(limited(x, torch.full((2,), 0.1)), torch.full((2, 4), 3.0))
    assert calls[-2:] == [2, 2]


def test_sampler_config_and_sample_guided():
    from specdiff.diffusion import SamplerConfig, sample_guided

    assert SamplerConfig().num_steps == 20 and SamplerConfig().network_passes == 40
    official = SamplerConfig.official()
    assert (official.name, official.num_steps, official.network_passes) == ("ddpm", 1000, 2000)
    assert SamplerConfig.diffusers().network_passes == 100

    def model_fn(x, t, cond=None):
        c = torch.ones(x.shape[0], dtype=torch.bool) if cond is None else cond
        return continuous_fn(x, t) + torch.where(c, 0.1, 0.0)[:, None]

    config = SamplerConfig(steps=5, guidance=3.0)
    out = sample_guided(model_fn, (6, 4), config, torch.Generator().manual_seed(0))
    ref = sample(cfg(model_fn, 3.0), (6, 4), "dpmpp_2m", 5, torch.Generator().manual_seed(0))
    assert torch.equal(out, ref)
