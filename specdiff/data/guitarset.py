"""GuitarSet: ``annotation/*.jams`` (six ``note_midi`` annotations, one per string) with
``audio_mono-mic/{title}_mic.wav``; split by chord progression (1, 2 train; 3 validation/test)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, require_dir, wanted
from specdiff.data.notes import NOTE_DTYPE, sort_notes
from specdiff.errors import SpecdiffError

NAME = "guitarset"
PROGRAM = 24  # official: 'Clean Guitar' -> 24 (the PyTorch port used 25)
VELOCITY = 100
AUDIO_DIR, AUDIO_SUFFIX = "audio_mono-mic", "_mic.wav"


def progression(title: str) -> int:
    """``00_BN1-129-Eb_comp`` -> 1 (the character before the first ``-``)."""
    return int(title.split("-", 1)[0][-1])


def splits_of(title: str) -> tuple[str, ...]:
    return ("train",) if progression(title) in (1, 2) else ("validation", "test")


def examples(root: str | Path, splits: Collection[str] | None = None) -> list[Example]:
    root = require_dir(root, NAME)
    if not (root / "annotation").is_dir():
        raise SpecdiffError(f"{root}: no annotation/ folder (is this GuitarSet?)")
    keep = wanted(splits)
    out = []
    for jams in sorted((root / "annotation").glob("*.jams")):
        title = jams.stem
        audio = root / AUDIO_DIR / f"{title}{AUDIO_SUFFIX}"
        for split in splits_of(title):
            if split in keep:
                out.append(Example(NAME, split, title, (str(audio),), (str(jams),)))
    return out


def read_jams(path: str | Path, program: int = PROGRAM) -> np.ndarray:
    """All ``note_midi`` observations of a JAMS file as notes (pitch rounded to an integer)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        rows = []
        for ann in doc["annotations"]:
            if ann.get("namespace") != "note_midi":
                continue
            data = ann["data"]
            if isinstance(data, dict):  # column-wise serialisation
                data = [dict(zip(data, v)) for v in zip(*data.values())]
            for obs in data:
                start = float(obs["time"])
                rows.append((start, start + float(obs["duration"]), round(float(obs["value"])),
                             VELOCITY, program, False))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SpecdiffError(f"{path}: not a GuitarSet JAMS file ({error})") from None
    notes = np.array(rows, dtype=NOTE_DTYPE)
    return sort_notes(notes[notes["end"] > notes["start"]])


def load_notes(example: Example) -> np.ndarray:
    return read_jams(example.notes[0])
