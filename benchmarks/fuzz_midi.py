"""Fuzz the MIDI reader as a corpus run meets it: mutated files -> notes -> tokens, timed.

    python benchmarks/fuzz_midi.py [--files 12000] [--seed 0]

Seeds: the codec golden set (tests/fixtures/codec/midi) and examples/*.mid. Each file is one
mutation of a seed (``tests/midi_files.py``: byte damage, truncation, deltas past tick 1e7,
extreme and SMPTE divisions, hundreds of tracks, unterminated notes, lying chunk sizes, dropped
status bytes), written to disk and read the way ``specdiff synth IN_DIR`` reads it: `read_midi`,
the length limit (`specdiff.batch.MAX_SECONDS`), then `tokenize_notes` with truncation recorded.
Prints how each file ended (read, too long, too dense, a clear `SpecdiffError`, or anything else:
a bug) per mutation, and the time per file (max, p99); the goal is no unclear error and no file
over one second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests"))

from midi_files import MUTATIONS, mutate  # noqa: E402

from specdiff.batch import MAX_SECONDS  # noqa: E402
from specdiff.codec import read_midi, tokenize_notes  # noqa: E402
from specdiff.codec.truncate import TruncationWarning  # noqa: E402
from specdiff.errors import SpecdiffError  # noqa: E402


def outcome(path: Path) -> str:
    """How a corpus run ends on ``path``: ``read``, ``too long``, ``too dense``, ``clear error``
    or ``bug: <exception type>``."""
    try:
        notes = read_midi(path)
        if notes.total_time > MAX_SECONDS:
            return "too long"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TruncationWarning)
            tokenize_notes(notes, name=str(path))
        dense = any(issubclass(w.category, TruncationWarning) for w in caught)
        return "too dense" if dense else "read"
    except SpecdiffError as error:
        text = str(error)
        return "clear error" if text.startswith(str(path)) and "\n" not in text else "bug: message"
    except Exception as error:  # noqa: BLE001 - what the benchmark looks for
        return f"bug: {type(error).__name__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seeds = sorted((ROOT / "tests/fixtures/codec/midi").glob("*.mid")) + sorted(
        (ROOT / "examples").glob("*.mid"))
    originals = [p.read_bytes() for p in seeds]
    rng = np.random.default_rng(args.seed)
    ends: dict[str, Counter] = defaultdict(Counter)
    times: list[float] = []
    slow: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.files):
            kind = MUTATIONS[i % len(MUTATIONS)]
            source = int(rng.integers(0, len(originals)))
            path = Path(tmp) / f"fuzz{i}.mid"
            path.write_bytes(mutate(originals[source], rng, kind))
            start = time.perf_counter()
            end = outcome(path)
            took = time.perf_counter() - start
            path.unlink()
            ends[kind][end] += 1
            times.append(took)
            if took > 1.0 or end.startswith("bug"):
                slow.append((took, f"{kind} of {seeds[source].name}: {end}"))
    names = ["read", "too long", "too dense", "clear error"]
    bugs = sorted({e for c in ends.values() for e in c if e not in names})
    print(f"{args.files} mutated files from {len(seeds)} seeds (seed {args.seed})\n")
    print("| mutation | " + " | ".join(names + bugs) + " |")
    print("|---|" + "---:|" * (len(names) + len(bugs)))
    for kind in MUTATIONS:
        print(f"| {kind} | " + " | ".join(str(ends[kind][e]) for e in names + bugs) + " |")
    t = np.array(times)
    print(f"\nper file: median {np.median(t) * 1e3:.2f} ms, p99 {np.quantile(t, 0.99) * 1e3:.1f} ms,"
          f" max {t.max() * 1e3:.0f} ms; over 1 s: {int((t > 1).sum())}; "
          f"unclear errors: {sum(ends[k][b] for k in ends for b in bugs)}")
    for took, what in slow[:20]:
        print(f"  {took:.2f} s  {what}")
    print(json.dumps({"files": args.files, "max_s": float(t.max()),
                      "over_1s": int((t > 1).sum()), "bugs": bugs}))
    return 0 if not bugs and not (t > 1).any() else 1


if __name__ == "__main__":
    raise SystemExit(main())
