"""MAESTRO v3 (solo piano): ``maestro-v3.0.0.json`` (or ``.csv``) lists files and splits."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, normalize_split, require_dir, wanted
from specdiff.data.midi import read_midi_notes
from specdiff.data.notes import set_program
from specdiff.errors import SpecdiffError

NAME = "maestro"
PROGRAM = 0  # acoustic grand piano
METADATA = ("maestro-v3.0.0.json", "maestro-v3.0.0.csv")


def _rows(root: Path) -> list[dict[str, str]]:
    json_path, csv_path = (root / name for name in METADATA)
    if json_path.is_file():
        try:
            table = json.loads(json_path.read_text())
            keys = sorted(table["split"], key=int)  # column-wise: {column: {row: value}}
            return [{col: table[col][k] for col in ("split", "audio_filename", "midi_filename")}
                    for k in keys]
        except (ValueError, KeyError, TypeError) as error:
            raise SpecdiffError(f"{json_path}: not a MAESTRO metadata table ({error})") from None
    if csv_path.is_file():
        with csv_path.open(newline="") as f:
            return list(csv.DictReader(f))
    raise SpecdiffError(f"{root}: no {METADATA[0]} or {METADATA[1]} (is this the MAESTRO root?)")


def examples(root: str | Path, splits: Collection[str] | None = None) -> list[Example]:
    """List MAESTRO examples under ``root``; splits come from the metadata's ``split`` column."""
    root = require_dir(root, NAME)
    keep = wanted(splits)
    out = []
    for row in _rows(root):
        split = normalize_split(row["split"])
        if split in keep:
            stem = Path(row["audio_filename"]).with_suffix("").as_posix()
            out.append(Example(NAME, split, stem, (str(root / row["audio_filename"]),),
                               (str(root / row["midi_filename"]),)))
    return out


def load_notes(example: Example) -> np.ndarray:
    """All notes of the MIDI on program 0 (sustain pedal applied)."""
    return set_program(read_midi_notes(example.notes[0]), PROGRAM)
