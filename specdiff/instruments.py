"""General MIDI instruments: names, keys (programs 0..127, 128 for drums) and re-orchestration.

An instrument "key" is what the synthesis model is conditioned on: a note's GM program, or
``DRUMS`` for the drum kit. `reassign_instruments` changes keys note by note (the paper's
note-level control of instrumentation); `parse_instrument` and `parse_program_map` read the
command line's ``--program`` / ``--program-map``. A `Part` is a MIDI track and channel, whatever
its program (a string quartet without program changes has four parts, all "piano");
`assign_parts` gives parts their own instruments (``--part-map``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from specdiff.errors import SpecdiffError

# The key of the drum kit in instrument tables (MIDI channel 10 has no program of its own).
DRUMS = 128

# General MIDI Level 1 sound set, program 0..127 (the MIDI Manufacturers Association's names).
GM_PROGRAM_NAMES: tuple[str, ...] = (
    # Piano
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    # Chromatic percussion
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    # Organ
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    # Guitar
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    # Bass
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    # Strings
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    # Ensemble
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    # Brass
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    # Reed
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    # Pipe
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    # Synth lead
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    # Synth pad
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    # Synth effects
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    # Ethnic
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    # Percussive
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    # Sound effects
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)
assert len(GM_PROGRAM_NAMES) == 128

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def instrument_key(program: int, is_drum: bool) -> int:
    """The instrument-table key of a note: its program 0..127, or ``DRUMS`` (128) for drums."""
    return DRUMS if is_drum else int(program)


def instrument_name(key: int) -> str:
    """``"Violin"`` for key 40, ``"Drums"`` for ``DRUMS``; raises ``SpecdiffError`` otherwise."""
    if key == DRUMS:
        return "Drums"
    if not 0 <= key < 128:
        raise SpecdiffError(f"instrument {key}: expected a GM program 0..127 or {DRUMS} (drums)")
    return GM_PROGRAM_NAMES[key]


def instrument_label(key: int) -> str:
    """A menu label that keeps the GM number visible: ``"40 Violin"``, ``"Drums"``."""
    return "Drums" if key == DRUMS else f"{key} {instrument_name(key)}"


def instrument_choices() -> list[tuple[str, int]]:
    """``(label, key)`` for all 128 GM programs followed by the drum kit, in key order."""
    return [(instrument_label(key), key) for key in range(DRUMS + 1)]


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> ``"C4"``, 69 -> ``"A4"``."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def instrument_keys(sequence: Any) -> np.ndarray:
    """(N,) int64 instrument key of every note: its program, or ``DRUMS`` for drum notes."""
    return np.where(np.asarray(sequence.is_drum, bool), DRUMS, np.asarray(sequence.program))


def reassign_instruments(sequence: Any, mapping: Mapping[int, int]) -> Any:
    """Re-assign instruments: every note whose key is in ``mapping`` gets ``mapping[key]``.

    Args:
        sequence: a ``specdiff.codec.NoteSequence`` (not modified).
        mapping: old key -> new key, keys being GM programs 0..127 or ``DRUMS`` (128). Two
            tracks may be mapped to the same instrument; they then merge.

    Returns:
        A new sequence, same notes and order; only ``program`` and ``is_drum`` change (a note
        moved to the drum kit gets program 0; everything else, sustain included, is kept).
    """
    for new in mapping.values():
        instrument_name(int(new))  # raises SpecdiffError for keys outside 0..128
    keys = instrument_keys(sequence)
    program = np.array(sequence.program, copy=True)
    is_drum = np.array(sequence.is_drum, dtype=bool, copy=True)
    for old, new in mapping.items():
        if int(new) == int(old):
            continue
        mine = keys == int(old)  # masks of the *original* keys: swaps do not chain
        program[mine] = 0 if int(new) == DRUMS else int(new)
        is_drum[mine] = int(new) == DRUMS
    return sequence.replace(program=program, is_drum=is_drum)


def _normal(name: str) -> str:
    """Lower case, words only: ``"Acoustic Guitar (nylon)"`` -> ``"acoustic guitar nylon"``."""
    for sep in "-_()":
        name = name.replace(sep, " ")
    return " ".join(name.lower().split())


def parse_instrument(text: str) -> int:
    """An instrument key from the command line: a GM number (``40``), a name, the start of one
    or words of one, any case (``violin``, ``"acoustic grand"``, ``nylon``), or ``drums``.

    Raises:
        SpecdiffError: unknown or ambiguous names, numbers outside 0..128.
    """
    text = text.strip()
    if text.isdigit():
        key = int(text)
        instrument_name(key)  # range check
        return key
    wanted = _normal(text)
    if wanted in ("drums", "drum kit", "drum"):
        return DRUMS
    names = [_normal(name) for name in GM_PROGRAM_NAMES]
    exact = [key for key, name in enumerate(names) if name == wanted]
    found = exact or [key for key, name in enumerate(names) if name.startswith(wanted)] or [
        key for key, name in enumerate(names) if set(wanted.split()) <= set(name.split())]
    if len(found) == 1:
        return found[0]
    if not found:
        raise SpecdiffError(f"instrument {text!r}: not a GM program number (0..127), a GM "
                            "instrument name (e.g. 'violin', 'acoustic grand piano') or 'drums'")
    options = ", ".join(instrument_label(key) for key in found[:6])
    raise SpecdiffError(f"instrument {text!r} is ambiguous: {options}{', ...' if len(found) > 6 else ''}")


def parse_program_map(text: str) -> dict[int, int]:
    """``"0:40,drums:0"`` or ``"acoustic grand:violin, 33:32"`` -> ``{old key: new key}``.

    Each comma-separated entry is ``OLD:NEW``, both as `parse_instrument` reads them.
    """
    mapping: dict[int, int] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        old, sep, new = entry.partition(":")
        if not sep or not old.strip() or not new.strip():
            raise SpecdiffError(f"program map entry {entry!r}: expected OLD:NEW, e.g. 0:40 or "
                                "violin:flute")
        key = parse_instrument(old)
        if key in mapping:
            raise SpecdiffError(f"program map: {instrument_label(key)} is mapped twice")
        mapping[key] = parse_instrument(new)
    if not mapping:
        raise SpecdiffError(f"program map {text!r}: no OLD:NEW entries")
    return mapping


@dataclass(frozen=True)
class Part:
    """One MIDI track and channel of a piece, as ``specdiff info song.mid`` lists it.

    Attributes:
        number: 1, 2, ... in track, then channel order (what ``--part-map`` names).
        track, channel: in the MIDI file (channel 9 is the GM drum channel, "10" to musicians).
        name: the track's name ("" when it has none).
        keys: the instrument keys its notes have (programs, or `DRUMS`), in order of first use.
        notes: how many notes it plays; low, high: its lowest and highest pitch.
    """

    number: int
    track: int
    channel: int
    name: str
    keys: tuple[int, ...]
    notes: int
    low: int
    high: int

    def describe(self) -> str:
        """One line: number, name, track and channel, instruments, notes and range."""
        instruments = ", ".join(instrument_label(k) for k in self.keys)
        return (f"{self.number}: {self.name or '(unnamed)'} (track {self.track}, channel "
                f"{self.channel + 1}): {instruments}; {self.notes} notes, "
                f"{pitch_name(self.low)}-{pitch_name(self.high)}")


def part_of_notes(sequence: Any) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """((N,) part index of every note, the parts' (track, channel, name) in number order); a
    sequence without ``sources`` (not read from a file) has one part per instrument key."""
    if sequence.sources:
        origin = [(track, channel) for track, channel, _ in sequence.sources]
        names = {(track, channel): name for track, channel, name in sequence.sources}
        table = sorted(set(origin[i] for i in np.unique(sequence.instrument).tolist()))
        index = {key: k for k, key in enumerate(table)}
        per_instrument = np.array([index.get(key, -1) for key in origin], dtype=np.int64)
        return per_instrument[sequence.instrument], [(*key, names[key]) for key in table]
    keys = instrument_keys(sequence)
    table = sorted(set(keys.tolist()))
    return np.searchsorted(table, keys), [(-1, -1, instrument_name(k)) for k in table]


def list_parts(sequence: Any) -> list[Part]:
    """The parts of a piece (see `Part`)."""
    part, table = part_of_notes(sequence)
    keys = instrument_keys(sequence)
    parts = []
    for k, (track, channel, name) in enumerate(table):
        mine = np.flatnonzero(part == k)
        used = tuple(dict.fromkeys(keys[mine].tolist()))
        pitches = sequence.pitch[mine]
        parts.append(Part(k + 1, track, channel, name, used, len(mine), int(pitches.min()),
                          int(pitches.max())))
    return parts


def parse_part_map(text: str) -> dict[int, int]:
    """``"1:violin,2:viola,3:cello,4:cello"`` -> ``{part number: instrument key}``."""
    mapping: dict[int, int] = {}
    for entry in filter(None, (item.strip() for item in text.split(","))):
        number, sep, new = entry.partition(":")
        if not sep or not number.strip().isdigit() or not new.strip():
            raise SpecdiffError(f"part map entry {entry!r}: expected PART:INSTRUMENT, e.g. "
                                "1:violin (`specdiff info song.mid` lists the parts)")
        if int(number) in mapping:
            raise SpecdiffError(f"part map: part {int(number)} is mapped twice")
        mapping[int(number)] = parse_instrument(new)
    if not mapping:
        raise SpecdiffError(f"part map {text!r}: no PART:INSTRUMENT entries")
    return mapping


def assign_parts(sequence: Any, mapping: Mapping[int, int]) -> Any:
    """Give parts their own instruments: part number (`list_parts`) -> instrument key.

    Raises:
        SpecdiffError: a part number the piece does not have.
    """
    part, table = part_of_notes(sequence)
    unknown = sorted(n for n in mapping if not 1 <= n <= len(table))
    if unknown:
        raise SpecdiffError(f"part map: the piece has parts 1 to {len(table)}, not {unknown} "
                            "(`specdiff info song.mid` lists them)")
    program = np.array(sequence.program, copy=True)
    is_drum = np.array(sequence.is_drum, dtype=bool, copy=True)
    for number, key in mapping.items():
        mine = part == number - 1
        program[mine] = 0 if key == DRUMS else key
        is_drum[mine] = key == DRUMS
    return sequence.replace(program=program, is_drum=is_drum)


def orchestrate(sequence: Any, program: int | None = None,
                program_map: Mapping[int, int] | None = None,
                part_map: Mapping[int, int] | None = None) -> Any:
    """Re-orchestrate a piece: ``part_map`` first (part number -> key, `assign_parts`), then
    ``program_map`` (old key -> new key), then, if ``program`` is given, every pitched note (not
    the drum kit) plays ``program``.

    Example: ``orchestrate(notes, program=40)`` plays the whole piece (drums aside) on violin.
    """
    if part_map:
        sequence = assign_parts(sequence, part_map)
    if program_map:
        sequence = reassign_instruments(sequence, program_map)
    if program is not None:
        keys = set(np.unique(instrument_keys(sequence)).tolist()) - {DRUMS}
        sequence = reassign_instruments(sequence, {key: program for key in keys})
    return sequence
