"""specdiff.audio: the official log-mel front end, scaling, audio I/O and resampling."""

from specdiff.audio.io import (
    AudioFileWriter,
    WavStreamWriter,
    atomic_path,
    load_audio,
    resample_stream,
    save_audio,
)
from specdiff.audio.mel import (
    DEFAULT_MEL,
    FRAMES_PER_SEGMENT,
    HOP_LENGTH,
    MAX_LOG_MEL,
    MIN_LOG_MEL,
    N_MELS,
    SAMPLE_RATE,
    SAMPLES_PER_SEGMENT,
    MelConfig,
    frame_signal,
    log_mel,
    mel_matrix,
    stft,
    stft_magnitude,
)
from specdiff.audio.scaling import scale_mel, unscale_mel

__all__ = [
    "DEFAULT_MEL",
    "FRAMES_PER_SEGMENT",
    "HOP_LENGTH",
    "MAX_LOG_MEL",
    "MIN_LOG_MEL",
    "N_MELS",
    "SAMPLES_PER_SEGMENT",
    "SAMPLE_RATE",
    "AudioFileWriter",
    "WavStreamWriter",
    "MelConfig",
    "atomic_path",
    "frame_signal",
    "load_audio",
    "log_mel",
    "mel_matrix",
    "resample_stream",
    "save_audio",
    "scale_mel",
    "stft",
    "stft_magnitude",
    "unscale_mel",
]
