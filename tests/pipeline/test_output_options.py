"""``specdiff synth`` output options: MP3 and Ogg files, resampling for a DAW, excerpts."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from midi_files import write_midi

from specdiff.cli import main
from specdiff.codec import NoteSequence
from specdiff.models import SpectrogramDiffusion, model_config

NOTES = [(0, 0, 60 + k % 12, 100, 0.5 * k, 0.5 * k + 0.4) for k in range(24)]  # 11.9 s


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("options")
    torch.manual_seed(0)
    bundle = SpectrogramDiffusion(model_config("tiny")).eval().save_pretrained(
        folder / "tiny.safetensors")
    return write_midi(folder / "song.mid", NOTES), bundle


def synth(setup, out, *extra) -> int:
    midi, bundle = setup
    return main(["synth", str(midi), "-o", str(out), "--model", str(bundle), "--steps", "1",
                 "--no-progress", *extra])


def test_resampled_output_is_the_16k_audio_resampled(setup, tmp_path):
    from specdiff.synthesizer import Synthesizer

    synthesizer = Synthesizer.from_pretrained(setup[1])
    plain, rate = synthesizer.synthesize(setup[0], steps=1, progress=False)
    resampled, rate_b = synthesizer.synthesize(setup[0], steps=1, progress=False,
                                               sample_rate=44100)
    assert (rate, rate_b) == (16000, 44100)
    np.testing.assert_array_equal(resampled, soxr.resample(plain, 16000, 44100, quality="HQ"))
    assert synth(setup, tmp_path / "b.wav", "--sample-rate", "44100") == 0
    written, rate_file = sf.read(tmp_path / "b.wav", dtype="float32")
    assert rate_file == 44100 and len(written) == len(resampled)
    clipped = np.clip(resampled, -1, 1)  # a random tiny model is loud; PCM files clip
    assert np.abs(written - clipped).max() < 2 / 32768


@pytest.mark.parametrize("suffix, fmt", [(".mp3", "MP3"), (".ogg", "OGG")])
def test_lossy_formats_by_extension(setup, tmp_path, suffix, fmt):
    out = tmp_path / f"song{suffix}"
    assert synth(setup, out, "--sample-rate", "48000") == 0
    info = sf.info(out)
    assert info.format == fmt and info.samplerate == 48000
    assert abs(info.duration - (NOTES[-1][5] + 1.0)) < 0.1


def test_an_excerpt_is_the_notes_of_its_range_from_zero(setup, tmp_path):
    assert synth(setup, tmp_path / "x.wav", "--start", "6", "--end", "9") == 0
    audio, rate = sf.read(tmp_path / "x.wav")
    assert len(audio) == round((3.0 + 1.0) * rate)  # 3 s of music and the 1 s tail
    notes = NoteSequence(start=[1.0, 5.0, 8.0], end=[7.0, 6.0, 12.0], pitch=[60, 62, 64],
                         velocity=[90] * 3, program=[0] * 3, is_drum=[False] * 3)
    part = notes.excerpt(5.5, 9.0)
    assert part.start.tolist() == [0.0, 0.0, 2.5] and part.end.tolist() == [1.5, 0.5, 3.5]
    assert part.total_time == 3.5


@pytest.mark.parametrize("extra, message", [
    (["--start", "30"], "after the piece's end"),
    (["--start", "5", "--end", "2"], "expected 0 <= START < END"),
    (["--sample-rate", "100"], "--sample-rate 100"),
])
def test_bad_output_options_are_refused(setup, tmp_path, capsys, extra, message):
    out = tmp_path / "out.wav"
    assert synth(setup, out, *extra) == 2
    assert message in capsys.readouterr().err and not out.exists()
