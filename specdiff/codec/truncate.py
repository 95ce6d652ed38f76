"""What both codecs share: the inference-time program map and cutting an over-long segment."""

from __future__ import annotations

import warnings

import numpy as np

from specdiff.codec.config import SLAKH_PROGRAM_MAP
from specdiff.codec.notes import NoteSequence


class TruncationWarning(UserWarning):
    """A segment needed more than ``max_tokens`` ids; its overflow was dropped."""


def mapped_programs(seq: NoteSequence, program_map: bool) -> np.ndarray:
    """Programs after the inference-time Slakh map (melodic notes only), ``(N,)``."""
    if not program_map:
        return seq.program
    return np.where(seq.is_drum, seq.program, SLAKH_PROGRAM_MAP[seq.program])


def truncate_units(raw, units, n_tie, budget, seg_start, codec, name):
    """Keep whole units: all of the tie section if it fits, then as many events as fit."""
    tie_len = int(np.searchsorted(units, n_tie, side="right"))
    if tie_len <= budget:
        fits = int(np.searchsorted(units, units[budget], side="left"))  # cut before a unit
        kept = raw[:fits]
        new_units = units[:fits]
    else:  # absurd: more active notes than fit; keep whole leading tie entries, then tie
        cut = int(np.searchsorted(units, units[budget - 1], side="left"))
        kept = np.append(raw[:cut], codec.offsets["tie"])
        new_units = np.append(units[:cut], n_tie)
    total_units = int(units[-1]) + 1
    dropped = total_units - len(np.unique(new_units))
    t0 = seg_start / codec.steps_per_second
    t1 = t0 + codec.segment_seconds
    where = f"{name}: " if name else ""
    needed = len(raw) + (codec.eos_id is not None)
    warnings.warn(f"{where}segment {t0:.2f}-{t1:.2f} s needs {needed} ids > "
                  f"{codec.max_tokens}; dropped its last {dropped} note events to fit",
                  TruncationWarning, stacklevel=4)
    return kept, new_units
