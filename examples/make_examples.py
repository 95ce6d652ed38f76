"""Make the example MIDI files shipped in examples/ (needs music21 and Debian's mma).

    python examples/make_examples.py

* chorale_strings.mid: J. S. Bach, chorale BWV 66.6 (music21 corpus), its four voices given to
  violin, viola, cello and contrabass (~18 s).
* pop_groove.mid: an mma "Pop" groove over 8 bars: drums, piano, two guitars, bass (~17 s).
* bluegrass_groove.mid: an mma "Bluegrass" groove: drums, banjo, guitar, bass (~14 s).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def chorale_strings(path: Path) -> None:
    import music21
    from music21 import instrument

    score = music21.corpus.parse("bwv66.6")
    for part, inst in zip(score.parts, [instrument.Violin, instrument.Viola,
                                        instrument.Violoncello, instrument.Contrabass]):
        for old in part.recurse().getElementsByClass(instrument.Instrument):
            part.remove(old, recurse=True)
        part.insert(0, inst())
    score.write("midi", fp=str(path))


def mma_groove(path: Path, groove: str, bpm: int, chords: str) -> None:
    lines = [f"Tempo {bpm}", f"Groove {groove}"]
    lines += [f"{i + 1} {c}" for i, c in enumerate(chords.split())]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "groove.mma"
        src.write_text("\n".join(lines) + "\n")
        subprocess.run(["mma", str(src), "-f", str(path)], check=True, capture_output=True)


def main() -> None:
    chorale_strings(HERE / "chorale_strings.mid")
    mma_groove(HERE / "pop_groove.mid", "Pop", 116, "C Am F G C Am Dm7 G7")
    mma_groove(HERE / "bluegrass_groove.mid", "Bluegrass", 136, "G G C G D D G G")
    for path in sorted(HERE.glob("*.mid")):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
