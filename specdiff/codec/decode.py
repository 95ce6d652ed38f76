"""Token ids -> timed events and notes (the inverse of the encoder, for inspection and tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from specdiff.codec.config import EVENT_TYPES, OFFICIAL_CODEC, CodecConfig
from specdiff.codec.notes import NoteSequence

_SPECIALS = ("pad", "eos", "unk")


class TokenEvent(NamedTuple):
    """One decoded id: ``time`` in seconds, ``kind`` one of ``EVENT_TYPES`` or pad/eos/unk/extra,
    ``value`` the event value (the id itself for specials)."""

    time: float
    kind: str
    value: int


def decode_events(ids: Sequence[int] | np.ndarray, codec: CodecConfig = OFFICIAL_CODEC,
                  start_time: float = 0.0) -> list[TokenEvent]:
    """Decode one segment's ids ``(L,)``; shift values are absolute steps from ``start_time``.

    Consecutive shifts add up (a shift longer than ``max_shift_steps`` is split); the counter
    restarts after any other event, which makes each shift absolute within the segment.
    """
    offsets, sizes = codec.offsets, codec.event_sizes
    bounds = np.array([offsets[k] for k in EVENT_TYPES] + [codec.num_classes])
    out: list[TokenEvent] = []
    steps, time = 0, start_time
    for token in np.asarray(ids, dtype=np.int64).tolist():
        raw = token - codec.num_special
        if raw < 0:
            out.append(TokenEvent(time, _SPECIALS[token], token))
            continue
        if raw >= codec.num_classes:
            out.append(TokenEvent(time, "extra", token))
            continue
        k = int(np.searchsorted(bounds, raw, side="right")) - 1
        kind, value = EVENT_TYPES[k], raw - offsets[EVENT_TYPES[k]]
        assert 0 <= value < sizes[kind]
        if kind == "shift":
            steps += value
            time = start_time + steps / codec.steps_per_second
        else:
            steps = 0
        out.append(TokenEvent(time, kind, value))
    return out


def decode_tokens(segments: Sequence[np.ndarray] | np.ndarray,
                  codec: CodecConfig = OFFICIAL_CODEC) -> NoteSequence:
    """Token segments (list of ``(L_k,)`` or padded ``(S, L)``) -> notes.

    Segment k starts at ``k * codec.segment_seconds``. Each segment opens with its tie section:
    pitches named there continue, other active notes end at the segment start. Outside it a
    pitch with velocity 0 ends a note and with velocity > 0 starts one (restarting it if already
    active). Drums last 10 ms. Decoding of a segment stops at EOS. Velocities are bin centres
    (``codec.bin_velocity``). Notes still open at the end close at the last event's time.
    """
    notes: list[tuple[float, float, int, int, int, bool]] = []
    active: dict[tuple[int, int], tuple[float, int]] = {}
    min_len = 1.0 / codec.steps_per_second
    last_time = 0.0

    def close(key: tuple[int, int], end: float) -> None:
        start, vbin = active.pop(key)
        notes.append((start, max(end, start + min_len), key[0], int(codec.bin_velocity(vbin)),
                      key[1], False))

    for k, seg in enumerate(segments):
        t0 = k * codec.segment_seconds
        in_tie, tied = True, set()
        program, vbin = 0, 0
        for time, kind, value in decode_events(seg, codec, t0):
            if kind == "eos":
                break
            if kind in ("pad", "unk", "extra", "shift"):
                continue
            last_time = max(last_time, time)
            if kind == "program":
                program = value
            elif kind == "velocity":
                vbin = value
            elif kind == "tie":
                for key in [key for key in active if key not in tied]:
                    close(key, time)
                in_tie = False
            elif kind == "drum":
                notes.append((time, time + min_len, value, int(codec.bin_velocity(vbin)), program,
                              True))
            elif in_tie:
                if (value, program) in active:
                    tied.add((value, program))
            elif vbin == 0:
                if (value, program) in active:
                    close((value, program), time)
            else:
                if (value, program) in active:
                    close((value, program), time)
                active[(value, program)] = (time, vbin)
    for key in list(active):
        close(key, last_time)
    notes.sort(key=lambda n: (n[0], n[5], n[4], n[2]))
    if not notes:
        return NoteSequence.from_arrays([], [], [], [], [], [])
    cols = list(zip(*notes))
    return NoteSequence.from_arrays(*cols)
