"""Model configuration: one frozen dataclass and the size ladder (tiny, small, base, large)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from specdiff.errors import SpecdiffError


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and numerics of the spectrogram diffusion model (both encoders and the decoder).

    The defaults are the official ``t5_base`` diffusion model with context, whose weights are
    published as ``google/music-spectrogram-diffusion``. The numerics fields default to the
    official T5 variant; `port_config` sets them to the unofficial PyTorch port's variant
    (yoyololicon/music-spectrogram-diffusion-pytorch): the same classes, other numerics.

    Attributes:
        d_model: model width d.
        num_heads: attention heads; ``num_heads * head_dim`` may differ from d (small: 6 x 64).
        head_dim: width of one head.
        d_ff: hidden width of the gated-GELU MLP.
        encoder_layers: layers of the notes encoder and of the context encoder.
        decoder_layers: layers of the FiLM decoder.
        dropout: dropout rate used in training (inference is always eval mode).
        vocab_size: token embedding rows (official codec: 1536).
        max_tokens: rows of the notes position table (longest token sequence, 2048).
        target_length: rows of the decoder position table (frames per segment, 256).
        context_length: rows of the context position table (256).
        n_mels: spectrogram channels (128).
        max_noise_time: the decoder multiplies t in [0, 1] by this before the sinusoid (2e4).
        has_context: whether the context encoder exists (the "with context" models).
        norm_eps: epsilon of the RMSNorm.
        scale_attention: divide attention logits by sqrt(head_dim) (official/T5: False).
        gelu_approximate: ``"tanh"`` (official) or ``"none"`` (exact erf GELU).
        norm_type: ``"rms"`` (T5 RMSNorm, official) or ``"layer"`` (LayerNorm with bias, port).
        bias: biases on the MLPs, the time MLP, FiLM and the spectrogram input/output
            projections (port); attention projections are bias-free either way.
        time_signal: noise-time sinusoid layout, ``"halves"`` ([sin | cos], official) or
            ``"interleaved"`` ((cos, sin) pairs, port).
        mask_padding: mask PAD (id 0) keys of the notes encoder (official). The port attends to
            every position: its id 0 is also "shift 0".
        shared_context_input: the context encoder uses the decoder's input projection and position
            table, positions 0..T-1, unmasked (port) instead of its own, terminal-relative ones.
        decoder_positions: rows of the decoder position table if not ``target_length`` (the port
            has 257 rows and generates 256-frame segments).
        first_context: context of a piece's first segment at synthesis: ``"masked"`` (official)
            or ``"silence"``, the scaled log-mel of 81 920 zero samples (port).
        scaler_min, scaler_max, scaler_clip: the log-mel <-> [-1, 1] scaler,
            x = 2 (m - min) / (max - min) - 1 (official: ln(1e-5), 4.0, clipped; the port stores
            the running min/max of its training data and does not clip).
        codec: token vocabulary, ``"official"`` (MT3-style, 1536 rows, Slakh program classes) or
            ``"port-901"`` (the port's codec, raw programs).
        ar_full_prefix: autoregressive inference re-runs the decoder over the whole prefix without
            a causal mask and clamps each frame to [-1, 1] (the port's AR model; training is
            causal). Diffusion models ignore it.
        prediction: what the decoder outputs, ``"epsilon"`` (the noise: official, port) or
            ``"v"`` (v = alpha eps - sigma x0, Salimans & Ho 2022: its x0 estimate stays accurate
            at high noise, where eps errors are amplified by 1/alpha; the built-in model uses it).
            Samplers always receive epsilon (`SpectrogramDiffusion.predict_eps` converts).
        note_roll: the decoder also adds a learned projection of a frame-aligned roll of the
            notes, decoded from the tokens (`specdiff.models.note_roll`), to its input frames:
            a specdiff extension that lets a small model trained briefly follow its notes (the
            built-in model). Off for the official and port weights.
        note_roll_gaps: the roll also says, per frame, whether nothing has played for 0.25,
            0.5, 1 or 2 s (`specdiff.models.note_roll.GAP_SECONDS`), so the model learns where
            the music has stopped; needs ``note_roll``.
    """

    d_model: int = 768
    num_heads: int = 12
    head_dim: int = 64
    d_ff: int = 2048
    encoder_layers: int = 12
    decoder_layers: int = 12
    dropout: float = 0.1
    vocab_size: int = 1536
    max_tokens: int = 2048
    target_length: int = 256
    context_length: int = 256
    n_mels: int = 128
    max_noise_time: float = 2e4
    has_context: bool = True
    norm_eps: float = 1e-6
    scale_attention: bool = False
    gelu_approximate: Literal["tanh", "none"] = "tanh"
    norm_type: Literal["rms", "layer"] = "rms"
    bias: bool = False
    time_signal: Literal["halves", "interleaved"] = "halves"
    mask_padding: bool = True
    shared_context_input: bool = False
    decoder_positions: int | None = None
    first_context: Literal["masked", "silence"] = "masked"
    scaler_min: float = math.log(1e-5)
    scaler_max: float = 4.0
    scaler_clip: bool = True
    codec: Literal["official", "port-901"] = "official"
    ar_full_prefix: bool = False
    prediction: Literal["epsilon", "v"] = "epsilon"
    note_roll: bool = False
    note_roll_gaps: bool = False

    def __post_init__(self) -> None:
        for name in ("d_model", "num_heads", "head_dim", "d_ff", "vocab_size", "max_tokens",
                     "target_length", "context_length", "n_mels"):
            if int(getattr(self, name)) <= 0:
                raise SpecdiffError(
                    f"ModelConfig.{name}: must be positive, got {getattr(self, name)}")
        if self.d_model % 2:
            raise SpecdiffError(
                f"ModelConfig.d_model: must be even (time embedding), got {self.d_model}")
        if self.gelu_approximate not in ("tanh", "none"):
            raise SpecdiffError(
                "ModelConfig.gelu_approximate: expected 'tanh' or 'none', "
                f"got {self.gelu_approximate!r}")
        choices = {"norm_type": ("rms", "layer"), "time_signal": ("halves", "interleaved"),
                   "first_context": ("masked", "silence"), "codec": ("official", "port-901"),
                   "prediction": ("epsilon", "v")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SpecdiffError(f"ModelConfig.{name}: expected one of {allowed}, "
                                    f"got {getattr(self, name)!r}")
        if self.decoder_positions is not None and self.decoder_positions < self.target_length:
            raise SpecdiffError(f"ModelConfig.decoder_positions: {self.decoder_positions} rows "
                                f"cannot hold target_length {self.target_length} frames")
        if self.note_roll_gaps and not self.note_roll:
            raise SpecdiffError("ModelConfig.note_roll_gaps: needs note_roll=True")
        if not self.scaler_max > self.scaler_min:
            raise SpecdiffError(f"ModelConfig.scaler_max: {self.scaler_max} must exceed "
                                f"scaler_min {self.scaler_min}")

    @property
    def decoder_rows(self) -> int:
        """Rows of the decoder position table (``decoder_positions`` or ``target_length``)."""
        return self.target_length if self.decoder_positions is None else self.decoder_positions

    @property
    def inner_dim(self) -> int:
        """Attention width ``num_heads * head_dim``."""
        return self.num_heads * self.head_dim

    @property
    def token_codec(self):
        """The `CodecConfig` of the ``codec`` field (what tokenizes this model's input)."""
        from specdiff.codec.config import OFFICIAL_CODEC, PORT_CODEC

        return PORT_CODEC if self.codec == "port-901" else OFFICIAL_CODEC

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> ModelConfig:
        """Build from a dict; unknown keys are an error naming ``source``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SpecdiffError(f"{source}: unknown model config fields {unknown}")
        return cls(**values)


# The official gin sizes (model.md §2). `tiny` is ours: fast enough for tests and CI.
_LADDER: dict[str, dict[str, Any]] = {
    "tiny": dict(d_model=32, num_heads=4, head_dim=8, d_ff=64, encoder_layers=2, decoder_layers=2),
    "small": dict(d_model=512, num_heads=6, head_dim=64, d_ff=1024, encoder_layers=8,
                  decoder_layers=8),
    "base": dict(d_model=768, num_heads=12, head_dim=64, d_ff=2048, encoder_layers=12,
                 decoder_layers=12),
    "large": dict(d_model=1024, num_heads=16, head_dim=64, d_ff=2816, encoder_layers=24,
                  decoder_layers=24),
}

CONFIG_NAMES = tuple(_LADDER)


def model_config(name: str = "base", **overrides: Any) -> ModelConfig:
    """The named size of the ladder (``tiny``, ``small``, ``base``, ``large``) with overrides.

    Example: ``model_config("small", has_context=False)``: the small model without context.
    """
    if name not in _LADDER:
        raise SpecdiffError(f"model config {name!r}: expected one of {', '.join(_LADDER)}")
    return ModelConfig(**{**_LADDER[name], **overrides})


#: The port's numerics (model.md §8); sizes come from its YAML config or its tensors.
PORT_NUMERICS: dict[str, Any] = dict(
    norm_type="layer", norm_eps=1e-5, bias=True, scale_attention=True, gelu_approximate="none",
    time_signal="interleaved", mask_padding=False, shared_context_input=True,
    first_context="silence", scaler_clip=False, codec="port-901", vocab_size=901, max_tokens=3000,
    target_length=256, decoder_positions=257, context_length=257, ar_full_prefix=True)


def port_config(**sizes: Any) -> ModelConfig:
    """A `ModelConfig` with the unofficial port's numerics and the given sizes.

    Example: ``port_config(d_model=512, num_heads=6, head_dim=64, d_ff=1024, encoder_layers=8,
    decoder_layers=8, has_context=False, scaler_max=...)``: the port's "small without context".
    """
    return ModelConfig(**{**PORT_NUMERICS, **sizes})
