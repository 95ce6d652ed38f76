#!/usr/bin/env python
"""Build the rendered training corpus of the built-in model (issue 7), reproducibly.

Generates MIDI with ``specdiff midi-sources`` (music21 scores, mma grooves with drums,
procedural parts and drum kits), renders every piece once with FluidR3_GM and a random GM
program per voice (``specdiff render --random-programs``), splits train/validation/test by piece
(a hash of the piece id, so a test piece is never heard in training), writes ``stats.json`` and
then a training cache with ``specdiff prepare --mel``.

    python scripts/build_corpus.py corpus --hours 3

The size is set by ``--hours``: the piece counts per source follow from measured average
durations (music21 ~40 s, mma ~50 s, procedural ~20 s) and the ``--mix`` fractions. Every step
is resumable: existing MIDI files, rendered audio and cached examples are kept.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# Mean seconds per piece, measured on the built-in model's corpus (docs/builtin_model.md).
MEAN_SECONDS = {"music21": 40.0, "mma": 50.0, "procedural": 20.0}


def specdiff(*args: str, nice: int) -> None:
    exe = shutil.which("specdiff") or str(Path(sys.executable).with_name("specdiff"))
    cmd = ["nice", "-n", str(nice), exe, *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def counts_for(hours: float, mix: dict[str, float]) -> dict[str, int]:
    """Pieces per source so that each source contributes ``mix[source] * hours``."""
    total = sum(mix.values())
    return {s: max(1, math.ceil(hours * 3600 * mix[s] / total / MEAN_SECONDS[s])) for s in mix}


def corpus_stats(rendered: Path) -> dict:
    """Hours, files, programs and drum coverage per split of a ``specdiff render`` corpus."""
    entries = {}
    for line in (rendered / "manifest.jsonl").read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (rendered / entry["audio"]).is_file():
            entries[entry["id"]] = entry
    stats: dict = {"splits": {}}
    for split in ("train", "validation", "test"):
        chosen = [e for e in entries.values() if e["split"] == split]
        programs = Counter(p for e in chosen for p in e["programs"])
        stats["splits"][split] = {
            "files": len(chosen),
            "hours": round(sum(e["duration"] for e in chosen) / 3600, 3),
            "files_with_drums": sum(bool(e["drums"]) for e in chosen),
            "programs_covered": len(programs),
            "by_source": dict(Counter(e["id"].split("/")[0] for e in chosen)),
        }
    every = Counter(p for e in entries.values() for p in e["programs"])
    stats["files"] = len(entries)
    stats["hours"] = round(sum(e["duration"] for e in entries.values()) / 3600, 3)
    stats["programs_covered"] = len(every)
    stats["programs_missing"] = sorted(set(range(112)) - set(every))
    stats["files_with_drums"] = sum(bool(e["drums"]) for e in entries.values())
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="corpus root (midi/, rendered/, cache/, stats.json)")
    p.add_argument("--hours", type=float, default=3.0, help="target audio hours (default 3)")
    p.add_argument("--mix", default="music21=0.4,mma=0.35,procedural=0.25",
                   help="share of the hours per source (default %(default)s)")
    p.add_argument("--soundfont", default=FLUIDR3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="parallel renders / prepare workers")
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--no-cache", action="store_true", help="skip `specdiff prepare`")
    args = p.parse_args(argv)

    if not Path(args.soundfont).is_file():
        sys.exit(f"{args.soundfont}: SoundFont not found (Debian: apt-get install "
                 "fluid-soundfont-gm)")
    mix = {k: float(v) for k, v in (item.split("=") for item in args.mix.split(","))}
    counts = counts_for(args.hours, mix)
    print(f"target {args.hours} h -> pieces {counts}", flush=True)
    start = time.time()
    midi = args.out / "midi"
    for source, count in counts.items():
        specdiff("midi-sources", source, str(midi / source), "--count", str(count),
                 "--seed", str(args.seed), "--no-progress", nice=args.nice)
    rendered = args.out / "rendered"
    # Ids are "<source>/<piece>", so the split (a hash of the id) is per piece.
    specdiff("render", str(midi), "-o", str(rendered), "--soundfont", args.soundfont,
             "--random-programs", "--seed", str(args.seed), "--jobs", str(args.jobs),
             "--no-progress", nice=args.nice)
    stats = corpus_stats(rendered)
    stats.update(command=" ".join(sys.argv), counts=counts,
                 soundfont=Path(args.soundfont).name)
    if not args.no_cache:
        specdiff("prepare", str(args.out / "cache"), "--rendered", str(rendered), "--mel",
                 "--jobs", str(args.jobs), "--no-progress", nice=args.nice)
    stats["build_seconds"] = round(time.time() - start)
    (args.out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps({k: v for k, v in stats.items() if k != "splits"}), flush=True)
    for split, s in stats["splits"].items():
        print(split, json.dumps(s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
