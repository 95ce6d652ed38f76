"""Torch datasets of training windows: from the cache (fast) or from source files (slow, the
reference for the cache)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from specdiff.data.cache import CacheReader, from_storage, recording_mel, to_storage
from specdiff.data.example import Example, load_notes
from specdiff.data.windows import (
    WindowConfig,
    end_window_start,
    make_sample,
    max_start_frame,
    num_windows,
    slice_frames,
    sum_window,
)


class WindowDataset(Dataset):
    """Random windows of a list of recordings.

    Index ``i`` names chunk k of recording r (``num_windows`` chunks per recording); each access
    draws a random start frame in that chunk's 256-frame span (clipped so the window stays
    inside the recording; ``config.end_windows`` extra chunks per recording start in its last
    256 frames instead), so every epoch sees new windows on the 20 ms grid. The random
    stream is seeded from ``torch.initial_seed()`` (different in every DataLoader worker).

    Subclasses provide ``num_samples(r)``, ``notes(r)``, ``reader(r)`` and ``corpus(r)``.
    """

    config: WindowConfig

    def _build_index(self) -> None:
        counts = [num_windows(self.num_samples(r), self.config) for r in range(self.num_recordings)]
        self.recording_of = np.repeat(np.arange(self.num_recordings), counts)
        self.chunk_of = np.concatenate([np.arange(c) for c in counts]) if counts else np.zeros(0, int)
        self._rng: np.random.Generator | None = None
        self._rng_seed: int | None = None

    def __len__(self) -> int:
        return len(self.recording_of)

    def corpora(self) -> list[str]:
        """Corpus name of every index (for the mixture sampler)."""
        names = [self.corpus(r) for r in range(self.num_recordings)]
        return [names[r] for r in self.recording_of]

    def _random(self) -> np.random.Generator:
        seed = torch.initial_seed()
        if self._rng is None or self._rng_seed != seed:
            self._rng, self._rng_seed = np.random.default_rng(seed % 2**63), seed
        return self._rng

    def start_frame(self, index: int) -> int:
        r, k = int(self.recording_of[index]), int(self.chunk_of[index])
        n, config = self.num_samples(r), self.config
        draw = int(self._random().integers(config.num_frames))
        if k >= num_windows(n, config) - config.end_windows:  # an extra end window
            return end_window_start(n, config, draw)
        return int(min(k * config.num_frames + draw, max_start_frame(n, config)))

    def mel_reader(self, recording: int):
        """``(start_frame, num_frames) -> (num_frames, 128)`` from a whole-recording log-mel,
        or None to compute the log-mel per window."""
        return

    def window(self, recording: int, start_frame: int) -> dict[str, torch.Tensor]:
        """The sample of ``recording`` starting at ``start_frame`` (deterministic)."""
        sample = make_sample(self.reader(recording), self.notes(recording), start_frame,
                             self.config, self.mel_reader(recording))
        sample["recording"] = torch.tensor(recording, dtype=torch.int64)
        return sample

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.window(int(self.recording_of[index]), self.start_frame(index))


class CacheDataset(WindowDataset):
    """Windows from a cache folder (``specdiff prepare``).

    Args:
        cache: the cache folder (or an open ``CacheReader``).
        splits: splits to use, e.g. ``("train",)`` (None: all).
        corpora: corpus names to use (None: all in the cache).
        config: window contents.
        use_mel_store: slice the cache's whole-recording log-mels (``prepare --mel``) when
            present instead of computing a log-mel per window (about 5x faster on a CPU).
    """

    def __init__(self, cache: str | Path | CacheReader, splits: Sequence[str] | None = None,
                 corpora: Sequence[str] | None = None, config: WindowConfig | None = None,
                 use_mel_store: bool = True):
        self.cache = cache if isinstance(cache, CacheReader) else CacheReader(cache)
        self.use_mel_store = use_mel_store
        self.config = config or WindowConfig()
        self.items = self.cache.select(splits, corpora)
        self.num_recordings = len(self.items)
        self._build_index()

    def num_samples(self, r: int) -> int:
        return self.items[r].num_samples

    def corpus(self, r: int) -> str:
        return self.items[r].corpus

    def notes(self, r: int) -> np.ndarray:
        return self.cache.notes(self.items[r])

    def reader(self, r: int):
        item = self.items[r]
        return lambda start, length: self.cache.read_audio(item, start, length)

    def mel_reader(self, r: int):
        item = self.items[r]
        if not (self.use_mel_store and self.cache.has_mel(item)):
            return None
        mel = self.cache.mel(item)
        return lambda start, frames: slice_frames(mel, start, frames)


class SourceDataset(WindowDataset):
    """The same windows computed from the source files on every access (no cache): decode,
    resample and sum the audio files, parse the notes. ``audio_dtype`` applies the cache's
    storage rounding so both datasets agree exactly; ``whole_mel`` computes the log-mel of the
    whole recording and slices it, like a cache with a mel store."""

    def __init__(self, examples: Sequence[Example], config: WindowConfig | None = None,
                 audio_dtype: str = "float32", lengths: Sequence[int] | None = None,
                 whole_mel: bool = False):
        self.examples = list(examples)
        self.whole_mel = whole_mel
        self.config = config or WindowConfig()
        self.audio_dtype = audio_dtype
        self.num_recordings = len(self.examples)
        self._lengths = list(lengths) if lengths is not None else [
            max(len(s) for s in self._sources(r)) for r in range(self.num_recordings)]
        self._build_index()

    def _sources(self, r: int) -> list[np.ndarray]:
        from specdiff.audio import load_audio

        return [to_storage(load_audio(p), self.audio_dtype) for p in self.examples[r].audio]

    def num_samples(self, r: int) -> int:
        return self._lengths[r]

    def corpus(self, r: int) -> str:
        return self.examples[r].corpus

    def notes(self, r: int) -> np.ndarray:
        return load_notes(self.examples[r])

    def reader(self, r: int):
        sources = self._sources(r)
        return lambda start, length: sum_window(sources, start, length, from_storage)

    def mel_reader(self, r: int):
        if not self.whole_mel:
            return None
        length = self.num_samples(r)
        mel = recording_mel(sum_window(self._sources(r), 0, length, from_storage))
        return lambda start, frames: slice_frames(mel, start, frames)
