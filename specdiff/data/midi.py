"""MIDI files -> per-track note arrays (float64 seconds, note_seq-style sustain per track)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specdiff.data.notes import NOTE_DTYPE, sort_notes
from specdiff.errors import SpecdiffError

_ON, _OFF, _PEDAL_DOWN, _PEDAL_UP = 0, 1, 2, 3


@dataclass(frozen=True)
class MidiTrack:
    """One parsed track: its notes (``NOTE_DTYPE``, sustain applied) and its MIDI metadata."""

    name: str
    program: int
    is_drum: bool
    notes: np.ndarray


def ticks_to_seconds(ticks: np.ndarray, tempo_ticks: np.ndarray, mspq: np.ndarray, tpq: int):
    """Convert tick positions to seconds (float64) under a piecewise-constant tempo map."""
    ticks = np.asarray(ticks, dtype=np.float64)
    if len(tempo_ticks) == 0 or tempo_ticks[0] > 0:  # MIDI default: 120 qpm until the first tempo
        tempo_ticks = np.concatenate([[0], tempo_ticks])
        mspq = np.concatenate([[500000], mspq])
    tempo_ticks = np.asarray(tempo_ticks, np.float64)
    sec_per_tick = np.asarray(mspq, np.float64) / 1e6 / tpq
    seg_start = np.concatenate([[0.0], np.cumsum(np.diff(tempo_ticks) * sec_per_tick[:-1])])
    idx = np.clip(np.searchsorted(tempo_ticks, ticks, side="right") - 1, 0, None)
    return seg_start[idx] + (ticks - tempo_ticks[idx]) * sec_per_tick[idx]


def apply_sustain(notes: np.ndarray, pedal_times: np.ndarray, pedal_values: np.ndarray):
    """Extend note ends while the sustain pedal (CC64 >= 64) is down, like note_seq.

    A note released under the pedal lasts until the pedal is lifted or the same pitch is struck
    again; notes still held after the last event end at the last event's time.
    Args:
        notes: (N,) ``NOTE_DTYPE`` of one track.
        pedal_times: (P,) seconds; pedal_values: (P,) CC64 values.
    Returns: (M,) ``NOTE_DTYPE`` with M <= N (notes cut to zero length are removed).
    """
    if len(pedal_times) == 0 or len(notes) == 0:
        return notes
    notes = notes.copy()
    events = [(float(t), _ON, i) for i, t in enumerate(notes["start"])]
    events += [(float(t), _OFF, i) for i, t in enumerate(notes["end"])]
    events += [
        (float(t), _PEDAL_DOWN if v >= 64 else _PEDAL_UP, -1)
        for t, v in zip(pedal_times, pedal_values)
    ]
    events.sort(key=lambda e: e[0])  # stable: ons, then offs, then pedal at equal times
    removed = np.zeros(len(notes), bool)
    active: list[int] = []
    down = False
    time = 0.0
    for time, kind, i in events:
        if kind == _PEDAL_DOWN:
            down = True
        elif kind == _PEDAL_UP:
            down = False
            keep = []
            for j in active:
                if notes["end"][j] < time:  # extended by the pedal: ends now
                    notes["end"][j] = time
                else:
                    keep.append(j)
            active = keep
        elif kind == _ON:
            if removed[i]:
                continue
            if down:
                keep = []
                for j in active:
                    if notes["pitch"][j] == notes["pitch"][i]:
                        notes["end"][j] = time
                        if notes["start"][j] == time:
                            removed[j] = True
                    else:
                        keep.append(j)
                active = keep
            active.append(i)
        elif not down and i in active:
            active.remove(i)
    for j in active:
        notes["end"][j] = time
    return notes[~removed]


def read_midi_tracks(path: str | Path) -> list[MidiTrack]:
    """Parse a MIDI file into tracks (empty tracks dropped), times in float64 seconds.

    Raises ``SpecdiffError`` naming the file when it cannot be parsed.
    """
    import symusic

    path = Path(path)
    if not path.is_file():
        raise SpecdiffError(f"{path}: MIDI file not found")
    try:
        score = symusic.Score(str(path))
    except Exception as error:  # symusic raises plain RuntimeError/ValueError on bad files
        raise SpecdiffError(f"{path}: cannot parse MIDI ({error})") from None
    tempos = score.tempos.numpy()
    to_s = lambda t: ticks_to_seconds(t, tempos["time"], tempos["mspq"], score.tpq)  # noqa: E731
    tracks = []
    for track in score.tracks:
        raw = track.notes.numpy()
        if len(raw["time"]) == 0:
            continue
        notes = np.zeros(len(raw["time"]), NOTE_DTYPE)
        notes["start"] = to_s(raw["time"])
        notes["end"] = to_s(raw["time"].astype(np.int64) + raw["duration"])
        notes["pitch"] = raw["pitch"]
        notes["velocity"] = raw["velocity"]
        notes["program"] = track.program
        notes["is_drum"] = track.is_drum
        notes = notes[notes["end"] > notes["start"]]
        if not track.is_drum:
            cc = track.controls.numpy()
            pedal = cc["number"] == 64
            notes = apply_sustain(notes, to_s(cc["time"][pedal]), cc["value"][pedal])
        tracks.append(MidiTrack(track.name, int(track.program), bool(track.is_drum),
                                sort_notes(notes)))
    return tracks


def midi_duration(path: str | Path) -> float:
    """Time (s) of the last note end in the file, before sustain (0.0 if it has no notes)."""
    tracks = read_midi_tracks(path)
    return max((float(t.notes["end"].max()) for t in tracks), default=0.0)
