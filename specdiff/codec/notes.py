"""Notes and note sequences: the codec's input, in seconds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Note:
    """One note. Times in seconds; ``program`` is the GM program 0..127 (kept for drums too)."""

    start: float
    end: float
    pitch: int
    velocity: int
    program: int
    is_drum: bool


@dataclass(frozen=True, eq=False)
class NoteSequence:
    """Notes as parallel arrays, all of shape ``(N,)``, in the order the MIDI reader made them.

    The order matters for exactness: it is note-seq's order (instrument by instrument, notes in
    the order their note-offs were read), which decides ties between equal sort keys.

    Attributes:
        start, end: float64 seconds, ``end > start``.
        pitch, velocity, program: int64, MIDI 0..127 (velocity 1..127).
        is_drum: bool.
        total_time: float seconds; note-seq's ``total_time`` after sustain (>= every end).
        instrument: int64 instrument index (note-seq's ``note.instrument``); sustain works per
            instrument.
    """

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    total_time: float
    instrument: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.start)
        for field in ("end", "pitch", "velocity", "program", "is_drum", "instrument"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"NoteSequence.{field} has length {len(getattr(self, field))}, "
                                 f"expected {n}")

    @classmethod
    def from_arrays(cls, start, end, pitch, velocity, program, is_drum,
                    total_time: float | None = None, instrument=None) -> NoteSequence:
        """Build from array-likes; ``total_time`` defaults to the largest end (0 if empty)."""
        start = np.asarray(start, dtype=np.float64).reshape(-1)
        end = np.asarray(end, dtype=np.float64).reshape(-1)
        if total_time is None:
            total_time = float(end.max()) if len(end) else 0.0
        if instrument is None:
            instrument = np.zeros(len(start), dtype=np.int64)
        return cls(start=start, end=end,
                   pitch=np.asarray(pitch, dtype=np.int64).reshape(-1),
                   velocity=np.asarray(velocity, dtype=np.int64).reshape(-1),
                   program=np.asarray(program, dtype=np.int64).reshape(-1),
                   is_drum=np.asarray(is_drum, dtype=bool).reshape(-1),
                   total_time=float(total_time),
                   instrument=np.asarray(instrument, dtype=np.int64).reshape(-1))

    @classmethod
    def from_notes(cls, notes: Iterable[Note], total_time: float | None = None) -> NoteSequence:
        """Build from ``Note`` objects; ``total_time`` defaults to the largest end."""
        notes = list(notes)
        return cls.from_arrays([n.start for n in notes], [n.end for n in notes],
                               [n.pitch for n in notes], [n.velocity for n in notes],
                               [n.program for n in notes], [n.is_drum for n in notes],
                               total_time=total_time)

    @property
    def notes(self) -> list[Note]:
        """The notes as ``Note`` objects (a fresh list)."""
        return [Note(float(s), float(e), int(p), int(v), int(g), bool(d)) for s, e, p, v, g, d in
                zip(self.start, self.end, self.pitch, self.velocity, self.program, self.is_drum)]

    def __len__(self) -> int:
        return len(self.start)

    def select(self, mask: np.ndarray) -> NoteSequence:
        """The notes where ``mask`` (bool, (N,)) holds, same ``total_time``."""
        return NoteSequence(self.start[mask], self.end[mask], self.pitch[mask],
                            self.velocity[mask], self.program[mask], self.is_drum[mask],
                            self.total_time, self.instrument[mask])
