"""The official log-mel front end: TF-style framing and mel matrix, reproduced in torch.

Facts (``shared/reference/audio.md`` §1): 16 kHz mono, periodic Hann window of 640 samples inside
a 1024-point FFT, hop 320 (50 frames/s), frames *not* centred with ``pad_end`` semantics (frame k
covers samples [320k, 320k + 640), the end is zero-padded, ceil(n / 320) frames), magnitude,
the ``tf.signal.linear_to_mel_weight_matrix`` filterbank (128 bins, 0-8 kHz), clip to
[1e-5, 1e8], natural log.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

SAMPLE_RATE = 16000
"""Audio sample rate of the features and the vocoders (Hz)."""
HOP_LENGTH = 320
"""Samples per mel frame (20 ms)."""
N_MELS = 128
"""Mel bins per frame."""
FRAMES_PER_SEGMENT = 256
"""Mel frames in one target segment (5.12 s)."""
SAMPLES_PER_SEGMENT = FRAMES_PER_SEGMENT * HOP_LENGTH
"""Audio samples in one target segment (81 920)."""
MIN_LOG_MEL = math.log(1e-5)
"""Lower end of the fixed scaling range, ln(1e-5) (the log-mel of silence)."""
MAX_LOG_MEL = 4.0
"""Upper end of the fixed scaling range."""

# Frames processed at once by ``log_mel``; bounds the memory of long inputs (~5 MB per 1k frames).
_CHUNK_FRAMES = 8192


@dataclass(frozen=True)
class MelConfig:
    """Parameters of the log-mel front end; the defaults are the official ("melgan") ones.

    Attributes:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size (the window is zero-padded at its end up to it); n_fft // 2 + 1 bins.
        win_length: periodic Hann window length in samples.
        hop_length: frame step in samples.
        n_mels: number of mel bins.
        fmin: lower edge of the mel filterbank in Hz.
        fmax: upper edge of the mel filterbank in Hz.
        clip_min: magnitudes are clipped to [clip_min, clip_max] before the log.
        clip_max: see clip_min.
        min_value: log-mel mapped to -1 by ``scale_mel``.
        max_value: log-mel mapped to +1 by ``scale_mel``.
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    win_length: int = 640
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    fmin: float = 0.0
    fmax: float = 8000.0
    clip_min: float = 1e-5
    clip_max: float = 1e8
    min_value: float = MIN_LOG_MEL
    max_value: float = MAX_LOG_MEL

    @property
    def n_freqs(self) -> int:
        """Linear-frequency bins of the STFT (n_fft // 2 + 1)."""
        return self.n_fft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` samples: ceil(num_samples / hop_length)."""
        return -(-num_samples // self.hop_length)


DEFAULT_MEL = MelConfig()


def hertz_to_mel(freq: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, 1127 ln(1 + f / 700), the formula TensorFlow uses."""
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=8)
def _mel_matrix_cached(config: MelConfig) -> np.ndarray:
    # Like tf.signal.linear_to_mel_weight_matrix: triangles linear in mel between band edges
    # evenly spaced in mel, peak 1, no area normalisation, and the DC row forced to zero.
    freqs = np.linspace(0.0, config.sample_rate / 2.0, config.n_freqs)[1:]
    bins_mel = hertz_to_mel(freqs)[:, None]  # (F - 1, 1)
    edges = np.linspace(hertz_to_mel(config.fmin), hertz_to_mel(config.fmax), config.n_mels + 2)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]  # (1, M) each
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    matrix = np.concatenate([np.zeros((1, config.n_mels)), weights], axis=0)  # (F, M)
    matrix = matrix.astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def mel_matrix(config: MelConfig = DEFAULT_MEL) -> np.ndarray:
    """The TensorFlow-style mel weight matrix.

    Returns:
        float32 array (n_fft // 2 + 1, n_mels), read-only; ``magnitude @ matrix`` gives the mel
        magnitudes. Row 0 (DC) is zero.
    """
    return _mel_matrix_cached(config)


def _as_tensor(audio: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(audio, np.ndarray):
        audio = torch.from_numpy(np.ascontiguousarray(audio))
    if not torch.is_floating_point(audio):
        raise TypeError(f"audio must be floating point, got {audio.dtype}")
    return audio


def frame_signal(audio: torch.Tensor, config: MelConfig = DEFAULT_MEL) -> torch.Tensor:
    """Cut audio into non-centred frames with ``pad_end`` semantics (no window applied).

    Args:
        audio: (B, n) samples.

    Returns:
        (B, ceil(n / hop), win_length): frame k holds samples [hop k, hop k + win_length), the
        end zero-padded.
    """
    n = audio.shape[-1]
    frames = config.num_frames(n)
    if frames == 0:
        return audio.new_zeros(audio.shape[:-1] + (0, config.win_length))
    padded = (frames - 1) * config.hop_length + config.win_length
    audio = torch.nn.functional.pad(audio, (0, padded - n))
    return audio.unfold(-1, config.win_length, config.hop_length)


def stft_magnitude(audio: torch.Tensor, config: MelConfig = DEFAULT_MEL) -> torch.Tensor:
    """|STFT| with the official framing (as ``tf.signal.stft(..., pad_end=True)``).

    Args:
        audio: (B, n) float samples.

    Returns:
        (B, ceil(n / hop), n_fft // 2 + 1) magnitudes, same dtype and device as ``audio``.
    """
    return stft(audio, config).abs()


def stft(audio: torch.Tensor, config: MelConfig = DEFAULT_MEL) -> torch.Tensor:
    """Complex STFT with the official framing: (B, n) -> (B, ceil(n / hop), n_fft // 2 + 1)."""
    window = torch.hann_window(
        config.win_length, periodic=True, dtype=audio.dtype, device=audio.device
    )
    frames = frame_signal(audio, config) * window  # (B, T, win)
    if frames.shape[-2] == 0:  # some FFT backends reject empty batches
        dtype = torch.complex128 if audio.dtype == torch.float64 else torch.complex64
        return torch.zeros(frames.shape[:-1] + (config.n_freqs,), dtype=dtype, device=audio.device)
    return torch.fft.rfft(frames, n=config.n_fft, dim=-1)  # zero-pads each frame at its end


def log_mel(
    audio: torch.Tensor | np.ndarray, config: MelConfig = DEFAULT_MEL
) -> torch.Tensor:
    """The official log-mel spectrogram.

    Args:
        audio: (B, n) or (n,) float samples at ``config.sample_rate`` (torch or numpy).

    Returns:
        (B, T, n_mels) or (T, n_mels) natural-log mel magnitudes in [ln clip_min, ln clip_max],
        T = ceil(n / hop_length); float32 unless the input is float64; on the input's device.
    """
    audio = _as_tensor(audio)
    squeeze = audio.dim() == 1
    if squeeze:
        audio = audio[None]
    if audio.dim() != 2:
        raise ValueError(f"audio must be (n,) or (B, n), got shape {tuple(audio.shape)}")
    matrix = torch.tensor(mel_matrix(config), dtype=audio.dtype, device=audio.device)
    total = config.num_frames(audio.shape[-1])
    step = _CHUNK_FRAMES * config.hop_length
    chunks = []
    for start in range(0, max(total, 1), _CHUNK_FRAMES):
        # Each chunk sees its own frames' samples plus the window overhang into the next chunk.
        stop = min(total, start + _CHUNK_FRAMES)
        lo = start * config.hop_length
        hi = lo + step + config.win_length - config.hop_length
        piece = audio[:, lo:hi]
        mag = stft_magnitude(piece, config)[:, : stop - start]  # (B, t, F)
        chunks.append(mag @ matrix)  # (B, t, M)
    mel = torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0]
    mel = torch.log(mel.clamp(config.clip_min, config.clip_max))
    return mel[0] if squeeze else mel
