"""A piece's tracks as the studio shows them (instrument re-assignment: ``specdiff.instruments``).

A "track" here is one instrument of the piece: all notes sharing a GM program (or the drum kit).
That is exactly what the synthesis model sees (it is conditioned on programs, not on MIDI tracks),
so re-assigning a track's instrument changes precisely one voice of the rendering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from specdiff.errors import SpecdiffError
from specdiff.instruments import DRUMS, instrument_keys, instrument_name, pitch_name


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
