"""``specdiff synth`` in-process: the tiny diffusers-layout model with a tiny ONNX vocoder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from midi_files import write_midi

from specdiff.cli import main

HUB_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "diffusers_tiny"
NOTES = [(0, 0, 60 + k % 12, 100, 0.5 * k, 0.5 * k + 0.8) for k in range(20)] + [
    (1, 48, 67, 90, 2.0, 11.0), (9, 0, 36, 100, 1.0, 1.1), (2, 33, 40, 100, 4.0, 6.0)]
EXPECTED = round((11.0 + 1.0) * 16000)  # 3 segments of 81 920 samples, trimmed to end + 1 s


@pytest.fixture(scope="module")
def hub_model(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    from specdiff.vocoders.testing import build_tiny_onnx_vocoder

    folder = tmp_path_factory.mktemp("hub") / "model"
    shutil.copytree(HUB_FIXTURE, folder)
    build_tiny_onnx_vocoder(folder / "melgan" / "model.onnx")
    return folder


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "song.mid", NOTES)


def test_synth_end_to_end(hub_model, midi, tmp_path, capsys):
    args = [str(midi), "--model", str(hub_model), "--steps", "2", "--seed", "7", "--no-progress"]
    assert main(["synth", *args, "-o", str(tmp_path / "a.wav"), "--save-mel",
                 str(tmp_path / "a.npy"), "--plot", str(tmp_path / "a.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    audio, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == 16000 and audio.shape == (EXPECTED,) and np.isfinite(audio).all()
    assert np.abs(audio).max() > 0
    assert np.load(tmp_path / "a.npy").shape == (3 * 256, 128)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["synth", *args, "-o", str(tmp_path / "b.wav")]) == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert main(["synth", *args, "--seed", "8", "-o", str(tmp_path / "c.flac")]) == 0
    other, _ = sf.read(tmp_path / "c.flac", dtype="float32")
    assert other.shape == audio.shape and not np.array_equal(other, audio)
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "a.png", "a.wav", "b.wav", "c.flac"]


def test_synth_griffin_lim_and_no_context_options(hub_model, midi, tmp_path):
    assert main(["synth", str(midi), "--model", str(hub_model), "--steps", "1", "--no-progress",
                 "--vocoder", "griffin-lim", "--sampler", "ddim", "--guidance", "1",
                 "-o", str(tmp_path / "gl.wav")]) == 0
    assert sf.info(str(tmp_path / "gl.wav")).frames == EXPECTED


@pytest.mark.parametrize("case", ["missing", "not_midi", "unwritable", "vocoder", "checkpoint",
                                  "sampler", "extension"])
def test_synth_user_errors_exit_2(hub_model, midi, tmp_path, capsys, case):
    out = str(tmp_path / "out.wav")
    args = [str(midi), "--model", str(hub_model), "--steps", "1", "--no-progress", "-o", out]
    if case == "missing":
        args[0] = str(tmp_path / "missing.mid")
    elif case == "not_midi":
        args[0] = str(tmp_path / "text.mid")
        Path(args[0]).write_text("hello")
    elif case == "unwritable":
        args[-1] = str(tmp_path / "no" / "such" / "dir.wav")
    elif case == "vocoder":
        args += ["--vocoder", "wavenet"]
    elif case == "checkpoint":
        bogus = tmp_path / "model.safetensors"
        from safetensors.numpy import save_file

        save_file({"w": np.zeros(3, np.float32)}, str(bogus))
        args[2] = str(bogus)
    elif case == "sampler":
        args += ["--sampler", "euler"]
    elif case == "extension":
        args[-1] = str(tmp_path / "out.aiff")  # not one of .wav .flac .mp3 .ogg
    assert main(["synth", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("specdiff synth: error: ") and "\n" not in err
    assert not (tmp_path / "out.wav").exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
