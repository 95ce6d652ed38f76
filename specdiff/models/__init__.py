"""specdiff.models: T5 blocks, notes/context encoders, FiLM diffusion decoder, AR decoder."""

from specdiff.models.config import CONFIG_NAMES, ModelConfig, model_config
from specdiff.models.decoder import CrossMemory, FilmDecoder, timestep_embedding
from specdiff.models.encoders import ContextEncoder, NotesEncoder, terminal_relative_positions
from specdiff.models.spectrogram_diffusion import SpectrogramDiffusion, trim_padding
from specdiff.models.t5 import Attention, EncoderLayer, GatedMLP, RMSNorm, attention_bias

__all__ = [
    "CONFIG_NAMES", "ModelConfig", "model_config", "CrossMemory", "FilmDecoder",
    "timestep_embedding", "ContextEncoder", "NotesEncoder", "terminal_relative_positions",
    "SpectrogramDiffusion", "trim_padding", "Attention", "EncoderLayer", "GatedMLP", "RMSNorm",
    "attention_bias",
]
