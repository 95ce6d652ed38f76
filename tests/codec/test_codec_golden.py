"""Golden equivalence with diffusers 0.24.0 ``MidiProcessor`` / note-seq, id for id.

Fixtures: tests/fixtures/codec/{midi/*.mid, golden.json}, made by
tests/reference/make_codec_fixtures.py in the reference environment.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from specdiff.codec import (
    OFFICIAL_CODEC,
    OFFICIAL_CODEC_VB127,
    TruncationWarning,
    read_midi,
    tokenize_notes,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "codec"
GOLDEN = json.loads((FIXTURES / "golden.json").read_text())
NAMES = sorted(GOLDEN)


def _path(name: str) -> Path:
    """Golden keys: a file in tests/fixtures/codec/midi, or ``examples/<name>``."""
    if name.startswith("examples/"):
        return ROOT / f"{name}.mid"
    return FIXTURES / "midi" / f"{name}.mid"


def _ours(name: str, codec, program_map: bool) -> list[list[int]]:
    seq = read_midi(_path(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return [s.tolist() for s in tokenize_notes(seq, codec=codec, program_map=program_map)]


def _check(name: str, key: str, codec, program_map: bool) -> None:
    ref = GOLDEN[name][key]
    ours = _ours(name, codec, program_map)
    if isinstance(ref, dict):  # the reference crashed: only files without notes do
        assert ref["error"] == "IndexError" and GOLDEN[name]["notes"]["notes"] == []
        assert ours == []
        return
    assert len(ours) == len(ref), f"{name}: {len(ours)} segments, reference {len(ref)}"
    for k, (a, b) in enumerate(zip(ours, ref)):
        if len(b) <= codec.max_tokens:
            assert a == b, f"{name} segment {k}: first difference at {_first_diff(a, b)}"
        else:  # over-long: ours is the reference's prefix cut at an event boundary, plus EOS
            assert len(a) <= codec.max_tokens and a[-1] == 1
            assert a[:-1] == b[:len(a) - 1]


def _first_diff(a, b) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@pytest.mark.parametrize("name", NAMES)
def test_official_ids_match_midiprocessor(name):
    _check(name, "official", OFFICIAL_CODEC, program_map=True)


@pytest.mark.parametrize("name", NAMES)
def test_raw_program_ids_match_reference_chain(name):
    _check(name, "raw_programs", OFFICIAL_CODEC, program_map=False)


@pytest.mark.parametrize("name", NAMES)
def test_127_velocity_bins_match_reference_chain(name):
    _check(name, "vb127", OFFICIAL_CODEC_VB127, program_map=False)


@pytest.mark.parametrize("name", NAMES)
def test_notes_match_note_seq_exactly(name):
    ref = GOLDEN[name]["notes"]
    seq = read_midi(_path(name))
    assert seq.total_time == ref["total_time"]
    cols = np.array(ref["notes"], dtype=np.float64).reshape(-1, 7)
    assert len(seq) == len(cols)
    np.testing.assert_array_equal(seq.start, cols[:, 0])  # bit-exact seconds
    np.testing.assert_array_equal(seq.end, cols[:, 1])
    for i, field in enumerate(["pitch", "velocity", "program", "is_drum", "instrument"], 2):
        ours = getattr(seq, field)
        np.testing.assert_array_equal(ours, cols[:, i].astype(ours.dtype))


def test_golden_set_covers_the_issue_cases():
    assert len(NAMES) >= 20 and "examples/chorale_strings" in NAMES
    assert any(len(seg) > 2048 for seg in GOLDEN["too_dense"]["official"])
    assert GOLDEN["no_notes"]["official"] == {"error": "IndexError"}
    assert len(GOLDEN["ends_on_boundary"]["official"]) == 2  # 5.12 s exactly: extra segment


def test_over_long_segment_warns_once_naming_the_time_range():
    seq = read_midi(FIXTURES / "midi" / "too_dense.mid")
    with pytest.warns(TruncationWarning, match=r"segment 0\.00-5\.12 s needs \d+ ids > 2048; "
                                                r"dropped its last \d+ note events") as record:
        segs = tokenize_notes(seq, name="too_dense.mid")
    assert len([w for w in record if w.category is TruncationWarning]) == 1
    assert [len(s) <= 2048 for s in segs] == [True, True] and len(segs[0]) > 2000
