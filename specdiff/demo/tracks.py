"""A piece's tracks as the studio shows them, and instrument re-assignment before synthesis.

A "track" here is one instrument of the piece: all notes sharing a GM program (or the drum kit).
That is exactly what the synthesis model sees (it is conditioned on programs, not on MIDI tracks),
so re-assigning a track's instrument changes precisely one voice of the rendering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from specdiff.demo.gm import DRUMS, instrument_name, pitch_name
from specdiff.errors import SpecdiffError


@dataclasses.dataclass(frozen=True)
class Track:
    """Summary of one instrument of a piece.

    Attributes:
        key: GM program 0..127, or ``DRUMS`` (128) for the drum kit.
        notes: number of notes.
        lowest, highest: MIDI pitch range.
        start, end: seconds from the first note on to the last note off.
    """

    key: int
    notes: int
    lowest: int
    highest: int
    start: float
    end: float

    @property
    def name(self) -> str:
        return instrument_name(self.key)

    @property
    def pitch_range(self) -> str:
        """``"C3–G5"`` (drum tracks list pitch numbers, which name drum sounds)."""
        if self.key == DRUMS:
            return f"{self.lowest}–{self.highest}"
        return f"{pitch_name(self.lowest)}–{pitch_name(self.highest)}"


def instrument_keys(sequence: Any) -> np.ndarray:
    """(N,) int64 instrument key of every note: its program, or ``DRUMS`` for drum notes."""
    return np.where(np.asarray(sequence.is_drum, bool), DRUMS, np.asarray(sequence.program))


def summarize_tracks(sequence: Any) -> list[Track]:
    """Group a piece's notes by instrument key; tracks come in key order (drums last).

    Args:
        sequence: a ``specdiff.codec.NoteSequence`` (arrays ``start``, ``end`` in s, ``pitch``,
            ``program``, ``is_drum``, all (N,)).
    """
    keys = instrument_keys(sequence)
    tracks = []
    for key in np.unique(keys):
        mine = keys == key
        pitch = np.asarray(sequence.pitch)[mine]
        tracks.append(Track(
            key=int(key),
            notes=int(mine.sum()),
            lowest=int(pitch.min()),
            highest=int(pitch.max()),
            start=float(np.asarray(sequence.start)[mine].min()),
            end=float(np.asarray(sequence.end)[mine].max()),
        ))
    return tracks


def reassign_instruments(sequence: Any, mapping: Mapping[int, int]) -> Any:
    """Re-assign instruments: every note whose key is in ``mapping`` gets ``mapping[key]``.

    Args:
        sequence: a ``specdiff.codec.NoteSequence`` (not modified).
        mapping: old key -> new key, keys being GM programs 0..127 or ``DRUMS`` (128). Two
            tracks may be mapped to the same instrument; they then merge.

    Returns:
        A new sequence, same notes and order; only ``program`` and ``is_drum`` change (a note
        moved to the drum kit gets program 0; everything else, sustain included, is kept).
    """
    for new in mapping.values():
        instrument_name(int(new))  # raises SpecdiffError for keys outside 0..128
    keys = instrument_keys(sequence)
    program = np.array(sequence.program, copy=True)
    is_drum = np.array(sequence.is_drum, dtype=bool, copy=True)
    for old, new in mapping.items():
        if int(new) == int(old):
            continue
        mine = keys == int(old)  # masks of the *original* keys: swaps do not chain
        program[mine] = 0 if int(new) == DRUMS else int(new)
        is_drum[mine] = int(new) == DRUMS
    return type(sequence).from_arrays(sequence.start, sequence.end, sequence.pitch,
                                      sequence.velocity, program, is_drum,
                                      total_time=sequence.total_time,
                                      instrument=sequence.instrument)


def tracks_markdown(tracks: Sequence[Track]) -> str:
    """The track table shown in the page (Markdown)."""
    if not tracks:
        raise SpecdiffError("the MIDI file has no notes")
    rows = ["| # | instrument | notes | range | seconds |", "|---|---|---|---|---|"]
    for i, t in enumerate(tracks, 1):
        rows.append(
            f"| {i} | {t.name} | {t.notes} | {t.pitch_range} | {t.start:.1f}–{t.end:.1f} |"
        )
    return "\n".join(rows)
