"""Sustain pedal (CC64) with note-seq's ``apply_sustain_control_changes`` semantics, exactly.

Per instrument, events are sorted by (time, kind) with a stable sort, where kind orders
pedal-down < pedal-up < note-on < note-off (note-seq's constants), ties keeping note order then
pedal order. CC64 >= 64 is down. While the pedal is down a note-off is deferred; a new onset of
the same pitch ends every held note of that pitch at the onset (a note left with zero length is
deleted); pedal-up ends the deferred notes. Notes still held after the last event of the *whole*
sequence end at that event's time, which also becomes ``total_time``. Drum notes are untouched.
"""

from __future__ import annotations

import numpy as np

from specdiff.codec.notes import NoteSequence

_PEDAL_DOWN, _PEDAL_UP, _NOTE_ON, _NOTE_OFF = 0, 1, 2, 3


def apply_sustain(seq: NoteSequence, pedals: list[tuple[int, np.ndarray, np.ndarray]]
                  ) -> NoteSequence:
    """Apply CC64 events to ``seq``.

    Args:
        seq: notes before the pedal, with ``instrument`` indices.
        pedals: per instrument that has CC64 events, ``(instrument, times (K,) seconds,
            values (K,) 0..127)`` in file order.

    Returns:
        A new sequence (same note order, deleted notes removed, ends and total_time updated).
    """
    if not pedals or not any((values >= 64).any() for _, _, values in pedals):
        return seq
    melodic = ~seq.is_drum
    # note-seq's final `time`: the last event over every instrument (notes and pedal events).
    last_time = max([float(seq.start[melodic].max()), float(seq.end[melodic].max())]
                    if melodic.any() else [0.0])
    last_time = max([last_time] + [float(times.max()) for _, times, _ in pedals])
    end = seq.end.copy()
    keep = np.ones(len(seq), dtype=bool)
    total_time = seq.total_time
    held_at_end = []
    for instrument, times, values in pedals:
        if not (values >= 64).any():
            continue  # pedal never down: the instrument's notes are unchanged
        idx = np.flatnonzero((seq.instrument == instrument) & melodic)
        events = sorted(
            [(seq.start[i], _NOTE_ON, k, i) for k, i in enumerate(idx)]
            + [(seq.end[i], _NOTE_OFF, k, i) for k, i in enumerate(idx)]
            + [(t, _PEDAL_DOWN if v >= 64 else _PEDAL_UP, k, -1)
               for k, (t, v) in enumerate(zip(times.tolist(), values.tolist()))],
            key=lambda e: (e[0], e[1], e[2]))
        down = False
        active: list[int] = []
        for time, kind, _, i in events:
            if kind == _PEDAL_DOWN:
                down = True
            elif kind == _PEDAL_UP:
                down = False
                still = []
                for j in active:
                    if end[j] < time:
                        end[j] = time
                        total_time = max(total_time, time)
                    else:
                        still.append(j)
                active = still
            elif kind == _NOTE_ON:
                if down:
                    still = []
                    for j in active:
                        if seq.pitch[j] == seq.pitch[i]:
                            end[j] = time
                            if seq.start[j] == end[j]:
                                keep[j] = False
                        else:
                            still.append(j)
                    active = still
                active.append(i)
            elif not down and i in active:
                active.remove(i)
        held_at_end.extend(active)
    if held_at_end:
        end[held_at_end] = last_time
        total_time = last_time
    out = NoteSequence(seq.start, end, seq.pitch, seq.velocity, seq.program, seq.is_drum,
                       float(total_time), seq.instrument, sources=seq.sources)
    return out if keep.all() else out.select(keep)
