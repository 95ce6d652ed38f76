"""Spectral distances: log-mel L1 and multi-resolution STFT distance."""

import math

import numpy as np
import pytest

from specdiff.evaluation import log_mel_l1, multi_resolution_stft_distance


@pytest.fixture(scope="module")
def audio():
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)
    return audio.astype(np.float32)


def test_zero_for_identical_audio_and_extra_tail_is_ignored(audio):
    longer = np.concatenate([audio, np.ones(5000, np.float32)])
    assert log_mel_l1(longer, audio) == 0.0
    assert multi_resolution_stft_distance(audio, longer) == {
        "mrstft_sc": 0.0, "mrstft_logmag": 0.0, "mrstft": 0.0}


def test_grows_with_noise(audio):
    rng = np.random.default_rng(1)
    mel, stft = [], []
    for level in (0.01, 0.05, 0.2):
        noisy = audio + level * rng.standard_normal(audio.size).astype(np.float32)
        mel.append(log_mel_l1(noisy, audio))
        stft.append(multi_resolution_stft_distance(noisy, audio)["mrstft"])
    assert 0 < mel[0] < mel[1] < mel[2]
    assert 0 < stft[0] < stft[1] < stft[2]


def test_gain_of_two_closed_form(audio):
    d = multi_resolution_stft_distance(2 * audio, audio)
    assert d["mrstft_sc"] == pytest.approx(1.0, rel=1e-6)  # ||S - 2S|| / ||S||
    assert d["mrstft_logmag"] == pytest.approx(math.log(2), rel=1e-6)
    assert d["mrstft"] == pytest.approx(d["mrstft_sc"] + d["mrstft_logmag"])


def test_short_and_empty_audio(audio):
    short = multi_resolution_stft_distance(audio[:300], audio[:300] * 0.5)
    assert all(np.isfinite(v) for v in short.values())
    assert np.isnan(log_mel_l1(audio[:0], audio))
