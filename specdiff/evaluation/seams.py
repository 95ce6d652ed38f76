"""How audible the joins between generated segments are: the change at joins over the change
elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def frame_change(mel: np.ndarray) -> np.ndarray:
    """(T - 1,) mean absolute change of each log-mel frame to the next; ``mel`` (T, n_mels)."""
    mel = np.asarray(mel, dtype=np.float64)
    return np.abs(np.diff(mel, axis=0)).mean(axis=1)


def seam_ratio(mel: np.ndarray, joins: Sequence[int], active_floor: float | None = -9.0
               ) -> float:
    """Mean frame-to-frame change at the joins over the mean change everywhere.

    Args:
        mel: (T, n_mels) natural-log mel of a whole piece (e.g. ``--save-mel``).
        joins: frame indices where one generation's frames end and the next one's begin (the
            change measured is from frame j - 1 to frame j); 1.0 means no seam.
        active_floor: transitions where both frames' mean log-mel lies below this (silence) are
            left out of both means; None keeps every transition.

    Returns:
        The ratio, or NaN when no join falls between sounding frames.
    """
    change = frame_change(mel)  # change[j - 1]: frame j - 1 -> j
    keep = np.ones_like(change, dtype=bool)
    if active_floor is not None:
        level = np.asarray(mel, dtype=np.float64).mean(axis=1)
        keep = (level[:-1] > active_floor) | (level[1:] > active_floor)
    at = np.array([j - 1 for j in joins if 1 <= j < len(mel)], dtype=np.int64)
    at = at[keep[at]] if len(at) else at
    if len(at) == 0 or not keep.any():
        return float("nan")
    return float(change[at].mean() / change[keep].mean())


def segment_joins(num_frames: int, hop: int = 256, overlap: int = 0) -> list[int]:
    """The joins of a piece generated in windows of ``hop + overlap`` frames every ``hop``
    frames: where each window's new frames begin (256, 512, ... without overlap)."""
    return [k * hop + overlap for k in range(1, num_frames) if k * hop + overlap < num_frames]
