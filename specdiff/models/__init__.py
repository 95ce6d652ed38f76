"""specdiff.models: T5 blocks, notes/context encoders, FiLM diffusion decoder, AR decoder.

Building a network from a checkpoint of any format: `specdiff.models.builder` (it reads
`specdiff.checkpoints`, which needs only `specdiff.models.config`)."""

from specdiff.models.config import (
    CONFIG_NAMES,
    PORT_NUMERICS,
    ModelConfig,
    model_config,
    port_config,
)
from specdiff.models.decoder import (
    Conditioning,
    CrossMemory,
    FilmDecoder,
    interleaved_time_signal,
    timestep_embedding,
)
from specdiff.models.encoders import ContextEncoder, NotesEncoder, terminal_relative_positions
from specdiff.models.spectrogram_diffusion import SpectrogramDiffusion, trim_padding
from specdiff.models.t5 import (
    Attention,
    EncoderLayer,
    GatedMLP,
    RMSNorm,
    attention_bias,
    make_norm,
)

__all__ = [
    "CONFIG_NAMES", "PORT_NUMERICS", "ModelConfig", "model_config", "port_config", "Conditioning",
    "CrossMemory",
    "FilmDecoder", "interleaved_time_signal", "timestep_embedding", "ContextEncoder",
    "NotesEncoder", "terminal_relative_positions", "SpectrogramDiffusion", "trim_padding",
    "Attention", "EncoderLayer", "GatedMLP", "RMSNorm", "attention_bias", "make_norm",
]
