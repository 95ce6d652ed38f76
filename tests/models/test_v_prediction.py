"""v-prediction models: the decoder outputs v = alpha eps - sigma x0; samplers still get epsilon."""

from __future__ import annotations

import pytest
import torch

from specdiff.diffusion import alpha_sigma, diffusion_inputs, logsnr_cosine, sample, v_target
from specdiff.models import SpectrogramDiffusion, model_config


def _tiny(prediction: str) -> SpectrogramDiffusion:
    torch.manual_seed(0)
    return SpectrogramDiffusion(model_config("tiny", has_context=False, prediction=prediction)).eval()


def test_denoise_converts_v_to_epsilon():
    model = _tiny("v")
    x_t = torch.randn(2, 256, 128, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.3, 0.9])
    conditioning = model.encode(torch.tensor([[5, 6, 1], [7, 1, 0]]))
    with torch.no_grad():
        v = model.predict(x_t, t, conditioning)
        eps = model.predict_eps(x_t, t, conditioning)
    alpha, sigma = (a.float()[:, None, None] for a in alpha_sigma(logsnr_cosine(t)))
    torch.testing.assert_close(eps, sigma * x_t + alpha * v)
    plain = _tiny("epsilon")
    with torch.no_grad():
        torch.testing.assert_close(plain.predict_eps(x_t, t, conditioning),
                                   plain.predict(x_t, t, conditioning))


def test_an_exact_v_predictor_samples_its_data_point():
    """A network that outputs the true v of one fixed x0 makes every sampler return that x0."""
    x0 = torch.rand(1, 256, 128, generator=torch.Generator().manual_seed(2)) * 1.6 - 0.8
    model = _tiny("v")

    def exact_v(x_t, t, *args, **kwargs):
        alpha, sigma = (a.float()[:, None, None] for a in alpha_sigma(logsnr_cosine(t)))
        return (alpha * x_t - x0) / sigma  # = alpha eps - sigma x0 for x_t = alpha x0 + sigma eps

    model.predict = exact_v
    fn = lambda x, t: model.predict_eps(x, t, None)  # noqa: E731 - the samplers' signature
    for sampler, steps in (("dpmpp_2m", 10), ("ddim", 10), ("ddpm", 50)):
        out = sample(fn, x0.shape, sampler, steps, generator=torch.Generator().manual_seed(3))
        # float32 round-off only: the exact v divides by sigma, tiny near t = 0
        torch.testing.assert_close(out, x0, rtol=0, atol=1e-3, msg=sampler)


def test_training_loss_of_a_v_model_is_l1_to_the_v_target():
    from specdiff.training import DiffusionModule

    module = DiffusionModule(size="tiny", has_context=False,
                             model_overrides={"prediction": "v", "dropout": 0.0})
    batch = {"tokens": torch.tensor([[5, 6, 1]]), "target": torch.rand(1, 256, 128) * 2 - 1}
    loss = module.loss(module.model, batch, torch.Generator().manual_seed(4))
    x_t, t, eps = diffusion_inputs(batch["target"], torch.Generator().manual_seed(4))
    conditioning = module.model.encode(batch["tokens"])
    want = (module.model.predict(x_t, t, conditioning)
            - v_target(batch["target"], t, eps)).abs().mean()
    torch.testing.assert_close(loss, want)


def test_unknown_prediction_is_an_error():
    from specdiff.errors import SpecdiffError

    with pytest.raises(SpecdiffError, match="prediction"):
        model_config("tiny", prediction="x0")
