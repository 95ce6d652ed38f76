"""Model configuration: one frozen dataclass and the size ladder (tiny, small, base, large)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from specdiff.errors import SpecdiffError


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and numerics of the spectrogram diffusion model (both encoders and the decoder).

    The defaults are the official ``t5_base`` diffusion model with context, whose weights are
    published as ``google/music-spectrogram-diffusion``. The numerics fields describe the official
    T5 variant; other variants (e.g. the unofficial port's LayerNorm / scaled attention / erf GELU)
    are meant to be added as further fields here, not as new classes.

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

    @property
    def inner_dim(self) -> int:
        """Attention width ``num_heads * head_dim``."""
        return self.num_heads * self.head_dim

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
