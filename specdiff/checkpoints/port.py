"""Checkpoints of the unofficial PyTorch port (yoyololicon/music-spectrogram-diffusion-pytorch).

The port publishes Lightning 1.8 ``.ckpt`` files whose ``state_dict`` holds ``model.*`` (the
network) and ``mel.*`` (its torchaudio front end and min/max scaler), but no hyper-parameters:
the sizes come from the run's LightningCLI ``config.yaml`` or from the tensor shapes. This module
reads such a file with ``torch.load(weights_only=True)`` only, builds the `ModelConfig` (the
port's numerics, see `port_config`) and maps the keys onto specdiff's own modules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from specdiff.errors import SpecdiffError
from specdiff.models.config import ModelConfig, port_config

Kind = Literal["spectrogram_diffusion", "autoregressive"]
Half = Literal["value", "gate"] | None

#: Head width of every published port config; the head count cannot be read from the tensors.
DEFAULT_HEAD_DIM = 64
SEGMENT_FRAMES = 256  # the port generates 256 frames (5.12 s) per segment with a 257-row table

# ---------------------------------------------------------------------------- reading files


def read_port_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The ``state_dict`` of a port Lightning checkpoint, unpickled with ``weights_only=True``.

    Anything that is not plain tensors and containers is refused before any of it runs.

    Raises:
        SpecdiffError: unreadable file, pickled objects, or no port ``state_dict``.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpecdiffError(f"{path}: no such file") from None
    except Exception as error:  # UnpicklingError for pickled objects, truncated files...
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SpecdiffError(
            f"{path}: refused: not a plain tensor checkpoint (read with weights_only=True, nothing "
            f"in it was executed): {type(error).__name__}: {first}") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or "model.emb.weight" not in state:
        raise SpecdiffError(f"{path}: not a checkpoint of the unofficial port (expected a "
                            "Lightning 'state_dict' with 'model.emb.weight', 'model.transformer.*' "
                            "and 'mel.1.min'/'mel.1.max')")
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise SpecdiffError(f"{path}: state_dict entries that are not tensors: {bad[:5]}")
    return state


def read_port_yaml(path: str | Path) -> dict[str, Any]:
    """``init_args`` (plus ``class_path``) of the model in a port config file.

    Accepts the run's LightningCLI ``config.yaml`` (``model: {class_path, init_args}``), the
    ``model:`` section alone, or a flat mapping of ``MIDI2SpecDiff``-style arguments.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        first = " ".join(str(error).split())  # one line for the CLI
        raise SpecdiffError(f"{path}: cannot read the port config ({first})") from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if not isinstance(data, dict):
        raise SpecdiffError(f"{path}: expected a YAML mapping with a 'model:' section")
    args = dict(data.get("init_args") or {}) if "init_args" in data else dict(data)
    if "class_path" in data:
        args["class_path"] = data["class_path"]
    if "emb_dim" not in args:
        raise SpecdiffError(f"{path}: no model.init_args.emb_dim: not a port config")
    return args


# ---------------------------------------------------------------------------- sizes


def _layer_count(state: dict[str, Tensor], stack: str) -> int:
    pattern = re.compile(rf"model\.transformer\.{stack}\.layers\.(\d+)\.")
    found = {int(m.group(1)) for k in state if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def infer_port_config(state: dict[str, Tensor], args: dict[str, Any] | None = None,
                      source: str = "checkpoint") -> tuple[Kind, ModelConfig]:
    """Model kind and `ModelConfig` of a port ``state_dict``, with the YAML ``init_args`` if any.

    The shapes give every size but the head split of the attention width h * hd; without a
    config, hd = 64 (every published port config). A config that disagrees with the tensors is
    an error naming both values.
    """
    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise SpecdiffError(f"{source}: missing {key} (not a port checkpoint?)")
        return tuple(state[key].shape)

    vocab, d = shape("model.emb.weight")
    enc_layers = _layer_count(state, "encoder")
    dec_layers = _layer_count(state, "decoder")
    attn = "model.transformer.encoder.layers.0.self_attn.q_proj.weight"
    inner = shape(attn)[0]
    d_ff = shape("model.transformer.encoder.layers.0.linear2.weight")[1]
    rows_in = shape("model.in_pos_emb")[0]
    rows_out = shape("model.out_pos_emb")[0]
    n_mels = shape("model.linear_out.weight")[0]
    has_context = any(k.startswith("model.transformer.context_encoder.") for k in state)
    kind: Kind = ("spectrogram_diffusion" if "model.diffusion_emb.projection1.weight" in state
                  else "autoregressive")
    if not enc_layers or not dec_layers:
        raise SpecdiffError(f"{source}: no encoder or decoder layers in the state_dict")
    for key in ("mel.1.min", "mel.1.max"):
        shape(key)
    lo, hi = float(state["mel.1.min"]), float(state["mel.1.max"])
    if not (torch.isfinite(torch.tensor([lo, hi])).all() and hi > lo):
        raise SpecdiffError(f"{source}: the scaler range mel.1.min/max = {lo}/{hi} is not a "
                            "trained range (the port's scaler is set during training)")

    args = dict(args or {})
    head_dim = DEFAULT_HEAD_DIM
    if "head_dim" in args:
        head_dim = int(args["head_dim"])
    elif "nhead" in args and inner % int(args["nhead"]) == 0:
        head_dim = inner // int(args["nhead"])
    if inner % head_dim:
        raise SpecdiffError(
            f"{source}: attention width {inner} is not a multiple of head width {head_dim}; the "
            "head count cannot be read from the tensors: pass the run's config.yaml "
            "(--port-config)")
    got = dict(num_emb=vocab, emb_dim=d, dim_feedforward=d_ff, num_layers=enc_layers,
               max_input_length=rows_in, max_output_length=rows_out, output_dim=n_mels,
               nhead=inner // head_dim, head_dim=head_dim)
    for name, value in got.items():
        if name in args and int(args[name]) != value:
            raise SpecdiffError(f"{source}: the config says {name} = {args[name]}, the weights "
                                f"have {value}")
    if "with_context" in args and kind == "spectrogram_diffusion" \
            and bool(args["with_context"]) != has_context:
        raise SpecdiffError(f"{source}: the config says with_context = {args['with_context']}, "
                            f"the weights {'have' if has_context else 'have no'} context encoder")
    class_path = str(args.get("class_path", ""))
    want = {"DiffusionLM": "spectrogram_diffusion", "AutoregressiveLM": "autoregressive"}
    for name, k in want.items():
        if class_path.endswith(name) and k != kind:
            raise SpecdiffError(f"{source}: the config is a {name}, the weights are a {kind} model")
    if not args.get("norm_first", True):
        raise SpecdiffError(f"{source}: norm_first = false (post-norm) is not supported")
    config = port_config(
        d_model=d, num_heads=inner // head_dim, head_dim=head_dim, d_ff=d_ff,
        encoder_layers=enc_layers, decoder_layers=dec_layers,
        dropout=float(args.get("dropout", 0.1)), norm_eps=float(args.get("layer_norm_eps", 1e-5)),
        vocab_size=vocab, max_tokens=rows_in, n_mels=n_mels, decoder_positions=rows_out,
        target_length=min(SEGMENT_FRAMES, rows_out), context_length=rows_out,
        has_context=has_context, scaler_min=lo, scaler_max=hi)
    return kind, config


# ---------------------------------------------------------------------------- key mapping

_LAYER = {  # port layer-relative name -> ours (linear1 is split, see map_port_state)
    "self_attn.q_proj": "{attn}.q", "self_attn.k_proj": "{attn}.k", "self_attn.v_proj": "{attn}.v",
    "self_attn.emb_proj": "{attn}.o",
    "multihead_attn.q_proj": "cross_attention.q", "multihead_attn.k_proj": "cross_attention.k",
    "multihead_attn.v_proj": "cross_attention.v", "multihead_attn.emb_proj": "cross_attention.o",
    "linear2": "mlp.wo", "film1.linear": "self_attention_film.proj",
    "film2.linear": "mlp_film.proj",
}
_ENC_NORMS = {"norm1": "attention_norm", "norm2": "mlp_norm"}
_DEC_NORMS = {"norm1": "self_attention_norm", "norm2": "cross_attention_norm", "norm3": "mlp_norm"}


def _targets(kind: Kind) -> dict[str, str]:
    """Port stack / top-level prefixes -> ours."""
    dec = "decoder." if kind == "spectrogram_diffusion" else ""
    return {"encoder": "notes_encoder.", "context_encoder": "context_encoder.", "decoder": dec,
            "model.emb.weight": "notes_encoder.token_embedding.weight",
            "model.in_pos_emb": "notes_encoder.position_table",
            "model.out_pos_emb": dec + "position_table",
            "model.linear_in": dec + "input_proj", "model.linear_out": dec + "output_proj",
            "model.diffusion_emb.projection1": "decoder.time_embed.0",
            "model.diffusion_emb.projection2": "decoder.time_embed.2"}


def map_port_key(key: str, kind: Kind) -> list[tuple[str, Half]] | None:
    """Our key(s) for a port ``state_dict`` key, each with the half of the rows it takes.

    ``linear1`` (2F, d) holds [value | gate] (out = value * gelu(gate)): the last F rows (the
    gate) go to ``mlp.wi_0`` and the first F to ``mlp.wi_1``; every other key maps whole (None).
    Returns ``[]`` for keys left out on purpose (the mel front end and the scaler, which becomes
    config) and None for keys that are not the port's.
    """
    if key.startswith("mel."):
        return []
    t = _targets(kind)
    m = re.fullmatch(r"model\.transformer\.(encoder|context_encoder|decoder)\.(.+)", key)
    if m is None:
        base, _, leaf = key.rpartition(".")
        if key in t:
            return [(t[key], None)]
        if base in t and leaf in ("weight", "bias"):
            return [(f"{t[base]}.{leaf}", None)]
        return None
    stack, rest = m.groups()
    prefix = t[stack]
    if rest in ("norm.weight", "norm.bias"):
        return [(f"{prefix}final_norm.{rest.split('.')[1]}", None)]
    m = re.fullmatch(r"layers\.(\d+)\.(.+)\.(weight|bias)", rest)
    if m is None:
        return None
    i, name, leaf = m.groups()
    head = f"{prefix}layers.{i}."
    norms = _DEC_NORMS if stack == "decoder" else _ENC_NORMS
    if name in norms:
        return [(f"{head}{norms[name]}.{leaf}", None)]
    if name == "linear1":
        return [(f"{head}mlp.wi_0.{leaf}", "gate"), (f"{head}mlp.wi_1.{leaf}", "value")]
    if name in _LAYER:
        attn = "self_attention" if stack == "decoder" else "attention"
        return [(f"{head}{_LAYER[name].format(attn=attn)}.{leaf}", None)]
    return None


def map_port_state(state: dict[str, Tensor], kind: Kind, source: str = "checkpoint"
                   ) -> dict[str, Tensor]:
    """A port ``state_dict`` in specdiff's key layout (tensors copied as float32, not shared)."""
    out: dict[str, Tensor] = {}
    unknown = []
    for key, tensor in state.items():
        targets = map_port_key(key, kind)
        if targets is None:
            unknown.append(key)
            continue
        for ours, half in targets:
            part = tensor.float()
            if half is not None:
                value, gate = part.chunk(2, dim=0)  # (2F, ...) -> two (F, ...)
                part = gate if half == "gate" else value
            out[ours] = part.clone()
    if unknown:
        raise SpecdiffError(f"{source}: keys that are not the port's: {sorted(unknown)[:5]}")
    return out


def _config_args(config: Any, source: str) -> tuple[dict[str, Any] | None, ModelConfig | None]:
    if config is None:
        return None, None
    if isinstance(config, ModelConfig):
        return None, config
    if isinstance(config, dict):
        return (dict(config.get("init_args", config)) if "model" not in config
                else dict(config["model"].get("init_args", {}))), None
    if isinstance(config, (str, Path)):
        return read_port_yaml(config), None
    raise SpecdiffError(f"{source}: config must be a port YAML path, a dict or a ModelConfig, "
                        f"got {type(config).__name__}")


def read_port(path: str | Path, config: Any = None
              ) -> tuple[Kind, ModelConfig, dict[str, Tensor]]:
    """Read a port checkpoint: (model kind, `ModelConfig`, state dict in specdiff's layout).

    Args:
        path: the port's Lightning ``.ckpt``.
        config: the run's ``config.yaml`` (path), its ``init_args`` (dict), a ready `ModelConfig`
            (used as is; only its scaler is replaced by the checkpoint's), or None: sizes from
            the tensor shapes, head width 64.
    """
    source = str(path)
    state = read_port_checkpoint(path)
    args, ready = _config_args(config, source)
    if ready is not None:  # its head split; its other sizes are checked when the weights load
        args = dict(nhead=ready.num_heads, head_dim=ready.head_dim)
    kind, inferred = infer_port_config(state, args, source)
    if ready is not None:
        inferred = ready.replace(scaler_min=inferred.scaler_min, scaler_max=inferred.scaler_max)
    return kind, inferred, map_port_state(state, kind, source)
