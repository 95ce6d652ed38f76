"""Standard MIDI file -> ``NoteSequence`` with note-seq's (pretty_midi's) exact semantics.

The official pipeline reads MIDI with ``note_seq.midi_to_note_sequence`` (pretty_midi on top of
mido), then applies the sustain pedal. Matching its token ids id for id means matching its
parsing decisions, several of which symusic makes differently (symusic pairs note-on/off first in
first out, takes the program at the note-on, closes dangling notes, merges tempo events of every
track). So the raw events are read and paired here, in one pass per track:

* a note-off (or note-on with velocity 0) closes *every* open note of that (channel, pitch) in the
  track that started on an earlier tick; open notes that started on the same tick stay open when
  some earlier note was closed, and are dropped otherwise (same-tick on/off pairs vanish);
* the note's program is the channel's program *at its note-off*; instruments are keyed by
  (program, channel, track) and created at their first closed note; channel 10 is drums;
* notes never closed are dropped;
* control changes go to the (program, channel, track) instrument if it exists, else to a per
  (channel, track) "straggler" list that instruments created later share (pitch bends create
  stragglers too);
* tempo comes from set_tempo events of the *first* track only; seconds are computed with
  pretty_midi's float arithmetic so that rounding to 10 ms steps agrees to the last bit.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from specdiff.codec.notes import NoteSequence
from specdiff.codec.sustain import apply_sustain
from specdiff.errors import SpecdiffError

MAX_TICK = 10**10
"""Larger ticks mark a corrupt file. pretty_midi refuses ticks past 1e7 because it builds a
tick -> seconds table; the map here is piecewise per tempo, so memory does not grow with ticks
(real corpora hold files whose end of track lies past tick 1e7)."""
MAX_SECONDS = 24 * 3600.0  # longer "music" is a corrupt file (the reference would run for hours)
# System common / real-time messages that mido accepts inside a track: status -> data bytes.
_SYSTEM_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


class _Instrument:
    __slots__ = ("program", "is_drum", "notes", "sustain", "track", "channel")

    def __init__(self, program: int, is_drum: bool, track: int = -1, channel: int = -1):
        self.program = program
        self.is_drum = is_drum
        self.track, self.channel = track, channel
        self.notes: list[int] = []  # flat: start tick, end tick, pitch, velocity, start, ...
        self.sustain: list[tuple[int, int]] = []  # CC64 (tick, value); may be shared


def read_midi(path: str | os.PathLike) -> NoteSequence:
    """Read a MIDI file into a ``NoteSequence`` with sustain applied (note-seq semantics).

    Raises:
        SpecdiffError: the path is unreadable or a directory, or the file is not valid MIDI.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise SpecdiffError(f"{name}: is a directory, expected a MIDI file") from None
    except FileNotFoundError:
        raise SpecdiffError(f"{name}: no such file") from None
    except OSError as error:
        raise SpecdiffError(f"{name}: cannot read file ({error.strerror or error})") from None
    return parse_midi(data, name)


def parse_midi(data: bytes, name: str = "<bytes>", sustain: bool = True) -> NoteSequence:
    """Parse MIDI file bytes; ``sustain=False`` gives note-seq's sequence before the pedal."""
    if not data:
        raise SpecdiffError(f"{name}: empty file (0 bytes), expected a MIDI file")
    instruments: list[_Instrument] = []
    try:
        division, tracks = _parse_file(data, instruments)
    except SpecdiffError as error:
        raise SpecdiffError(f"{name}: {error}") from None
    except (IndexError, struct.error):
        raise SpecdiffError(f"{name}: truncated MIDI file (ends in the middle of an event)") \
            from None
    if division <= 0:
        raise SpecdiffError(f"{name}: SMPTE or zero time division ({division}) is not supported; "
                            "expected ticks per quarter note")
    tempos = tracks[0][0] if tracks else []
    max_tick = max((last for _, last, _ in tracks), default=0)
    if max_tick + 1 > MAX_TICK:
        raise SpecdiffError(f"{name}: largest tick {max_tick + 1} exceeds {MAX_TICK}; "
                            "the file is likely corrupt")
    to_seconds = _tick_to_time_fn(tempos, division, name)
    seq = _to_sequence(instruments, to_seconds, sustain)
    seq.sources = tuple((inst.track, inst.channel, tracks[inst.track][2])
                        for inst in instruments)
    if seq.total_time > MAX_SECONDS:
        raise SpecdiffError(f"{name}: notes last until {seq.total_time:.0f} s (> 24 h); the file "
                            "is likely corrupt")
    return seq


def _parse_file(data: bytes, instruments: list[_Instrument]
                ) -> tuple[int, list[tuple[list[tuple[int, int]], int, str]]]:
    """Chunks -> (division, [(set_tempo events, last tick, name) per track]); fills
    ``instruments``."""
    if len(data) < 8 or data[:4] != b"MThd":
        raise SpecdiffError("not a MIDI file (no 'MThd' header)")
    size = struct.unpack(">L", data[4:8])[0]
    if size < 6 or len(data) < 8 + 6:
        raise SpecdiffError("truncated MIDI header")
    _fmt, num_tracks, division = struct.unpack(">hhh", data[8:14])
    pos = 8 + size
    tracks = []
    while len(tracks) < num_tracks:
        if pos + 8 > len(data):
            raise SpecdiffError(f"truncated MIDI file: header announces {num_tracks} tracks, "
                                f"found {len(tracks)}")
        chunk, size = struct.unpack(">4sL", data[pos:pos + 8])
        pos += 8
        if chunk == b"MTrk":
            if pos + size > len(data):
                raise SpecdiffError(f"truncated MIDI file: track {len(tracks)} announces {size} "
                                    f"bytes, {len(data) - pos} present")
            tracks.append(_read_track(data, pos, pos + size, len(tracks), instruments))
        pos += size
    return division, tracks


def _read_track(data: bytes, pos: int, end: int, index: int,
                instruments: list[_Instrument]) -> tuple[list[tuple[int, int]], int, str]:
    """Read one track chunk, pairing notes as pretty_midi's ``_load_instruments`` does (see the
    module docstring); new instruments are appended to ``instruments``.

    Returns:
        The track's set_tempo events ``[(tick, microseconds per beat)]``, its last tick and its
        name (its first track-name meta event, or "").
    """
    tempos: list[tuple[int, int]] = []
    by_key: dict[tuple[int, int], _Instrument] = {}  # (program, channel) -> instrument
    stragglers: dict[int, _Instrument] = {}  # channel -> holder of early CCs / pitch bends
    programs = [0] * 16
    open_notes: dict[int, list[tuple[int, int]]] = {}  # channel << 7 | pitch -> [(tick, vel)]
    tick = 0
    running = -1
    name = ""
    while pos < end:
        byte = data[pos]
        pos += 1
        delta = byte & 0x7F
        while byte & 0x80:
            byte = data[pos]
            pos += 1
            delta = (delta << 7) | (byte & 0x7F)
        tick += delta
        status = data[pos]
        if status < 0x80:  # running status: this byte is data
            if running < 0:
                raise SpecdiffError(f"track {index}: running status without a previous status")
            status = running
            if status == 0xF0 or status == 0xF7:  # mido drops the peeked byte of a sysex
                pos += 1
        else:
            pos += 1
            if status != 0xFF:
                running = status
        if status < 0xF0:
            kind = status & 0xF0
            channel = status & 0x0F
            d1 = data[pos]
            if kind == 0xC0 or kind == 0xD0:
                pos += 1
                d2 = 0
            else:
                d2 = data[pos + 1]
                pos += 2
            if d1 > 127 or d2 > 127:
                raise SpecdiffError(f"track {index}: data byte above 127 at byte {pos - 1}")
            if kind == 0x90 and d2:
                key = channel << 7 | d1
                opened = open_notes.get(key)
                if opened is None:
                    open_notes[key] = [(tick, d2)]
                else:
                    opened.append((tick, d2))
            elif kind == 0x80 or kind == 0x90:
                opened = open_notes.pop(channel << 7 | d1, None)
                if opened is None:
                    continue
                if len(opened) == 1:  # the common case
                    if opened[0][0] != tick:
                        inst = by_key.get((programs[channel], channel)) or _new_instrument(
                            programs[channel], channel, by_key, stragglers, instruments, index)
                        inst.notes += (opened[0][0], tick, d1, opened[0][1])
                    continue
                close = [n for n in opened if n[0] != tick]
                if close:
                    inst = by_key.get((programs[channel], channel)) or _new_instrument(
                        programs[channel], channel, by_key, stragglers, instruments, index)
                    for start, velocity in close:
                        inst.notes += (start, tick, d1, velocity)
                    keep = [n for n in opened if n[0] == tick]
                    if keep:  # note-ons on this very tick stay open
                        open_notes[channel << 7 | d1] = keep
            elif kind == 0xC0:
                programs[channel] = d1
            elif kind == 0xB0 or kind == 0xE0:
                inst = by_key.get((programs[channel], channel)) or stragglers.get(channel)
                if inst is None:
                    inst = stragglers[channel] = _Instrument(programs[channel], False)
                if kind == 0xB0 and d1 == 64:
                    inst.sustain.append((tick, d2))
        elif status == 0xFF:
            kind = data[pos]
            pos += 1
            length, pos = _read_vlq(data, pos)
            if kind == 0x51 and length >= 3:
                tempos.append((tick, (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]))
            elif kind == 0x03 and not name:
                name = data[pos : pos + length].decode("latin-1").strip()
            pos += length
        elif status == 0xF0 or status == 0xF7:
            length, pos = _read_vlq(data, pos)
            pos += length
        elif status in _SYSTEM_LEN:
            pos += _SYSTEM_LEN[status]
        else:
            raise SpecdiffError(f"track {index}: undefined status byte 0x{status:02x}")
    if pos != end:
        raise SpecdiffError(f"track {index}: last event runs past the end of the track chunk")
    return tempos, tick, name


def _read_vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _new_instrument(program: int, channel: int, by_key: dict, stragglers: dict,
                    instruments: list[_Instrument], track: int) -> _Instrument:
    """Create the (program, channel) instrument at its first note; it shares the channel's
    straggler control-change list when one exists (pretty_midi's aliasing)."""
    inst = _Instrument(program, channel == 9, track, channel)
    if channel in stragglers:
        inst.sustain = stragglers[channel].sustain
    by_key[(program, channel)] = inst
    instruments.append(inst)
    return inst


def _tick_to_time_fn(tempos: list[tuple[int, int]], division: int, name: str):
    """pretty_midi's tick -> seconds map (first-track tempos, same float operations)."""
    scales = [(0, 60.0 / (120.0 * division))]
    for tick, usec in tempos:
        if usec == 0:
            raise SpecdiffError(f"{name}: set_tempo of 0 microseconds per beat")
        if tick == 0:
            scales = [(0, 60.0 / ((6e7 / usec) * division))]
        else:
            scale = 60.0 / ((6e7 / usec) * division)
            if scale != scales[-1][1]:
                scales.append((tick, scale))
    starts = np.array([s[0] for s in scales], dtype=np.int64)
    rates = np.array([s[1] for s in scales], dtype=np.float64)
    bases = np.zeros(len(scales), dtype=np.float64)
    for i in range(1, len(scales)):  # time of each segment start, computed as pretty_midi does
        bases[i] = bases[i - 1] + rates[i - 1] * float(starts[i] - starts[i - 1])

    def to_seconds(ticks: np.ndarray) -> np.ndarray:
        seg = np.searchsorted(starts, ticks, side="right") - 1
        return bases[seg] + rates[seg] * (ticks - starts[seg]).astype(np.float64)

    return to_seconds


def _to_sequence(instruments: list[_Instrument], to_seconds, sustain: bool) -> NoteSequence:
    counts = [len(inst.notes) // 4 for inst in instruments]
    rows = [n for inst in instruments for n in inst.notes] if len(instruments) > 1 else (
        instruments[0].notes if instruments else [])
    ticks = np.array(rows, dtype=np.int64).reshape(-1, 4)
    instrument = np.repeat(np.arange(len(instruments), dtype=np.int64), counts)
    start = to_seconds(ticks[:, 0])
    end = to_seconds(ticks[:, 1])
    total_time = float(end.max()) if len(end) else 0.0
    seq = NoteSequence(
        start=start, end=end, pitch=ticks[:, 2].copy(), velocity=ticks[:, 3].copy(),
        program=np.array([inst.program for inst in instruments], dtype=np.int64)[instrument]
        if len(rows) else np.zeros(0, dtype=np.int64),
        is_drum=np.array([inst.is_drum for inst in instruments], dtype=bool)[instrument]
        if len(rows) else np.zeros(0, dtype=bool),
        total_time=total_time, instrument=instrument)
    if not sustain:
        return seq
    pedals = []
    for index, inst in enumerate(instruments):
        if inst.sustain:
            cc = np.array(inst.sustain, dtype=np.int64)
            pedals.append((index, to_seconds(cc[:, 0]), cc[:, 1]))
    return apply_sustain(seq, pedals)
