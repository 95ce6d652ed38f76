"""MusicNet: ``{train,test}_data/{id}.wav`` with ``{train,test}_labels/{id}.csv`` (or
``*_labels_midi/{id}.mid``), pooled and re-split by id (MT3's ReconVAT ids)."""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, require_dir, wanted
from specdiff.data.midi import read_midi_notes
from specdiff.data.notes import NOTE_DTYPE, sort_notes
from specdiff.errors import SpecdiffError

NAME = "musicnet"
LABEL_RATE = 44100  # label times are sample indices at 44.1 kHz
VELOCITY = 100  # MusicNet has no velocities
VALIDATION_IDS = frozenset({2336, 2466, 2160, 1818, 1733, 1765, 2198, 2300, 2308, 2477, 2611,
                            2289, 1790, 2315, 2504})
TEST_IDS = frozenset({2118, 2501, 1813, 1729, 1893, 2296, 1776, 2487, 2537, 2186, 2431, 2432,
                      2497, 2621, 2507})


def split_of(track_id: int) -> str:
    return ("validation" if track_id in VALIDATION_IDS
            else "test" if track_id in TEST_IDS else "train")


def examples(root: str | Path, splits: Collection[str] | None = None) -> list[Example]:
    """List MusicNet examples; a wav without labels (CSV or MIDI) is left out with a warning."""
    root = require_dir(root, NAME)
    keep = wanted(splits)
    out = []
    for part in ("train", "test"):
        for wav in sorted((root / f"{part}_data").glob("*.wav")):
            if not wav.stem.isdigit():
                continue
            split = split_of(int(wav.stem))
            if split not in keep:
                continue
            labels = root / f"{part}_labels" / f"{wav.stem}.csv"
            if not labels.is_file():
                labels = root / f"{part}_labels_midi" / f"{wav.stem}.mid"
            out.append(Example(NAME, split, wav.stem, (str(wav),), (str(labels),)))
    if not out and not any((root / f"{p}_data").is_dir() for p in ("train", "test")):
        raise SpecdiffError(f"{root}: no train_data/ or test_data/ folder (is this MusicNet?)")
    return out


def read_labels(path: str | Path) -> np.ndarray:
    """Parse a MusicNet label CSV (start_time,end_time,instrument,note,...; times in 44.1 kHz
    samples; instrument = 1-based GM program) into ``NOTE_DTYPE`` notes."""
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = [(int(r["start_time"]) / LABEL_RATE, int(r["end_time"]) / LABEL_RATE,
                     int(r["note"]), VELOCITY, int(r["instrument"]) - 1, False)
                    for r in csv.DictReader(f)]
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise SpecdiffError(f"{path}: not a MusicNet label CSV ({error})") from None
    notes = np.array(rows, dtype=NOTE_DTYPE)
    return sort_notes(notes[notes["end"] > notes["start"]])


def load_notes(example: Example) -> np.ndarray:
    source = Path(example.notes[0])
    if source.suffix == ".csv":
        return read_labels(source)
    return read_midi_notes(source)
