"""Regenerate the studio's bundled example, specdiff/demo/examples/quartet.mid (4 s, 4 instruments).

    python tests/demo/make_example.py

Piano melody (program 0), bass (33), string chords (48) and drums over C - G/B - Am - F/A at
120 bpm; tests/demo/test_demo_units.py checks its track summary.
"""

from pathlib import Path

import symusic

OUT = Path(__file__).parents[2] / "specdiff" / "demo" / "examples" / "quartet.mid"
Q = 480  # ticks per quarter note


def main() -> None:
    score = symusic.Score(Q)
    score.tempos.append(symusic.Tempo(0, 120.0))
    tracks = {}
    for name, program, is_drum in [("Piano", 0, False), ("Strings", 48, False),
                                   ("Bass", 33, False), ("Drums", 0, True)]:
        tracks[name] = symusic.Track(name, program, is_drum)
        score.tracks.append(tracks[name])
    chords = [(60, 64, 67), (59, 62, 67), (57, 60, 64), (57, 60, 65)]
    roots = [48, 43, 45, 41]
    melody = [72, 74, 76, 79, 79, 77, 76, 74, 72, 71, 72, 74, 72, 69, 72, 0]  # 0 = rest
    for i, pitch in enumerate(melody):
        if pitch:
            tracks["Piano"].notes.append(symusic.Note(i * Q // 2, Q // 2 - 20, pitch, 90))
    for bar, (chord, root) in enumerate(zip(chords, roots)):
        for pitch in chord:
            tracks["Strings"].notes.append(symusic.Note(bar * 2 * Q, 2 * Q - 10, pitch, 60))
        tracks["Bass"].notes.append(symusic.Note(bar * 2 * Q, Q - 20, root, 95))
        tracks["Bass"].notes.append(symusic.Note(bar * 2 * Q + Q, Q - 20, root + 7, 85))
    for beat in range(8):
        kick_or_snare = 36 if beat % 2 == 0 else 38
        tracks["Drums"].notes.append(symusic.Note(beat * Q, Q // 4, kick_or_snare, 100))
        for half in range(2):
            tracks["Drums"].notes.append(symusic.Note(beat * Q + half * Q // 2, Q // 4, 42, 70))
    score.dump_midi(str(OUT))


if __name__ == "__main__":
    main()
