"""The codecs as data: vocabulary layout, special ids, program map, hand-computed ids."""

from __future__ import annotations

import numpy as np

from specdiff.codec import (
    OFFICIAL_CODEC,
    OFFICIAL_CODEC_VB127,
    PORT_CODEC,
    Note,
    NoteSequence,
    decode_events,
    decode_tokens,
    pad_segments,
    slakh_program,
    tokenize_notes,
)


def test_official_layout():
    c = OFFICIAL_CODEC
    assert c.num_classes == 1388 and c.vocab_size == 1491 and c.num_embeddings == 1536
    assert [c.token("shift", 0), c.token("pitch", 0), c.token("velocity", 0), c.token("tie"),
            c.token("program", 0), c.token("drum", 0)] == [3, 1004, 1132, 1134, 1135, 1263]
    assert c.token("drum", 127) == 1390 and c.eos_id == 1 and c.pad_id == 0
    assert c.segment_steps == 512 and c.segment_seconds == 5.12 and c.max_tokens == 2048


def test_127_bins_and_port_layout():
    c = OFFICIAL_CODEC_VB127
    assert c.num_classes == 1514 and c.vocab_size == 1617 and c.num_embeddings == 1664
    assert c.offsets["tie"] == 1257 and c.offsets["program"] == 1258 and c.offsets["drum"] == 1386
    p = PORT_CODEC
    assert p.num_classes == 901 and p.num_embeddings == 901 and p.eos_id is None
    assert p.offsets == {"shift": 0, "pitch": 514, "velocity": 642, "tie": 644, "program": 645,
                         "drum": 773}


def test_velocity_bins():
    assert OFFICIAL_CODEC.velocity_bin([0, 1, 64, 127]).tolist() == [0, 1, 1, 1]
    assert OFFICIAL_CODEC.bin_velocity([0, 1]).tolist() == [0, 127]
    v = np.arange(128)
    assert (OFFICIAL_CODEC_VB127.velocity_bin(v) == v).all()
    assert (OFFICIAL_CODEC_VB127.bin_velocity(v) == v).all()


def test_slakh_program_map_table():
    expect = {0: 0, 3: 0, 4: 4, 7: 4, 15: 8, 23: 16, 25: 24, 28: 26, 31: 29, 32: 32, 39: 33,
              40: 40, 42: 42, 45: 43, 46: 46, 47: 47, 49: 48, 51: 50, 54: 52, 55: 55, 57: 57,
              59: 58, 60: 60, 63: 61, 65: 64, 70: 70, 72: 71, 79: 73, 87: 80, 88: 88, 127: 88}
    assert {p: slakh_program(p) for p in expect} == expect


def test_worked_example_official():
    """codec.md A.10 (the output of diffusers 0.24.0 MidiProcessor)."""
    seq = NoteSequence.from_notes([Note(0.0, 1.0, 60, 100, 0, False),
                                   Note(0.5, 6.0, 64, 100, 40, False),
                                   Note(0.25, 0.3, 36, 100, 0, True),
                                   Note(5.5, 6.5, 67, 1, 33, False)])
    segs = tokenize_notes(seq)
    assert [s.tolist() for s in segs] == [
        [1134, 1135, 1133, 1064, 28, 1299, 53, 1175, 1068, 103, 1135, 1132, 1064, 1],
        [1175, 1068, 1134, 41, 1168, 1133, 1071, 91, 1175, 1132, 1068, 141, 1168, 1071, 1]]
    padded = pad_segments(segs)
    assert padded.shape == (2, 2048) and padded[0, 14:].sum() == 0
    kinds = [(e.kind, e.value) for e in decode_events(segs[1], start_time=5.12)][:6]
    assert kinds == [("program", 40), ("pitch", 64), ("tie", 0), ("shift", 38), ("program", 33),
                     ("velocity", 1)]


def test_worked_example_port():
    """codec.md B.4 (the port's preprocessor)."""
    seq = NoteSequence.from_notes([Note(4.0, 6.0, 60, 100, 0, False),
                                   Note(4.0, 4.5, 67, 100, 40, False),
                                   Note(5.5, 5.6, 36, 100, 0, True)])
    o = PORT_CODEC.offsets
    shift, prog, vel = o["shift"], o["program"], o["velocity"]
    pitch, tie, drum = o["pitch"], o["tie"], o["drum"]
    segs = tokenize_notes(seq, PORT_CODEC, program_map=False)
    assert [s.tolist() for s in segs] == [
        [tie, shift + 400, prog, vel + 1, pitch + 60, prog + 40, vel + 1, pitch + 67,
         shift + 450, prog + 40, vel, pitch + 67],
        [prog, pitch + 60, tie, shift + 38, vel + 1, drum + 36, shift + 88, prog, vel, pitch + 60]]
    notes = decode_tokens(segs, PORT_CODEC).notes
    assert [(n.start, n.end, n.pitch, n.is_drum) for n in notes] == [
        (4.0, 6.0, 60, False), (4.0, 4.5, 67, False), (5.5, 5.51, 36, True)]


def test_no_notes_gives_no_segments():
    empty = NoteSequence.from_notes([])
    assert tokenize_notes(empty) == [] and tokenize_notes(empty, PORT_CODEC) == []
    assert pad_segments([]).shape == (0, 2048)


def test_note_sequence_constructors_agree():
    notes = [Note(0.5, 1.0, 60, 90, 41, False), Note(0.0, 0.1, 36, 100, 0, True)]
    a = NoteSequence(notes=notes)
    b = NoteSequence.from_arrays([0.5, 0.0], [1.0, 0.1], [60, 36], [90, 100], [41, 0],
                                 [False, True])
    assert a.notes == b.notes == notes and a.total_time == b.total_time == 1.0
    assert len(NoteSequence()) == 0 and NoteSequence(notes=[], total_time=3.0).total_time == 3.0


def test_note_sequence_rejects_out_of_range_values():
    import pytest

    with pytest.raises(ValueError, match="pitch"):
        NoteSequence.from_arrays([0.0], [1.0], [128], [100], [0], [False])


def test_port_tie_section_programs_go_through_the_filter():
    seq = NoteSequence.from_notes([Note(4.0, 6.0, 60, 100, 0, False),
                                   Note(4.0, 6.0, 64, 100, 0, False),
                                   Note(5.0, 6.0, 50, 100, 33, False)])
    o = PORT_CODEC.offsets
    seg1 = tokenize_notes(seq, PORT_CODEC, program_map=False)[1].tolist()
    assert seg1[:6] == [o["program"], o["pitch"] + 60, o["pitch"] + 64, o["program"] + 33,
                        o["pitch"] + 50, o["tie"]]


def test_note_sequence_replace():
    seq = NoteSequence(notes=[Note(0.0, 1.0, 60, 90, 41, False)])
    moved = seq.replace(program=np.array([0]), total_time=2.0)
    assert moved.program.tolist() == [0] and moved.total_time == 2.0 and seq.program[0] == 41
