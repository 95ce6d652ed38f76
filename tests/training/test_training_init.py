"""From-scratch initialisation vs the optimizer: Adafactor must not start from zero matrices."""

from __future__ import annotations

import pytest
import torch

from specdiff.training import DiffusionModule
from specdiff.training.optim import build_optimizer

TINY = dict(d_model=16, head_dim=4, num_heads=2, d_ff=32, encoder_layers=1, decoder_layers=1,
            target_length=8, context_length=8)


def _zeroed(module: DiffusionModule) -> list[str]:
    return [n for n, p in module.model.named_parameters() if p.requires_grad and not p.any()]


def test_adafactor_starts_without_zero_matrices_and_adamw_with_a_zero_output():
    ada = DiffusionModule(size="tiny", model_overrides=TINY, optimizer="adafactor")
    adamw = DiffusionModule(size="tiny", model_overrides=TINY, optimizer="adamw")
    assert _zeroed(ada) == []
    assert "decoder.output_proj.weight" in _zeroed(adamw)


@pytest.mark.parametrize("start", [0.0, 0.05])
def test_adafactor_steps_scale_with_the_parameter(start):
    """Why: torch's Adafactor moves a parameter by about lr * max(1e-3, RMS(p)) per step."""
    p = torch.nn.Parameter(torch.full((8, 8), start))
    opt = build_optimizer([p], "adafactor", lr=1e-3)
    for _ in range(10):
        p.grad = torch.ones_like(p)
        opt.step()
    moved = (start - p.detach()).abs().mean().item()
    assert moved == pytest.approx(10 * 1e-3 * max(1e-3, start), rel=0.2)
