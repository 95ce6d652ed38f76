"""Mixing corpora: temperature weights (rate proportional to examples^0.3, like the official
``mixing_rate_num_examples(temperature=10/3)``) and a sampler that draws indices with them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch.utils.data import Dataset, Sampler

EXPONENT = 0.3


def corpus_weights(counts: Mapping[str, int], exponent: float = EXPONENT,
                   overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Sampling probability per corpus: count^exponent, normalized to sum 1.

    Args:
        counts: examples (windows) per corpus.
        exponent: 1 samples uniformly over examples, 0 uniformly over corpora.
        overrides: per-corpus relative weights used instead of count^exponent (before
            normalization); 0 leaves a corpus out.
    """
    raw = {c: float(n) ** exponent for c, n in counts.items() if n > 0}
    for corpus, weight in (overrides or {}).items():
        if corpus in raw:
            raw[corpus] = float(weight)
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("all corpus weights are zero")
    return {c: w / total for c, w in raw.items()}


class MixtureSampler(Sampler[int]):
    """Draws dataset indices with replacement so that corpus c is picked with probability
    ``corpus_weights(...)[c]`` and uniformly within a corpus.

    Args:
        corpora: corpus name of every dataset index (``WindowDataset.corpora()``).
        num_samples: indices per epoch (default: the dataset length).
        exponent, overrides: see ``corpus_weights``.
        seed: base seed; epoch e uses seed + e (call ``set_epoch``).
    """

    def __init__(self, corpora: Sequence[str], num_samples: int | None = None,
                 exponent: float = EXPONENT, overrides: Mapping[str, float] | None = None,
                 seed: int = 0):
        counts = Counter(corpora)
        self.weights = corpus_weights(counts, exponent, overrides)
        per_index = [self.weights.get(c, 0.0) / counts[c] for c in corpora]
        self.probabilities = torch.tensor(per_index, dtype=torch.float64)
        self.num_samples = num_samples if num_samples is not None else len(corpora)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        draws = torch.multinomial(self.probabilities, self.num_samples, replacement=True,
                                  generator=generator)
        return iter(draws.tolist())


class MixtureDataset(Dataset):
    """A window dataset re-weighted across corpora, for any index sampler (e.g. the training
    DataModule's uniform, resumable one).

    Index i belongs to corpus c for a share ``corpus_weights(...)[c]`` of the ``length``
    indices; each access returns a random window of a random chunk of that corpus (drawn with
    the dataset's per-worker generator), so small corpora are repeated and large ones
    subsampled as the temperature says.

    Args:
        dataset: a ``WindowDataset`` (``CacheDataset`` or ``SourceDataset``).
        length: virtual epoch length (default: ``len(dataset)``).
        exponent, overrides: see ``corpus_weights``.
    """

    def __init__(self, dataset, length: int | None = None, exponent: float = EXPONENT,
                 overrides: Mapping[str, float] | None = None):
        self.dataset = dataset
        names = dataset.corpora()
        self.members: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            self.members.setdefault(name, []).append(i)
        self.weights = corpus_weights(Counter(names), exponent, overrides)
        self.length = length if length is not None else len(dataset)
        order = sorted(c for c, w in self.weights.items() if w > 0)
        cuts = torch.tensor([self.weights[c] for c in order], dtype=torch.float64).cumsum(0)
        self._order = order
        self._cuts = (cuts / cuts[-1] * self.length).round().long().tolist()

    def __len__(self) -> int:
        return self.length

    def corpus_of(self, index: int) -> str:
        for name, cut in zip(self._order, self._cuts):
            if index < cut:
                return name
        return self._order[-1]

    def __getitem__(self, index: int):
        members = self.members[self.corpus_of(index)]
        rng = self.dataset._random()
        return self.dataset[members[int(rng.integers(len(members)))]]
