"""The diffusers layout of ``google/music-spectrogram-diffusion``: per-component folders with a
``config.json`` and ``diffusion_pytorch_model.{safetensors,bin}``, the SoundStream vocoder as
``melgan/model.onnx``. Keys map onto ours by the rules of model.md §5.2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from specdiff.errors import SpecdiffError
from specdiff.models.config import ModelConfig

HUB_ID = "google/music-spectrogram-diffusion"
VOCODER_FILE = "melgan/model.onnx"

# diffusers key -> our key, per component (model.md §5.2). The FiLM names are asymmetric upstream.
_E, _D = r"encoders\.(\d+)\.layer\.", r"decoders\.(\d+)\.layer\."
_ENCODER_RULES = [
    (_E + r"0\.layer_norm\.weight", r"layers.\1.attention_norm.weight"),
    (_E + r"0\.SelfAttention\.([qkvo])\.weight", r"layers.\1.attention.\2.weight"),
    (_E + r"1\.layer_norm\.weight", r"layers.\1.mlp_norm.weight"),
    (_E + r"1\.DenseReluDense\.(wi_0|wi_1|wo)\.weight", r"layers.\1.mlp.\2.weight"),
    (r"layer_norm\.weight", "final_norm.weight"),
    (r"position_encoding\.weight", "position_table"),
]
_RULES = {
    "notes_encoder": [(r"token_embedder\.weight", "token_embedding.weight"), *_ENCODER_RULES],
    "continuous_encoder": [(r"input_proj\.weight", "input_proj.weight"), *_ENCODER_RULES],
    "decoder": [
        (r"conditioning_emb\.([02])\.weight", r"time_embed.\1.weight"),
        (r"position_encoding\.weight", "position_table"),
        (r"continuous_inputs_projection\.weight", "input_proj.weight"),
        (_D + r"0\.layer_norm\.weight", r"layers.\1.self_attention_norm.weight"),
        (_D + r"0\.FiLMLayer\.scale_bias\.weight", r"layers.\1.self_attention_film.proj.weight"),
        (_D + r"0\.attention\.to_([qkv])\.weight", r"layers.\1.self_attention.\2.weight"),
        (_D + r"0\.attention\.to_out\.0\.weight", r"layers.\1.self_attention.o.weight"),
        (_D + r"1\.layer_norm\.weight", r"layers.\1.cross_attention_norm.weight"),
        (_D + r"1\.attention\.to_([qkv])\.weight", r"layers.\1.cross_attention.\2.weight"),
        (_D + r"1\.attention\.to_out\.0\.weight", r"layers.\1.cross_attention.o.weight"),
        (_D + r"2\.layer_norm\.weight", r"layers.\1.mlp_norm.weight"),
        (_D + r"2\.film\.scale_bias\.weight", r"layers.\1.mlp_film.proj.weight"),
        (_D + r"2\.DenseReluDense\.(wi_0|wi_1|wo)\.weight", r"layers.\1.mlp.\2.weight"),
        (r"decoder_norm\.weight", "final_norm.weight"),
        (r"spec_out\.weight", "output_proj.weight"),
    ],
}
_PREFIX = {"notes_encoder": "notes_encoder.", "continuous_encoder": "context_encoder.",
           "decoder": "decoder."}


def map_diffusers_key(component: str, key: str) -> str | None:
    """Our state-dict key for a diffusers key of ``component`` (None if it has no counterpart)."""
    for pattern, repl in _RULES[component]:
        if re.fullmatch(pattern, key):
            return _PREFIX[component] + re.sub(pattern, repl, key)
    return None


# ---------------------------------------------------------------------------- reading files
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SpecdiffError(f"{path}: cannot read the JSON config ({error})") from None


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """``diffusion_pytorch_model.safetensors`` or ``.bin`` (unpickled with weights_only=True)."""
    st, pt = folder / "diffusion_pytorch_model.safetensors", folder / "diffusion_pytorch_model.bin"
    try:
        if st.is_file():
            from safetensors.torch import load_file

            return load_file(str(st))
        if pt.is_file():
            state = torch.load(pt, map_location="cpu", weights_only=True)
            if not isinstance(state, dict):
                raise SpecdiffError(f"{pt}: expected a state dict, got {type(state).__name__}")
            return state
    except SpecdiffError:
        raise
    except Exception as error:  # pickle refusal, truncated file, bad header...
        bad = st if st.is_file() else pt
        raise SpecdiffError(f"{bad}: cannot read the weights ({error})") from None
    raise SpecdiffError(f"{folder}: expected diffusion_pytorch_model.safetensors or .bin")


def _config_from_diffusers(folder: Path) -> ModelConfig:
    notes = _read_json(folder / "notes_encoder" / "config.json")
    dec = _read_json(folder / "decoder" / "config.json")
    cont_dir = folder / "continuous_encoder"
    cont = _read_json(cont_dir / "config.json") if cont_dir.is_dir() else None
    for name, cfg in (("notes_encoder", notes), ("continuous_encoder", cont)):
        if cfg is not None and cfg.get("feed_forward_proj", "gated-gelu") != "gated-gelu":
            raise SpecdiffError(f"{folder / name / 'config.json'}: expected feed_forward_proj "
                                f"'gated-gelu', got {cfg.get('feed_forward_proj')!r}")
    try:
        config = ModelConfig(
            d_model=int(dec["d_model"]), num_heads=int(dec["num_heads"]), head_dim=int(dec["d_kv"]),
            d_ff=int(dec["d_ff"]), encoder_layers=int(notes["num_layers"]),
            decoder_layers=int(dec["num_layers"]), dropout=float(dec.get("dropout_rate", 0.1)),
            vocab_size=int(notes["vocab_size"]), max_tokens=int(notes["max_length"]),
            target_length=int(dec.get("targets_length", 256)),
            context_length=int(cont["targets_context_length"]) if cont else 256,
            n_mels=int(dec.get("input_dims", 128)),
            # diffusers' class default is 2000.0; the released config says 20000.0
            max_noise_time=float(dec.get("max_decoder_noise_time", 2000.0)),
            has_context=cont is not None)
    except KeyError as error:
        raise SpecdiffError(f"{folder}: a config.json lacks the field {error}") from None
    for name, cfg in (("notes_encoder", notes), ("continuous_encoder", cont)):
        if cfg is None:
            continue
        got = (cfg["d_model"], cfg["num_heads"], cfg["d_kv"], cfg["d_ff"], cfg["num_layers"])
        want = (config.d_model, config.num_heads, config.head_dim, config.d_ff,
                config.encoder_layers)
        if tuple(int(v) for v in got) != want:
            raise SpecdiffError(f"{folder / name / 'config.json'}: sizes {got} differ from "
                                f"(d_model, num_heads, d_kv, d_ff, num_layers) = {want}")
    return config


def read_diffusers(folder: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor], Path | None]:
    """Read a diffusers-layout directory: (config, our state dict, vocoder ONNX path or None)."""
    folder = Path(folder)
    for name in ("notes_encoder", "decoder"):
        if not (folder / name).is_dir():
            raise SpecdiffError(
                f"{folder}: expected a {name}/ folder (diffusers layout of {HUB_ID})")
    config = _config_from_diffusers(folder)
    state: dict[str, torch.Tensor] = {}
    components = ["notes_encoder", "decoder"]
    if config.has_context:
        components.append("continuous_encoder")
    for component in components:
        unknown = []
        for key, tensor in _read_weights(folder / component).items():
            ours = map_diffusers_key(component, key)
            if ours is None:
                unknown.append(key)
            else:
                state[ours] = tensor
        if unknown:
            raise SpecdiffError(f"{folder / component}: unexpected weights {sorted(unknown)[:5]}")
    onnx = folder / VOCODER_FILE
    return config, state, onnx if onnx.is_file() else None
