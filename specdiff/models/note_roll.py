"""A frame-aligned roll of a segment's notes, decoded from its event tokens.

The official model finds which notes sound in a frame only through cross-attention from the
frame to the event tokens, an alignment that takes long to learn (docs/builtin_model.md, "Why
it is built this way": the built-in model's first stage did not learn it in 3 250 steps). A
``ModelConfig(note_roll=True)`` model also adds a learned projection of this roll to the
decoder's input frames, so each frame is told directly what plays there. The roll is computed
from the same tokens, so nothing else changes for the caller.

Features of frame f (``ROLL_FEATURES`` = 512, each 0 or 1):

* ``[0, 128)``: pitch p sounds in frame f (any pitched instrument);
* ``[128, 256)``: a pitched note of pitch p starts in frame f;
* ``[256, 384)``: a drum hit of key p falls in frame f;
* ``[384, 512)``: an instrument of program p sounds in frame f.

With ``gaps`` (``ModelConfig(note_roll_gaps=True)``), ``len(GAP_SECONDS)`` more features:

* ``[512, 512 + k)``: nothing has happened (no pitch sounding, no onset, no drum hit) for at
  least ``GAP_SECONDS[k]`` up to and including frame f. Frames that close to the segment start
  never count as a gap: what rang before it is unknown to the tokens (the context knows).

A long gap means silence, but a frame with an empty roll alone does not (releases, ringing
drums, rests inside a phrase); the gap features make "the music stopped a while ago" one
linear feature instead of something the decoder must infer from its neighbours.

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
GAP_SECONDS = (0.25, 0.5, 1.0, 2.0)
_ACTIVE, _ONSET, _DRUM, _PROGRAM = 0, 128, 256, 384


def roll_features(gaps: bool = False) -> int:
    """Features per frame of a roll, with or without the gap features."""
    return ROLL_FEATURES + (len(GAP_SECONDS) if gaps else 0)


def gap_features(active: np.ndarray, fps: float) -> np.ndarray:
    """``active`` (frames,) bool -> (frames, len(GAP_SECONDS)) float32: 1 where no frame of
    the last ``GAP_SECONDS[k]`` (this one included, all inside the segment) was active."""
    count = np.concatenate([[0], np.cumsum(active)])  # count[f] = active frames before f
    frames = np.arange(len(active))
    out = np.zeros((len(active), len(GAP_SECONDS)), dtype=np.float32)
    for k, seconds in enumerate(GAP_SECONDS):
        n = max(1, round(seconds * fps))
        first = frames - n + 1  # the gap's first frame
        inside = first >= 0
        out[inside, k] = count[frames[inside] + 1] == count[first[inside]]
    return out


def segment_roll(ids: np.ndarray, frames: int, codec: CodecConfig = OFFICIAL_CODEC,
                 gaps: bool = False) -> np.ndarray:
    """One segment's token ids ``(L,)`` -> its roll ``(frames, roll_features(gaps))`` float32.

    An all-PAD row (a row whose conditioning classifier-free training dropped) has an all-zero
    roll, gap features included: it stands for "no conditioning", not for "silence".
    """
    if not np.any(ids):
        return np.zeros((frames, roll_features(gaps)), dtype=np.float32)
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
    if not gaps:
        return roll
    happening = roll[:, :_PROGRAM].any(axis=1)  # a pitch sounds or starts, or a drum hits
    return np.concatenate([roll, gap_features(happening, fps)], axis=1)


def note_roll(tokens: Tensor, frames: int, codec: CodecConfig = OFFICIAL_CODEC,
              gaps: bool = False) -> Tensor:
    """Rolls of a batch of token segments: (B, L) ids -> (B, frames, roll_features(gaps))
    float32.

    PAD rows (all zero: the dropped rows of classifier-free training) give all-zero rolls, so
    they add nothing to the decoder input, as for the unconditional rows of guided sampling.
    """
    ids = tokens.detach().cpu().numpy()
    rolls = [segment_roll(row, frames, codec, gaps) for row in ids]
    return torch.from_numpy(np.stack(rolls)).to(tokens.device)
