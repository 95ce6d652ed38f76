"""The preprocessed cache: mono 16 kHz audio and note arrays in memory-mappable shards.

Layout of a cache folder:
    cache.json        format, sample rate, audio dtype, counts, problems of the last run
    audio.jsonl       one line per source audio file: path, shard, offset, length (samples)
    items.jsonl       one line per example: corpus, split, id, audio (indices into audio.jsonl,
                      summed), notes offset/count in notes.bin, num_samples
    audio-NNN.bin     raw audio samples (``audio_dtype``), concatenated
    notes.bin         raw ``NOTE_DTYPE`` records, concatenated
    mel.jsonl, mel-NNN.bin   optional (``prepare --mel``): each example's whole-recording
                      log-mel scaled to [-1, 1], float16 (T, 128) frames, so training windows
                      need no STFT
Each audio file is stored once even when several examples use it (Slakh stems are shared by the
sub-mixes and the Cerberus4 combinations).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from specdiff.data.notes import NOTE_DTYPE
from specdiff.data.windows import sum_window
from specdiff.errors import SpecdiffError

FORMAT = "specdiff-cache-1"
SAMPLE_RATE = 16000
AUDIO_DTYPES = {"float32": np.float32, "int16": np.int16}
INT16_SCALE = 32767.0
MEL_DTYPE = np.float16


def to_storage(audio: np.ndarray, dtype: str) -> np.ndarray:
    """float32 samples -> the stored representation (int16: clipped, rounded)."""
    if dtype == "float32":
        return np.ascontiguousarray(audio, np.float32)
    return np.round(np.clip(audio, -1.0, 1.0) * INT16_SCALE).astype(np.int16)


def from_storage(stored: np.ndarray) -> np.ndarray:
    """Stored samples -> float32."""
    if stored.dtype == np.int16:
        return stored.astype(np.float32) / INT16_SCALE
    return np.asarray(stored, np.float32)


@dataclass(frozen=True)
class CacheItem:
    """One example in the cache."""

    index: int
    corpus: str
    split: str
    id: str
    audio: tuple[int, ...]
    num_samples: int
    notes_offset: int
    num_notes: int


def read_jsonl(path: Path) -> list[dict]:
    """Lines of a JSON-lines file; a final line cut by an interrupted run is ignored."""
    if not path.is_file():
        return []
    out = []
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            if n != len(lines) - 1:
                raise SpecdiffError(f"{path}:{n + 1}: corrupt line in the cache index") from None
    return out


class CacheReader:
    """Random access to a cache folder; shards are memory-mapped lazily (per process, so it is
    safe to use from DataLoader workers).

    Args:
        root: the cache folder written by ``prepare_cache``.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / "cache.json"
        if not meta_path.is_file():
            raise SpecdiffError(f"{self.root}: not a specdiff cache (no cache.json; run "
                                "`specdiff prepare`)")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT:
            raise SpecdiffError(f"{meta_path}: format {self.meta.get('format')!r}, expected "
                                f"{FORMAT!r}")
        self.audio_dtype = np.dtype(AUDIO_DTYPES[self.meta["audio_dtype"]])
        self.audio_table = read_jsonl(self.root / "audio.jsonl")
        self.items = [CacheItem(i, d["corpus"], d["split"], d["id"], tuple(d["audio"]),
                                d["num_samples"], d["notes_offset"], d["num_notes"])
                      for i, d in enumerate(read_jsonl(self.root / "items.jsonl"))]
        self.mel_table = {d["item"]: d for d in read_jsonl(self.root / "mel.jsonl")}
        self._maps: dict[str, np.ndarray] = {}

    def _map(self, name: str, dtype) -> np.ndarray:
        if name not in self._maps:
            path = self.root / name
            self._maps[name] = (np.memmap(path, dtype=dtype, mode="r")
                                if path.stat().st_size else np.zeros(0, dtype))
        return self._maps[name]

    def __getstate__(self):  # memmaps are reopened in each worker
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state

    def select(self, splits=None, corpora=None) -> list[CacheItem]:
        """Items of the given splits / corpora (all when None)."""
        return [it for it in self.items
                if (splits is None or it.split in splits)
                and (corpora is None or it.corpus in corpora)]

    def notes(self, item: CacheItem) -> np.ndarray:
        """The example's notes, ``NOTE_DTYPE`` (a copy)."""
        notes = self._map("notes.bin", NOTE_DTYPE)
        return np.array(notes[item.notes_offset: item.notes_offset + item.num_notes])

    def read_audio(self, item: CacheItem, start: int, length: int) -> np.ndarray:
        """Samples [start, start + length) of the example (sum of its audio files) as float32,
        zeros outside the recording."""
        sources = []
        for a in item.audio:
            entry = self.audio_table[a]
            data = self._map(entry["shard"], self.audio_dtype)
            sources.append(data[entry["offset"]: entry["offset"] + entry["length"]])
        return sum_window(sources, start, length, from_storage)

    def has_mel(self, item: CacheItem) -> bool:
        return item.index in self.mel_table

    def mel(self, item: CacheItem) -> np.ndarray:
        """The example's whole-recording scaled log-mel, float16 ``(T, n_mels)`` in [-1, 1]
        (memory-mapped)."""
        entry = self.mel_table[item.index]
        data = self._map(entry["shard"], MEL_DTYPE)
        n_mels = entry["n_mels"]
        flat = data[entry["offset"] * n_mels: (entry["offset"] + entry["frames"]) * n_mels]
        return flat.reshape(entry["frames"], n_mels)


def recording_mel(audio: np.ndarray) -> np.ndarray:
    """Whole-recording log-mel as stored in the cache, already scaled to [-1, 1]
    (``specdiff.audio.scale_mel``): float16 ``(ceil(n / 320), 128)``."""
    from specdiff.audio import log_mel, scale_mel

    with torch.inference_mode():
        mel = scale_mel(log_mel(torch.from_numpy(np.ascontiguousarray(audio, np.float32))))
        return mel.numpy().astype(MEL_DTYPE)
