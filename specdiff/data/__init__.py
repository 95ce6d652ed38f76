"""specdiff.data: corpora, SoundFont rendering, MIDI sources, preprocessing cache, sampling."""

from specdiff.data.cache import CacheItem, CacheReader
from specdiff.data.dataset import CacheDataset, SourceDataset, WindowDataset
from specdiff.data.example import CORPUS_MODULES, SPLITS, Example, list_examples, load_notes
from specdiff.data.midi import notes_to_sequence, read_midi_notes, sequence_to_notes
from specdiff.data.mixture import EXPONENT, MixtureDataset, MixtureSampler, corpus_weights
from specdiff.data.notes import NOTE_DTYPE
from specdiff.data.prepare import PrepareConfig, PrepareReport, gather_examples, prepare_cache
from specdiff.data.problems import Problems
from specdiff.data.render import RenderConfig, RenderReport, render_corpus
from specdiff.data.windows import WindowConfig, make_sample, num_windows, window_tokens

__all__ = [
    "CORPUS_MODULES", "EXPONENT", "NOTE_DTYPE", "SPLITS", "CacheDataset", "CacheItem",
    "CacheReader", "Example", "MixtureDataset", "MixtureSampler", "PrepareConfig", "PrepareReport", "Problems",
    "RenderConfig", "RenderReport", "SourceDataset", "WindowConfig", "WindowDataset",
    "corpus_weights", "gather_examples", "list_examples", "load_notes", "make_sample",
    "notes_to_sequence", "num_windows", "prepare_cache", "read_midi_notes", "render_corpus",
    "sequence_to_notes", "window_tokens",
]
