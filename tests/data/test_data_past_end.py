"""``WindowConfig.past_end``: training windows that run past the end of the recording into
silence, the only windows that show a model where music stops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdiff.data import WindowConfig
from specdiff.data.notes import make_notes
from specdiff.data.windows import make_sample, max_start_frame, num_windows
from specdiff.models.note_roll import segment_roll

RATE, HOP = 16000, 320


def test_max_start_frame_reaches_the_last_frame_only_with_past_end():
    n = 10 * RATE  # 500 frames
    assert max_start_frame(n, WindowConfig()) == 500 - 256
    assert max_start_frame(n, WindowConfig(past_end=True)) == 499
    # one window per whole 256 frames; past_end adds the partial last one
    assert num_windows(n, WindowConfig()) == 1 and num_windows(n, WindowConfig(past_end=True)) == 2
    assert num_windows(512 * HOP, WindowConfig(past_end=True)) == 2
    assert max_start_frame(RATE, WindowConfig()) == 0  # shorter than a window
    assert max_start_frame(RATE, WindowConfig(past_end=True)) == 49


def test_a_window_past_the_end_is_silent_and_has_no_notes_there():
    seconds = 6.0
    t = np.arange(round(seconds * RATE)) / RATE
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    def read(start: int, length: int) -> np.ndarray:
        out = np.zeros(length, np.float32)
        lo, hi = max(start, 0), min(start + length, len(audio))
        if hi > lo:
            out[lo - start: hi - start] = audio[lo:hi]
        return out

    notes = make_notes([(0.0, seconds, 69, 100, 0, False)])
    config = WindowConfig(context=True, past_end=True)
    start = max_start_frame(len(audio), config) - 99  # the last 100 frames of the recording
    sample = make_sample(read, notes, start, config)
    target = sample["target"]
    assert target.shape == (256, 128)
    assert bool((target[101:] == -1).all())  # silence, the scaled log floor, past the end
    assert float(target[:99].max()) > 0  # the tone before it
    roll = segment_roll(sample["tokens"].numpy(), 256)
    sounding = np.flatnonzero(roll[:, 69])
    assert sounding.min() == 0 and 98 <= sounding.max() <= 100  # the note, tied in, then nothing
    assert int(sample["context_mask"].sum()) == min(start, 256)  # frames before 0 are masked
    assert torch.isfinite(sample["context"]).all()


def test_end_windows_add_windows_that_all_run_past_the_end():
    from specdiff.data.dataset import WindowDataset

    n = 10 * RATE  # 500 frames: 2 chunks with past_end, then 3 end windows
    config = WindowConfig(past_end=True, end_windows=3)
    assert num_windows(n, config) == 5

    class Lengths(WindowDataset):  # only the indexing: start frames, no audio
        def __init__(self, lengths):
            self.config, self.lengths = config, lengths
            self._build_index()

        num_recordings = property(lambda self: len(self.lengths))

        def num_samples(self, r):
            return self.lengths[r]

    torch.manual_seed(0)
    dataset = Lengths([n, 3 * RATE])  # the 150-frame one: 1 chunk + 3 end windows
    assert len(dataset) == 5 + 4
    for _ in range(50):
        ordinary = [dataset.start_frame(i) for i in (0, 1)]
        ends = [dataset.start_frame(i) for i in (2, 3, 4)]
        assert 0 <= ordinary[0] < 256 and 256 <= ordinary[1] <= 499
        assert all(500 - 256 <= s <= 499 for s in ends)  # every one reaches past frame 499
        assert all(0 <= dataset.start_frame(i) <= 149 for i in range(5, 9))
    with pytest.raises(ValueError, match="past_end"):
        WindowConfig(end_windows=1)


def test_a_window_after_the_last_note_has_an_empty_tie_section():
    """The reference codec's tie state stops at the file's last event, so a window starting
    after it would say the last notes still sound; past_end windows say nothing does."""
    from specdiff.codec.decode import decode_events
    from specdiff.codec.config import OFFICIAL_CODEC
    from specdiff.data.windows import window_tokens

    notes = make_notes([(0.0, 1.0, 60, 100, 0, False), (0.5, 1.5, 64, 100, 0, False)])
    start = 100  # 2.0 s: after the last event (the note-off at 1.5 s)
    inside = window_tokens(notes, start, WindowConfig())  # the reference's tokens
    events = [e.kind for e in decode_events(inside, OFFICIAL_CODEC)]
    assert events.count("pitch") == 1 and "tie" in events  # pitch 64 "still sounding"
    past = window_tokens(notes, start, WindowConfig(past_end=True))
    assert [e.kind for e in decode_events(past, OFFICIAL_CODEC) if e.kind != "pad"] == ["tie", "eos"]
    roll = segment_roll(past, 256, gaps=True)
    assert not roll[:, :512].any() and roll[-1, 512:].all()  # nothing sounds; a long gap
    # a window that holds the last event is the reference's, with or without past_end
    np.testing.assert_array_equal(window_tokens(notes, 50, WindowConfig(past_end=True)),
                                  window_tokens(notes, 50, WindowConfig()))
