"""Audio loading (any format, resampled, mono) and atomic writing."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

from specdiff.audio import AudioFileWriter, load_audio, log_mel, save_audio
from specdiff.audio.io import soft_clip
from specdiff.errors import SpecdiffError


def _sine(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("ext,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG")])
def test_load_resamples_and_mixes_to_mono(tmp_path, ext, fmt):
    left, right = _sine(440.0, 1.0, 44100), _sine(1000.0, 1.0, 44100)
    path = tmp_path / f"stereo{ext}"
    sf.write(path, np.stack([left, right], axis=1), 44100, format=fmt)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(audio[:16000]))  # 1 Hz bins
    top_two = sorted(np.argsort(spectrum)[-2:].tolist())
    assert abs(top_two[0] - 440) <= 1 and abs(top_two[1] - 1000) <= 1
    # mono mix halves each channel's amplitude
    assert 0.2 < np.abs(audio).max() < 0.55


def test_load_keeps_16k_untouched(tmp_path):
    audio = _sine(300.0, 0.5, 16000)
    sf.write(tmp_path / "a.wav", audio, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav"), audio)
    assert load_audio(tmp_path / "a.wav", sample_rate=8000).size == 4000


def test_load_errors(tmp_path):
    with pytest.raises(SpecdiffError, match="no such audio file"):
        load_audio(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio")
    with pytest.raises(SpecdiffError, match="bad.wav: not a readable audio file"):
        load_audio(bad)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".WAV"])
def test_save_round_trip(tmp_path, ext):
    audio = torch.from_numpy(_sine(440.0, 0.3, 16000))
    path = save_audio(tmp_path / f"out{ext}", audio, 16000)
    back, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and back.shape == audio.shape
    np.testing.assert_allclose(back, audio.numpy(), atol=1.0 / 32768 + 1e-7)
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_save_limits_instead_of_wrapping(tmp_path):
    path = save_audio(tmp_path / "loud.wav", np.array([1.5, -1.5, 0.5, 0.95], dtype=np.float32))
    back, _ = sf.read(path, dtype="float32")
    assert 0.99 < back[0] < 1.0 and -1.0 <= back[1] < -0.99  # not wrapped round to the far side
    assert back[2] == pytest.approx(0.5, abs=1 / 32768)  # below the knee: untouched
    assert 0.9 < back[3] < 0.95  # bent, not cut


def test_soft_clip_is_smooth_monotonic_and_bounded():
    x = np.linspace(-1.5, 1.5, 3001, dtype=np.float32)
    y = soft_clip(x)
    inside = np.abs(x) <= 0.9
    np.testing.assert_array_equal(y[inside], x[inside])
    assert np.all(np.abs(y) < 1.0) and np.all(np.diff(y) >= 0)  # float32 flattens near 1
    assert np.all(np.abs(soft_clip(np.float32([-1e6, -3, 3, 1e6]))) <= 1.0)
    slope = np.diff(y) / np.diff(x)
    assert np.max(np.abs(np.diff(slope))) < 1e-2  # no kink at the knee
    np.testing.assert_array_equal(soft_clip(x[:, None].repeat(2, 1))[:, 1], y)  # stereo frames


def test_save_errors(tmp_path):
    with pytest.raises(SpecdiffError, match="unknown audio extension '.mp4'"):
        save_audio(tmp_path / "out.mp4", np.zeros(10))
    with pytest.raises(SpecdiffError, match="does not exist"):
        save_audio(tmp_path / "nope" / "out.wav", np.zeros(10))
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(SpecdiffError, match="is a directory"):
        save_audio(tmp_path / "dir.wav", np.zeros(10))
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        with pytest.raises(SpecdiffError, match="not writable"):
            save_audio(locked / "out.wav", np.zeros(10))


def test_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(KeyboardInterrupt):
        save_audio(target, np.zeros(100))
    assert os.listdir(tmp_path) == ["out.wav"] and target.read_bytes() == b"old"


def test_streaming_writer_is_atomic(tmp_path):
    path = tmp_path / "stream.flac"
    chunks = [_sine(440.0, 0.1, 16000), _sine(880.0, 0.1, 16000)]
    with AudioFileWriter(path) as writer:
        writer.write(chunks[0])
        assert not path.exists()  # only the hidden temporary file so far
        writer.write(torch.from_numpy(chunks[1]))
    back, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(back, np.concatenate(chunks), atol=1e-4)
    assert writer.frames_written == 3200
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not 0600

    with pytest.raises(RuntimeError), AudioFileWriter(tmp_path / "fail.wav") as writer:
        writer.write(chunks[0])
        raise RuntimeError("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["stream.flac"]


def test_errors_name_the_directory(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(SpecdiffError, match="dir.wav: is a directory"):
        AudioFileWriter(tmp_path / "dir.wav")


def test_loaded_audio_feeds_the_front_end(tmp_path):
    sf.write(tmp_path / "a.wav", _sine(440.0, 1.0, 22050), 22050)
    mel = log_mel(load_audio(tmp_path / "a.wav"))
    assert mel.shape == (50, 128) and int(mel[25].argmax()) == 24
