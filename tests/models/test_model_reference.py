"""specdiff reproduces diffusers 0.24.0 (tiny, fully randomized modules; fixtures from
tests/reference/make_model_fixtures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.models import SpectrogramDiffusion

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
HUB_DIR = FIXTURES / "diffusers_tiny"


@pytest.fixture(scope="module")
def cases() -> dict[str, torch.Tensor]:
    data = np.load(FIXTURES / "diffusers_tiny_cases.npz")
    return {k: torch.from_numpy(data[k]) for k in data.files}


@pytest.fixture(scope="module")
def model() -> SpectrogramDiffusion:
    return SpectrogramDiffusion.from_pretrained(HUB_DIR)


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out - ref).abs().max() / ref.abs().max())


def test_config_read_from_hub_layout(model):
    c = model.config
    assert (c.d_model, c.num_heads, c.head_dim, c.d_ff) == (16, 3, 4, 24)
    assert (c.encoder_layers, c.decoder_layers, c.vocab_size, c.max_tokens) == (2, 2, 1536, 2048)
    assert c.max_noise_time == 20000.0 and c.has_context
    assert not model.training


@torch.no_grad()
def test_encoders_match(model, cases):
    conditioning = model.encode(cases["tokens"], context=cases["context"], trim=False)
    enc, mask = conditioning.keys, conditioning.mask
    n = cases["tokens"].shape[1]
    assert torch.equal(mask[:, :n], cases["notes_mask"])
    assert mask[:, n:].all() and mask.shape == (2, n + 256)
    valid = cases["notes_mask"][:, :160]
    assert rel_err(enc[:, :160][valid], cases["notes_enc"][valid]) < 1e-4
    assert rel_err(enc[:, n:], cases["context_enc"]) < 1e-4

    mask0 = model.encode(cases["tokens"], context=None, trim=False).mask
    assert torch.equal(mask0[:, :n], cases["notes_mask"]) and not mask0[:, n:].any()


@pytest.mark.parametrize("t_name,tol", [("zero", 1e-4), ("mid", 1e-3)])
@pytest.mark.parametrize("trim", [False, True])
@torch.no_grad()
def test_decoder_matches(model, cases, t_name, tol, trim):
    x, t, tokens = cases["x_t"], cases[f"t_{t_name}"], cases["tokens"]
    conditioning = model.encode(tokens, context=cases["context"], trim=trim)
    assert rel_err(model.predict_eps(x, t, conditioning), cases[f"eps_ctx_{t_name}"]) < tol
    no_context = model.encode(tokens, context=None, trim=trim)
    assert rel_err(model.predict_eps(x, t, no_context), cases[f"eps_noctx_{t_name}"]) < tol
    # official unconditional pass: encodings and masks zeroed
    eps_u = model.predict_eps(x, t, conditioning.unconditional())
    assert rel_err(eps_u, cases[f"eps_uncond_{t_name}"]) < tol
    eps_u2 = model.predict_eps(x, t, conditioning, torch.zeros(2, dtype=torch.bool))
    assert rel_err(eps_u2, cases[f"eps_uncond_{t_name}"]) < tol


@pytest.mark.parametrize("t_name,tol", [("zero", 1e-4), ("mid", 1e-3)])
@torch.no_grad()
def test_decoder_matches_with_speed_features(model, cases, t_name, tol):
    """Trimmed memory, cached cross-attention K/V, [cond; uncond] batch: same outputs."""
    x, t = cases["x_t"], cases[f"t_{t_name}"]
    fn = model.eps_fn(model.encode(cases["tokens"], context=cases["context"]))
    cond = torch.tensor([True, True, False, False])
    eps = fn(torch.cat([x, x]), torch.cat([t, t]), cond)
    assert rel_err(eps[:2], cases[f"eps_ctx_{t_name}"]) < tol
    assert rel_err(eps[2:], cases[f"eps_uncond_{t_name}"]) < tol
    assert rel_err(fn(x, t), cases[f"eps_ctx_{t_name}"]) < tol  # the cache is reusable


@torch.no_grad()
def test_model_without_context_encoder(cases, tmp_path):
    folder = tmp_path / "hub"
    shutil.copytree(HUB_DIR, folder, ignore=shutil.ignore_patterns("continuous_encoder"))
    model = SpectrogramDiffusion.from_pretrained(folder)
    assert not model.config.has_context and model.context_encoder is None
    x, tokens = cases["x_t"], cases["tokens"]
    for t_name, tol in (("zero", 1e-4), ("mid", 1e-3)):
        conditioning = model.encode(tokens, context=cases["context"])  # context ignored
        eps = model.predict_eps(x, cases[f"t_{t_name}"], conditioning)
        assert rel_err(eps, cases[f"eps_notesonly_{t_name}"]) < tol


@torch.no_grad()
def test_safetensors_hub_layout_and_its_vocoder(model, cases, tmp_path):
    """The same directory with .safetensors weights (and a melgan/model.onnx) loads identically."""
    from safetensors.torch import save_file

    folder = tmp_path / "hub"
    shutil.copytree(HUB_DIR, folder)
    for component in ("notes_encoder", "continuous_encoder", "decoder"):
        pt = folder / component / "diffusion_pytorch_model.bin"
        state = torch.load(pt, weights_only=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(pt.with_suffix(".safetensors")))
        pt.unlink()
    (folder / "melgan").mkdir()
    (folder / "melgan" / "model.onnx").write_bytes(b"onnx placeholder")
    from specdiff.checkpoints import read_checkpoint

    loaded = SpectrogramDiffusion.from_pretrained(folder)
    checkpoint = read_checkpoint(folder)
    assert checkpoint.settings.vocoder == "melgan/model.onnx"
    assert checkpoint.vocoder_file() == folder / "melgan" / "model.onnx"
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_every_weight_is_loaded_from_the_checkpoint(model):
    """No parameter keeps its init value: ones for norms, zeros for the position tables."""
    for name, p in model.named_parameters():
        if p.ndim == 1:
            assert not torch.allclose(p, torch.ones_like(p)), name
        assert p.abs().sum() > 0, name


@torch.no_grad()
@pytest.mark.parametrize("precision, tol", [("bf16", 5e-2), ("fp16", 5e-3), ("int8", 0.15)])
def test_reduced_precision_pass_against_the_diffusers_reference(cases, precision, tol):
    """A bf16 or fp16 decoder pass stays within a few per cent of diffusers' float32 one (int8,
    per-tensor dynamic, within 15% on these tiny random weights: its use is decided on a trained
    model by benchmarks/quality.py),
    with the noise-time MLP kept in float32 and the output returned as float32."""
    from specdiff.models.precision import apply_precision

    reduced = apply_precision(SpectrogramDiffusion.from_pretrained(HUB_DIR), precision)
    assert reduced.decoder.time_embed[0].weight.dtype == torch.float32
    if precision == "int8":
        assert ".quantized." in type(reduced.decoder.layers[0].mlp.wo).__module__
    else:
        assert reduced.dtype != torch.float32
    errors = []
    for t_name in ("zero", "mid"):
        conditioning = reduced.encode(cases["tokens"], context=cases["context"])
        eps = reduced.predict_eps(cases["x_t"], cases[f"t_{t_name}"], conditioning)
        assert eps.dtype == torch.float32
        errors.append(rel_err(eps, cases[f"eps_ctx_{t_name}"]))
    assert max(errors) < tol, errors
    assert max(errors) > 1e-6  # it really ran in reduced precision
