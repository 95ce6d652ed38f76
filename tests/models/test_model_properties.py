"""Properties of the model on random tiny weights: config ladder, masking, speed features, bf16."""

from __future__ import annotations

import pytest
import torch

from specdiff.diffusion import cfg, sample
from specdiff.models import (ModelConfig, SpectrogramDiffusion, model_config,
                             terminal_relative_positions, trim_padding)
from specdiff.errors import SpecdiffError


def random_model(seed: int = 0, **overrides) -> SpectrogramDiffusion:
    torch.manual_seed(seed)
    model = SpectrogramDiffusion(model_config("tiny", dropout=0.0, **overrides)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) / (p.shape[-1] ** 0.5 if p.ndim > 1 else 3.0) + (p.ndim == 1))
    return model


def inputs(seed: int = 1, b: int = 2, frames: int = 256):
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(b, 300, dtype=torch.long)
    for i in range(b):
        n = 20 + 37 * i
        tokens[i, :n] = torch.randint(1, 1536, (n,), generator=gen)
    context = torch.rand(b, 256, 128, generator=gen) * 2 - 1
    x = torch.randn(b, frames, 128, generator=gen)
    t = torch.rand(b, generator=gen)
    return tokens, context, x, t


@pytest.mark.parametrize("name,context,params", [
    ("small", False, 84_956_160), ("small", True, 104_035_840),
    ("base", False, 326_416_896), ("base", True, 411_665_664), ("large", True, 1_453_894_656)])
def test_ladder_parameter_counts(name, context, params):
    """The paper's sizes (model.md §2; base with context = the released model)."""
    with torch.device("meta"):
        model = SpectrogramDiffusion(model_config(name, has_context=context))
    assert sum(p.numel() for p in model.parameters()) == params


def test_config_validation_and_json_round_trip():
    c = model_config("small", has_context=False)
    assert ModelConfig.from_dict(c.to_dict()) == c and c.inner_dim == 384
    with pytest.raises(SpecdiffError, match="huge"):
        model_config("huge")
    with pytest.raises(SpecdiffError, match="unknown model config fields"):
        ModelConfig.from_dict({"d_model": 8, "nope": 1})


def test_terminal_relative_positions():
    mask = torch.zeros(4, 6, dtype=torch.bool)
    mask[1, :2] = True
    mask[2] = True
    mask[3, :5] = True
    assert terminal_relative_positions(mask).tolist() == [
        [0, 1, 2, 3, 4, 5], [4, 5, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]]


@torch.no_grad()
def test_context_encoder_uses_terminal_relative_positions():
    model = random_model()
    enc = model.context_encoder
    ctx = torch.rand(1, 256, 128) * 2 - 1
    mask = torch.zeros(1, 256, dtype=torch.bool)
    mask[0, :100] = True
    out, _ = enc(ctx, mask)
    # the 100 valid frames see positions 156..255; moving the rows of the table below 156 that
    # they do not use changes nothing at the valid frames, moving row 255 does
    enc.position_table[:156] += 1.0
    out2, _ = enc(ctx, mask)
    assert torch.allclose(out[0, :100], out2[0, :100], atol=1e-6)
    enc.position_table[255] += 1.0
    out3, _ = enc(ctx, mask)
    assert not torch.allclose(out[0, 99], out3[0, 99], atol=1e-3)


def test_trim_padding():
    tokens = torch.tensor([[5, 0, 7, 0, 0], [1, 2, 0, 0, 0]])
    assert trim_padding(tokens).tolist() == [[5, 0, 7], [1, 2, 0]]
    assert trim_padding(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 1)


@torch.no_grad()
def test_fully_masked_rows_are_finite_and_unconditional():
    """All-PAD tokens and no context: no NaN; the output equals the unconditional pass."""
    model = random_model()
    _, _, x, t = inputs()
    empty = model.encode(torch.zeros(2, 50, dtype=torch.long), trim=False)
    assert torch.isfinite(empty.keys).all() and not empty.mask.any()
    eps = model.predict_eps(x, t, empty)
    assert torch.isfinite(eps).all()
    tokens, context, _, _ = inputs()
    eps_u = model.predict_eps(x, t, model.encode(tokens, context),
                              torch.zeros(2, dtype=torch.bool))
    torch.testing.assert_close(eps, eps_u, rtol=0, atol=1e-5)


@torch.no_grad()
def test_trimmed_memory_gives_identical_outputs():
    model = random_model()
    tokens, context, x, t = inputs()
    for ctx in (context, None):
        untrimmed = model.encode(tokens, ctx, trim=False)
        full = model.predict_eps(x, t, untrimmed)
        trimmed = model.encode(tokens, ctx)
        assert trimmed.keys.shape[1] == 57 + (256 if ctx is not None else 0) \
            < untrimmed.keys.shape[1]
        torch.testing.assert_close(model.predict_eps(x, t, trimmed), full, rtol=0, atol=1e-5)


@torch.no_grad()
def test_cached_memory_and_batched_guidance_give_identical_outputs():
    model = random_model()
    tokens, context, x, t = inputs()
    conditioning = model.encode(tokens, context)
    plain_c = model.predict_eps(x, t, conditioning)
    plain_u = model.predict_eps(x, t, conditioning.unconditional())
    fn = model.eps_fn(conditioning)
    torch.testing.assert_close(fn(x, t), plain_c, rtol=0, atol=1e-5)
    for batched in (True, False):
        guided = cfg(fn, 3.0, batched=batched)(x, t)
        torch.testing.assert_close(guided, 3 * plain_c - 2 * plain_u, rtol=0, atol=5e-5)
    # rows are mapped to memory rows modulo its batch, in any cond pattern
    cond = torch.tensor([False, True, True, False])
    out = fn(torch.cat([x, x]), torch.cat([t, t]), cond)
    torch.testing.assert_close(out[1], plain_c[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(out[2], plain_c[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(out[0], plain_u[0], rtol=0, atol=1e-5)


@torch.no_grad()
def test_bfloat16_inference_is_close():
    model = random_model()
    tokens, context, x, t = inputs()
    ref = model.predict_eps(x, t, model.encode(tokens, context))
    half = random_model().to(torch.bfloat16)
    assert half.dtype == torch.bfloat16
    eps = half.predict_eps(x, t, half.encode(tokens, context))
    assert eps.dtype == torch.float32
    assert float((eps - ref).abs().max() / ref.abs().max()) < 0.05


@torch.no_grad()
def test_sampling_end_to_end_is_deterministic():
    model = random_model()
    tokens, context, _, _ = inputs(b=1)
    fn = cfg(model.eps_fn(model.encode(tokens, context)), 2.0)

    def run(seed):
        return sample(fn, (1, 256, 128), "dpmpp_2m", 4, torch.Generator().manual_seed(seed))

    a = run(0)
    assert a.shape == (1, 256, 128) and torch.isfinite(a).all()
    assert torch.equal(a, run(0)) and not torch.equal(a, run(1))


def test_position_tables_are_frozen_parameters():
    model = random_model()
    names = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert sorted(names) == ["context_encoder.position_table", "decoder.position_table",
                             "notes_encoder.position_table"]


def test_too_long_inputs_are_refused():
    model = random_model()
    with pytest.raises(ValueError, match="position table"):
        model.encode(torch.ones(1, 2049, dtype=torch.long))


def test_new_models_get_permuted_sinusoid_position_tables():
    from specdiff.models.encoders import permuted_sinusoid_table

    gen = torch.Generator().manual_seed(0)
    table = permuted_sinusoid_table(64, 16, max_scale=10.0, generator=gen).double()
    assert table.shape == (64, 16) and table.abs().max() <= 1
    # every column is a sinusoid: v[p+1] + v[p-1] = 2 cos(f) v[p]; each frequency appears twice
    # (once as sin, once as cos) and the columns are permuted
    mid, around = table[1:-1], table[2:] + table[:-2]
    cos_f = (mid * around).sum(0) / (2 * (mid * mid).sum(0))
    torch.testing.assert_close(around, 2 * cos_f * mid, rtol=0, atol=1e-6)
    freqs = torch.exp(-torch.log(torch.tensor(10.0, dtype=torch.float64)) * torch.arange(8) / 7)
    got = torch.sort(torch.acos(cos_f.clamp(-1, 1))).values
    torch.testing.assert_close(got, torch.sort(freqs.repeat(2)).values, rtol=0, atol=1e-4)
    assert not torch.equal(got, torch.acos(cos_f.clamp(-1, 1)))  # not in sorted order
    model = SpectrogramDiffusion(model_config("tiny"))
    assert model.decoder.position_table.abs().max() > 0.5


def test_a_scalar_time_is_broadcast():
    model = random_model()
    tokens, context, _, _ = inputs(b=1)
    with torch.no_grad():
        conditioning = model.encode(tokens, context)
        ref = torch.randn(1, 256, 128, generator=torch.Generator().manual_seed(9))
        eps = model.predict_eps(ref, 0.5, conditioning)
        torch.testing.assert_close(eps, model.predict_eps(ref, torch.tensor([0.5]), conditioning))
