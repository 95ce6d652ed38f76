"""Hypothesis properties of the official codec: round trip, no crash, bounded segments."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specdiff.codec import (
    OFFICIAL_CODEC,
    PORT_CODEC,
    NoteSequence,
    TruncationWarning,
    decode_tokens,
    tokenize_notes,
    tokenize_window,
)

raw_note = st.tuples(st.integers(0, 127), st.integers(0, 127), st.booleans(),
                     st.integers(0, 2500), st.integers(1, 900))


def _grid_notes(raw):
    """Quantized notes that never overlap another note of the same (program, pitch)."""
    notes, busy = [], {}
    for pitch, program, drum, start, dur in sorted(raw, key=lambda n: n[3]):
        if not drum:
            if start < busy.get((program, pitch), -1):
                continue
            busy[(program, pitch)] = start + dur
        notes.append((start, start + dur, pitch, program, drum))
    return notes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_note, max_size=40))
def test_encode_decode_recovers_quantized_notes(raw):
    notes = _grid_notes(raw)
    seq = NoteSequence.from_arrays([n[0] / 100 for n in notes], [n[1] / 100 for n in notes],
                                   [n[2] for n in notes], [90] * len(notes),
                                   [n[3] for n in notes], [n[4] for n in notes])
    segs = tokenize_notes(seq, program_map=False)
    got = sorted((round(n.start * 100), round(n.end * 100), n.pitch, n.program if not n.is_drum
                  else 0, n.is_drum, n.velocity) for n in decode_tokens(segs).notes)
    want = sorted((s, e if not d else s + 1, p, g if not d else 0, d, 127)
                  for s, e, p, g, d in notes)
    assert got == want


note_any = st.tuples(st.floats(0, 40, allow_nan=False), st.floats(0, 3, allow_nan=False),
                     st.integers(0, 127), st.integers(1, 127), st.integers(0, 127), st.booleans())


@settings(max_examples=150, deadline=None)
@given(st.lists(note_any, max_size=60), st.sampled_from([OFFICIAL_CODEC, PORT_CODEC]),
       st.booleans())
def test_random_notes_never_crash_and_segments_are_bounded(raw, codec, program_map):
    seq = NoteSequence.from_arrays([n[0] for n in raw], [n[0] + n[1] for n in raw],
                                   [n[2] for n in raw], [n[3] for n in raw], [n[4] for n in raw],
                                   [n[5] for n in raw])
    segs = tokenize_notes(seq, codec=codec, program_map=program_map)
    assert (len(segs) == 0) == (len(raw) == 0)
    for seg in segs:
        assert 0 < len(seg) <= codec.max_tokens
        assert seg.min() >= 1 if codec.eos_id else seg.min() >= 0
        assert seg.max() < codec.num_special + codec.num_classes
        if codec.eos_id:
            assert seg[-1] == 1 and (seg[:-1] != 1).all()
    window = tokenize_window(seq, 37, 100, codec=codec, program_map=program_map)
    assert len(window) <= codec.max_tokens


@settings(max_examples=20, deadline=None)
@given(st.integers(1100, 2500), st.integers(0, 2**31 - 1))
def test_dense_segments_are_cut_to_2048_with_eos(n, seed):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 5.0, n)
    seq = NoteSequence.from_arrays(start, start + rng.uniform(0.01, 0.2, n),
                                   rng.integers(0, 128, n), rng.integers(1, 128, n),
                                   rng.integers(0, 128, n), rng.random(n) < 0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        segs = tokenize_notes(seq)
        again = tokenize_notes(seq)
    assert all(len(s) <= 2048 and s[-1] == 1 for s in segs)
    assert len(segs[0]) >= 2044  # > 1100 notes in 5.12 s never fit; whole events are kept
    assert all((a == b).all() for a, b in zip(again, segs))  # deterministic
    messages = [str(w.message) for w in caught if w.category is TruncationWarning]
    assert len(messages) == 2 * len(set(messages)) and "segment 0.00-5.12 s" in messages[0]
