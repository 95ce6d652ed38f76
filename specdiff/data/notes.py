"""Note arrays: the corpus-neutral form of a piece's notes (one structured numpy array)."""

from __future__ import annotations

import numpy as np

# One row per note. Times in seconds; program is the GM program 0..127 (ignored for drums).
NOTE_DTYPE = np.dtype(
    [
        ("start", np.float64),
        ("end", np.float64),
        ("pitch", np.int16),
        ("velocity", np.int16),
        ("program", np.int16),
        ("is_drum", np.bool_),
    ]
)


def make_notes(rows: list[tuple[float, float, int, int, int, bool]]) -> np.ndarray:
    """Build a note array from ``(start, end, pitch, velocity, program, is_drum)`` rows, sorted
    by (start, is_drum, program, pitch) so that equal inputs give byte-equal arrays."""
    notes = np.array([tuple(r) for r in rows], dtype=NOTE_DTYPE)
    return sort_notes(notes)


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Return ``notes`` sorted by (start, is_drum, program, pitch, end)."""
    order = np.lexsort(
        (notes["end"], notes["pitch"], notes["program"], notes["is_drum"], notes["start"])
    )
    return notes[order]


def notes_end(notes: np.ndarray) -> float:
    """Time (s) of the last note end (0.0 for no notes)."""
    return float(notes["end"].max()) if len(notes) else 0.0


def select_programs(notes: np.ndarray, programs: frozenset[int] | None) -> np.ndarray:
    """Keep notes whose program is in ``programs``; drums are selected by the key 128."""
    if programs is None:
        return notes
    key = np.where(notes["is_drum"], 128, notes["program"])
    return notes[np.isin(key, sorted(programs))]


def set_program(notes: np.ndarray, program: int, is_drum: bool = False) -> np.ndarray:
    """Return a copy of ``notes`` with every note on ``program`` (and ``is_drum``)."""
    out = notes.copy()
    out["program"] = program
    out["is_drum"] = is_drum
    return out


def concat_notes(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate note arrays, keeping their order (part by part, like note-seq)."""
    if not parts:
        return np.zeros(0, NOTE_DTYPE)
    return np.concatenate([np.asarray(p, NOTE_DTYPE) for p in parts])


def trim_overlapping(notes: np.ndarray) -> np.ndarray:
    """End each note no later than the next onset of the same (pitch, program, is_drum), like
    the official Slakh preprocessing; notes left with zero length are dropped."""
    if len(notes) < 2:
        return notes
    notes = notes.copy()
    order = np.lexsort((notes["start"], notes["pitch"], notes["program"], notes["is_drum"]))
    s = notes[order]
    same = ((s["pitch"][1:] == s["pitch"][:-1]) & (s["program"][1:] == s["program"][:-1])
            & (s["is_drum"][1:] == s["is_drum"][:-1]))
    cut = same & (s["start"][1:] < s["end"][:-1])
    idx = order[:-1][cut]
    notes["end"][idx] = s["start"][1:][cut]
    return sort_notes(notes[notes["end"] > notes["start"]])
