"""The guided cross-attention loss: token times, penalties, and that training follows it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdiff.codec import OFFICIAL_CODEC as codec
from specdiff.data.notes import make_notes
from specdiff.data.windows import WindowConfig, window_tokens
from specdiff.training import DiffusionModule
from specdiff.training.guided import (
    capture_cross_attention_queries,
    guide_weights,
    guided_attention_loss,
    token_frames,
)

TINY = dict(d_model=32, head_dim=8, num_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
            dropout=0.0, target_length=64)


def _tokens(rows) -> torch.Tensor:
    return torch.from_numpy(window_tokens(make_notes(rows), 0, WindowConfig()))[None]


def test_token_frames_are_the_latest_shift_in_frames():
    tokens = _tokens([(0.5, 1.0, 60, 100, 0, False), (2.0, 3.0, 64, 100, 0, False)])
    n = int((tokens > 0).sum())
    frames = token_frames(tokens[:, :n])[0].tolist()
    # tie, [shift 50, program, velocity, pitch], [shift 100, velocity 0, pitch], ... then EOS
    assert frames == [0] + [25] * 4 + [50] * 3 + [100] * 3 + [150] * 4
    assert token_frames(torch.tensor([[codec.token("shift", 7), 0]])).tolist() == [[3.5, 3.5]]


def test_guide_weights_are_zero_on_time_and_one_far_or_on_context():
    w = guide_weights(torch.tensor([[10.0, 40.0]]), num_frames=64, width=4.0, extra_keys=3)
    assert w.shape == (1, 64, 5)
    assert float(w[0, 10, 0]) == 0.0 and float(w[0, 40, 1]) == 0.0
    assert float(w[0, 40, 0]) == pytest.approx(1.0) and float(w[0, 14, 0]) == pytest.approx(
        1 - np.exp(-0.5))
    assert bool((w[0, :, 2:] == 1).all())


def _batch(rng: np.random.Generator, n: int = 4) -> dict[str, torch.Tensor]:
    """Notes every 6 frames from a random first frame: every frame has events near it, so a
    perfectly aligned head could bring the guide near 0."""
    rows = []
    for _ in range(n):
        first = int(rng.integers(0, 6))
        rows.append([((first + k) * 0.02, (first + k + 3) * 0.02, int(rng.integers(40, 80)),
                      100, 0, False) for k in range(0, 60, 6)])
    tokens = torch.cat([_tokens(r) for r in rows])
    return {"tokens": tokens, "target": torch.zeros(n, 64, 128)}


def test_training_on_the_guide_moves_attention_to_the_notes_time():
    torch.manual_seed(0)
    module = DiffusionModule(size="tiny", has_context=False, optimizer="adamw",
                             model_overrides=TINY)
    model = module.model
    rng = np.random.default_rng(0)
    fixed = _batch(rng)

    def guide() -> float:
        with torch.no_grad(), capture_cross_attention_queries(model) as captured:
            conditioning = model.encode(fixed["tokens"])
            model.predict(torch.randn(4, 64, 128), torch.full((4,), 0.5), conditioning)
            return float(guided_attention_loss(model, captured["queries"],
                                               model.memory(conditioning), conditioning.mask,
                                               fixed["tokens"], width=4.0))

    before = guide()
    module.hparams.guided_attention_width = 4.0
    optimizer = torch.optim.AdamW(model.parameters(), 3e-3)
    for _ in range(40):
        loss = module.loss(model, _batch(rng), guided_attention=10.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert before > 0.7  # untrained: attention spread over the tokens, most of them off time
    assert guide() < 0.6 * before


def test_the_guide_is_off_by_default_and_rows_without_notes_cost_nothing():
    module = DiffusionModule(size="tiny", has_context=False, model_overrides=TINY)
    assert module.hparams.guided_attention == 0.0
    model = module.model
    tokens = torch.zeros(2, 8, dtype=torch.long)
    with capture_cross_attention_queries(model) as captured:
        conditioning = model.encode(tokens)
        model.predict(torch.randn(2, 64, 128), torch.full((2,), 0.5), conditioning)
    loss = guided_attention_loss(model, captured["queries"], model.memory(conditioning),
                                 conditioning.mask, tokens, width=4.0)
    assert float(loss) == 0.0
