"""The log-mel front end against TensorFlow's own ``tf.signal`` (committed fixtures)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.audio import (
    FRAMES_PER_SEGMENT,
    HOP_LENGTH,
    MIN_LOG_MEL,
    SAMPLES_PER_SEGMENT,
    MelConfig,
    log_mel,
    mel_matrix,
)
from specdiff.audio.mel import hertz_to_mel

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "mel_tf.npz"


@pytest.fixture(scope="module")
def tf_ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def _names(ref: dict[str, np.ndarray]) -> list[str]:
    return [key.split("/", 1)[1] for key in ref if key.startswith("audio/")]


def test_mel_matrix_matches_tensorflow(tf_ref):
    ours = mel_matrix()
    assert ours.shape == (513, 128) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, tf_ref["matrix"], atol=1e-6, rtol=0)
    assert not ours[0].any()  # DC row zeroed, as TF does
    assert ours.max() <= 1.0 and (ours.sum(axis=0) > 0).all()  # every band has weight


def test_log_mel_float64_matches_tensorflow_within_1e_4(tf_ref):
    for name in _names(tf_ref):
        audio = torch.from_numpy(tf_ref[f"audio/{name}"]).double()
        ours = log_mel(audio).numpy()
        ref = tf_ref[f"mel64/{name}"]
        assert ours.shape == ref.shape == (math.ceil(audio.numel() / 320), 128), name
        np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0, err_msg=name)


def test_log_mel_float32_matches_tensorflow(tf_ref):
    # In float32 both FFTs have rounding noise ~1e-7 of the frame's peak, which dominates the log
    # of near-silent bins (TF float32 itself differs from TF float64 there by up to ~0.7 nats).
    # So: linear magnitudes agree to 2e-5 of the peak everywhere; log values agree to 1e-4 on
    # broadband signals, where every bin is far above that noise.
    for name in _names(tf_ref):
        ours = log_mel(torch.from_numpy(tf_ref[f"audio/{name}"])).double().numpy()
        ref32, ref64 = tf_ref[f"mel32/{name}"], tf_ref[f"mel64/{name}"]
        peak = np.exp(ref64).max()
        assert np.abs(np.exp(ours) - np.exp(ref32)).max() <= 2e-5 * peak, name
        if name in ("noise", "click", "short_640", "short_100", "single"):
            np.testing.assert_allclose(ours, ref64, atol=1e-4, rtol=0, err_msg=name)


def test_batched_equals_single_and_numpy_input(tf_ref):
    a = tf_ref["audio/noise"]
    b = tf_ref["audio/chirp"][: a.size]
    batch = log_mel(torch.from_numpy(np.stack([a, b])))
    assert batch.shape == (2, math.ceil(a.size / 320), 128)
    torch.testing.assert_close(batch[0], log_mel(a), rtol=0, atol=1e-5)
    torch.testing.assert_close(batch[1], log_mel(torch.from_numpy(b)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0])
def test_sine_peaks_in_the_right_mel_bin(freq):
    t = torch.arange(16000, dtype=torch.float64) / 16000
    mel = log_mel(0.5 * torch.sin(2 * math.pi * freq * t))
    peak_bins = mel[1:-1].argmax(dim=-1)  # interior frames
    centers = np.linspace(hertz_to_mel(0.0), hertz_to_mel(8000.0), 130)[1:-1]
    expected = int(np.argmin(np.abs(centers - hertz_to_mel(freq))))
    assert (peak_bins == expected).all()
    if freq == 440.0:
        assert expected == 24  # A4: band 24 is centred at ~441 Hz


def test_frame_count_and_alignment():
    for n in (0, 1, 319, 320, 321, 640, SAMPLES_PER_SEGMENT):
        assert log_mel(torch.zeros(n)).shape == (math.ceil(n / HOP_LENGTH), 128)
    assert log_mel(torch.zeros(SAMPLES_PER_SEGMENT)).shape[0] == FRAMES_PER_SEGMENT
    # Silence is exactly ln(1e-5).
    assert torch.all(log_mel(torch.zeros(1000)) == torch.tensor(MIN_LOG_MEL, dtype=torch.float32))
    # Not centred: an impulse at sample 320 k + 160 shows up in frames k-1 and k only.
    audio = torch.zeros(320 * 10)
    audio[320 * 4 + 160] = 1.0
    loud = (log_mel(audio) > MIN_LOG_MEL + 1).any(dim=-1).nonzero().flatten().tolist()
    assert loud == [3, 4]


def test_long_input_is_chunked_identically(monkeypatch):
    import specdiff.audio.mel as mel_module

    audio = torch.randn(2, 320 * 50 + 17, generator=torch.Generator().manual_seed(0))
    whole = log_mel(audio)
    monkeypatch.setattr(mel_module, "_CHUNK_FRAMES", 7)
    torch.testing.assert_close(log_mel(audio), whole, rtol=0, atol=0)


def test_config_is_frozen_and_defaults_are_official():
    config = MelConfig()
    assert (config.sample_rate, config.n_fft, config.win_length, config.hop_length) == (
        16000, 1024, 640, 320)
    assert (config.n_mels, config.fmin, config.fmax) == (128, 0.0, 8000.0)
    assert config.min_value == pytest.approx(-11.512925464970229) and config.max_value == 4.0
    with pytest.raises(AttributeError):
        config.n_mels = 64  # type: ignore[misc]
