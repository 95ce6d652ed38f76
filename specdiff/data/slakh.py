"""Slakh2100 (flac redux): ``{split}/TrackNNNNN/{mix.flac, metadata.yaml, stems/Sxx.flac,
MIDI/Sxx.mid}``. Training items are random sub-mixes of the stems plus the Cerberus4
combinations (corpus ``cerberus4``); validation/test items are the full mixes."""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, normalize_split, require_dir, wanted
from specdiff.data.midi import read_midi_notes
from specdiff.data.notes import concat_notes, set_program, trim_overlapping
from specdiff.errors import SpecdiffError

NAME = "slakh"
DRUMS = 128  # program key of drum stems
# Official _SLAKH_CLASS_PROGRAMS values: a GM program maps to the largest value <= it.
CLASS_PROGRAMS = (0, 4, 8, 16, 24, 26, 29, 32, 33, 40, 41, 42, 43, 46, 47, 48, 50, 52, 55, 56,
                  57, 58, 60, 61, 64, 66, 67, 68, 69, 70, 71, 73, 80, 88)
# Cerberus4: (name, GM program range, program used for its notes).
CERBERUS = (("piano", range(8), 0), ("guitar", range(24, 32), 24),
            ("bass", range(32, 40), 32), ("drums", (), DRUMS))
SUBMIXES = 10  # random sub-mixes per training track (official shards: "10 random sub-mixes")
MIN_SUBMIX_PROGRAMS = 4


def class_program(program: int, is_drum: bool = False) -> int:
    """GM program -> Slakh class program (drums -> 128)."""
    if is_drum:
        return DRUMS
    return max(p for p in CLASS_PROGRAMS if p <= program)


def read_stems(track: Path) -> list[tuple[str, int, bool]]:
    """``(stem id, GM program, is_drum)`` of the stems with both audio and MIDI on disk."""
    import yaml

    meta_path = track / "metadata.yaml"
    try:
        meta = yaml.safe_load(meta_path.read_text())
        stems = meta["stems"]
        out = [(sid, int(s.get("program_num", 0)), bool(s.get("is_drum", False)))
               for sid, s in sorted(stems.items())]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise SpecdiffError(f"{meta_path}: not a Slakh metadata.yaml ({error})") from None
    return [s for s in out
            if (track / "stems" / f"{s[0]}.flac").is_file() and (track / "MIDI" / f"{s[0]}.mid").is_file()]


def _example(corpus, split, uid, track: Path, stems, programs, mix=False) -> Example:
    audio = (str(track / "mix.flac"),) if mix else tuple(str(track / "stems" / f"{s}.flac") for s in stems)
    midi = tuple(str(track / "MIDI" / f"{s}.mid") for s in stems)
    return Example(corpus, split, uid, audio, midi, tuple(programs))


def _random_subsets(n: int, k_min: int, count: int, rng: random.Random) -> list[tuple[int, ...]]:
    """Up to ``count`` distinct subsets of range(n) of size >= k_min, uniformly without
    replacement (all of them when there are at most ``count``)."""
    subsets = [c for k in range(k_min, n + 1) for c in itertools.combinations(range(n), k)] \
        if n <= 12 else None
    if subsets is not None:
        return subsets if len(subsets) <= count else rng.sample(subsets, count)
    chosen: set[tuple[int, ...]] = set()
    while len(chosen) < count:  # 2^n is large here, rejection is cheap
        pick = tuple(i for i in range(n) if rng.random() < 0.5)
        if len(pick) >= k_min:
            chosen.add(pick)
    return sorted(chosen)


def track_examples(track: Path, split: str, seed: int = 0,
                   submixes: int = SUBMIXES) -> list[Example]:
    """The Slakh and Cerberus4 examples of one track folder."""
    stems = read_stems(track)
    if not stems:
        return []
    programs = [class_program(p, d) for _, p, d in stems]
    out = []
    ids = [s for s, _, _ in stems]
    if split == "train":
        groups = sorted(set(programs))
        rng = random.Random(zlib.crc32(f"{seed}/{track.name}".encode()))
        k_min = min(MIN_SUBMIX_PROGRAMS, len(groups))
        for subset in _random_subsets(len(groups), k_min, submixes, rng):
            keep = {groups[i] for i in subset}
            sel = [i for i, p in enumerate(programs) if p in keep]
            tag = "-".join(str(groups[i]) for i in subset)
            out.append(_example(NAME, split, f"{track.name}/mix-{tag}", track,
                                [ids[i] for i in sel], [programs[i] for i in sel]))
    else:
        out.append(_example(NAME, split, track.name, track, ids, programs, mix=True))
    # Cerberus4: stems grouped into piano / guitar / bass / drums, notes on fixed programs.
    family = {}
    for i, (_, p, d) in enumerate(stems):
        for name, span, target in CERBERUS:
            if (d and name == "drums") or (not d and p in span):
                family.setdefault(name, []).append((i, target))
    if len(family) == len(CERBERUS):
        names = [c[0] for c in CERBERUS]
        combos = ([c for k in range(1, 5) for c in itertools.combinations(names, k)]
                  if split == "train" else [tuple(names)])
        for combo in combos:
            sel = sorted(x for name in combo for x in family[name])
            out.append(_example("cerberus4", split, f"{track.name}/{'+'.join(combo)}", track,
                                [ids[i] for i, _ in sel], [t for _, t in sel]))
    return out


def examples(root: str | Path, splits: Collection[str] | None = None, seed: int = 0,
             submixes: int = SUBMIXES) -> list[Example]:
    """List Slakh (and Cerberus4) examples of the split folders under ``root``."""
    root = require_dir(root, NAME)
    keep = wanted(splits)
    out = []
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and p.name != "omitted"]
    if not folders:
        raise SpecdiffError(f"{root}: no train/validation/test folders (is this Slakh2100?)")
    for folder in folders:
        try:
            split = normalize_split(folder.name)
        except SpecdiffError:
            continue
        if split not in keep:
            continue
        for track in sorted(p for p in folder.iterdir() if p.is_dir()):
            out.extend(track_examples(track, split, seed, submixes))
    return out


def load_notes(example: Example) -> np.ndarray:
    """Notes of the selected stems (sustain per stem), on their assigned programs, trimmed."""
    parts = []
    for midi, program in zip(example.notes, example.programs):
        parts.append(set_program(read_midi_notes(midi), 0 if program == DRUMS else program,
                                 is_drum=program == DRUMS))
    return trim_overlapping(concat_notes(parts))
