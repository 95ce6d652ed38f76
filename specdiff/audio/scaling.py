"""Fixed scaling of log-mel features to the diffusion data space [-1, 1] and back."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from specdiff.audio.mel import MAX_LOG_MEL, MIN_LOG_MEL

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


def scale_mel(
    mel: ArrayT, min_value: float = MIN_LOG_MEL, max_value: float = MAX_LOG_MEL
) -> ArrayT:
    """Clip log-mel to [min_value, max_value], then map it linearly to [-1, 1].

    x = 2 (clip(m, min, max) - min) / (max - min) - 1, as the official
    ``scale_features(clip=True)``.

    Args:
        mel: natural-log mel of any shape, e.g. (B, T, 128); torch tensor or numpy array.

    Returns:
        The scaled features, same shape and type, in [-1, 1].
    """
    if isinstance(mel, torch.Tensor):
        clipped = mel.clamp(min_value, max_value)
    else:
        clipped = np.clip(mel, min_value, max_value)
    return (clipped - min_value) / (max_value - min_value) * 2.0 - 1.0


def unscale_mel(
    x: ArrayT, min_value: float = MIN_LOG_MEL, max_value: float = MAX_LOG_MEL
) -> ArrayT:
    """Inverse of ``scale_mel`` without clipping: m = (x + 1) / 2 (max - min) + min.

    Args:
        x: scaled features of any shape, e.g. (B, T, 128); torch tensor or numpy array.

    Returns:
        Natural-log mel, same shape and type (values outside [-1, 1] map outside the range).
    """
    return (x + 1.0) / 2.0 * (max_value - min_value) + min_value
