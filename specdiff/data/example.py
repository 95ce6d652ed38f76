"""The shared item type: one example = audio file(s) to sum + where its notes come from."""

from __future__ import annotations

import importlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specdiff.errors import SpecdiffError

SPLITS = ("train", "validation", "test")
_SPLIT_ALIASES = {"val": "validation", "valid": "validation", "dev": "validation"}

# corpus name -> module (in specdiff.data) that lists its examples and loads its notes.
CORPUS_MODULES = {
    "maestro": "maestro",
    "musicnet": "musicnet",
    "guitarset": "guitarset",
    "urmp": "urmp",
    "slakh": "slakh",
    "cerberus4": "slakh",
    "rendered": "rendered",
}


@dataclass(frozen=True)
class Example:
    """One (audio, notes) pair of a corpus.

    Attributes:
        corpus: mixture name (``"maestro"``, ``"slakh"``, ``"cerberus4"``, ...).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        id: unique within the corpus.
        audio: audio files, summed (after conversion to mono 16 kHz) into one signal.
        notes: note source files (MIDI, JAMS, CSV), read by the corpus module's ``load_notes``.
        programs: per-source program assignment (corpus-specific meaning; ``()`` keeps the file's).
    """

    corpus: str
    split: str
    id: str
    audio: tuple[str, ...]
    notes: tuple[str, ...]
    programs: tuple[int, ...] = ()

    def describe(self) -> str:
        return f"{self.corpus}/{self.split}/{self.id}"


def normalize_split(split: str) -> str:
    """Map a split name (and its aliases ``val``/``valid``) to train/validation/test."""
    name = _SPLIT_ALIASES.get(split.strip().lower(), split.strip().lower())
    if name not in SPLITS:
        raise SpecdiffError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return name


def wanted(splits: Collection[str] | None) -> frozenset[str]:
    """The set of normalized splits to keep (all when ``splits`` is None)."""
    return frozenset(SPLITS if splits is None else (normalize_split(s) for s in splits))


def require_dir(root: str | Path, corpus: str) -> Path:
    """Return ``root`` as a Path, or raise a clear error if the corpus folder is missing."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise SpecdiffError(f"{path}: {corpus} folder not found (expected the dataset root)")
    return path


def _module(corpus: str):
    try:
        name = CORPUS_MODULES[corpus.split(":")[0]]  # "rendered:<name>" -> rendered
    except KeyError:
        known = ", ".join(CORPUS_MODULES)
        raise SpecdiffError(f"unknown corpus {corpus!r}: expected one of {known}") from None
    return importlib.import_module(f"specdiff.data.{name}")


def list_examples(
    corpus: str, root: str | Path, splits: Collection[str] | None = None, **options
) -> list[Example]:
    """List a corpus's examples under ``root`` (``corpus`` is a key of ``CORPUS_MODULES``;
    ``"slakh"`` also yields the ``"cerberus4"`` examples)."""
    return _module(corpus).examples(root, splits=splits, **options)


def load_notes(example: Example) -> np.ndarray:
    """The example's notes as a ``NOTE_DTYPE`` array (sustain applied, programs mapped)."""
    return _module(example.corpus).load_notes(example)
