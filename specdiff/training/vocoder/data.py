"""Vocoder training data: random windows of ``specdiff render`` corpora, one batch per step.

Training batch k is drawn from ``default_rng([seed, k * world_size + rank])``: it depends on
the step, not on what came before, so a resumed run (``--ckpt_path``) sees the batches of an
uninterrupted one. Validation is a fixed set of windows (``VAL_SEED``), the same in every run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset, Sampler

from specdiff.audio.mel import HOP_LENGTH, log_mel

#: seed of the validation windows: fixed, so runs are comparable
VAL_SEED = 1234
#: windows per validation batch
VAL_BATCH = 8


class AudioPool:
    """Every file of one split of ``specdiff render`` corpora, held in memory as int16.

    Args:
        roots: corpus folders with ``manifest.jsonl``.
        split: "train", "validation" or "test".
    """

    def __init__(self, roots: list[str | Path], split: str):
        import soundfile as sf

        self.audio: list[np.ndarray] = []
        self.names: list[str] = []
        for root in map(Path, roots):
            manifest = root / "manifest.jsonl"
            if not manifest.is_file():
                raise ValueError(f"{manifest}: not found (expected a `specdiff render` corpus)")
            for line in manifest.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                path = root / entry["audio"]
                if entry["split"] != split or not path.is_file():
                    continue
                self.audio.append(sf.read(str(path), dtype="int16")[0])
                self.names.append(entry["id"])
        if not self.audio:
            raise ValueError(f"no {split} audio in {[str(r) for r in roots]}")
        lengths = np.array([len(a) for a in self.audio], float)
        self.weights = lengths / lengths.sum()

    @property
    def hours(self) -> float:
        return sum(len(a) for a in self.audio) / 16000 / 3600

    def window(self, samples: int, rng: np.random.Generator, min_rms: float,
               tries: int = 8) -> np.ndarray:
        """A random (samples,) float32 window (zero padded if the file is shorter), preferring
        windows louder than ``min_rms``."""
        for _ in range(tries):
            audio = self.audio[rng.choice(len(self.audio), p=self.weights)]
            start = int(rng.integers(0, max(1, len(audio) - samples + 1)))
            chunk = audio[start : start + samples].astype(np.float32) / 32768.0
            chunk = np.pad(chunk, (0, samples - len(chunk)))
            if np.sqrt(np.mean(chunk**2)) >= min_rms:
                break
        return chunk


def make_batch(pool: AudioPool, frames: int, batch: int, rng: np.random.Generator,
               min_rms: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mel (B, frames, 128), audio (B, frames * 320)).

    The mel is taken from ``frames + 1`` frames of audio so that the last frame sees real signal
    (as inside a long file), then cut to ``frames``.
    """
    chunks = np.stack([pool.window((frames + 1) * HOP_LENGTH, rng, min_rms)
                       for _ in range(batch)])
    audio = torch.from_numpy(chunks)
    mel = log_mel(audio)[:, :frames]  # (B, frames, 128)
    return mel, audio[:, : frames * HOP_LENGTH]


class StepBatches(Dataset):
    """Item ``position`` is the training batch at that place in the stream: ``make_batch`` with
    ``default_rng([seed, position])``."""

    def __init__(self, pool: AudioPool, frames: int, batch_size: int, min_rms: float, seed: int):
        self.pool, self.frames, self.batch_size = pool, frames, batch_size
        self.min_rms, self.seed = min_rms, seed

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, position])
        return make_batch(self.pool, self.frames, self.batch_size, rng, self.min_rms)


class StepPositions(Sampler[int]):
    """The endless stream positions of process ``rank`` of ``world_size`` from step ``start``:
    ``k * world_size + rank`` for k = start, start + 1, ..."""

    def __init__(self, start: int = 0, rank: int = 0, world_size: int = 1):
        self.start, self.rank, self.world_size = start, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start * self.world_size + self.rank, self.world_size)


class VocoderDataModule(pl.LightningDataModule):
    """Windows of rendered audio for ``VocoderModule``: batches of (mel (B, T, 128), audio
    (B, T * 320)).

    Args:
        corpus: a ``specdiff render`` corpus folder (with ``manifest.jsonl``), or a list of
            them; training uses their ``train`` split, validation their ``validation`` split.
        segment_frames: T of a training window (frames of 320 samples).
        batch_size: training windows per process and step.
        min_rms: windows quieter than this are redrawn (up to 8 times).
        val_windows: validation windows (batches of ``VAL_BATCH``; at least one batch).
        val_frames: T of a validation window.
        seed: seeds the training stream (see the module docstring).
        num_workers: DataLoader workers drawing training batches.
    """

    def __init__(self, corpus: str | list[str], segment_frames: int = 64, batch_size: int = 16,
                 min_rms: float = 1e-3, val_windows: int = 32, val_frames: int = 128,
                 seed: int = 0, num_workers: int = 0):
        super().__init__()
        self.roots = [corpus] if isinstance(corpus, str) else list(corpus)
        self.segment_frames, self.batch_size, self.min_rms = segment_frames, batch_size, min_rms
        self.val_windows, self.val_frames = val_windows, val_frames
        self.seed, self.num_workers = seed, num_workers
        self.train_pool: AudioPool | None = None
        self.val_batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_pool is None:
            self.train_pool = AudioPool(self.roots, "train")
            rank_zero_info(f"vocoder data: train {len(self.train_pool.audio)} files, "
                           f"{self.train_pool.hours:.2f} h")
        if stage in ("fit", "validate") and self.val_batches is None:
            self.val_batches = validation_batches(AudioPool(self.roots, "validation"),
                                                  self.val_windows, self.val_frames, self.min_rms)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        # the global step is restored from the checkpoint before the loaders are built
        start, rank, world = (0, 0, 1) if trainer is None else (
            trainer.global_step, trainer.global_rank, trainer.world_size)
        batches = StepBatches(self.train_pool, self.segment_frames, self.batch_size,
                              self.min_rms, self.seed)
        return DataLoader(batches, batch_size=None, sampler=StepPositions(start, rank, world),
                          num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_batches, batch_size=None)


def validation_batches(pool: AudioPool, windows: int, frames: int, min_rms: float
                       ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``max(1, windows // VAL_BATCH)`` batches of ``VAL_BATCH`` windows of ``frames`` frames,
    drawn in turn from one ``default_rng(VAL_SEED)``."""
    rng = np.random.default_rng(VAL_SEED)
    return [make_batch(pool, frames, VAL_BATCH, rng, min_rms)
            for _ in range(max(1, windows // VAL_BATCH))]
