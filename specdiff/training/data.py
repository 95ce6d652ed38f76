"""The DataModule: batches of training samples with an exactly resumable, rank-aware sampling order.

A training sample is a dict (the contract with ``specdiff.data``'s datasets):

* ``tokens``: (L,) int64 token ids of the segment, 0 = PAD, L <= 2048 (padded per batch here);
* ``target``: (T, n_mels) float32 log-mel of the 5.12 s window, scaled to [-1, 1] (T = 256);
* ``context``: (T_c, n_mels) float32 scaled log-mel of the 256 frames before it (optional);
* ``context_mask``: (T_c,) bool, False for frames before the start of the piece (optional).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack samples; tokens are right-padded with 0 to the longest in the batch.

    Returns:
        ``tokens`` (B, L) int64, ``target`` (B, T, C) float32 and, when the samples have them,
        ``context`` (B, T_c, C) float32 and ``context_mask`` (B, T_c) bool (all True if absent).
        Any other tensor-like key with equal shapes is stacked as well.
    """
    tokens = [torch.as_tensor(np.asarray(s["tokens"]), dtype=torch.int64).reshape(-1) for s in samples]
    length = max(1, max(len(t) for t in tokens))
    batch: dict[str, torch.Tensor] = {"tokens": torch.zeros(len(samples), length, dtype=torch.int64)}
    for i, t in enumerate(tokens):
        batch["tokens"][i, : len(t)] = t
    for key in samples[0]:
        if key == "tokens":
            continue
        values = [s[key] for s in samples]
        if isinstance(values[0], (str, bytes)) or values[0] is None:
            continue
        tensor = torch.stack([torch.as_tensor(np.asarray(v)) for v in values])
        batch[key] = tensor.bool() if key == "context_mask" else (
            tensor.float() if tensor.is_floating_point() else tensor)
    if "context" in batch and "context_mask" not in batch:
        batch["context_mask"] = torch.ones(batch["context"].shape[:2], dtype=torch.bool)
    return batch


class ResumableSampler(Sampler[int]):
    """An endless stream of dataset indices: seeded permutations, one after another.

    The global stream is the concatenation of ``randperm(n)`` drawn with seeds ``seed, seed + 1, ...``;
    process ``rank`` of ``world_size`` takes positions ``rank, rank + world_size, ...`` of it, starting
    after ``start`` positions per process. So the order depends only on (seed, n, world_size), and a
    resumed run continues exactly where the checkpoint left it.

    Iterating yields dataset indices; `keyed` yields ``(index, position)`` pairs, the position in
    the global stream keying any per-sample randomness (see `KeyedDataset`).
    """

    def __init__(self, size: int, seed: int = 0, start: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True):
        if size <= 0:
            raise ValueError("the training dataset is empty")
        self.size, self.seed, self.start = size, seed, start
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle

    def order(self, cycle: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + cycle))

    def keyed(self) -> Iterator[tuple[int, int]]:
        position = self.start * self.world_size + self.rank  # in the global stream
        cycle, offset = divmod(position, self.size)
        order = self.order(cycle)
        while True:
            yield int(order[offset]), position
            position += self.world_size
            offset += self.world_size
            while offset >= self.size:
                offset -= self.size
                cycle += 1
                order = self.order(cycle)

    def __iter__(self) -> Iterator[int]:
        return (index for index, _ in self.keyed())


class _KeyedSampler(Sampler):
    def __init__(self, sampler: ResumableSampler):
        self.sampler = sampler

    def __iter__(self):
        return self.sampler.keyed()


class KeyedDataset(Dataset):
    """Makes a dataset's random choices a function of the sample's stream position (exact resume).

    ``specdiff.data``'s window datasets draw each window's start (and a mixture its recording)
    from a per-process generator; here those draws come from ``default_rng([seed, position])``
    instead, so sample k of the stream is the same in a resumed run, in every worker layout.
    Other datasets are indexed as they are.

    Item keys: ``(index, position)`` pairs (see `ResumableSampler.keyed`) or plain indices (then
    the position is the index: validation and test are fixed).
    """

    def __init__(self, dataset: Dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        index, position = key if isinstance(key, tuple) else (key, key)
        from specdiff.data import MixtureDataset, WindowDataset

        base = self.dataset
        if not isinstance(base, (MixtureDataset, WindowDataset)):
            return base[index]
        rng = np.random.default_rng([self.seed, position])
        if isinstance(base, MixtureDataset):
            members = base.members[base.corpus_of(index)]
            index = members[int(rng.integers(len(members)))]
            base = base.dataset
        return window_at(base, index, rng)


def window_at(dataset, index: int, rng: np.random.Generator) -> dict:
    """Sample ``index`` of a ``specdiff.data.WindowDataset`` with its start frame drawn from ``rng``
    (uniform in the chunk's span, clipped to the recording, as the dataset itself draws it)."""
    from specdiff.data.windows import max_start_frame

    r, k = int(dataset.recording_of[index]), int(dataset.chunk_of[index])
    frames = dataset.config.num_frames
    top = max_start_frame(dataset.num_samples(r), dataset.config)
    return dataset.window(r, int(min(k * frames + rng.integers(frames), top)))


class SpecdiffDataModule(pl.LightningDataModule):
    """Training, validation and test datasets behind resumable loaders.

    The datasets are either built from a preprocessed cache (``specdiff prepare``) or given
    directly (any dataset of sample dicts, by ``class_path`` in the YAML config).

    Args:
        cache: the cache folder; the training set is then a ``specdiff.data.MixtureDataset`` over
            its ``train`` split, validation and test its ``validation`` / ``test`` splits (test
            samples also carry the window's ``audio``, the reference of ``specdiff test``'s
            evaluation; training and validation read log-mel only).
        corpora: corpus names to use from the cache (None: all).
        context: samples carry the previous 256 frames (for models with context).
        mixture_exponent, mixture_overrides: corpus weights (``specdiff.data.corpus_weights``).
        epoch_length: indices of the training mixture per permutation (None: windows in the cache).
        train, val, test: datasets of sample dicts (see the module docstring) used instead of
            the cache's.
        batch_size: samples per process and step.
        num_workers: DataLoader workers.
        seed: seeds the sampling order (see `ResumableSampler`).
        shuffle: shuffle the training stream (False: dataset order, for tests).
        val_batches: validation batches per validation run (a fixed, deterministic subset).
        test_batches: test batches (None: the whole test set).
        past_end: training windows may run past the end of their recording into silence
            (``specdiff.data.WindowConfig.past_end``); validation and test windows never do.
        end_windows: with ``past_end``, extra training windows per recording that all run
            past its end (``specdiff.data.WindowConfig.end_windows``).

    The number of training batches consumed is part of the checkpoint, so ``--ckpt_path`` resumes the
    sample stream where it stopped.
    """

    def __init__(self, cache: str | None = None, corpora: list[str] | None = None,
                 context: bool = True, mixture_exponent: float = 0.3,
                 mixture_overrides: dict[str, float] | None = None, epoch_length: int | None = None,
                 train: Dataset | None = None, val: Dataset | None = None,
                 test: Dataset | None = None, batch_size: int = 8, num_workers: int = 0,
                 seed: int = 0, shuffle: bool = True, val_batches: int = 8,
                 test_batches: int | None = None, past_end: bool = False,
                 end_windows: int = 0):
        super().__init__()
        self.cache, self.corpora, self.context = cache, corpora, context
        self.mixture_exponent, self.mixture_overrides = mixture_exponent, mixture_overrides
        self.epoch_length = epoch_length
        self.train, self.val, self.test = train, val, test
        self.batch_size, self.num_workers, self.seed, self.shuffle = batch_size, num_workers, seed, shuffle
        self.val_batches, self.test_batches = val_batches, test_batches
        self.past_end, self.end_windows = past_end, end_windows
        self.batches_seen = 0

    def setup(self, stage: str) -> None:
        if self.cache is None:
            return
        from specdiff.data import CacheDataset, CacheReader, MixtureDataset, WindowConfig

        reader = CacheReader(self.cache)

        def split(name: str):
            # test samples also carry the window's audio: the reference of the evaluation
            features = "both" if name == "test" else "mel"
            config = WindowConfig(context=self.context, features=features,
                                  past_end=self.past_end and name == "train",
                                  end_windows=self.end_windows if name == "train" else 0)
            dataset = CacheDataset(reader, [name], self.corpora, config)
            return dataset if len(dataset) else None

        if self.train is None and stage == "fit":
            windows = split("train")
            if windows is None:
                raise ValueError(f"{self.cache}: no training windows (corpora {self.corpora})")
            self.train = MixtureDataset(windows, self.epoch_length, self.mixture_exponent,
                                        self.mixture_overrides)
        if self.val is None and stage in ("fit", "validate"):
            self.val = split("validation")
        if self.test is None and stage == "test":
            self.test = split("test")

    # -- resumable position ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"batches_seen": self.batches_seen, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches_seen = int(state.get("batches_seen", 0))

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        if trainer is not None and trainer.training:
            self.batches_seen += 1  # a batch handed to the training step (not a prefetched one)
        return batch

    # -- loaders -----------------------------------------------------------------------------
    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, dataset: Dataset, sampler: Sampler | None) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, shuffle=False,
                          num_workers=self.num_workers, collate_fn=collate, drop_last=False,
                          persistent_workers=False, pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        if self.train is None:
            raise ValueError("no training dataset: set data.init_args.train in the config")
        rank, world = self._rank_world()
        sampler = ResumableSampler(len(self.train), self.seed, self.batches_seen * self.batch_size,
                                   rank, world, self.shuffle)
        return self._loader(KeyedDataset(self.train, self.seed), _KeyedSampler(sampler))

    def _subset_loader(self, dataset: Dataset | None, batches: int | None, what: str) -> DataLoader:
        if dataset is None:
            raise ValueError(f"no {what} dataset: set data.init_args.{what} in the config")
        n = len(dataset)
        if batches is not None:
            n = min(n, batches * self.batch_size)
        rank, world = self._rank_world()
        indices = list(range(rank, n, world))  # each process scores its share
        return self._loader(torch.utils.data.Subset(KeyedDataset(dataset, self.seed), indices), None)

    def val_dataloader(self) -> DataLoader:
        return self._subset_loader(self.val, self.val_batches, "val")

    def test_dataloader(self) -> DataLoader:
        return self._subset_loader(self.test, self.test_batches, "test")
