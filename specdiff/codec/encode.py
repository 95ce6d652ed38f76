"""Notes -> official (MT3 / diffusers ``MidiProcessor``) token segments, vectorized.

Rules (each reproduces the reference; see docs/codec.md):

* notes are sorted stably by (is_drum, program, pitch); event times are every melodic note's end,
  then every note's start; a stable argsort by time orders them, so at equal times offsets come
  first; times are quantized to steps with round-half-to-even;
* a melodic event is ``program, velocity bin, pitch`` (offsets have bin 0); a drum onset is
  ``velocity bin, drum`` (drums have no offsets and no program token, and never enter ties);
* a segment of frames [f0, f1) holds the events at steps [2 f0, 2 f1) (the last segment of a file:
  every event from 2 f0 on) and starts with its tie section: ``program, pitch`` for every melodic
  (pitch, program) whose last event before step min(2 f0, L) was an onset, sorted by (program,
  pitch), then ``tie``; L is the step of the file's last event (the reference's state index stops
  advancing there, so ties "persist" into segments after the last event);
* a shift with the step relative to the segment start precedes the first event of every new step
  (none at the segment start); a program or velocity token equal to the previous token of its
  type in the segment (tie section included) is dropped; ids are raw + 3 and EOS ends the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specdiff.codec.config import OFFICIAL_CODEC, CodecConfig
from specdiff.codec.notes import NoteSequence
from specdiff.codec.truncate import mapped_programs, truncate_units

_OFFSET, _ONSET, _DRUM = 0, 1, 2


@dataclass(frozen=True)
class EventArrays:
    """Timed note events in encoding order, all ``(E,)``: step (shift steps), kind (0 offset,
    1 melodic onset, 2 drum onset), pitch, program, vbin (velocity bin, 0 for offsets)."""

    step: np.ndarray
    kind: np.ndarray
    pitch: np.ndarray
    program: np.ndarray
    vbin: np.ndarray


def note_events(seq: NoteSequence, codec: CodecConfig = OFFICIAL_CODEC,
                program_map: bool = True) -> EventArrays:
    """The reference's ``note_sequence_to_onsets_and_offsets_and_programs`` + time sort."""
    program = mapped_programs(seq, program_map)
    order = np.lexsort((seq.pitch, program, seq.is_drum))  # stable, like Python's sorted
    drum = seq.is_drum[order]
    mel = order[~drum]
    times = np.concatenate([seq.end[mel], seq.start[order]])
    kind = np.concatenate([np.full(len(mel), _OFFSET), np.where(drum, _DRUM, _ONSET)])
    src = np.concatenate([mel, order])
    vbin = np.concatenate([np.zeros(len(mel), dtype=np.int64),
                           codec.velocity_bin(seq.velocity[order])])
    idx = np.argsort(times, kind="stable")
    src = src[idx]
    step = np.rint(times[idx] * codec.steps_per_second).astype(np.int64)  # half to even
    return EventArrays(step=step, kind=kind[idx], pitch=seq.pitch[src], program=program[src],
                       vbin=vbin[idx])


def num_frames(total_time: float, codec: CodecConfig = OFFICIAL_CODEC) -> int:
    """Frames of the reference's dummy audio: ``int(T * sr) // hop + 1`` (always padded)."""
    return int(total_time * codec.sample_rate) // codec.hop_length + 1


def tokenize_notes(seq: NoteSequence, codec: CodecConfig = OFFICIAL_CODEC,
                   program_map: bool = True, name: str = "") -> list[np.ndarray]:
    """Whole-file tokenization into 5.12 s segments, like diffusers' ``MidiProcessor``.

    Args:
        seq: notes (sustain already applied, as ``read_midi`` returns them).
        codec: ``OFFICIAL_CODEC`` (or another mt3-style config); ``PORT_CODEC`` dispatches to the
            port's rules.
        program_map: map melodic programs to Slakh class programs (what the official inference
            does); False keeps the raw programs.
        name: file name used in truncation warnings.

    Returns:
        One int64 array per segment, ``(L_k,)`` with ``L_k <= codec.max_tokens``, ending with EOS,
        unpadded. No notes -> ``[]``.
    """
    if codec.style == "port":
        from specdiff.codec.port import tokenize_port
        return tokenize_port(seq, codec, program_map=program_map, name=name)
    ev = note_events(seq, codec, program_map)
    if len(ev.step) == 0:
        return []
    n_seg = -(-num_frames(seq.total_time, codec) // codec.segment_frames)
    seg_steps = codec.segment_steps
    starts = [k * seg_steps for k in range(n_seg)]
    bounds = np.searchsorted(ev.step, starts + [seg_steps * n_seg], side="left")
    bounds[-1] = len(ev.step)  # the last segment takes every remaining event
    ties = _tie_states(ev, [min(s, int(ev.step[-1])) for s in starts])
    segments = _all_segments(ev, bounds, starts, ties, codec)
    budget = codec.max_tokens - 1
    for k, seg in enumerate(segments):
        if seg is None or len(seg) > budget + 1:  # long shifts or over-long: the general path
            segments[k] = _segment(ev, int(bounds[k]), int(bounds[k + 1]), starts[k], ties[k],
                                   codec, name)
    return segments


def _all_segments(ev: EventArrays, bounds: np.ndarray, starts: list[int],
                  ties: list[np.ndarray], codec: CodecConfig) -> list[np.ndarray | None]:
    """Every segment at once (the common case of ``_segment`` without truncation, vectorized
    over the whole file). A segment whose shifts exceed ``max_shift_steps`` comes back None."""
    off = codec.offsets
    n_seg = len(starts)
    counts = np.diff(bounds)
    seg = np.repeat(np.arange(n_seg), counts)  # (E,) segment of each event
    seg_start = np.asarray(starts, dtype=np.int64)[seg]
    step, kind = ev.step, ev.kind
    first = np.zeros(len(step), dtype=bool)
    first[bounds[:-1][counts > 0]] = True
    prev = np.where(first, seg_start, np.concatenate([[0], step[:-1]]))
    rel = step - seg_start
    slots = np.empty((len(step), 4), dtype=np.int64)  # [shift, program, velocity, pitch|drum]
    slots[:, 0] = off["shift"] + rel
    slots[:, 1] = off["program"] + ev.program
    slots[:, 2] = off["velocity"] + ev.vbin
    slots[:, 3] = np.where(kind == _DRUM, off["drum"], off["pitch"]) + ev.pitch
    mask = np.ones((len(step), 4), dtype=bool)
    mask[:, 0] = step > prev
    mask[:, 1] = kind != _DRUM
    ev_tokens = slots[mask]
    ev_counts = np.bincount(seg, weights=mask.sum(axis=1), minlength=n_seg).astype(np.int64)
    # Interleave per segment: its tie section, then its event tokens.
    ev_parts = np.split(ev_tokens, np.cumsum(ev_counts)[:-1])
    parts = []
    for keys, part in zip(ties, ev_parts):
        tie = np.empty(2 * len(keys) + 1, dtype=np.int64)
        tie[0:-1:2] = off["program"] + keys // 128
        tie[1:-1:2] = off["pitch"] + keys % 128
        tie[-1] = off["tie"]
        parts += [tie, part]
    raw = np.concatenate(parts)
    lengths = np.array([len(p) for p in parts]).reshape(n_seg, 2).sum(axis=1)
    seg_of = np.repeat(np.arange(n_seg), lengths)
    keep = np.ones(len(raw), dtype=bool)
    for name in ("program", "velocity"):  # drop a token equal to the previous of its type
        where = np.flatnonzero((raw >= off[name]) & (raw < off[name] + codec.event_sizes[name]))
        same = (raw[where[1:]] == raw[where[:-1]]) & (seg_of[where[1:]] == seg_of[where[:-1]])
        keep[where[1:][same]] = False
    ids = raw[keep] + codec.num_special
    kept = np.bincount(seg_of[keep], minlength=n_seg)
    out: list[np.ndarray | None] = [np.append(p, codec.eos_id)
                                    for p in np.split(ids, np.cumsum(kept)[:-1])]
    if len(rel) and int(rel.max()) > codec.max_shift_steps:
        for k in np.unique(seg[rel > codec.max_shift_steps]):
            out[k] = None
    return out


def tokenize_window(seq: NoteSequence, start_frame: int, num_frames: int = 256,
                    codec: CodecConfig = OFFICIAL_CODEC, program_map: bool = True,
                    name: str = "", events: EventArrays | None = None) -> np.ndarray:
    """Tokens of frames [start_frame, start_frame + num_frames) (training chunks).

    Same rules as one segment of ``tokenize_notes``: events at steps [2 start, 2 end), the tie
    section of notes active at min(2 start, L), EOS, truncation to ``codec.max_tokens``. For
    ``start_frame = 256 k`` and a non-final segment it equals ``tokenize_notes(...)[k]``.

    ``events`` may carry ``note_events(seq, codec, program_map)`` computed once, to cut many
    windows from one sequence cheaply (it then overrides ``seq``'s notes; mt3 style only).

    Returns:
        int64 ``(L,)``, ``L <= codec.max_tokens``, ending with EOS (port codec: no EOS).
    """
    if start_frame < 0 or num_frames < 1:
        raise ValueError(f"bad window: start_frame={start_frame}, num_frames={num_frames}")
    if codec.style == "port":
        from specdiff.codec.port import tokenize_port_window
        return tokenize_port_window(seq, start_frame, num_frames, codec, program_map, name)
    ev = note_events(seq, codec, program_map) if events is None else events
    s0 = start_frame * codec.steps_per_frame
    s1 = (start_frame + num_frames) * codec.steps_per_frame
    i0, i1 = np.searchsorted(ev.step, [s0, s1], side="left")
    last = int(ev.step[-1]) if len(ev.step) else 0
    tie = _tie_states(ev, [min(s0, last)])[0]
    return _segment(ev, int(i0), int(i1), s0, tie, codec, name)


def pad_segments(segments: list[np.ndarray], length: int = 2048) -> np.ndarray:
    """Zero-pad segments into ``(S, length)`` int64 (PAD = 0)."""
    out = np.zeros((len(segments), length), dtype=np.int64)
    for k, seg in enumerate(segments):
        if len(seg) > length:
            raise ValueError(f"segment {k} has {len(seg)} ids > length {length}")
        out[k, :len(seg)] = seg
    return out


def _tie_states(ev: EventArrays, boundaries: list[int]) -> list[np.ndarray]:
    """Active melodic keys (program * 128 + pitch, sorted) after events at steps < each
    boundary (boundaries non-decreasing)."""
    state = np.zeros(128 * 128, dtype=np.int64)  # key -> velocity bin of its last event
    melodic = ev.kind != _DRUM
    keys = ev.program * 128 + ev.pitch
    ends = np.searchsorted(ev.step, boundaries, side="left")
    touched = np.zeros(0, dtype=np.int64)  # sorted keys seen so far
    out, done, active = [], 0, touched
    for end in ends:
        if end > done:
            sel = melodic[done:end]
            k, b = keys[done:end][sel], ev.vbin[done:end][sel]
            uniq, last = np.unique(k[::-1], return_index=True)  # last event per key wins
            state[uniq] = b[::-1][last]
            touched = np.union1d(touched, uniq)
            active = touched[state[touched] > 0]
            done = end
        out.append(active)
    return out


def _segment(ev: EventArrays, i0: int, i1: int, seg_start: int, tie_keys: np.ndarray,
             codec: CodecConfig, name: str) -> np.ndarray:
    """Token ids of one segment: tie section, events [i0, i1), dedupe, +specials, EOS."""
    off = codec.offsets
    n_tie = len(tie_keys)
    # Tie section: (program, pitch) per active key, then tie.  Units number "atoms" that are
    # kept or dropped whole when a segment is too long: each tie entry, the tie, each event.
    tie_tok = np.empty(2 * n_tie + 1, dtype=np.int64)
    tie_tok[0:-1:2] = off["program"] + tie_keys // 128
    tie_tok[1:-1:2] = off["pitch"] + tie_keys % 128
    tie_tok[-1] = off["tie"]
    tie_unit = np.append(np.repeat(np.arange(n_tie), 2), n_tie)

    step, kind = ev.step[i0:i1], ev.kind[i0:i1]
    n = i1 - i0
    prev = np.concatenate([[seg_start], step[:-1]])
    rel = step - seg_start
    new_step = step > prev
    if n and int(rel.max()) > codec.max_shift_steps:
        return _segment_slow(ev, i0, i1, seg_start, tie_tok, tie_unit, codec, name)
    slots = np.empty((n, 4), dtype=np.int64)  # [shift, program, velocity, pitch|drum]
    slots[:, 0] = off["shift"] + rel
    slots[:, 1] = off["program"] + ev.program[i0:i1]
    slots[:, 2] = off["velocity"] + ev.vbin[i0:i1]
    slots[:, 3] = np.where(kind == _DRUM, off["drum"], off["pitch"]) + ev.pitch[i0:i1]
    mask = np.ones((n, 4), dtype=bool)
    mask[:, 0] = new_step
    mask[:, 1] = kind != _DRUM
    units = np.broadcast_to((n_tie + 1 + np.arange(n))[:, None], (n, 4))
    return _finish(np.concatenate([tie_tok, slots[mask]]),
                   np.concatenate([tie_unit, units[mask]]), n_tie, seg_start, codec, name)


def _segment_slow(ev, i0, i1, seg_start, tie_tok, tie_unit, codec, name):
    """Like ``_segment`` for shifts above ``max_shift_steps`` (split into max-size chunks)."""
    off, n_tie = codec.offsets, (len(tie_tok) - 1) // 2
    toks, units = list(tie_tok), list(tie_unit)
    last = seg_start
    for e in range(i0, i1):
        unit = n_tie + 1 + e - i0
        step = int(ev.step[e])
        if step > last:
            rest = step - seg_start
            while rest > 0:
                chunk = min(rest, codec.max_shift_steps)
                toks.append(off["shift"] + chunk)
                units.append(unit)
                rest -= chunk
        last = step
        if ev.kind[e] == _DRUM:
            more = [off["velocity"] + ev.vbin[e], off["drum"] + ev.pitch[e]]
        else:
            more = [off["program"] + ev.program[e], off["velocity"] + ev.vbin[e],
                    off["pitch"] + ev.pitch[e]]
        toks += more
        units += [unit] * len(more)
    return _finish(np.array(toks, dtype=np.int64), np.array(units, dtype=np.int64), n_tie,
                   seg_start, codec, name)


def _finish(raw: np.ndarray, units: np.ndarray, n_tie: int, seg_start: int,
            codec: CodecConfig, name: str) -> np.ndarray:
    """Dedupe program/velocity, truncate whole units to fit, add specials and EOS."""
    off, sizes = codec.offsets, codec.event_sizes
    keep = np.ones(len(raw), dtype=bool)
    for kind in ("program", "velocity"):
        where = np.flatnonzero((raw >= off[kind]) & (raw < off[kind] + sizes[kind]))
        vals = raw[where]
        keep[where[1:][vals[1:] == vals[:-1]]] = False  # same as the previous of its type
    raw, units = raw[keep], units[keep]
    budget = codec.max_tokens - (1 if codec.eos_id is not None else 0)
    if len(raw) > budget:
        raw, units = truncate_units(raw, units, n_tie, budget, seg_start, codec, name)
    ids = raw + codec.num_special
    if codec.eos_id is not None:
        ids = np.append(ids, codec.eos_id)
    return ids
