"""tokenize_window: arbitrary frame windows on the official grid (training chunks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from specdiff.codec import OFFICIAL_CODEC, read_midi, tokenize_notes, tokenize_window

MIDI = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "midi"


@pytest.mark.parametrize("name", ["bach_bwv66_6", "mma_swing", "ties_long", "sustain"])
def test_aligned_windows_equal_whole_file_segments(name):
    seq = read_midi(MIDI / f"{name}.mid")
    segs = tokenize_notes(seq)
    for k, seg in enumerate(segs[:-1]):  # the last segment also takes events past the grid
        np.testing.assert_array_equal(tokenize_window(seq, 256 * k), seg)


def test_unaligned_window_has_relative_shifts_and_ties():
    seq = read_midi(MIDI / "ties_long.mid")  # pitch 60 (program 0) sounds from 0 to 16.36 s
    ids = tokenize_window(seq, start_frame=300, num_frames=100)  # 6.00-8.00 s
    c = OFFICIAL_CODEC
    tie = ids.tolist().index(c.token("tie"))
    assert ids[:2].tolist() == [c.token("program", 0), c.token("pitch", 60)] and tie >= 2
    shifts = [i - c.token("shift", 0) for i in ids.tolist() if c.token("shift", 0) <= i
              <= c.token("shift", 1000)]
    assert all(0 < s < 200 for s in shifts) and ids[-1] == 1


def test_window_after_the_end_keeps_only_its_tie_section():
    seq = read_midi(MIDI / "short_notes.mid")
    ids = tokenize_window(seq, start_frame=10_000)
    assert ids[-2:].tolist() == [OFFICIAL_CODEC.token("tie"), 1]


def test_precomputed_events_give_the_same_windows():
    from specdiff.codec import note_events

    seq = read_midi(MIDI / "mma_swing.mid")
    ev = note_events(seq)
    for start in (0, 17, 256, 301):
        np.testing.assert_array_equal(tokenize_window(seq, start, events=ev),
                                      tokenize_window(seq, start))
