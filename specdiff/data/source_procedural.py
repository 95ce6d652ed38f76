"""MIDI source: procedural melodies, chords, arpeggios and bass lines over every GM program,
plus drum-kit grooves and fills over the whole GM percussion map."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

TPQ = 480
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
          "dorian": (0, 2, 3, 5, 7, 9, 10), "pentatonic": (0, 2, 4, 7, 9),
          "mixolydian": (0, 2, 4, 5, 7, 9, 10), "harmonic": (0, 2, 3, 5, 7, 8, 11)}
DEGREES = ((0, 5, 3, 4), (0, 3, 4, 0), (1, 4, 0, 0), (0, 4, 5, 3), (5, 3, 0, 4))
ROLES = ("melody", "chords", "arpeggio", "bass")
KICK, SNARE, HAT = 36, 38, 42
KIT = tuple(range(35, 82))  # GM percussion map


def program_range(program: int) -> tuple[int, int]:
    """A comfortable (low, high) MIDI pitch range for a GM program."""
    family = program // 8
    special = {32: (28, 55), 33: (28, 55), 34: (28, 55), 35: (28, 55), 36: (28, 55),
               37: (28, 55), 38: (28, 55), 39: (28, 55), 40: (55, 93), 41: (48, 84),
               42: (36, 72), 43: (28, 55), 47: (36, 57), 58: (28, 58), 57: (40, 72),
               70: (34, 67), 71: (50, 89), 72: (74, 102), 73: (60, 96), 74: (60, 96)}
    if program in special:
        return special[program]
    return {0: (36, 96), 1: (60, 96), 2: (36, 84), 3: (40, 84), 4: (48, 84), 5: (40, 84),
            6: (40, 84), 7: (52, 84), 8: (55, 84), 9: (55, 96), 10: (48, 84), 11: (48, 84),
            12: (48, 84), 13: (48, 84), 14: (48, 84), 15: (48, 72)}.get(family, (48, 84))


def _scale_pitches(key: int, scale: tuple[int, ...], low: int, high: int) -> list[int]:
    return [p for p in range(low, high + 1) if (p - key) % 12 in scale]


def _chord(key: int, scale: tuple[int, ...], degree: int, around: int) -> list[int]:
    """Triad on ``degree`` of the scale, voiced near ``around``."""
    tones = [scale[(degree + k) % len(scale)] + 12 * ((degree + k) // len(scale))
             for k in (0, 2, 4)]
    base = key + 12 * ((around - key) // 12)
    return [base + t for t in tones]


def _part(role: str, program: int, key: int, scale, rng: random.Random, bars: int, beats: int):
    """Notes ``(start tick, duration ticks, pitch, velocity)`` of one part."""
    low, high = program_range(program)
    pitches = _scale_pitches(key, scale, low, high)
    mid = (low + high) // 2
    progression = rng.choice(DEGREES)
    bar_ticks = beats * TPQ
    notes = []
    if role == "melody":
        i = len(pitches) // 2
        t = 0
        while t < bars * bar_ticks:
            dur = rng.choice((TPQ // 2, TPQ // 2, TPQ, TPQ, 2 * TPQ, TPQ // 4 * 3))
            if rng.random() < 0.15:  # rest
                t += dur
                continue
            i = min(max(i + rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3)), 0), len(pitches) - 1)
            notes.append((t, int(dur * rng.uniform(0.6, 1.0)), pitches[i], rng.randint(60, 120)))
            t += dur
    else:
        for bar in range(bars):
            degree = progression[bar % len(progression)]
            chord = [p for p in _chord(key, scale, degree, mid)]
            start = bar * bar_ticks
            vel = rng.randint(55, 110)
            if role == "chords":
                hits = rng.choice(((0, bar_ticks), (0, bar_ticks // 2, bar_ticks // 2)))
                onsets = [0] if len(hits) == 2 else [0, bar_ticks // 2]
                length = hits[-1]
                for on in onsets:
                    notes += [(start + on, int(length * 0.95), p, vel) for p in chord]
            elif role == "arpeggio":
                step = rng.choice((TPQ // 2, TPQ // 4))
                pattern = chord + [chord[0] + 12] + chord[1:][::-1]
                for k, on in enumerate(range(0, bar_ticks, step)):
                    notes.append((start + on, int(step * 0.9), pattern[k % len(pattern)], vel))
            else:  # bass
                root = chord[0]
                while root > high:
                    root -= 12
                while root < low:
                    root += 12
                for on in range(0, bar_ticks, TPQ * rng.choice((1, 2))):
                    notes.append((start + on, int(TPQ * 0.9), root, vel))
    return notes


def _drums(rng: random.Random, bars: int, beats: int):
    notes = []
    extra = rng.sample(KIT, 6)  # colour: toms, cymbals, latin percussion...
    for bar in range(bars):
        start = bar * beats * TPQ
        for beat in range(beats):
            t = start + beat * TPQ
            notes.append((t, TPQ // 4, KICK if beat % 2 == 0 else SNARE, rng.randint(80, 120)))
            notes += [(t + h, TPQ // 4, HAT, rng.randint(50, 90)) for h in (0, TPQ // 2)]
            if rng.random() < 0.3:
                notes.append((t + TPQ // 4 * rng.randint(0, 3), TPQ // 4, rng.choice(extra),
                              rng.randint(60, 110)))
        if bar % 4 == 3:  # fill over the kit
            for k in range(4):
                notes.append((start + (beats - 1) * TPQ + k * TPQ // 4, TPQ // 4,
                              rng.choice(KIT), rng.randint(70, 120)))
    return notes


def write_tracks(path: Path, tempo_bpm: int, beats: int, parts) -> None:
    """Format-1 MIDI: parts = [(program or None for drums, [(tick, dur, pitch, vel)])]."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    midi.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
        mido.MetaMessage("time_signature", numerator=beats, denominator=4, time=0)]))
    channels = [c for c in range(16) if c != 9]
    for k, (program, notes) in enumerate(parts):
        channel = 9 if program is None else channels[k % len(channels)]
        events = []
        for tick, dur, pitch, vel in notes:
            events.append((tick + dur, 0, mido.Message("note_off", channel=channel, note=pitch)))
            events.append((tick, 1, mido.Message("note_on", channel=channel, note=pitch,
                                                 velocity=vel)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        if program is not None:
            track.append(mido.Message("program_change", channel=channel, program=program))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    midi.save(str(tmp))
    tmp.replace(path)


def generate_procedural(out_dir: str | Path, count: int, seed: int = 0,
                        progress: bool = True) -> int:
    """Write ``count`` pieces ``out_dir/proc-<n>.mid``. Piece n features GM program n % 128
    (so 128 pieces cover every program) with up to three other parts on random programs; every
    second piece has a drum part. Existing files are kept. Returns the number of files."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    for n in tqdm(range(count), disable=not progress, desc="procedural", unit="piece"):
        target = out_dir / f"proc-{n:05d}.mid"
        if target.is_file():
            continue
        rng = random.Random(zlib.crc32(f"{seed}/{n}".encode()))
        beats = rng.choice((4, 4, 4, 3))
        bars = rng.randint(8, 16)
        key, scale = rng.randrange(12), SCALES[rng.choice(sorted(SCALES))]
        roles = [rng.choice(ROLES)] + rng.sample(ROLES, rng.randint(0, 3))
        programs = [n % 128] + [rng.randrange(112) for _ in roles[1:]]
        parts = [(p, _part(r, p, key, scale, rng, bars, beats)) for r, p in zip(roles, programs)]
        if n % 2 == 1:
            parts.append((None, _drums(rng, bars, beats)))
        write_tracks(target, rng.randint(70, 160), beats, parts)
    return count
