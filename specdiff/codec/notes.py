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


class NoteSequence:
    """Notes as parallel arrays, all of shape ``(N,)``, in the order the MIDI reader made them.

    Build it from arrays (``NoteSequence(start, end, pitch, velocity, program, is_drum,
    total_time=None, instrument=None)``) or from notes (``NoteSequence(notes=[Note, ...],
    total_time=None)``); ``total_time`` defaults to the largest end (0 if empty).

    The order matters for exactness: it is note-seq's order (instrument by instrument, notes in
    the order their note-offs were read), which decides ties between equal sort keys.

    Attributes:
        start, end: float64 seconds, ``end > start``.
        pitch, velocity, program: int64, MIDI 0..127 (velocity 1..127).
        is_drum: bool.
        total_time: float seconds; note-seq's ``total_time`` after sustain (>= every end).
        instrument: int64 instrument index (note-seq's ``note.instrument``); sustain works per
            instrument.
        sources: where each instrument index comes from in the MIDI file, ``(track, channel,
            track name)`` (empty when not read from a file): what parts are made of.
    """

    __slots__ = ("start", "end", "pitch", "velocity", "program", "is_drum", "total_time",
                 "instrument", "sources")

    def __init__(self, start=None, end=None, pitch=None, velocity=None, program=None,
                 is_drum=None, total_time: float | None = None, instrument=None, *,
                 notes: Iterable[Note] | None = None,
                 sources: tuple[tuple[int, int, str], ...] = ()) -> None:
        if notes is not None:
            if start is not None:
                raise TypeError("NoteSequence: give either notes= or arrays, not both")
            notes = list(notes)
            start, end = [n.start for n in notes], [n.end for n in notes]
            pitch, velocity = [n.pitch for n in notes], [n.velocity for n in notes]
            program, is_drum = [n.program for n in notes], [n.is_drum for n in notes]
        start = np.asarray([] if start is None else start, dtype=np.float64).reshape(-1)
        n = len(start)
        self.start = start
        self.end = np.asarray([] if end is None else end, dtype=np.float64).reshape(-1)
        self.pitch = _ints(pitch, n)
        self.velocity = _ints(velocity, n)
        self.program = _ints(program, n)
        self.is_drum = np.zeros(n, dtype=bool) if is_drum is None else np.asarray(
            is_drum, dtype=bool).reshape(-1)
        self.instrument = _ints(instrument, n)
        self.sources = tuple(sources)
        if total_time is None:
            total_time = float(self.end.max()) if len(self.end) else 0.0
        self.total_time = float(total_time)
        for field in ("end", "pitch", "velocity", "program", "is_drum", "instrument"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"NoteSequence.{field} has length {len(getattr(self, field))}, "
                                 f"expected {n}")
        for field in ("pitch", "velocity", "program"):
            values = getattr(self, field)
            if n and (values.min() < 0 or values.max() > 127):
                raise ValueError(f"NoteSequence.{field} must lie in 0..127")

    def __repr__(self) -> str:
        return f"NoteSequence({len(self)} notes, total_time={self.total_time:.3f} s)"

    @classmethod
    def from_arrays(cls, start, end, pitch, velocity, program, is_drum,
                    total_time: float | None = None, instrument=None) -> NoteSequence:
        """Build from array-likes; ``total_time`` defaults to the largest end (0 if empty)."""
        return cls(start, end, pitch, velocity, program, is_drum, total_time, instrument)

    @classmethod
    def from_notes(cls, notes: Iterable[Note], total_time: float | None = None) -> NoteSequence:
        """Build from ``Note`` objects; ``total_time`` defaults to the largest end."""
        return cls(notes=notes, total_time=total_time)

    @property
    def notes(self) -> list[Note]:
        """The notes as ``Note`` objects (a fresh list)."""
        return [Note(float(s), float(e), int(p), int(v), int(g), bool(d)) for s, e, p, v, g, d in
                zip(self.start, self.end, self.pitch, self.velocity, self.program, self.is_drum)]

    def replace(self, **changes) -> NoteSequence:
        """A copy with some fields replaced (like ``dataclasses.replace``)."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return NoteSequence(**fields)

    def __len__(self) -> int:
        return len(self.start)

    def select(self, mask: np.ndarray) -> NoteSequence:
        """The notes where ``mask`` (bool, (N,)) holds, same ``total_time``."""
        return NoteSequence(self.start[mask], self.end[mask], self.pitch[mask],
                            self.velocity[mask], self.program[mask], self.is_drum[mask],
                            self.total_time, self.instrument[mask], sources=self.sources)

    def excerpt(self, start: float = 0.0, end: float | None = None) -> NoteSequence:
        """Seconds [start, end) as a piece of its own, starting at 0 (``end`` None: to the end).

        Notes sounding at ``start`` begin again at 0 (an excerpt has no before); notes still
        sounding at ``end`` stop there; ``total_time`` is ``end - start`` (with ``end`` None: the
        last end, shifted).
        """
        stop = self.total_time if end is None else min(float(end), self.total_time)
        keep = (self.end > start) & (self.start < stop)
        part = self.select(keep)
        return part.replace(start=np.maximum(part.start, start) - start,
                            end=np.minimum(part.end, stop) - start,
                            total_time=max(0.0, stop - start))


def _ints(values, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=np.int64)
    return np.asarray(values, dtype=np.int64).reshape(-1)
