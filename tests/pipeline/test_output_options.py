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


QUARTET = [(ch, 0, pitch + 2 * (k % 4), 80, 1.0 * k, 1.0 * k + 0.9)
           for ch, pitch in enumerate((72, 64, 57, 48)) for k in range(6)]  # no program changes


def test_parts_are_tracks_and_channels_and_take_their_own_instruments(tmp_path, capsys):
    from specdiff.codec import read_midi
    from specdiff.instruments import DRUMS, assign_parts, list_parts, parse_part_map

    midi = write_midi(tmp_path / "quartet.mid", QUARTET)
    notes = read_midi(midi)
    parts = list_parts(notes)
    assert [(p.number, p.channel, p.keys, p.notes) for p in parts] == [
        (1, 0, (0,), 6), (2, 1, (0,), 6), (3, 2, (0,), 6), (4, 3, (0,), 6)]
    mapped = assign_parts(notes, parse_part_map("1:violin, 2:viola,3:cello,4:drums"))
    assert [p.keys for p in list_parts(mapped)] == [(40,), (41,), (42,), (DRUMS,)]
    only_two = assign_parts(notes, {2: 41})
    changed = only_two.program != notes.program
    assert changed.sum() == 6 and set(only_two.pitch[changed]) <= {64, 66, 68, 70}
    assert main(["info", str(midi)]) == 0
    assert "4 parts" in capsys.readouterr().out


def test_a_part_map_changes_the_audio_of_a_file_without_programs(setup, tmp_path, capsys):
    midi = write_midi(tmp_path / "quartet.mid", QUARTET)
    common = ["synth", str(midi), "--model", str(setup[1]), "--steps", "1", "--no-progress"]
    assert main([*common, "-o", str(tmp_path / "piano.wav")]) == 0
    assert main([*common, "-o", str(tmp_path / "strings.wav"), "--part-map",
                 "1:violin,2:violin,3:viola,4:cello"]) == 0
    piano, _ = sf.read(tmp_path / "piano.wav")
    strings, _ = sf.read(tmp_path / "strings.wav")
    assert piano.shape == strings.shape and not np.array_equal(piano, strings)
    assert main([*common, "-o", str(tmp_path / "x.wav"), "--part-map", "5:violin"]) == 2
    assert "parts 1 to 4, not [5]" in capsys.readouterr().err
    assert main([*common, "-o", str(tmp_path / "x.wav"), "--part-map", "violin"]) == 2
    assert "expected PART:INSTRUMENT" in capsys.readouterr().err


def test_play_streams_the_wav_to_a_player(setup, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setenv("PATH", str(tmp_path))  # no player on the PATH
    midi, bundle = setup
    common = ["synth", str(midi), "--model", str(bundle), "--steps", "1", "--no-progress"]
    assert main([*common, "--play"]) == 2
    assert "no player found" in capsys.readouterr().err
    heard = tmp_path / "heard.wav"
    copy = f"import sys; open('{heard}', 'wb').write(sys.stdin.buffer.read())"
    player = f'{sys.executable} -c "{copy}"'
    assert main([*common, "--player", player]) == 0
    assert main([*common, "-o", str(tmp_path / "file.wav")]) == 0
    streamed = np.frombuffer(heard.read_bytes()[44:], dtype="<i2")
    written, _ = sf.read(tmp_path / "file.wav", dtype="int16")
    np.testing.assert_array_equal(streamed, written)
    assert main([*common]) == 2
    assert "give -o OUT" in capsys.readouterr().err
