"""VGGish: the published framing (0.96 s windows and hop at 16 kHz) with a fixed random-weight
network, the official preprocessing, weight-file errors, and reconstruction distance on audio."""

from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.errors import SpecdiffError
from specdiff.evaluation import (
    VGGishEmbedder,
    pad_to_whole_seconds,
    prepare_for_embedding,
    reconstruction_distance,
    vggish_frame_times,
    vggish_num_frames,
)
from specdiff.evaluation.vggish import VGGISH_WEIGHTS_URL


@pytest.mark.parametrize(
    "num_samples, expected",
    [(0, 0), (399, 0), (15599, 0), (15600, 1), (16000, 1), (30959, 1), (30960, 2),
     (32000, 2), (80000, 5), (160000, 10), (480000, 31)],
)
def test_number_of_embeddings(vggish, num_samples, expected):
    # 25 ms / 10 ms log-mel frames, 96 frames per example, non-overlapping: an embedding needs
    # 0.96 s + 15 ms of audio and a new one starts every 0.96 s (15360 samples).
    assert vggish_num_frames(num_samples) == expected
    audio = 0.1 * np.random.default_rng(num_samples).standard_normal(num_samples)
    out = vggish.embed(audio.astype(np.float32))
    assert out.shape == (expected, 128)
    assert out.dtype == np.float32


def test_embedding_timing_follows_clicks(vggish):
    n = 5 * 16000
    base = vggish.embed(np.zeros(n, np.float32))
    times = vggish_frame_times(n)
    np.testing.assert_allclose(times[:, 0], 0.96 * np.arange(5))
    np.testing.assert_allclose(times[:, 1] - times[:, 0], 0.96)
    for sample in (100, 15400, 20000, 47000, 76000):
        audio = np.zeros(n, np.float32)
        audio[sample] = 1.0
        changed = np.flatnonzero(np.abs(vggish.embed(audio) - base).max(axis=1) > 1e-6)
        # example k sees samples [15360 k, 15360 k + 15600) (96 hops of 160 + a 400 window)
        expected = [k for k in range(5) if 15360 * k <= sample < 15360 * k + 15600]
        assert changed.tolist() == expected, sample


def test_final_layer_is_linear(vggish):
    # TF-Hub VGGish returns fc2 without ReLU: embeddings can be negative.
    audio = np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    assert (vggish.embed(audio) < 0).any()


def test_official_preprocessing():
    x = np.arange(1, 24001, dtype=np.float32)  # 1.5 s
    x[5] = np.nan
    y = prepare_for_embedding(x, 16000)
    assert y.shape == (32000,)
    np.testing.assert_array_equal(y[:4000], 0)
    np.testing.assert_array_equal(y[-4000:], 0)
    assert y[4000] == 1 and y[4005] == 0 and y[-4001] == 24000
    assert pad_to_whole_seconds(np.ones(16001)).shape == (32000,)
    assert pad_to_whole_seconds(np.ones(3), 16000)[7997:8002].tolist() == [0, 1, 1, 1, 0]
    assert pad_to_whole_seconds(np.ones(16000)).shape == (16000,)
    # resampled to 16 kHz before padding
    assert prepare_for_embedding(np.zeros(22050 * 2), 22050).shape == (32000,)


def test_reconstruction_distance_zero_for_identical_and_grows_with_noise(vggish):
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 660 * t)
    audio = audio.astype(np.float32)
    ref = vggish.embed(prepare_for_embedding(audio, 16000))
    distances = []
    for level in (0.0, 1e-4, 1e-3, 1e-2):  # a random network saturates above ~0.03
        noisy = audio + level * rng.standard_normal(len(audio)).astype(np.float32)
        pred = vggish.embed(prepare_for_embedding(noisy, 16000))
        distances.append(reconstruction_distance([ref], [pred]))
    assert distances[0] == 0.0
    assert all(a < b for a, b in zip(distances, distances[1:])), distances


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECDIFF_VGGISH_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty user cache
    with pytest.raises(SpecdiffError, match="torchvggish/releases"):
        VGGishEmbedder.from_file(None)
    with pytest.raises(SpecdiffError, match="not found") as info:
        VGGishEmbedder.from_file(tmp_path / "nope.pth")
    assert VGGISH_WEIGHTS_URL in str(info.value)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, wrong)
    monkeypatch.setenv("SPECDIFF_VGGISH_WEIGHTS", str(wrong))
    with pytest.raises(SpecdiffError, match="wrong.pth: not VGGish weights"):
        VGGishEmbedder.from_file()
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SpecdiffError, match="garbage.pth: not a readable"):
        VGGishEmbedder.from_file(garbage)


def test_weights_download_once_into_the_cache_and_are_checksum_verified(tmp_path,
                                                                         monkeypatch):
    """A file:// URL stands in for the release: the real download code runs on local data."""
    import hashlib

    from specdiff.evaluation.vggish import download_vggish_weights, resolve_vggish_weights

    payload = b"vggish weights stand-in"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    release = tmp_path / "release"
    release.mkdir()
    source = release / f"vggish-{prefix}.pth"
    source.write_bytes(payload)
    cache = tmp_path / "cache"
    got = download_vggish_weights(source.as_uri(), directory=cache)
    assert got == cache / source.name and got.read_bytes() == payload
    source.unlink()  # the second call uses the cache and does not download
    assert download_vggish_weights(source.as_uri(), directory=cache) == got
    bad = release / "vggish-00000000.pth"
    bad.write_bytes(payload)
    with pytest.raises(SpecdiffError, match="does not start with 00000000; nothing was kept"):
        download_vggish_weights(bad.as_uri(), directory=cache)
    assert sorted(p.name for p in cache.iterdir()) == [got.name]
    with pytest.raises(SpecdiffError, match="cannot download the VGGish weights"):
        download_vggish_weights((release / "gone-12345678.pth").as_uri(), directory=cache)
    # resolution: a cached copy of the release file is found without any flag
    monkeypatch.delenv("SPECDIFF_VGGISH_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cached = tmp_path / "xdg" / "specdiff" / Path(VGGISH_WEIGHTS_URL).name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(payload)
    assert resolve_vggish_weights() == cached


@pytest.mark.slow  # writes and reads the 288 MB state dict
def test_weights_file_round_trip(vggish, tmp_path):
    path = tmp_path / "vggish.pth"
    torch.save(vggish.network.state_dict(), path)
    loaded = VGGishEmbedder.from_file(path)
    audio = np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    np.testing.assert_array_equal(loaded.embed(audio), vggish.embed(audio))
    assert loaded.identity.startswith("vggish-")
