"""Write note arrays as MIDI files (mido), e.g. the notes of a test window for transcription F1."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TICKS_PER_SECOND = 960  # 480 ticks per beat at the default 120 bpm (500000 us per beat)
DRUM_CHANNEL = 9


def window_notes_for_eval(notes: np.ndarray, start: float, duration: float) -> np.ndarray:
    """The notes whose onset lies in the window ``[start, start + duration)`` seconds, shifted to
    the window start and with their ends clipped to the window (notes sounding from before the
    window have no onset in its audio and are dropped).

    Args:
        notes: structured array of ``specdiff.data.notes.NOTE_DTYPE`` (seconds).
    Returns:
        A copy in the same dtype, times relative to ``start``.
    """
    notes = np.asarray(notes)
    rel = notes["start"] - start
    out = notes[(rel >= 0) & (rel < duration)].copy()
    out["start"] -= start
    out["end"] = np.clip(out["end"] - start, out["start"], duration)
    return out


def write_notes_midi(notes: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a note array as a type-0 MIDI file at 120 bpm: drums on channel 10, each melodic
    program on a channel of its own (programs beyond 15 share channels round-robin).

    Args:
        notes: structured array of ``specdiff.data.notes.NOTE_DTYPE`` (start / end seconds,
            pitch, velocity, program, is_drum); zero-length notes last one tick.
    Returns:
        ``path``.
    """
    import mido

    notes = np.asarray(notes)
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    programs = sorted({int(p) for p, d in zip(notes["program"], notes["is_drum"]) if not d})
    channel_of = {p: melodic[i % len(melodic)] for i, p in enumerate(programs)}
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message); offs before ons
    for program, channel in channel_of.items():
        events.append((0, 0, mido.Message("program_change", channel=channel, program=program)))
    for note in notes:
        channel = DRUM_CHANNEL if note["is_drum"] else channel_of[int(note["program"])]
        on = int(round(float(note["start"]) * TICKS_PER_SECOND))
        off = max(on + 1, int(round(float(note["end"]) * TICKS_PER_SECOND)))
        pitch = int(np.clip(note["pitch"], 0, 127))
        velocity = int(np.clip(note["velocity"], 1, 127))
        events.append((on, 2, mido.Message("note_on", channel=channel, note=pitch,
                                           velocity=velocity)))
        events.append((off, 1, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_SECOND // 2)
    midi.tracks.append(track)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(path))
    return path
