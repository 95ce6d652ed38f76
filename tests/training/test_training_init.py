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


def test_time_aligned_shifts_embed_each_shift_as_its_frame_position():
    from specdiff.codec import OFFICIAL_CODEC as codec

    random_init = DiffusionModule(size="tiny", model_overrides=TINY, optimizer="adamw")
    module = DiffusionModule(size="tiny", model_overrides=TINY, optimizer="adamw",
                             shift_init="time")
    emb = module.model.notes_encoder.token_embedding.weight
    table = module.model.decoder.position_table
    shifts = emb[codec.token("shift", 0): codec.token("shift", codec.max_shift_steps) + 1]
    # shifts 2f and 2f + 1 (10 ms steps) share frame f (20 ms); past the last frame, the last row
    assert torch.equal(shifts[6], shifts[7]) and not torch.equal(shifts[6], shifts[8])
    assert torch.equal(shifts[2 * 7], shifts[-1])
    # what differs between two shifts is exactly their frames' position rows (unit RMS scale:
    # sqrt(2) table / sqrt(2)); the rest is one vector shared by all shifts
    torch.testing.assert_close(shifts[6] - shifts[8], table[3] - table[4])
    frames = (torch.arange(len(shifts)) // 2).clamp(max=7)
    shared = shifts - table[frames]
    torch.testing.assert_close(shared, shared[:1].expand_as(shared))
    # nothing else moved: every other row is the random initialisation's
    others = torch.ones(len(emb), dtype=torch.bool)
    others[codec.token("shift", 0): codec.token("shift", codec.max_shift_steps) + 1] = False
    torch.testing.assert_close(emb[others], random_init.model.notes_encoder.token_embedding.weight[others])


def test_unknown_shift_init_is_refused():
    with pytest.raises(ValueError, match="shift_init"):
        DiffusionModule(size="tiny", model_overrides=TINY, shift_init="sinusoid")
