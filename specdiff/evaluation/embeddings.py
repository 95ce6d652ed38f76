"""Audio preparation shared by the embedding models, and the interface they implement."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

EMBEDDING_SAMPLE_RATE = 16000


def resample(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono audio (n,) with soxr (high quality); a no-op when the rates match."""
    audio = np.asarray(audio, np.float32)
    if sample_rate == target_rate or audio.size == 0:
        return audio
    import soxr

    return soxr.resample(audio, sample_rate, target_rate, quality="HQ").astype(np.float32)


def pad_to_whole_seconds(audio: np.ndarray, sample_rate: int = EMBEDDING_SAMPLE_RATE) -> np.ndarray:
    """Zero-pad (n,) symmetrically to ceil(n / sr) * sr samples (extra sample at the end)."""
    n = audio.shape[-1]
    total = math.ceil(n / sample_rate) * sample_rate
    before = (total - n) // 2
    return np.pad(audio, (before, total - n - before))


def prepare_for_embedding(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The official preprocessing before VGGish / TRILL.

    nan_to_num, resample to 16 kHz, then symmetric zero-padding to a whole number of seconds.

    Args:
        audio: (n,) mono waveform in [-1, 1] at ``sample_rate`` Hz.
    Returns:
        (m,) float32 at 16 kHz with m a multiple of 16000.
    """
    audio = np.nan_to_num(np.asarray(audio, np.float32).reshape(-1))
    audio = resample(audio, sample_rate, EMBEDDING_SAMPLE_RATE)
    return pad_to_whole_seconds(audio, EMBEDDING_SAMPLE_RATE).astype(np.float32)


@runtime_checkable
class Embedder(Protocol):
    """An audio embedding model used for reconstruction distance and FAD.

    Attributes:
        name: metric prefix, e.g. "vggish" or "trill".
        identity: a string that changes whenever the weights change (part of cache keys).
    """

    name: str
    identity: str

    def embed(self, audio_16k: np.ndarray) -> np.ndarray:
        """(n,) float32 16 kHz audio, already prepared -> (T, D) float32 embeddings."""
        ...
