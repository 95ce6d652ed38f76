"""Regenerate tests/fixtures/audio/mel_tf.npz with TensorFlow's own front end.

Runs only in a separate environment with TensorFlow (never in the tests or CI), e.g.::

    python3 -m venv tfenv && tfenv/bin/pip install tensorflow-cpu numpy
    tfenv/bin/python tests/reference/make_mel_fixtures.py

The log-mel follows the official ``Audio2Mel`` as configured by ``MelGAN.encode`` in
magenta/music-spectrogram-diffusion: ``tf.signal.stft`` (640 Hann, hop 320, FFT 1024,
pad_end=True), magnitude, ``tf.signal.linear_to_mel_weight_matrix`` (128 bins, 0-8 kHz), clip to
[1e-5, 1e8], natural log. Each signal is stored with its log-mel computed in float32 and in float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

SR = 16000
OUT = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "mel_tf.npz"


def signals() -> dict[str, np.ndarray]:
    """A few short test signals at 16 kHz, float32 (lengths deliberately not multiples of 320)."""
    rng = np.random.default_rng(1234)
    t = np.arange(16000) / SR
    sine = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    tc = np.arange(12345) / SR
    f0, f1, dur = 50.0, 7500.0, tc[-1]
    chirp = 0.8 * np.sin(2 * np.pi * (f0 * tc + (f1 - f0) / (2 * dur) * tc**2))
    noise = 0.1 * rng.standard_normal(7001)
    tt = np.arange(9999) / SR
    tone = sum(np.sin(2 * np.pi * 261.63 * k * tt) / k for k in range(1, 9)) * np.exp(-3 * tt) * 0.3
    click = np.zeros(3201)
    click[1600] = 1.0
    return {
        "sine_a4": sine,
        "chirp": chirp,
        "noise": noise,
        "tone": tone,
        "click": click,
        "short_640": rng.uniform(-1, 1, 640),
        "short_100": rng.uniform(-1, 1, 100),
        "single": np.array([0.25]),
    }


def tf_log_mel(audio: np.ndarray, dtype: tf.DType) -> np.ndarray:
    x = tf.constant(audio[None], dtype=dtype)
    spec = tf.signal.stft(
        x, frame_length=640, frame_step=320, fft_length=1024,
        window_fn=tf.signal.hann_window, pad_end=True,
    )
    mag = tf.abs(spec)
    matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=128, num_spectrogram_bins=513, sample_rate=SR,
        lower_edge_hertz=0.0, upper_edge_hertz=8000.0, dtype=dtype,
    )
    mel = tf.matmul(mag, matrix)
    mel = tf.clip_by_value(mel, 1e-5, 1e8)
    return tf.math.log(mel).numpy()[0]


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, audio in signals().items():
        audio = audio.astype(np.float32)
        arrays[f"audio/{name}"] = audio
        arrays[f"mel32/{name}"] = tf_log_mel(audio, tf.float32).astype(np.float32)
        arrays[f"mel64/{name}"] = tf_log_mel(audio.astype(np.float64), tf.float64)
    arrays["matrix"] = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=128, num_spectrogram_bins=513, sample_rate=SR,
        lower_edge_hertz=0.0, upper_edge_hertz=8000.0, dtype=tf.float64,
    ).numpy()
    arrays["tf_version"] = np.array(tf.__version__)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
