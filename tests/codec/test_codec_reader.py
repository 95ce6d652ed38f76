"""The MIDI reader on bad input: one SpecdiffError naming the file, nothing else escapes."""

from __future__ import annotations

import os
from pathlib import Path

import midi_files
import numpy as np
import pytest

from specdiff.codec import parse_midi, read_midi, tokenize_notes
from specdiff.errors import SpecdiffError

MIDI = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "midi"


@pytest.mark.parametrize("make, match", [
    (lambda tmp: tmp, "is a directory"),
    (lambda tmp: tmp / "missing.mid", "no such file"),
    (lambda tmp: _write(tmp / "text.mid", b"hello, not midi\n" * 10), "not a MIDI file"),
    (lambda tmp: _write(tmp / "empty.mid", b""), "empty file"),
    (lambda tmp: _write(tmp / "cut.mid", (MIDI / "bach_bwv66_6.mid").read_bytes()[:500]),
     "truncated"),
    (lambda tmp: _write(tmp / "file.mid", b"MThd") / "inner.mid", "cannot read"),
])
def test_bad_files_raise_one_clear_error(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(SpecdiffError, match=match) as info:
        read_midi(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path):
    path = _write(tmp_path / "locked.mid", (MIDI / "sustain.mid").read_bytes())
    path.chmod(0)
    with pytest.raises(SpecdiffError, match="cannot read"):
        read_midi(path)


def test_an_end_of_track_far_past_tick_1e7_reads_with_the_same_notes():
    """Real corpora hold files whose last event lies past tick 10 000 000 (pretty_midi refuses
    them); the notes are what they are without the long silence."""
    notes = [(0, 0, 60 + k, 90, 0.5 * k, 0.5 * k + 0.4) for k in range(4)]
    plain = midi_files.midi_bytes(notes)
    track = plain[22:-4] + midi_files.vlq(30_000_000) + b"\xff\x2f\x00"  # end of track at 3e7
    far = plain[:18] + len(track).to_bytes(4, "big") + track
    a, b = parse_midi(plain), parse_midi(far)
    assert len(b) == 4 and np.array_equal(a.start, b.start) and np.array_equal(a.end, b.end)
    assert tokenize_notes(a)[0].tolist() == tokenize_notes(b)[0].tolist()


def test_file_without_notes_is_empty_not_an_error():
    seq = read_midi(MIDI / "no_notes.mid")
    assert len(seq) == 0 and seq.total_time == 0.0 and tokenize_notes(seq) == []


def test_fuzzed_bytes_parse_or_raise_specdiff_error():
    """Thousands of mutated and random byte strings: parse or SpecdiffError, nothing else
    (``benchmarks/fuzz_midi.py`` runs more, and times them)."""
    rng = np.random.default_rng(1234)
    seeds = [(MIDI / f"{n}.mid").read_bytes() for n in
             ("format0", "same_tick", "sustain", "tempo_changes", "drums_only", "mma_waltz")]
    parsed = failed = 0
    for i in range(3000):
        kind = midi_files.MUTATIONS[i % len(midi_files.MUTATIONS)]
        data = midi_files.mutate(seeds[i % len(seeds)], rng, kind)
        try:
            seq = parse_midi(data, name=f"fuzz{i}.mid")
        except SpecdiffError as error:
            assert f"fuzz{i}.mid" in str(error)
            failed += 1
            continue
        parsed += 1
        if seq.total_time < 600:
            tokenize_notes(seq)
    assert parsed > 50 and failed > 1000


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
