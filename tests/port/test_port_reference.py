"""specdiff reproduces the unofficial port's own outputs on its tiny checkpoints (README §6, 1e-5).

The fixtures (tests/fixtures/port, copied from the shared port fixtures) are randomized
checkpoints in the port's exact Lightning layout plus the port's module outputs on fixed inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.models import SpectrogramDiffusion
from specdiff.models.autoregressive import port_ar_generate
from specdiff.models.builder import load_model as load_any
from specdiff.models.decoder import interleaved_time_signal

PORT = Path(__file__).resolve().parents[1] / "fixtures" / "port"
ATOL = 1e-5  # README §7: erf vs tanh GELU moves encoder_out by 5e-4, so this catches it


def cases(name: str) -> dict[str, torch.Tensor]:
    with np.load(PORT / f"{name}_cases.npz") as z:
        return {k: torch.from_numpy(z[k]) for k in z.files}


def close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    err = (actual.float() - expected.float()).abs().max().item()
    assert actual.shape == expected.shape, what
    assert err <= ATOL, f"{what}: max abs error {err:.3g}"


@pytest.fixture(scope="module", params=["tiny_context", "tiny_nocontext"])
def diffusion(request):
    name = request.param
    model = SpectrogramDiffusion.from_pretrained(PORT / f"{name}.ckpt",
                                                 config=PORT / f"{name}_config.yaml")
    return name, model, cases(name)


@torch.no_grad()
def test_config_comes_from_the_yaml_and_the_scaler_from_the_checkpoint(diffusion):
    name, model, z = diffusion
    c = model.config
    assert (c.d_model, c.num_heads, c.head_dim, c.d_ff) == (24, 2, 8, 48)
    assert (c.encoder_layers, c.decoder_layers, c.vocab_size, c.max_tokens) == (2, 2, 901, 3000)
    assert c.decoder_rows == 257 and c.target_length == 256 and c.codec == "port-901"
    assert c.has_context == (name == "tiny_context")
    assert np.float32(c.scaler_min) == z["scaler_min"].item()
    assert np.float32(c.scaler_max) == z["scaler_max"].item()
    close(model.scale(z["scaler_probe_logmel"]), z["scaler_probe_scaled"], "scaler")
    close(model.unscale(z["scaler_probe_scaled"]), z["scaler_probe_logmel"], "scaler inverse")


@torch.no_grad()
def test_encoders_match(diffusion):
    _, model, z = diffusion
    enc = model.notes_encoder
    tokens = z["tokens"]
    close(enc.token_embedding(tokens) + enc.position_table[: tokens.shape[1]], z["encoder_in"],
          "encoder_in")
    out, mask = enc(tokens)
    close(out, z["encoder_out"], "encoder_out")
    assert mask.all()  # the port attends to its padding (row 1 has 62 pad ids)
    if "context" in z:
        dec = model.decoder
        ctx = z["context"]
        close(dec.input_proj(ctx) + dec.position_table[: ctx.shape[1]], z["context_encoder_in"],
              "context_encoder_in")
        encodings = model.encode(tokens, ctx).keys
        close(encodings[:, tokens.shape[1]:], z["context_encoder_out"], "context_encoder_out")


@torch.no_grad()
def test_time_embedding_matches(diffusion):
    _, model, z = diffusion
    signal = interleaved_time_signal(z["t"], 24, model.config.max_noise_time)
    close(signal, z["time_signal"], "time_signal")
    close(model.decoder.time_embed(signal), z["time_emb"], "time_emb")


@torch.no_grad()
def test_decoder_eps_with_and_without_condition(diffusion):
    _, model, z = diffusion
    dec = model.decoder
    close(dec.input_proj(z["x_t"]) + dec.position_table[:100], z["decoder_in"], "decoder_in")
    conditioning = model.encode(z["tokens"], z.get("context"))
    eps = model.predict_eps(z["x_t"], z["t"], conditioning)
    close(eps, z["eps"], "eps")
    uncond = model.predict_eps(z["x_t"], z["t"], conditioning, torch.tensor([False, False]))
    close(uncond, z["eps_uncond"], "eps_uncond")
    mixed = model.predict_eps(z["x_t"], z["t"], conditioning, torch.tensor([True, False]))
    close(mixed[0], z["eps"][0], "mixed cond row")
    close(mixed[1], z["eps_uncond"][1], "mixed uncond row")
    # the decoder output before linear_out
    captured = {}
    hook = dec.final_norm.register_forward_hook(lambda m, i, o: captured.setdefault("y", o))
    try:
        model.predict_eps(z["x_t"], z["t"], conditioning)
    finally:
        hook.remove()
    close(captured["y"], z["decoder_out"], "decoder_out")


@pytest.fixture(scope="module")
def ar():
    return load_any(PORT / "tiny_ar.ckpt", port_config=PORT / "tiny_ar_config.yaml"), \
        cases("tiny_ar")


@torch.no_grad()
def test_autoregressive_teacher_forcing_and_inference_match(ar):
    from specdiff.models.autoregressive import AutoregressiveModel

    model, z = ar
    assert isinstance(model, AutoregressiveModel) and model.config.ar_full_prefix
    tokens, spec_in = z["tokens"], z["spec_in"]
    enc = model.notes_encoder
    close(enc.token_embedding(tokens) + enc.position_table[: tokens.shape[1]], z["encoder_in"],
          "encoder_in")
    close(enc(tokens)[0], z["encoder_out"], "encoder_out")
    close(model.input_proj(spec_in) + model.position_table[:100], z["decoder_in"], "decoder_in")
    # forward() shifts its target right; the target is spec_in shifted back (last frame unused)
    target = torch.cat([spec_in[:, 1:], torch.zeros_like(spec_in[:, :1])], dim=1)
    close(model(tokens, target), z["pred"], "pred (teacher forced, causal)")
    close(port_ar_generate(model, tokens, 8), z["infer_8"], "infer_8 (no causal mask, clamped)")
    # generate() returns the same frames as natural-log mel through the stored scaler
    lo, hi = z["scaler_min"], z["scaler_max"]
    close(model.generate(tokens, frames=8), (z["infer_8"] + 1) / 2 * (hi - lo) + lo,
          "generate (log-mel)")
