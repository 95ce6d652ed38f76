"""Build the MIDI files of the codec golden set (run with python: music21, mma).

    python tests/reference/codec_midis.py tests/fixtures/codec/midi

Three sources: music21 corpus scores with their parts given string/wind programs, mma grooves
(drums, bass, piano, guitar...), and hand-made edge cases written byte by byte (so that event
order within a tick, running status and odd pairings are exactly as intended).
mma randomizes its grooves (humanized timing and velocity), so its files differ from run to run:
always regenerate golden.json together with the MIDI files (make_codec_fixtures.py does both).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
from pathlib import Path

# ---------------------------------------------------------------- raw writer
TPQ = 1000  # with tempo 500000 us/beat one tick is 0.5 ms: 5.12 s = 10240 ticks


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track_bytes(events: list[tuple[int, bytes]], running: bool = False) -> bytes:
    """events: (absolute tick, message bytes) kept in the given order (ticks non-decreasing)."""
    out, last, status = bytearray(), 0, None
    for tick, msg in events:
        assert tick >= last, (tick, last)
        out += vlq(tick - last)
        last = tick
        if running and msg[0] < 0xF0 and msg[0] == status:
            out += msg[1:]
        else:
            out += msg
        status = msg[0] if msg[0] < 0xF0 else None
    out += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">L", len(out)) + bytes(out)


def midi_bytes(tracks: list[list[tuple[int, bytes]]], tpq: int = TPQ, fmt: int = 1,
               running: bool = False) -> bytes:
    head = b"MThd" + struct.pack(">LHHH", 6, fmt, len(tracks), tpq)
    return head + b"".join(track_bytes(t, running) for t in tracks)


def on(t, ch, p, v=100):
    return (t, bytes([0x90 | ch, p, v]))


def off(t, ch, p, v=0, zero_on=False):
    return (t, bytes([(0x90 if zero_on else 0x80) | ch, p, 0 if zero_on else v]))


def note(t0, t1, ch, p, v=100):
    return [on(t0, ch, p, v), off(t1, ch, p)]


def prog(t, ch, p):
    return (t, bytes([0xC0 | ch, p]))


def cc(t, ch, num, val):
    return (t, bytes([0xB0 | ch, num, val]))


def bend(t, ch, val=0x2000):
    return (t, bytes([0xE0 | ch, val & 0x7F, val >> 7]))


def tempo(t, usec):
    return (t, b"\xff\x51\x03" + usec.to_bytes(3, "big"))


def srt(events):
    return sorted(events, key=lambda e: e[0])  # stable: same-tick order as listed


S = 10240  # ticks per 5.12 s segment at the default tempo


def edge_cases() -> dict[str, bytes]:
    out = {}
    # Ties over several segments, plus short notes around them.
    t = [prog(0, 0, 0), prog(0, 1, 40)] + note(0, 3 * S + 500, 0, 60) + note(100, 2 * S, 1, 64)
    t += note(S - 20, S + 20, 0, 72) + note(2 * S + 1, 2 * S + 3000, 1, 67)
    t += note(3 * S + 100, 3 * S + 900, 0, 48)
    out["ties_long"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Sustain pedal: deferral, re-strike under pedal, release, pedal held to the end, 63/64.
    t = [prog(0, 0, 0), cc(0, 0, 64, 127)] + note(100, 300, 0, 60) + note(500, 700, 0, 60)
    t += note(600, 650, 0, 64) + [cc(1000, 0, 64, 0)] + note(1000, 1200, 0, 67)
    t += [cc(1200, 0, 64, 64)] + note(1300, 1400, 0, 69) + [cc(1400, 0, 64, 63)]
    t += note(2000, 2100, 0, 71) + [cc(2050, 0, 64, 100)] + note(2100, 2200, 0, 71)
    t += [on(2300, 0, 72), on(2300, 0, 76), off(2400, 0, 72), off(2400, 0, 76)]
    t += [prog(0, 1, 33)] + note(0, 5000, 1, 40) + [cc(4000, 1, 64, 127)] + note(4500, 4600, 1, 43)
    t += [cc(9000, 1, 64, 0), cc(11000, 0, 64, 0), cc(11500, 0, 64, 127)]
    t += note(11600, 11700, 0, 80)
    t += [cc(11800, 0, 7, 90)]
    out["sustain"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Pedal events on the same ticks as note-ons/offs, pedal on drums, pedal before any note.
    t = [cc(0, 2, 64, 127), prog(0, 2, 4)] + note(0, 100, 2, 60) + [cc(100, 2, 64, 0)]
    t += note(100, 200, 2, 60) + [cc(200, 2, 64, 127)] + note(200, 200 + 1, 2, 62)
    t += [cc(300, 2, 64, 0), cc(300, 2, 64, 127)] + note(300, 310, 2, 62) + [cc(900, 2, 64, 0)]
    t += [cc(0, 9, 64, 127)] + note(0, 50, 9, 36) + note(400, 450, 9, 38) + [cc(500, 9, 64, 0)]
    out["sustain_sametick"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Drums only (two programs on channel 10 to exercise their sort order).
    t = []
    for i in range(40):
        t += note(i * 250, i * 250 + 60, 9, 36 if i % 2 == 0 else 38, 90 + i % 30)
        t += note(i * 250, i * 250 + 30, 9, 42, 70)
    t.insert(20, prog(2500, 9, 5))
    out["drums_only"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Program changes mid-track, a note spanning a program change (it gets the later program),
    # control changes and pitch bends before the first note (pretty_midi "stragglers").
    t = [cc(0, 0, 7, 100), bend(0, 1), cc(0, 1, 64, 127), prog(0, 0, 0)] + note(0, 400, 0, 60)
    t += [prog(500, 0, 24)] + note(500, 900, 0, 62) + [on(1000, 0, 64), prog(1200, 0, 56)]
    t += [off(1500, 0, 64), cc(1600, 0, 64, 127)] + note(1700, 1800, 0, 65) + [prog(1900, 0, 24)]
    t += note(2000, 2100, 0, 67) + [cc(2200, 0, 64, 0)]
    t += note(100, 1900, 1, 50) + [prog(2000, 1, 90)] + note(2100, 2300, 1, 52)
    t += [cc(2400, 1, 64, 0)]
    out["program_changes"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Tempo changes in track 0, plus a set_tempo in track 1 (pretty_midi ignores it).
    t0 = [tempo(0, 600000), tempo(960, 400000), tempo(1920, 400000), tempo(2880, 750000),
          (3000, b"\xff\x58\x04\x03\x02\x18\x08")]
    t1 = [prog(0, 0, 41), tempo(1500, 300000)]
    for i in range(24):
        t1 += note(i * 240, i * 240 + 200, 0, 60 + i % 12)
    out["tempo_changes"] = midi_bytes([t0, srt(t1)], tpq=480)
    # Notes exactly on segment boundaries and on half steps (round half to even).
    t = [prog(0, 0, 0)] + note(0, S, 0, 60) + note(S, 2 * S, 0, 60) + note(S, S + 10, 0, 62)
    t += note(S - 10, S, 0, 64) + note(2 * S - 10, 2 * S + 10, 0, 66)
    for i in range(40):  # ticks 10, 30, 50, ...: times 0.005, 0.015, ... seconds
        t += note(20 * i + 10, 20 * i + 30 + 20 * (i % 3), 0, 70 + i % 10)
    t += note(2 * S + 10, 2 * S + 30, 0, 90)
    out["boundaries"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # The last note ends exactly on a segment boundary (5.12 s): the reference adds a segment.
    t = [prog(0, 0, 0)] + note(0, 2000, 0, 60) + note(S - 2000, S, 0, 64)
    out["ends_on_boundary"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    t = [prog(0, 0, 0)] + note(0, 2 * S, 0, 60) + note(0, 500, 9, 36)
    out["ends_on_boundary2"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Very short notes: 1 tick, < 5 ms, exactly 5 ms, 10 ms.
    t = [prog(0, 0, 0)]
    for i, d in enumerate([1, 2, 5, 9, 10, 11, 19, 20, 21]):
        t += note(200 * i + 7, 200 * i + 7 + d, 0, 60 + i)
    out["short_notes"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Same-tick note on/off pairs in every order, unmatched offs, never-closed notes.
    t = [prog(0, 0, 0)]
    t += [on(100, 0, 60), off(100, 0, 60)]                    # on+off same tick: dropped
    t += [on(200, 0, 61), off(300, 0, 61), on(300, 0, 61), off(400, 0, 61)]  # off then on
    t += [on(500, 0, 62), on(600, 0, 62), off(600, 0, 62), off(700, 0, 62)]  # on, off same tick
    t += [off(800, 0, 63), on(900, 0, 63), off(1000, 0, 63, zero_on=True)]  # stray off
    t += [on(1100, 0, 64)]                                      # never closed
    t += [on(1200, 0, 65), on(1200, 0, 65), off(1300, 0, 65)]   # double on, same tick
    t += [on(1400, 0, 66, 50), on(1450, 0, 66, 90), off(1500, 0, 66), off(1600, 0, 66)]
    t += [on(1700, 0, 67), off(1800, 0, 67), on(1800, 0, 67), on(1800, 0, 67), off(1900, 0, 67)]
    t += note(2000, 2500, 0, 40)
    out["same_tick"] = midi_bytes([[tempo(0, 500000)], t], running=True)
    # Overlapping same-pitch notes across channels/tracks/programs.
    t1 = [prog(0, 0, 0), prog(0, 1, 0)] + note(0, 800, 0, 60) + note(200, 400, 0, 60)
    t1 += note(100, 900, 1, 60) + note(300, 600, 1, 60) + note(1000, 1200, 0, 60)
    t2 = [prog(0, 0, 0)] + note(50, 700, 0, 60) + note(60, 70, 0, 60)
    out["overlap_same_pitch"] = midi_bytes([[tempo(0, 500000)], srt(t1), srt(t2)])
    # All 128 programs: 8 tracks x 16 programs, one short note each, channels avoid 10.
    tracks = [[tempo(0, 500000)]]
    for k in range(8):
        t = []
        for j in range(16):
            p, ch = 16 * k + j, j if j != 9 else 15
            t += [prog(j * 300, ch, p)]
            t += note(j * 300, j * 300 + 250, ch, 36 + (p % 60), 40 + p // 2)
        tracks.append(srt(t))
    out["all_programs"] = midi_bytes(tracks)
    # Format 0: several channels in one track, running status, sysex and metas in between.
    t = [tempo(0, 500000), (0, b"\xf0\x05\x7e\x7f\x09\x01\xf7"), prog(0, 0, 48), prog(0, 1, 73),
         (0, b"\xff\x03\x04solo")]
    for i in range(30):
        t += note(i * 180, i * 180 + 400, i % 2, 55 + (i * 7) % 24, 30 + 3 * i)
    t += [(3000, b"\xff\x01\x03abc")] + note(0, 4000, 9, 49)
    out["format0"] = midi_bytes([srt(t)], fmt=0, running=True)
    # Velocities (for the 127-bin path) and a second instrument on the same program.
    t = [prog(0, 0, 0), prog(0, 1, 0)]
    for i in range(60):
        t += note(i * 120, i * 120 + 300, i % 2, 40 + i % 40, 1 + 2 * i)
    out["velocities"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # Too dense for one segment: > 2048 ids (the reference gives an over-long segment).
    t = [prog(0, ch, 8 * ch) for ch in range(8)]
    for i in range(700):
        ch = i % 8
        t += note(i * 12, i * 12 + 7 + (i % 5), ch, 30 + (i * 13) % 70)
    t += note(S + 100, S + 500, 0, 60)
    out["too_dense"] = midi_bytes([[tempo(0, 500000)], srt(t)])
    # No notes at all (the reference crashes: IndexError) and only a pedal.
    out["no_notes"] = midi_bytes([[tempo(0, 500000)], [prog(0, 0, 0), cc(100, 0, 64, 127)]])
    return out


def random_files(seeds=range(8)) -> dict[str, bytes]:
    """Seeded random but valid files: overlapping notes, stray note-offs, pedals, program
    changes, pitch bends, tempo events in any track, running status (a differential stress set;
    400 such files were compared against the reference during development, all identical)."""
    import random

    out = {}
    for seed in seeds:
        r = random.Random(seed)
        t0 = [tempo(0, r.choice([500000, 400000, 600000, 750000]))]
        tick = 0
        for _ in range(r.randint(0, 4)):
            tick += r.randint(1, 4000)
            t0.append(tempo(tick, r.randint(200000, 1200000)))
        tracks = []
        for ti in range(r.randint(1, 4)):
            ev, tick = [], 0
            chans = r.sample([0, 1, 2, 9, 5], r.randint(1, 3))
            for _ in range(r.randint(0, 120)):
                tick += r.choice([0, 0, 1, 5, 10, 30, 100, 240, 480])
                ch, x = r.choice(chans), r.random()
                p = r.choice([60, 61, 62, 64, 36, 38, 42])
                if x < 0.4:
                    ev.append(on(tick, ch, p, r.randint(1, 127)))
                elif x < 0.75:
                    ev.append(off(tick, ch, p, zero_on=r.random() < 0.5))
                elif x < 0.83:
                    ev.append(cc(tick, ch, 64, r.choice([0, 63, 64, 127])))
                elif x < 0.88:
                    ev.append(prog(tick, ch, r.randint(0, 127)))
                elif x < 0.92:
                    ev.append(bend(tick, ch))
                elif x < 0.95:
                    ev.append(cc(tick, ch, 7, 100))
                elif x < 0.97 and ti > 0:
                    ev.append(tempo(tick, r.randint(300000, 900000)))
                else:
                    ev.append(on(tick, ch, p))
                    ev.append(off(tick + r.randint(1, 3000), ch, p))
            tracks.append(srt(ev))
        if r.random() < 0.5:
            tracks = [t0] + tracks
        else:
            tracks[0] = srt(t0 + tracks[0])
        tpq = r.choice([96, 480, 1000, 384])
        out[f"random_{seed}"] = midi_bytes(tracks, tpq=tpq, running=r.random() < 0.5)
    return out


# ---------------------------------------------------------------- music21 and mma
CHORALE_PROGRAMS = (40, 41, 42, 43)  # violin, viola, cello, contrabass


def music21_scores() -> dict[str, bytes]:
    import music21
    from music21 import instrument

    picks = {
        "bach_bwv66_6": ("bwv66.6", [instrument.Violin, instrument.Viola, instrument.Violoncello,
                                     instrument.Contrabass]),
        "bach_bwv4_8": ("bwv4.8", [instrument.Flute, instrument.Oboe, instrument.Clarinet,
                                   instrument.Bassoon]),
        "bach_bwv84_5": ("bwv84.5", [instrument.Trumpet, instrument.Horn, instrument.Trombone,
                                     instrument.Tuba]),
        "mozart_k80": ("mozart/k80/movement1", [instrument.Violin, instrument.Violin,
                                                 instrument.Viola, instrument.Violoncello]),
    }
    out = {}
    for name, (ref, insts) in picks.items():
        score = music21.corpus.parse(ref)
        if name == "mozart_k80":
            score = score.measures(1, 14)
        for part, inst in zip(score.parts, insts):
            for old in part.recurse().getElementsByClass(instrument.Instrument):
                part.remove(old, recurse=True)
            part.insert(0, inst())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.mid"
            score.write("midi", fp=str(path))
            out[name] = path.read_bytes()
    return out


GROOVES = {
    "mma_rhumba": ("Rhumba", 112, "C Am Dm7 G7 C Am Dm7 G7"),
    "mma_swing": ("Swing", 140, "F Dm Gm7 C7 F Dm Gm7 C7 F"),
    "mma_50srock": ("50sRock", 150, "G G C C D C G D"),
    "mma_bossanova": ("BossaNova", 128, "Dm7 G7 Cmaj7 Cmaj7 Em7 A7 Dm7 G7"),
    "mma_waltz": ("Waltz", 100, "C G7 G7 C F C G7 C"),
}


def mma_grooves() -> dict[str, bytes]:
    out = {}
    for name, (groove, bpm, chords) in GROOVES.items():
        lines = [f"Tempo {bpm}", f"Groove {groove}"]
        lines += [f"{i + 1} {c}" for i, c in enumerate(chords.split())]
        with tempfile.TemporaryDirectory() as tmp:
            src, mid = Path(tmp) / "g.mma", Path(tmp) / "g.mid"
            src.write_text("\n".join(lines) + "\n")
            subprocess.run(["mma", str(src), "-f", str(mid)], check=True, capture_output=True)
            out[name] = mid.read_bytes()
    return out


def main(outdir: str) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    files = {**edge_cases(), **random_files(), **music21_scores(), **mma_grooves()}
    for name, data in sorted(files.items()):
        (out / f"{name}.mid").write_bytes(data)
    print(f"wrote {len(files)} MIDI files to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/codec/midi")
