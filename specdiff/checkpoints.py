"""Checkpoints: specdiff's own safetensors format, the diffusers hub layout, the unofficial
port's Lightning ``.ckpt`` files (`specdiff.models.port`), and hub-id resolution.

Our format is one ``.safetensors`` file whose metadata holds ``format = "specdiff"``,
``kind = "spectrogram_diffusion"`` (or ``"autoregressive"``) and the JSON `ModelConfig`. Every other
format is converted here, and pickled weights are only ever read with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from specdiff.errors import SpecdiffError

if TYPE_CHECKING:
    from specdiff.models import ModelConfig, SpectrogramDiffusion

FORMAT = "specdiff"
FORMAT_VERSION = "1"
KIND = "spectrogram_diffusion"
HUB_ID = "google/music-spectrogram-diffusion"

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
    from specdiff.models import ModelConfig

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
    onnx = folder / "melgan" / "model.onnx"
    return config, state, onnx if onnx.is_file() else None


def read_specdiff(path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Read our ``.safetensors`` format into (config, state dict)."""
    from safetensors import safe_open

    from specdiff.models import ModelConfig

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("kind") != KIND:
                raise SpecdiffError(
                    f"{path}: not a specdiff model file (expected safetensors metadata "
                    f"format={FORMAT!r}, kind={KIND!r}); convert it with `specdiff convert`")
            state = {key: f.get_tensor(key) for key in f.keys()}
    except SpecdiffError:
        raise
    except Exception as error:
        raise SpecdiffError(f"{path}: cannot read the safetensors file ({error})") from None
    try:
        values = json.loads(meta["config"])
    except (KeyError, ValueError):
        raise SpecdiffError(f"{path}: the metadata has no valid JSON 'config'") from None
    return ModelConfig.from_dict(values, source=str(path)), state


# ---------------------------------------------------------------------------- resolution
def _looks_like_hub_id(source: str) -> bool:
    return re.fullmatch(r"[\w.-]+/[\w.-]+", source) is not None


def resolve(source: str | Path, local_files_only: bool = False) -> Path:
    """A local path for ``source``: an existing file/directory, or a hub snapshot of a repo id."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    if not _looks_like_hub_id(str(source)):
        raise SpecdiffError(f"{source}: no such file or directory")
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            repo_id=str(source), local_files_only=local_files_only,
            allow_patterns=["*.json", "*.safetensors", "*/diffusion_pytorch_model.bin", "melgan/*"])
    except Exception as error:
        hint = "" if not local_files_only else " (local_files_only: nothing is downloaded)"
        raise SpecdiffError(
            f"{source}: not a local file or directory, and the hub download failed{hint}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. "
            "Check the id and the network, or pass a local path") from None
    return Path(folder)


def read_any(source: str | Path, local_files_only: bool = False, port_config: Any = None
             ) -> tuple[ModelConfig, dict[str, torch.Tensor], Path | None]:
    """Read any supported diffusion checkpoint into (config, our state dict, vocoder or None).

    ``port_config`` (a YAML path, dict or `ModelConfig`) is used for the port's ``.ckpt`` files.
    """
    path = resolve(source, local_files_only)
    if port_config is not None and path.suffix != ".ckpt":
        raise SpecdiffError(f"{path}: a port config applies to the port's .ckpt files only")
    if path.is_dir():
        if (path / "notes_encoder").is_dir():
            return read_diffusers(path)
        files = sorted(path.glob("*.safetensors"))
        if len(files) == 1:
            return (*read_specdiff(files[0]), None)
        raise SpecdiffError(f"{path}: expected a diffusers layout (notes_encoder/, decoder/, ...) "
                            "or one specdiff .safetensors file")
    if path.suffix == ".safetensors":
        return (*read_specdiff(path), None)
    if path.suffix == ".ckpt":
        from specdiff.models.port import read_port

        kind, config, state = read_port(path, port_config)
        if kind != KIND:
            raise SpecdiffError(f"{path}: the port's autoregressive model, not a diffusion model; "
                                "load it with specdiff.checkpoints.load_any (specdiff synth "
                                "and convert do)")
        return config, state, None
    raise SpecdiffError(f"{path}: expected a .safetensors file or a diffusers-layout directory")


def build_model(config: ModelConfig, state: dict[str, torch.Tensor], source: str = "checkpoint"
                ) -> SpectrogramDiffusion:
    """Instantiate and load ``state`` strictly; missing, unexpected or mis-shaped keys are named."""
    from specdiff.models import SpectrogramDiffusion

    with torch.device("meta"):
        model = SpectrogramDiffusion(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise SpecdiffError(f"{source}: weights do not match the config (missing {missing[:5]}, "
                            f"unexpected {unexpected[:5]})")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise SpecdiffError(f"{source}: {key} has shape {tuple(tensor.shape)}, the config "
                                f"implies {tuple(expected[key].shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    # assign=True keeps the checkpoint tensors; the position tables stay frozen
    for name, param in model.named_parameters():
        if name.endswith("position_table"):
            param.requires_grad_(False)
    return model.eval()


def build_autoregressive(config: ModelConfig, state: dict[str, torch.Tensor],
                         source: str = "checkpoint"):
    """An `AutoregressiveModel` with ``state`` loaded strictly (eval mode)."""
    from specdiff.models.autoregressive import AutoregressiveModel

    with torch.device("meta"):
        model = AutoregressiveModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad = [k for k in set(state) & set(expected)
           if tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or bad:
        raise SpecdiffError(f"{source}: weights do not match the config (missing {missing[:5]}, "
                            f"unexpected {unexpected[:5]}, mis-shaped {sorted(bad)[:5]})")
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    model.position_table.requires_grad_(False)
    model.notes_encoder.position_table.requires_grad_(False)
    return model.eval()


def load_any(source: str | Path, *, port_config: Any = None,
             device: str | torch.device | None = None, local_files_only: bool = False):
    """Load a diffusion or an autoregressive model from any supported checkpoint.

    Args:
        source: as `load_model`, or an autoregressive model (our ``kind = "autoregressive"``
            safetensors file, or the port's AR ``.ckpt``).
        port_config: the port's YAML config (path), its ``init_args`` or a `ModelConfig`, for
            ``.ckpt`` files; None infers the sizes (head width 64).

    Returns:
        A `SpectrogramDiffusion` or an `AutoregressiveModel`, in eval mode.
    """
    path = resolve(source, local_files_only)
    if path.is_file() and path.suffix == ".ckpt":
        from specdiff.models.port import read_port

        kind, config, state = read_port(path, port_config)
        if kind == "autoregressive":
            model = build_autoregressive(config, state, str(path))
        else:
            model = build_model(config, state, str(path))
            model.vocoder_path = None
        return model.to(device) if device is not None else model
    if path.is_file() and path.suffix == ".safetensors" and _kind(path) == "autoregressive":
        from specdiff.models.autoregressive import AutoregressiveModel

        return AutoregressiveModel.from_pretrained(path, device=device)
    return load_model(path, device=device, local_files_only=local_files_only,
                      port_config=port_config)


def _kind(path: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("kind")
    except Exception:
        return None  # read_specdiff reports the error


def load_model(source: str | Path, *, device: str | torch.device | None = None,
               dtype: torch.dtype | None = None, local_files_only: bool = False,
               port_config: Any = None) -> SpectrogramDiffusion:
    """`SpectrogramDiffusion.from_pretrained`: see there."""
    config, state, vocoder = read_any(source, local_files_only, port_config)
    model = build_model(config, state, str(source))
    model.vocoder_path = vocoder
    if device is not None or dtype is not None:
        model = model.to(device=device, dtype=dtype)
    return model


def save_model(model: torch.nn.Module, path: str | Path, kind: str = KIND) -> Path:
    """Write ``model`` (any specdiff network with a ``.config``) in our format: one safetensors
    file, metadata ``format``, ``version``, ``kind`` and the JSON config (float32 unless the model
    is in another dtype)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise SpecdiffError(f"{path}: the output must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind,
            "config": model.config.to_json()}
    save_file(state, str(path), metadata=meta)
    return path
