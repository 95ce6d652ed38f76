"""A frame-aligned roll of a segment's notes, decoded from its event tokens.

The official model finds which notes sound in a frame only through cross-attention from the
frame to the event tokens, an alignment that takes long to learn (docs/default_model.md). A
``ModelConfig(note_roll=True)`` model also adds a learned projection of this roll to the
decoder's input frames, so each frame is told directly what plays there. The roll is computed
from the same tokens, so nothing else changes for the caller.

Features of frame f (``ROLL_FEATURES`` = 512, each 0 or 1):

* ``[0, 128)``: pitch p sounds in frame f (any pitched instrument);
* ``[128, 256)``: a pitched note of pitch p starts in frame f;
* ``[256, 384)``: a drum hit of key p falls in frame f;
* ``[384, 512)``: an instrument of program p sounds in frame f.

A note sounds from the frame of its onset (frame 0 for a note tied in from the previous segment)
up to, not including, the frame of its note-off (the segment end if none comes).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from specdiff.codec.config import OFFICIAL_CODEC, CodecConfig
from specdiff.codec.decode import decode_events

ROLL_FEATURES = 4 * 128
_ACTIVE, _ONSET, _DRUM, _PROGRAM = 0, 128, 256, 384


def segment_roll(ids: np.ndarray, frames: int, codec: CodecConfig = OFFICIAL_CODEC) -> np.ndarray:
    """One segment's token ids ``(L,)`` -> its roll ``(frames, ROLL_FEATURES)`` float32."""
    roll = np.zeros((frames, ROLL_FEATURES), dtype=np.float32)
    fps = codec.frames_per_second
    active: dict[tuple[int, int], int] = {}  # (pitch, program) -> first frame

    def close(key: tuple[int, int], end: int) -> None:
        start = active.pop(key)
        end = max(end, start + 1)
        roll[start:end, _ACTIVE + key[0]] = 1.0
        roll[start:end, _PROGRAM + key[1]] = 1.0

    program, velocity, in_tie = 0, 0, True
    for time, kind, value in decode_events(ids, codec):
        if kind == "eos":
            break
        frame = min(int(time * fps), frames - 1)
        if kind == "program":
            program = value
        elif kind == "velocity":
            velocity = value
        elif kind == "tie":
            in_tie = False
        elif kind == "drum":
            roll[frame, _DRUM + value] = 1.0
        elif kind == "pitch":
            key = (value, program)
            if in_tie:  # sounding since before the segment: active from frame 0, no onset
                active.setdefault(key, 0)
                continue
            if key in active:
                close(key, frame)
            if velocity > 0:
                active[key] = frame
                roll[frame, _ONSET + value] = 1.0
    for key in list(active):
        close(key, frames)
    return roll


def note_roll(tokens: Tensor, frames: int, codec: CodecConfig = OFFICIAL_CODEC) -> Tensor:
    """Rolls of a batch of token segments: (B, L) ids -> (B, frames, ROLL_FEATURES) float32.

    PAD rows (all zero, e.g. the unconditional rows of classifier-free training) give all-zero
    rolls.
    """
    ids = tokens.detach().cpu().numpy()
    rolls = [segment_roll(row, frames, codec) for row in ids]
    return torch.from_numpy(np.stack(rolls)).to(tokens.device)
