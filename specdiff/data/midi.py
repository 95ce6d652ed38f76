"""MIDI -> note arrays through the codec's reader (note-seq semantics, sustain applied), so
training notes are prepared exactly like inference notes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specdiff.data.notes import NOTE_DTYPE


@dataclass(frozen=True)
class MidiTrack:
    """One note-seq instrument (notes of one (program, channel, track)), ``NOTE_DTYPE``."""

    program: int
    is_drum: bool
    notes: np.ndarray


def sequence_to_notes(seq) -> np.ndarray:
    """``specdiff.codec.NoteSequence`` -> ``NOTE_DTYPE`` array (same note order)."""
    notes = np.zeros(len(seq), NOTE_DTYPE)
    for name in ("start", "end", "pitch", "velocity", "program", "is_drum"):
        notes[name] = getattr(seq, name)
    return notes


def notes_to_sequence(notes: np.ndarray):
    """``NOTE_DTYPE`` array -> ``specdiff.codec.NoteSequence`` (total time = last end)."""
    from specdiff.codec import NoteSequence

    return NoteSequence.from_arrays(notes["start"], notes["end"], notes["pitch"],
                                    notes["velocity"], notes["program"], notes["is_drum"])


def read_midi_notes(source: str | Path | bytes, name: str = "<bytes>") -> np.ndarray:
    """All notes of a MIDI file (path or file bytes) as ``NOTE_DTYPE``, in note-seq's order.

    Raises ``SpecdiffError`` naming the file when it cannot be read or parsed.
    """
    from specdiff.codec import parse_midi, read_midi

    seq = parse_midi(source, name) if isinstance(source, bytes) else read_midi(source)
    return sequence_to_notes(seq)


def read_midi_tracks(source: str | Path | bytes, name: str = "<bytes>") -> list[MidiTrack]:
    """The file's note-seq instruments in their order, each with its notes."""
    from specdiff.codec import parse_midi, read_midi

    seq = parse_midi(source, name) if isinstance(source, bytes) else read_midi(source)
    notes = sequence_to_notes(seq)
    out = []
    for index in np.unique(seq.instrument):
        part = notes[seq.instrument == index]
        out.append(MidiTrack(int(part["program"][0]), bool(part["is_drum"][0]), part))
    return out


def midi_end(source: str | Path) -> float:
    """Time (s) of the last note end after sustain (0.0 if the file has no notes)."""
    notes = read_midi_notes(source)
    return float(notes["end"].max()) if len(notes) else 0.0
