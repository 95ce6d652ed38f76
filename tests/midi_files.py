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
