"""The unofficial PyTorch port's "port-901" tokenization (codec.md section B).

Differences from the official rules: steps are rounded note by note and a note with start ==
end gets end = start + 1; events are sorted by the whole tuple (step, is_drum, program,
velocity 0/1, pitch); segment k holds steps [512 k, 512 k + 512) and the last segment is the one
of the last event; shift values are absolute in the segment (1..511, never 0); program and
velocity state is reset by every shift, every tie and (velocity only) every program change, so
they repeat at every step; ids are raw indices (no PAD/EOS/UNK). Each segment starts with its
tie section: ``program, pitch`` of every active melodic note (sorted by program, pitch; no
dedupe), then ``tie``; segment 0 has a bare ``tie``. A note-off on a boundary follows the tie
section. Pass ``program_map=False`` for the port's checkpoints (they were trained on raw
programs).
"""

from __future__ import annotations

import numpy as np

from specdiff.codec.config import PORT_CODEC, CodecConfig
from specdiff.codec.encode import _truncate, mapped_programs
from specdiff.codec.notes import NoteSequence


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
    toks, units = [], []
    for i, (program, pitch) in enumerate(keys):
        toks += [off["program"] + program, off["pitch"] + pitch]
        units += [i, i]
    toks.append(off["tie"])
    units.append(len(keys))
    time, cur_program, cur_vel = 0, None, None
    inside = ev[(ev[:, 0] >= s0) & (ev[:, 0] < s1)].tolist()
    for e, (step, drum, program, vel, pitch) in enumerate(inside):
        unit = len(keys) + 1 + e
        before = len(toks)
        shift = step - s0
        if shift != time:
            toks.append(off["shift"] + shift)
            time, cur_program, cur_vel = shift, None, None
        if not drum and program != cur_program:
            toks.append(off["program"] + program)
            cur_program, cur_vel = program, None
        if (vel == 0 and cur_vel is None) or (vel == 1 and cur_vel != 1):
            toks.append(off["velocity"] + vel)
        cur_vel = vel
        toks.append(off["drum" if drum else "pitch"] + pitch)
        units += [unit] * (len(toks) - before)
    return _finish_port(np.array(toks, dtype=np.int64), np.array(units, dtype=np.int64),
                        len(keys), s0, codec, name)


def _finish_port(raw, units, n_tie, seg_start, codec, name):
    """No specials and no EOS; over-long segments are cut like the official ones."""
    if len(raw) <= codec.max_tokens:
        return raw
    return _truncate(raw, units, n_tie, codec.max_tokens, seg_start, codec, name)[0]
