"""MIDI source: random chord charts played by Debian ``mma`` (Musical MIDI Accompaniment)
across its library grooves -> multi-track MIDI (drums, bass, piano, guitar, strings, ...)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

from specdiff.data.problems import Problems
from specdiff.errors import SpecdiffError

LIBRARY = Path("/usr/share/mma/lib/stdlib")
KEYS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Progressions as (semitones above the key, chord suffix) per bar.
PROGRESSIONS = (
    ((0, ""), (9, "m"), (5, ""), (7, "7")),                     # I vi IV V7
    ((2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")),            # ii V I
    ((0, ""), (5, ""), (0, ""), (7, "7")),                      # I IV I V
    ((0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7"),
     (7, "7"), (5, "7"), (0, "7"), (7, "7")),                   # 12-bar blues
    ((0, "m"), (5, "m"), (7, "7"), (0, "m")),                   # i iv V i
    ((0, "m7"), (10, ""), (8, "maj7"), (7, "7")),               # i bVII bVI V
    ((0, "maj7"), (4, "m7"), (9, "m7"), (2, "m7"), (7, "7")),   # I iii vi ii V
    ((0, ""), (7, ""), (9, "m"), (5, "")),                      # I V vi IV
)
_SKIP = re.compile(r"(intro|end|fill|break)", re.IGNORECASE)


def grooves(library: Path = LIBRARY) -> list[str]:
    """Names of the playable grooves defined in mma's standard library (intros/endings and
    fills left out), sorted."""
    names = set()
    for path in sorted(library.glob("*.mma")):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].lower() == "defgroove" and not _SKIP.search(parts[1]):
                names.add(parts[1])
    return sorted(names, key=str.lower)


def chart(groove: str, rng: random.Random, bars: int = 24) -> str:
    """An mma chord chart: tempo, groove, then ``bars`` bars of a transposed progression."""
    key = rng.randrange(12)
    progression = rng.choice(PROGRESSIONS)
    lines = [f"Tempo {rng.randint(70, 160)}", f"Groove {groove}"]
    for bar in range(bars):
        shift, suffix = progression[bar % len(progression)]
        lines.append(f"{bar + 1} {KEYS[(key + shift) % 12]}{suffix}")
    return "\n".join(lines) + "\n"


def generate_mma(out_dir: str | Path, count: int, seed: int = 0, bars: int = 24,
                 problems: Problems | None = None, progress: bool = True,
                 timeout: float = 60.0) -> int:
    """Write ``count`` songs ``out_dir/<groove>-<n>.mid``, cycling through all grooves (so
    ``count >= len(grooves())`` covers every style). Existing files are kept. Returns the number
    of files; grooves that mma fails on are reported and skipped."""
    from tqdm import tqdm

    if shutil.which("mma") is None:
        raise SpecdiffError("mma: command not found (install the Debian package `mma`)")
    styles = grooves()
    if not styles:
        raise SpecdiffError(f"{LIBRARY}: no mma grooves found")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = problems if problems is not None else Problems()
    order = random.Random(seed).sample(styles, len(styles))
    written = 0
    with tempfile.TemporaryDirectory(prefix="specdiff-mma-") as tmp:
        for n in tqdm(range(count), disable=not progress, desc="mma", unit="song"):
            groove = order[n % len(order)]
            name = f"{groove.lower()}-{n // len(order):03d}"
            target = out_dir / f"{name}.mid"
            if target.is_file():
                written += 1
                continue
            rng = random.Random(zlib.crc32(f"{seed}/{name}".encode()))
            source = Path(tmp) / f"{name}.mma"
            source.write_text(chart(groove, rng, bars))
            partial = Path(tmp) / f"{name}.mid"
            try:
                result = subprocess.run(["mma", "-f", str(partial), str(source)],
                                        capture_output=True, text=True, timeout=timeout,
                                        check=False)
            except subprocess.TimeoutExpired:
                problems.add("mma failed", name, f"timed out after {timeout:.0f} s")
                continue
            if result.returncode != 0 or not partial.is_file():
                lines = (result.stdout + result.stderr).strip().splitlines()
                problems.add("mma failed", name, lines[-1] if lines else f"exit {result.returncode}")
                continue
            shutil.move(str(partial), target)
            written += 1
    return written
