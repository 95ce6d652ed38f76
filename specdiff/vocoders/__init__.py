"""specdiff.vocoders: mel -> audio (Griffin-Lim, SoundStream ONNX, specdiff's own)."""

from specdiff.vocoders.base import Vocoder
from specdiff.vocoders.griffin_lim import (
    GriffinLim,
    fine_magnitudes,
    istft,
    mel_to_linear,
    refine_low_band,
    refine_phase,
)
from specdiff.vocoders.neural import (
    NeuralVocoder,
    NeuralVocoderConfig,
    VocosNet,
    load_neural_vocoder,
    save_neural_vocoder,
)
from specdiff.vocoders.registry import (
    find_onnx_vocoder,
    load_vocoder,
    register_vocoder,
    vocoder_names,
)
from specdiff.vocoders.soundstream import SoundStreamOnnx
from specdiff.vocoders.stream import vocode_stream

__all__ = [
    "GriffinLim",
    "NeuralVocoder",
    "NeuralVocoderConfig",
    "SoundStreamOnnx",
    "Vocoder",
    "VocosNet",
    "find_onnx_vocoder",
    "fine_magnitudes",
    "istft",
    "load_neural_vocoder",
    "load_vocoder",
    "mel_to_linear",
    "refine_low_band",
    "refine_phase",
    "register_vocoder",
    "save_neural_vocoder",
    "vocode_stream",
    "vocoder_names",
]
