"""A corpus rendered by ``specdiff render``: ``manifest.jsonl`` lines with audio, MIDI, split."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, normalize_split, require_dir, wanted
from specdiff.data.midi import read_midi_notes
from specdiff.errors import SpecdiffError

NAME = "rendered"
MANIFEST = "manifest.jsonl"


def read_manifest(root: Path) -> list[dict]:
    """Manifest entries of a rendered corpus (later lines win for a repeated id)."""
    path = root / MANIFEST
    if not path.is_file():
        raise SpecdiffError(f"{root}: no {MANIFEST} (render a corpus with `specdiff render`)")
    entries: dict[str, dict] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entries[entry["id"]] = entry
        except (ValueError, KeyError, TypeError) as error:
            raise SpecdiffError(f"{path}:{n}: not a manifest line ({error})") from None
    return list(entries.values())


def examples(root: str | Path, splits: Collection[str] | None = None,
             name: str = NAME) -> list[Example]:
    """List a rendered corpus; ``name`` sets the corpus name used for mixture weights."""
    root = require_dir(root, NAME)
    keep = wanted(splits)
    out = []
    for entry in read_manifest(root):
        split = normalize_split(entry["split"])
        if split in keep:
            out.append(Example(name if name == NAME else f"{NAME}:{name}", split, entry["id"],
                               (str(root / entry["audio"]),), (str(root / entry["midi"]),)))
    return out


def load_notes(example: Example) -> np.ndarray:
    return read_midi_notes(example.notes[0])
