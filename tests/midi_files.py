"""Small Standard MIDI Files for the tests, written byte by byte (no mido or symusic).

One writer for every test that needs "a MIDI file with these notes". Importable by name from any
test folder: ``tests/conftest.py`` puts ``tests/`` on ``sys.path``.

A note is ``(channel, program, pitch, velocity, start s, end s)``; channel 9 is the GM drum kit.
Files are format 0 at 120 bpm with 480 ticks per beat, so 960 ticks per second.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

Note = tuple[int, int, int, int, float, float]  # (channel, program, pitch, velocity, start, end)
TICKS_PER_BEAT = 480
TICKS_PER_SECOND = 960  # 480 ticks per beat at 120 bpm (500000 us per beat)
TEMPO_120_BPM = b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big")  # set-tempo meta at delta 0


def vlq(value: int) -> bytes:
    """``value`` (>= 0) as a MIDI variable-length quantity: 7 bits a byte, high bit = more."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def smf(track: bytes, ticks_per_beat: int = TICKS_PER_BEAT) -> bytes:
    """A format-0, one-track file around raw track event bytes (end of track appended)."""
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
            + b"MTrk" + struct.pack(">I", len(track)) + track)


def midi_bytes(notes: Iterable[Note]) -> bytes:
    """The file of ``notes``: a tempo event, one program change per (channel, program) at tick 0,
    then note-ons and note-offs (velocity 0 offs first where they share a tick with ons)."""
    notes = list(notes)
    events = [(0, 0, bytes([0xC0 | ch, prog])) for ch, prog in sorted({n[:2] for n in notes})]
    for ch, _, pitch, velocity, start, end in notes:
        events.append((round(start * TICKS_PER_SECOND), 2, bytes([0x90 | ch, pitch, velocity])))
        events.append((round(end * TICKS_PER_SECOND), 1, bytes([0x80 | ch, pitch, 0])))
    track, last = TEMPO_120_BPM, 0
    for tick, _, data in sorted(events, key=lambda e: e[:2]):
        track += vlq(tick - last) + data
        last = tick
    return smf(track)


def write_midi(path: Path, notes: Iterable[Note]) -> Path:
    """Write ``midi_bytes(notes)`` to ``path``; returns ``path``."""
    path = Path(path)
    path.write_bytes(midi_bytes(notes))
    return path


MUTATIONS = ("flip", "truncate", "insert", "delete", "noise_body", "noise", "huge_delta",
             "division", "many_tracks", "no_note_offs", "chunk_size", "running_status")
"""What `mutate` can do to a MIDI file: byte-level damage and the structures of real-world files
(deltas past tick 1e7, extreme or SMPTE divisions, hundreds of tracks, unterminated notes)."""


def mutate(data: bytes, rng, kind: str) -> bytes:
    """``data`` (a MIDI file) damaged one way, ``kind`` from `MUTATIONS`; ``rng`` a NumPy
    ``Generator``."""
    base = bytearray(data)

    def noise(count: int) -> bytes:
        return rng.integers(0, 256, count, dtype=np.uint8).tobytes()

    if kind == "flip":
        for pos in rng.integers(0, len(base), rng.integers(1, 8)):
            base[pos] = int(rng.integers(0, 256))
    elif kind == "truncate":
        base = base[: int(rng.integers(0, len(base)))]
    elif kind == "insert":
        pos = int(rng.integers(0, len(base)))
        base[pos:pos] = noise(int(rng.integers(1, 16)))
    elif kind == "delete":
        pos = int(rng.integers(0, len(base)))
        del base[pos : pos + int(rng.integers(1, 16))]
    elif kind == "noise_body":  # random events after a valid header
        base = base[:22] + noise(int(rng.integers(0, 300)))
    elif kind == "noise":
        base = bytearray(noise(int(rng.integers(0, 200))))
    elif kind == "huge_delta":  # the end of track 1e6 to 2.7e8 ticks after the last event
        track = _first_track(base)
        if track is not None and base[track[1] - 4 : track[1]] == b"\x00\xff\x2f\x00":
            start, end = track
            base[end - 4 : end - 3] = vlq(int(rng.integers(10**6, 2**28 - 1)))
            _fix_track_size(base, start)
    elif kind == "division":
        base[12:14] = int(rng.choice([1, 2, 0x7FFF, 0xE728, 0x8000, 0xFFFF])).to_bytes(2, "big")
    elif kind == "many_tracks":  # the first track repeated up to 400 times
        track = _first_track(base)
        if track is not None:
            start, end = track
            chunk = bytes(base[start - 8 : end])
            copies = int(rng.integers(50, 400))
            base = base[:10] + min(copies + 1, 0xFFFF).to_bytes(2, "big") + base[12:] \
                + chunk * copies
    elif kind == "no_note_offs":  # note-offs become aftertouch: notes never end
        for pos in range(14, len(base) - 2):
            if base[pos] & 0xF0 == 0x80 and rng.random() < 0.8:
                base[pos] = 0xA0 | (base[pos] & 0x0F)
    elif kind == "chunk_size":  # a track's length field lies
        track = _first_track(base)
        if track is not None:
            base[track[0] - 4 : track[0]] = int(rng.integers(0, 2**32)).to_bytes(4, "big")
    elif kind == "running_status":  # status bytes dropped
        for pos in rng.integers(14, max(15, len(base)), rng.integers(1, 6)):
            if pos < len(base) and base[pos] >= 0x80:
                del base[pos]
    else:
        raise ValueError(f"unknown mutation {kind!r}")
    return bytes(base)


def _first_track(data: bytearray) -> tuple[int, int] | None:
    """(start, end) of the first MTrk chunk's body, or None."""
    pos = data.find(b"MTrk")
    if pos < 0 or pos + 8 > len(data):
        return None
    size = int.from_bytes(data[pos + 4 : pos + 8], "big")
    return pos + 8, min(len(data), pos + 8 + size)


def _fix_track_size(data: bytearray, start: int) -> None:
    """Make the first track's length field span to the next chunk (after an insertion)."""
    nxt = data.find(b"MTrk", start)
    end = len(data) if nxt < 0 else nxt
    data[start - 4 : start] = (end - start).to_bytes(4, "big")
