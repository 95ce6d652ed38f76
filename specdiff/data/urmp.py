"""URMP: ``{NN}_{Piece}_{codes...}/AuMix_*.wav`` with the score ``Sco_*.mid``; each MIDI track
gets the program of the instrument code at its position in the folder name."""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path

import numpy as np

from specdiff.data.example import Example, require_dir, wanted
from specdiff.data.midi import read_midi_notes
from specdiff.data.midi_edit import open_midi, set_programs, voices
from specdiff.errors import SpecdiffError

NAME = "urmp"
# Official program per URMP instrument code (the PyTorch port used 65 for sax).
PROGRAMS = {"vn": 40, "va": 41, "vc": 42, "db": 43, "tpt": 56, "tbn": 57, "tba": 58, "hn": 60,
            "sax": 64, "ob": 68, "bn": 70, "cl": 71, "fl": 73}
VALIDATION_IDS = frozenset({1, 2, 12, 13, 24, 25, 31, 38, 39})  # also the test split


def folder_programs(folder: str) -> tuple[int, ...]:
    """``01_Jupiter_vn_vc`` -> (40, 42). Raises ``SpecdiffError`` for an unknown code."""
    codes = folder.split("_")[2:]
    try:
        return tuple(PROGRAMS[c] for c in codes)
    except KeyError as error:
        raise SpecdiffError(f"{folder}: unknown URMP instrument code {error}") from None


def piece_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and p.name[:2].isdigit() and len(p.name.split("_")) >= 3)


def score_midi(folder: Path) -> Path:
    """The piece's score MIDI (``Sco_*.mid``, else the folder's only ``.mid``)."""
    found = sorted(folder.glob("Sco_*.mid")) or sorted(folder.glob("*.mid"))
    if not found:
        raise SpecdiffError(f"{folder}: no Sco_*.mid score in the URMP piece folder")
    return found[0]


def examples(root: str | Path, splits: Collection[str] | None = None,
             midi_root: str | Path | None = None) -> list[Example]:
    """List URMP pieces. ``midi_root`` holds ``{folder}.mid`` from ``specdiff clean-urmp-midi``
    (programs taken from the file); without it the raw score is read and programs assigned from
    the folder name in memory."""
    root = require_dir(root, NAME)
    keep = wanted(splits)
    out = []
    folders = piece_folders(root)
    if not folders:
        raise SpecdiffError(f"{root}: no URMP piece folders like 01_Jupiter_vn_vc")
    for folder in folders:
        splits_here = (("validation", "test") if int(folder.name[:2]) in VALIDATION_IDS
                       else ("train",))
        mix = sorted(folder.glob("AuMix*.wav"))
        audio = str(mix[0]) if mix else str(folder / f"AuMix_{folder.name}.wav")
        if midi_root is not None:
            notes, programs = str(Path(midi_root) / f"{folder.name}.mid"), ()
        else:
            found = sorted(folder.glob("Sco_*.mid")) or sorted(folder.glob("*.mid"))
            notes = str(found[0]) if found else str(folder / f"Sco_{folder.name}.mid")
            programs = folder_programs(folder.name)
        for split in splits_here:
            if split in keep:
                out.append(Example(NAME, split, folder.name, (audio,), (notes,), programs))
    return out


def load_notes(example: Example) -> np.ndarray:
    """Notes of the cleaned MIDI, or of the raw score re-programmed in memory."""
    if not example.programs:  # cleaned MIDI: programs are in the file
        return read_midi_notes(example.notes[0])
    return read_midi_notes(cleaned_bytes(example.notes[0], example.programs), example.notes[0])


def cleaned_bytes(source: str | Path, programs: tuple[int, ...]) -> bytes:
    """``source`` as MIDI bytes where the i-th voice (track/channel with notes) plays
    ``programs[i]``; every other message is copied as is."""
    midi = open_midi(source)
    found = voices(midi)
    if len(found) != len(programs):
        raise SpecdiffError(f"{source}: {len(found)} note tracks for "
                            f"{len(programs)} instruments in the folder name")
    set_programs(midi, {(t, c): p for (t, c, _), p in zip(found, programs)})
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def clean_midi(source: str | Path, target: str | Path, programs: tuple[int, ...]) -> None:
    """Write ``cleaned_bytes(source, programs)`` to ``target``; ``source`` is never modified."""
    data = cleaned_bytes(source, programs)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
