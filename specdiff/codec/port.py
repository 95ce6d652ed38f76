"""The unofficial PyTorch port's "port-901" tokenization (codec.md section B).

Differences from the official rules: steps are rounded note by note and a note with start ==
end gets end = start + 1; events are sorted by the whole tuple (step, is_drum, program,
velocity 0/1, pitch); segment k holds steps [512 k, 512 k + 512) and the last segment is the one
of the last event; shift values are absolute in the segment (1..511, never 0). A filter then
drops a shift equal to the current time, a program equal to the current program, a velocity 0
unless the velocity state is unset and a velocity 1 when it is already on; every shift and tie
resets the program and velocity state, a program change resets the velocity state, so program
and velocity repeat at every step. Ids are raw indices (no PAD/EOS/UNK). Each segment starts
with its tie section: ``program, pitch`` of every active melodic note (sorted by program, pitch;
its programs go through the same filter), then ``tie``; segment 0 has a bare ``tie``. A note-off
on a boundary follows the tie section. A sequence without notes gives no segments (the port
gives one bare ``tie``). Pass ``program_map=False`` for the port's checkpoints (they were trained on raw
programs).
"""

from __future__ import annotations

import numpy as np

from specdiff.codec.config import PORT_CODEC, CodecConfig
from specdiff.codec.notes import NoteSequence
from specdiff.codec.truncate import mapped_programs, truncate_units


def port_events(seq: NoteSequence, codec: CodecConfig = PORT_CODEC, program_map: bool = False
                ) -> np.ndarray:
    """Sorted event tuples ``(E, 5)`` int64: step, is_drum, program, velocity (0/1), pitch."""
    program = mapped_programs(seq, program_map)
    start = np.rint(seq.start * codec.steps_per_second).astype(np.int64)
    end = np.rint(seq.end * codec.steps_per_second).astype(np.int64)
    end = np.where(end == start, start + 1, end)
    drum = seq.is_drum.astype(np.int64)
    mel = ~seq.is_drum
    onsets = np.stack([start, drum, program, np.ones_like(start), seq.pitch], axis=1)
    offsets = np.stack([end, drum, program, np.zeros_like(end), seq.pitch], axis=1)[mel]
    ev = np.concatenate([offsets, onsets]).reshape(-1, 5)
    return ev[np.lexsort(ev.T[::-1])]


def tokenize_port(seq: NoteSequence, codec: CodecConfig = PORT_CODEC, program_map: bool = True,
                  name: str = "") -> list[np.ndarray]:
    """Whole file -> port-901 segments (raw ids, no EOS), one per 5.12 s up to the last event."""
    ev = port_events(seq, codec, program_map)
    if len(ev) == 0:
        return []
    seg_steps = codec.segment_steps
    n_seg = int(ev[-1, 0]) // seg_steps + 1
    return [_window(ev, k * seg_steps, (k + 1) * seg_steps, codec, name) for k in range(n_seg)]


def tokenize_port_window(seq: NoteSequence, start_frame: int, num_frames: int = 256,
                         codec: CodecConfig = PORT_CODEC, program_map: bool = True,
                         name: str = "") -> np.ndarray:
    """Port-901 tokens of frames [start_frame, start_frame + num_frames)."""
    ev = port_events(seq, codec, program_map)
    s0 = start_frame * codec.steps_per_frame
    return _window(ev, s0, s0 + num_frames * codec.steps_per_frame, codec, name)


def _window(ev: np.ndarray, s0: int, s1: int, codec: CodecConfig, name: str) -> np.ndarray:
    off = codec.offsets
    active: dict[tuple[int, int], int] = {}
    for step, drum, program, vel, pitch in ev[ev[:, 0] < s0].tolist():
        if not drum:
            active[(program, pitch)] = vel
    keys = sorted(k for k, v in active.items() if v)
    # Unfiltered stream: (kind, value, unit); units are kept or dropped whole on truncation.
    stream = [(kind, value, i) for i, (program, pitch) in enumerate(keys)
              for kind, value in (("program", program), ("pitch", pitch))]
    stream.append(("tie", 0, len(keys)))
    inside = ev[(ev[:, 0] >= s0) & (ev[:, 0] < s1)].tolist()
    for e, (step, drum, program, vel, pitch) in enumerate(inside):
        unit = len(keys) + 1 + e
        if step > s0:
            stream.append(("shift", step - s0, unit))
        if not drum:
            stream.append(("program", program, unit))
        stream += [("velocity", vel, unit), ("drum" if drum else "pitch", pitch, unit)]
    toks, units = [], []
    time, program, is_on = 0, -1, None  # the port's filter state
    for kind, value, unit in stream:
        if kind == "shift":
            if value == time:
                continue
            time, program, is_on = value, -1, None
        elif kind == "program":
            if value == program:
                continue
            program, is_on = value, None
        elif kind == "velocity":
            if value == 0 and is_on is None:
                is_on = False
            elif value == 1 and not is_on:
                is_on = True
            else:
                continue
        elif kind == "tie":
            program, is_on = -1, None
        toks.append(off[kind] + value)
        units.append(unit)
    return _finish_port(np.array(toks, dtype=np.int64), np.array(units, dtype=np.int64),
                        len(keys), s0, codec, name)


def _finish_port(raw, units, n_tie, seg_start, codec, name):
    """No specials and no EOS; over-long segments are cut like the official ones."""
    if len(raw) <= codec.max_tokens:
        return raw
    return truncate_units(raw, units, n_tie, codec.max_tokens, seg_start, codec, name)[0]
