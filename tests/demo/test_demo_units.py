"""The studio's plain parts (no gradio, no browser): GM names, parts, re-assignment, upload checks,
the time-aligned figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from midi_files import midi_bytes, smf

from specdiff.codec import NoteSequence, read_midi
from specdiff.demo import (
    DRUMS,
    GM_PROGRAM_NAMES,
    DemoLimits,
    instrument_choices,
    instrument_name,
    load_upload,
    pitch_name,
    parts_markdown,
    reassign_instruments,
    summarize_parts,
)
from specdiff.demo.app import examples
from specdiff.demo.figure import make_figure, render_figure
from specdiff.errors import SpecdiffError

EXAMPLE = Path(__file__).parents[2] / "specdiff" / "demo" / "examples" / "quartet.mid"


def _one_note(seconds: float) -> bytes:
    """Program 40 (violin), one A4 lasting ``seconds`` at 120 bpm."""
    return midi_bytes([(0, 40, 69, 100, 0.0, seconds)])


def test_general_midi_names():
    assert len(GM_PROGRAM_NAMES) == 128 and len(set(GM_PROGRAM_NAMES)) == 128
    assert instrument_name(0) == "Acoustic Grand Piano"
    assert instrument_name(40) == "Violin"
    assert instrument_name(33) == "Electric Bass (finger)"
    assert instrument_name(127) == "Gunshot"
    assert instrument_name(DRUMS) == "Drums"
    choices = instrument_choices()
    assert len(choices) == 129 and choices[40] == ("40 Violin", 40) and choices[-1] == ("Drums", 128)
    with pytest.raises(SpecdiffError, match="0..127"):
        instrument_name(129)
    assert [pitch_name(p) for p in (21, 60, 61, 69, 108)] == ["A0", "C4", "C#4", "A4", "C8"]


def test_bundled_example_is_listed_and_summarized():
    from specdiff.demo.tracks import pitch_range

    assert EXAMPLE in examples()
    parts = summarize_parts(read_midi(EXAMPLE))
    # Piano melody, string chords, bass, drums: four tracks (see tests/demo/make_example.py).
    assert [(p.name, p.keys, p.notes) for p in parts] == [
        ("Piano", (0,), 15), ("Strings", (48,), 12), ("Bass", (33,), 8), ("Drums", (DRUMS,), 24)]
    piano, strings, bass, drums = parts
    assert (piano.low, piano.high, pitch_range(piano)) == (69, 79, "A4–G5")
    assert (bass.low, bass.high) == (41, 55)
    assert pitch_range(drums) == "36–42"
    table = parts_markdown(parts)
    assert "| 3 | Bass | Electric Bass (finger) | 8 | F2–G3 |" in table
    assert "| 4 | Drums | Drums | 24 | 36–42 |" in table


def _sequence() -> NoteSequence:
    # piano C4, violin E4, drum kick, piano G4
    return NoteSequence.from_arrays(
        start=[0.0, 0.5, 1.0, 1.5], end=[1.0, 1.5, 1.25, 2.0], pitch=[60, 64, 36, 67],
        velocity=[100] * 4, program=[0, 40, 0, 0], is_drum=[False, False, True, False],
        instrument=[0, 1, 2, 0],
    )


def test_reassign_instruments_changes_only_the_mapped_tracks():
    sequence = _sequence()
    out = reassign_instruments(sequence, {0: 73, DRUMS: 0, 40: DRUMS})
    assert out.program.tolist() == [73, 0, 0, 73]
    assert out.is_drum.tolist() == [False, True, False, False]
    # Timing, pitches, velocities, instrument indices and the original sequence are untouched.
    for field in ("start", "end", "pitch", "velocity", "instrument"):
        np.testing.assert_array_equal(getattr(out, field), getattr(sequence, field))
    assert out.total_time == sequence.total_time
    assert sequence.program.tolist() == [0, 40, 0, 0] and sequence.is_drum.tolist()[2]


def test_reassign_swap_does_not_chain_and_identity_is_a_no_op():
    sequence = _sequence()
    swapped = reassign_instruments(sequence, {0: 40, 40: 0})
    assert swapped.program.tolist() == [40, 0, 0, 40]
    assert swapped.is_drum.tolist() == [False, False, True, False]
    same = reassign_instruments(sequence, {0: 0, DRUMS: DRUMS})
    np.testing.assert_array_equal(same.program, sequence.program)
    np.testing.assert_array_equal(same.is_drum, sequence.is_drum)
    with pytest.raises(SpecdiffError):
        reassign_instruments(sequence, {0: 200})


def test_load_upload_accepts_midi(tmp_path):
    path = tmp_path / "tune.mid"
    path.write_bytes(_one_note(2.0))
    sequence = load_upload(path, DemoLimits())
    assert sequence.pitch.tolist() == [69] and sequence.program.tolist() == [40]
    assert sequence.total_time == pytest.approx(2.0)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello, this is text\n", "notes.txt: not a MIDI file"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "notes.txt: not a MIDI file"),
        (b"", "notes.txt: not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00", "notes.txt"),  # truncated header: the codec's message
        (smf(b"\x00\xc0\x00"), "notes.txt: the MIDI file has no notes"),
    ],
)
def test_load_upload_rejects_bad_files_naming_them(tmp_path, content, message):
    path = tmp_path / "upload-1234"
    path.write_bytes(content)
    with pytest.raises(SpecdiffError, match=message) as error:
        load_upload(path, DemoLimits(), display_name="notes.txt")
    assert "upload-1234" not in str(error.value)


def test_load_upload_limits_size_and_duration(tmp_path):
    path = tmp_path / "long.mid"
    path.write_bytes(_one_note(30.0))
    assert load_upload(path, DemoLimits(max_duration_s=30.5)).total_time == pytest.approx(30.0)
    with pytest.raises(SpecdiffError, match=r"long.mid: the piece lasts 30.0 s; .* at most 10 s"):
        load_upload(path, DemoLimits(max_duration_s=10.0))
    with pytest.raises(SpecdiffError, match=r"long.mid: file is 0.00 MiB; the limit is 0.00 MiB"):
        load_upload(path, DemoLimits(max_upload_bytes=10))
    with pytest.raises(SpecdiffError, match="missing.mid: cannot read"):
        load_upload(tmp_path / "missing.mid", DemoLimits())


def test_figure_is_time_aligned_with_one_colour_per_instrument(tmp_path):
    sequence = _sequence()
    mel = np.full((150, 128), -5.0, dtype=np.float32)  # 3 s at 50 frames/s
    fig = make_figure(sequence, mel)
    fig.canvas.draw()
    spec_ax, roll_ax = fig.axes[:2]
    assert spec_ax.get_xlim() == roll_ax.get_xlim() == (0.0, 3.0)
    a, b = spec_ax.get_position(), roll_ax.get_position()
    assert a.x0 == pytest.approx(b.x0, abs=1e-3) and a.x1 == pytest.approx(b.x1, abs=1e-3)
    legend = [t.get_text() for t in roll_ax.get_legend().get_texts()]
    assert legend == ["Acoustic Grand Piano", "Violin", "Drums"]
    colours = {tuple(c.patches[0].get_facecolor()) for c in roll_ax.containers}
    assert len(colours) == 3
    path = render_figure(sequence, mel, tmp_path / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
